// The routes beside the data plane: subscriptions, adjustments, the ledger, user tokens and
// webhook endpoints. Which writes may be retried after an attempt that may have run:
// - adjustments and webhook creation carry an Idempotency-Key (the gateway answers a repeat
//   with the first answer), so they are retried like reserve, track and commit;
// - PUT and DELETE routes, block and unblock, enabling and disabling an endpoint set a state,
//   and repeat harmlessly;
// - rotating a secret and sending a test act again on every call and take no key: they are
//   retried only when the request cannot have arrived (a refused connection, a 429).
import type { CallOptions, WriteOptions } from "./client.js";
import { type Call, newKey } from "./http.js";
import type { AdjustmentAnswer, DailyUsage, Subscription, UsageAnswer, UsageEventPage, UserToken, Webhook, WebhookDelivery } from "./types.js";

type Send = <T>(call: Call) => Promise<T>;
type Per = (opts: CallOptions) => { signal: AbortSignal | undefined; timeoutMs: number | undefined };

export interface SubscriptionInput {
  userId: string;
  planId: string;
  startedAt?: string | Date | undefined;
  overrides?: Record<string, { quota: number; expiresAt?: string | undefined }> | undefined;
  /** A team or customer whose budget the user shares; `null` removes it, left out keeps it. */
  parentId?: string | null | undefined;
}

const path = (segment: string) => encodeURIComponent(segment);
const time = (t: string | Date) => (t instanceof Date ? t.toISOString() : t);

export function adminMethods(send: Send, per: Per) {
  const user = (userId: string, tail: string) => `/v1/users/${path(userId)}${tail}`;
  const replay = { replayable: true };

  return {
    /** Every group of the user's plan in its current period (with a publishable key: the token's user only). */
    usage(userId: string, opts: CallOptions = {}): Promise<UsageAnswer> {
      return send({ method: "GET", path: user(userId, "/usage"), ...replay, ...per(opts) });
    },

    upsertSubscription(sub: SubscriptionInput, opts: CallOptions = {}): Promise<Subscription> {
      const { userId, startedAt, ...rest } = sub;
      const body = { ...rest, ...(startedAt ? { startedAt: time(startedAt) } : {}) };
      return send({ method: "PUT", path: user(userId, "/subscription"), body, ...replay, ...per(opts) });
    },

    getSubscription(userId: string, opts: CallOptions = {}): Promise<Subscription> {
      return send({ method: "GET", path: user(userId, "/subscription"), ...replay, ...per(opts) });
    },

    deleteSubscription(userId: string, opts: CallOptions = {}): Promise<Subscription> {
      return send({ method: "DELETE", path: user(userId, "/subscription"), ...replay, ...per(opts) });
    },

    setOverride(userId: string, groupId: string, override: { quota: number; expiresAt?: string | undefined }, opts: CallOptions = {}): Promise<Subscription> {
      return send({ method: "PUT", path: user(userId, `/overrides/${path(groupId)}`), body: override, ...replay, ...per(opts) });
    },

    removeOverride(userId: string, groupId: string, opts: CallOptions = {}): Promise<Subscription> {
      return send({ method: "DELETE", path: user(userId, `/overrides/${path(groupId)}`), ...replay, ...per(opts) });
    },

    block(userId: string, reason: string, opts: CallOptions = {}): Promise<Subscription> {
      return send({ method: "POST", path: user(userId, "/block"), body: { reason }, ...replay, ...per(opts) });
    },

    unblock(userId: string, opts: CallOptions = {}): Promise<Subscription> {
      return send({ method: "POST", path: user(userId, "/unblock"), body: {}, ...replay, ...per(opts) });
    },

    /**
     * Corrects the current period's counter of one group (negative refunds), with a reason;
     * once, however often it is retried (its Idempotency-Key).
     */
    adjust(userId: string, adjustment: { groupId: string; amount: number; reason: string }, opts: WriteOptions = {}): Promise<AdjustmentAnswer> {
      return send({ method: "POST", path: user(userId, "/adjustments"), body: adjustment, idempotencyKey: opts.idempotencyKey ?? newKey(), ...replay, ...per(opts) });
    },

    /**
     * A page of the usage ledger (commits, tracks, adjustments), oldest first per user: one
     * user's, or every user's without `userId` (day by day). Each entry names the key that
     * made the call (`keyId`), and in a parent's (team's) ledger the member whose event it was
     * (`memberId`); `memberId` with `userId` reads only that member's entries of the parent's
     * ledger (without `userId` the gateway refuses it). Pass `cursor: page.nextCursor` for the
     * next page until it is null: a project-wide page may hold fewer than `limit` entries.
     */
    listUsageEvents(query: { userId?: string | undefined; memberId?: string | undefined; from?: string | Date | undefined; to?: string | Date | undefined;
      cursor?: string | undefined; limit?: number | undefined } = {}, opts: CallOptions = {}): Promise<UsageEventPage> {
      const params = new URLSearchParams();
      if (query.userId) params.set("userId", query.userId);
      if (query.memberId) params.set("memberId", query.memberId);
      if (query.from) params.set("from", time(query.from));
      if (query.to) params.set("to", time(query.to));
      if (query.cursor) params.set("cursor", query.cursor);
      if (query.limit) params.set("limit", String(query.limit));
      return send({ method: "GET", path: `/v1/usage-events?${params}`, ...replay, ...per(opts) });
    },

    /**
     * The user's daily rollups per group (used, reserves admitted and denied, releases,
     * expiries), every UTC day from `from` to `to` (`YYYY-MM-DD`, both included; the last 30
     * days by default), for charts.
     */
    dailyUsage(userId: string, range: { from?: string | undefined; to?: string | undefined } = {}, opts: CallOptions = {}): Promise<DailyUsage> {
      const params = new URLSearchParams();
      if (range.from) params.set("from", range.from);
      if (range.to) params.set("to", range.to);
      return send({ method: "GET", path: user(userId, `/daily-usage?${params}`), ...replay, ...per(opts) });
    },

    /** A short-lived token that lets a browser read this user's usage with the publishable key. */
    createUserToken(userId: string, ttlSeconds?: number, opts: CallOptions = {}): Promise<UserToken> {
      return send({ method: "POST", path: "/v1/user-tokens", body: { userId, ...(ttlSeconds ? { ttlSeconds } : {}) }, ...replay, ...per(opts) });
    },

    /**
     * A webhook endpoint for alerts; the answer's `secret` (`whsec_…`) is shown only now. Made
     * once, however often it is retried (its Idempotency-Key).
     */
    createWebhook(endpoint: { url: string; events?: string[] | undefined; description?: string | undefined }, opts: WriteOptions = {}): Promise<Webhook> {
      return send({ method: "POST", path: "/v1/webhooks", body: endpoint, idempotencyKey: opts.idempotencyKey ?? newKey(), ...replay, ...per(opts) });
    },

    listWebhooks(opts: CallOptions = {}): Promise<{ data: Webhook[] }> {
      return send({ method: "GET", path: "/v1/webhooks", ...replay, ...per(opts) });
    },

    deleteWebhook(webhookId: string, opts: CallOptions = {}): Promise<void> {
      return send({ method: "DELETE", path: `/v1/webhooks/${path(webhookId)}`, ...replay, ...per(opts) });
    },

    /** Delivers to the endpoint again (its failing time starts afresh); a repeat sets the same. */
    enableWebhook(webhookId: string, opts: CallOptions = {}): Promise<Webhook> {
      return send({ method: "POST", path: `/v1/webhooks/${path(webhookId)}/enable`, body: {}, ...replay, ...per(opts) });
    },

    /** Stops delivering to the endpoint; its pending deliveries end as failed. A repeat sets the same. */
    disableWebhook(webhookId: string, opts: CallOptions = {}): Promise<Webhook> {
      return send({ method: "POST", path: `/v1/webhooks/${path(webhookId)}/disable`, body: {}, ...replay, ...per(opts) });
    },

    /** A new secret; the old one keeps signing for 24 hours. Not retried once it may have arrived. */
    rotateWebhookSecret(webhookId: string, opts: CallOptions = {}): Promise<{ secret: string }> {
      return send({ method: "POST", path: `/v1/webhooks/${path(webhookId)}/rotate-secret`, body: {}, replayable: false, ...per(opts) });
    },

    /** Sends a `webhook.test` event to the endpoint. Not retried once it may have arrived. */
    testWebhook(webhookId: string, opts: CallOptions = {}): Promise<{ deliveryId: string }> {
      return send({ method: "POST", path: `/v1/webhooks/${path(webhookId)}/test`, body: {}, replayable: false, ...per(opts) });
    },

    listWebhookDeliveries(webhookId: string, opts: CallOptions = {}): Promise<{ data: WebhookDelivery[] }> {
      return send({ method: "GET", path: `/v1/webhooks/${path(webhookId)}/deliveries`, ...replay, ...per(opts) });
    },
  };
}
