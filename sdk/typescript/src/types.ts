// The wire types, by their names in the gateway's OpenAPI document (generated into openapi.ts).
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
export type ReservationAnswer = Schemas["ReservationAnswer"];
export type Subscription = Schemas["SubscriptionAnswer"];
export type AdjustmentAnswer = Schemas["AdjustmentAnswer"];
export type UserToken = Schemas["UserToken"];
export type Problem = Schemas["Problem"];
export type UsageEvent = Schemas["UsageEventAnswer"];
export type UsageEventPage = Schemas["UsageEventPageAnswer"];
export type DailyUsage = Schemas["DailyUsageAnswer"];
export type Webhook = Schemas["WebhookAnswer"];
export type WebhookDelivery = Schemas["DeliveryAnswer"];

/** Event metadata: scalar values under keys, as the gateway matches and measures them. */
export type Metadata = Record<string, string | number | boolean | null>;

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
