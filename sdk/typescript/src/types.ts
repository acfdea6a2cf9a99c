// The wire types, by their names in the gateway's OpenAPI document (generated into openapi.ts);
// metadata, which the document calls only an object, is typed as the scalars it holds.
import type { components } from "./openapi.js";

type Schemas = components["schemas"];

export type Counter = Schemas["CounterAnswer"];
export type Denial = Schemas["DenialAnswer"];
export type ReserveAnswer = Schemas["ReserveAnswer"];
export type CommitAnswer = Schemas["CommitAnswer"];
export type ReleaseAnswer = Schemas["ReleaseAnswer"];
export type ExtendAnswer = Schemas["ExtendAnswer"];
export type TrackAnswer = Schemas["TrackAnswer"];
export type UsageAnswer = Schemas["UsageAnswer"];
export type Subscription = Schemas["SubscriptionAnswer"];
export type AdjustmentAnswer = Schemas["AdjustmentAnswer"];
export type UserToken = Schemas["UserToken"];
export type Problem = Schemas["Problem"];
export type DailyUsage = Schemas["DailyUsageAnswer"];
export type Webhook = Schemas["WebhookAnswer"];
export type WebhookDelivery = Schemas["DeliveryAnswer"];

/** Event metadata: scalar values under keys, as the gateway matches and measures them. */
export type Metadata = Record<string, string | number | boolean | null>;

/**
 * A reservation as `GET /v1/reservations/{id}` answers it: its status and holds, and what it
 * was for: `quantity` (units; null for reservations made before the gateway kept it) and
 * `metadata` (null when the reserve had none).
 */
export type ReservationAnswer = Omit<Schemas["ReservationAnswer"], "metadata"> & { metadata?: Metadata | null };

/**
 * One entry of the usage ledger. `keyId`: the id of the API key that made the call (null in
 * entries written before the gateway kept it). `memberId`: in a parent's (team's) ledger, the
 * member whose event it was, the entry having the member's entry's `id`; null in a member's
 * own. A commit's entry says the quantity committed (the reserved one when the commit gave
 * none) and the reservation's metadata, the commit's own merged on top.
 */
export type UsageEvent = Omit<Schemas["UsageEventAnswer"], "metadata"> & { metadata?: Metadata | null };

/** A page of the ledger: follow `nextCursor` until it is null (a page may be short and still name one). */
export type UsageEventPage = Omit<Schemas["UsageEventPageAnswer"], "data"> & { data: UsageEvent[] };

/** `data` of a quota event: amounts in units, times in RFC 3339 UTC. */
export interface QuotaEventData {
  projectId: string;
  userId: string;
  planId: string | null;
  groupId: string;
  label: string;
  unit: string;
  /** Percent of the quota; null for `quota.limit_reached`. */
  threshold: number | null;
  quota: number;
  /** Used (open holds for in-flight groups) when it fired. */
  used: number;
  /** Null for lifetime groups. */
  periodStart: string | null;
  resetsAt: string | null;
}

/** A verified webhook delivery's event, told apart by `type`. */
export type WebhookEvent =
  | { type: "quota.threshold_crossed"; timestamp: string; data: QuotaEventData & { threshold: number } }
  | { type: "quota.limit_reached"; timestamp: string; data: QuotaEventData & { threshold: null } }
  | { type: "webhook.test"; timestamp: string; data: { projectId: string; webhookId: string } };
