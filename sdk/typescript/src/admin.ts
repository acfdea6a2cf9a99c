// The routes beside the data plane: plans, subscriptions, adjustments, credits, the ledger, user
// tokens and webhook endpoints. Which writes may be retried after an attempt that may have run:
// - adjustments, grants and webhook creation carry an Idempotency-Key (the gateway answers a
//   repeat with the first answer), so they are retried like reserve, track and commit;
// - PUT and DELETE routes, block and unblock, voiding a grant, enabling and disabling an
//   endpoint set a state, and repeat harmlessly;
// - rotating a secret and sending a test act again on every call and take no key: they are
//   retried only when the request cannot have arrived (a refused connection, a 429).
import type { CallOptions, WriteOptions } from "./client.js";
import { type Call, newKey } from "./http.js";
import type {
  AdjustmentAnswer, BalanceList, CreditSummary, DailyUsage, Grant, GrantCategory, GrantList, GrantMade, Metadata, PlanDoc, PlanList, Subscription, UsageAnswer, UsageEventPage,
  UserToken, Webhook, WebhookDeliveryList, WebhookList,
} from "./types.js";

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

/**
 * A per-user quota of a group instead of the plan's, until `expiresAt`; with `value`, of that one
 * value of a per-value group (`"per"`), before the group's own override.
 */
export interface OverrideInput {
  quota: number;
  expiresAt?: string | Date | undefined;
  /** One value of a per-value group; the subscription lists its override as `<groupId>~<value>`. */
  value?: string | undefined;
}

/** `removeOverride`'s options: with `value`, only that value's override goes. */
export interface RemoveOverrideOptions extends CallOptions {
  value?: string | undefined;
}

/**
 * `listPlans`'s options: with `owner`, only the plans where that owner (as plans name it, 1 to
 * 128 bytes) owns the plan or one of its groups: the budgets they answer for.
 */
export interface ListPlansOptions extends CallOptions {
  owner?: string | undefined;
}

/** Credits added to a balance by `grant`. */
export interface GrantInput {
  /** The balance a plan's balance groups name (`[A-Za-z0-9_.-]{1,64}`). */
  balance: string;
  /** Credits, more than 0, at most 3 decimals. */
  amount: number;
  /** 0 to 100 (default 50): lower burns first. */
  priority?: number | undefined;
  /** `paid` (default) or `promotional`. */
  category?: GrantCategory | undefined;
  /** When the credits start to count (default now). */
  effectiveAt?: string | Date | undefined;
  /** When what is left of them expires (default never); after `effectiveAt`. */
  expiresAt?: string | Date | undefined;
  /** What the customer paid per credit, in cents. */
  costBasis?: number | undefined;
  /** Where they came from (`purchase`, `promotion`, `manual`, ...), 1 to 64 bytes, no control characters. */
  source?: string | undefined;
  /**
   * Kept with the grant and its ledger entry, answered as given (a payment's or a session's id,
   * ...): an event's rules, at most 32 keys of at most 64 bytes, each a string of at most 256
   * bytes, a number, a boolean or null (else `invalid_request` naming `metadata.<key>`).
   */
  metadata?: Metadata | undefined;
}

const path = (segment: string) => encodeURIComponent(segment);
const time = (t: string | Date) => (t instanceof Date ? t.toISOString() : t);
// `value: ""` is sent, for the gateway to refuse naming `value`: dropped, the call would change
// the whole group's override instead of the one value's.
const overridePath = (groupId: string, value: string | undefined) =>
  `/overrides/${path(groupId)}${value === undefined ? "" : `?${new URLSearchParams({ value })}`}`;

export function adminMethods(send: Send, per: Per) {
  const user = (userId: string, tail: string) => `/v1/users/${path(userId)}${tail}`;
  const replay = { replayable: true };

  return {
    /**
     * Stores a plan under its `id` (a new `version` when it exists; users on it move to it at
     * once), the document as `PUT /v1/plans/{id}` takes it; answers it as stored. A document the
     * gateway refuses is `invalid_plan` (400), its `detail` naming each problem.
     */
    putPlan(plan: PlanDoc & { id: string }, opts: CallOptions = {}): Promise<PlanDoc> {
      return send({ method: "PUT", path: `/v1/plans/${path(plan.id)}`, body: plan, ...replay, ...per(opts) });
    },

    /** One plan, as stored (with its `version`); `plan_not_found` (404) for an unknown id. */
    getPlan(planId: string, opts: CallOptions = {}): Promise<PlanDoc> {
      return send({ method: "GET", path: `/v1/plans/${path(planId)}`, ...replay, ...per(opts) });
    },

    /** Every plan of the project (with `owner`, those it owns or owns a group of): `{data, nextCursor: null}`. */
    listPlans(opts: ListPlansOptions = {}): Promise<PlanList> {
      // `owner: ""` is sent, for the gateway to refuse naming `owner`: dropped, the call would
      // list every plan, as if everyone owned them.
      const tail = opts.owner === undefined ? "" : `?${new URLSearchParams({ owner: opts.owner })}`;
      return send({ method: "GET", path: `/v1/plans${tail}`, ...replay, ...per(opts) });
    },

    /** Deletes a plan no user is on: `plan_in_use` (409) while one is, `plan_not_found` (404) for an unknown id. */
    deletePlan(planId: string, opts: CallOptions = {}): Promise<void> {
      return send({ method: "DELETE", path: `/v1/plans/${path(planId)}`, ...replay, ...per(opts) });
    },

    /**
     * Every group of the user's plan in its current period, and the user's open async jobs
     * through the proxy (`jobs`) (with a publishable key: the token's user only).
     */
    async usage(userId: string, opts: CallOptions = {}): Promise<UsageAnswer> {
      const answer = await send<UsageAnswer>({ method: "GET", path: user(userId, "/usage"), ...replay, ...per(opts) });
      // A gateway from before async jobs lists none.
      return { ...answer, jobs: answer.jobs ?? [] };
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

    /**
     * Sets the user's quota of a group (with `value`, of one value of a per-value group). A
     * `value` on a group that does not count per value is `invalid_request` (`field` "value").
     * A user keeps at most 1,000 overrides: a new one past them is `override_limit` (409).
     */
    setOverride(userId: string, groupId: string, override: OverrideInput, opts: CallOptions = {}): Promise<Subscription> {
      // `value` goes in the query: the gateway refuses a body field it does not know.
      const { value, expiresAt, ...rest } = override;
      const body = { ...rest, ...(expiresAt ? { expiresAt: time(expiresAt) } : {}) };
      return send({ method: "PUT", path: user(userId, overridePath(groupId, value)), body, ...replay, ...per(opts) });
    },

    /** Back to the plan's quota; with `value`, that value back to the group's override (or the plan's quota). */
    removeOverride(userId: string, groupId: string, opts: RemoveOverrideOptions = {}): Promise<Subscription> {
      return send({ method: "DELETE", path: user(userId, overridePath(groupId, opts.value)), ...replay, ...per(opts) });
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
     * Adds credits to one of the user's balances; they pay the balance's debt first
     * (`debtPaid`). Granted once however often it is retried (its Idempotency-Key): pass the
     * payment's id as `idempotencyKey` (a Stripe Checkout session's, an invoice's), so that a
     * webhook delivered twice grants once; a repeat within the ledger's retention (35 days by
     * default) answers the grant first made.
     */
    grant(userId: string, grant: GrantInput, opts: WriteOptions = {}): Promise<GrantMade> {
      const { effectiveAt, expiresAt, ...rest } = grant;
      const body = { ...rest, ...(effectiveAt ? { effectiveAt: time(effectiveAt) } : {}), ...(expiresAt ? { expiresAt: time(expiresAt) } : {}) };
      return send({ method: "POST", path: user(userId, "/grants"), body, idempotencyKey: opts.idempotencyKey ?? newKey(), ...replay, ...per(opts) });
    },

    /** The user's grants (of one balance, with `balance`), in burn order, voided and spent ones included: `{data, nextCursor: null}`. */
    listGrants(userId: string, query: { balance?: string | undefined } = {}, opts: CallOptions = {}): Promise<GrantList> {
      const tail = query.balance ? `?${new URLSearchParams({ balance: query.balance })}` : "";
      return send({ method: "GET", path: user(userId, `/grants${tail}`), ...replay, ...per(opts) });
    },

    /**
     * Ends a grant: what it has remaining is voided now, what open reservations hold of it
     * when they give it back. A repeat answers the voided grant.
     */
    voidGrant(userId: string, grantId: string, opts: CallOptions = {}): Promise<Grant> {
      return send({ method: "POST", path: user(userId, `/grants/${path(grantId)}/void`), body: {}, ...replay, ...per(opts) });
    },

    /** Every balance of the user (`{data, nextCursor: null}`): available, held, debt and soonest expiry, each with its grants in burn order. */
    balances(userId: string, opts: CallOptions = {}): Promise<BalanceList> {
      return send({ method: "GET", path: user(userId, "/balances"), ...replay, ...per(opts) });
    },

    /**
     * What the ledger says of credits over a span (every user's, or one's): granted, burned
     * with its revenue at each grant's cost basis, voided, expired (breakage) and outstanding,
     * paid and promotional apart.
     */
    balancesSummary(
      query: { balance?: string; userId?: string; from?: Date | string; to?: Date | string } = {},
      opts: CallOptions = {},
    ): Promise<CreditSummary> {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) {
        if (value !== undefined) params.set(name, value instanceof Date ? value.toISOString() : value);
      }
      const text = params.toString();
      return send({ method: "GET", path: `/v1/balances/summary${text ? `?${text}` : ""}`, ...replay, ...per(opts) });
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

    /** Every endpoint of the project, never their secret: `{data, nextCursor: null}`. */
    listWebhooks(opts: CallOptions = {}): Promise<WebhookList> {
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

    /** The endpoint's newest deliveries with their attempts: `{data, nextCursor: null}`. */
    listWebhookDeliveries(webhookId: string, opts: CallOptions = {}): Promise<WebhookDeliveryList> {
      return send({ method: "GET", path: `/v1/webhooks/${path(webhookId)}/deliveries`, ...replay, ...per(opts) });
    },
  };
}
