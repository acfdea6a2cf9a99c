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

/** A reservation decision as `reserve` and `canUse` answer it. */
export interface Decision {
  allowed: boolean;
  reservationId: string | null;
  reasons: string[];
  /** Ids of the groups that denied, at any level. */
  deniedBy: string[];
  /** The groups that denied, each with its subject: the user, or a parent whose pool it is. */
  denials: Denial[];
  counters: Counter[];
  expiresAt: string | null;
}
