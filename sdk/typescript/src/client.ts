// The client: one method per route a builder calls, named as the recipes name them.
import { QuotaGatewayError } from "./errors.js";
import { newKey, request, type Transport } from "./http.js";
import type {
  AdjustmentAnswer, CommitAnswer, DailyUsage, Decision, Webhook, WebhookDelivery, ExtendAnswer, Metadata, ReleaseAnswer, ReservationAnswer,
  ReserveAnswer, Subscription, TrackAnswer, UsageAnswer, UsageEventPage, UserToken,
} from "./types.js";

export interface ClientOptions {
  /** A secret key (`qg_sk_…`, server side) or a publishable key (`qg_pk_…`, browsers, with `userToken`). */
  apiKey: string;
  /** Defaults to the `QUOTA_GATEWAY_URL` environment variable where the runtime has one, else http://127.0.0.1:8080. */
  baseUrl?: string;
  /** Per attempt; default 5000. */
  timeoutMs?: number;
  /** Retries after a network error, a timeout or a 503, never after a 4xx; default 2. */
  maxRetries?: number;
  /** When the gateway cannot be reached, `reserve` and `canUse` deny (`"closed"`, the default) or allow (`"open"`). */
  failMode?: "closed" | "open";
  /** A user token from `createUserToken`, for browser reads of that user's usage with a publishable key. */
  userToken?: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface ReserveOptions {
  ttlSeconds?: number;
  /** Defaults to a new random key per call, reused on its retries. */
  idempotencyKey?: string;
}

export interface Actual {
  quantity?: number;
  metadata?: Metadata;
}

/** What `fn` of `withReservation` gets: the reservation, and a way to report the actual amount. */
export interface ReservationScope {
  reservationId: string;
  decision: Decision;
  /** The amount to commit instead of the reserved one (tokens the LLM really used, ...). */
  report(actual: Actual): void;
}

export type WithReservation<T> =
  | { allowed: true; value: T; commit: CommitAnswer }
  | { allowed: false; decision: Decision };

function environmentUrl(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.QUOTA_GATEWAY_URL;
}

const path = (segment: string) => encodeURIComponent(segment);

export function createClient(options: ClientOptions) {
  const transport: Transport = {
    baseUrl: (options.baseUrl ?? environmentUrl() ?? "http://127.0.0.1:8080").replace(/\/+$/, ""),
    apiKey: options.apiKey,
    timeoutMs: options.timeoutMs ?? 5_000,
    maxRetries: options.maxRetries ?? 2,
    userToken: options.userToken,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
  };
  const failMode = options.failMode ?? "closed";

  /** A decision when the gateway could not decide: deny (closed) or allow (open), never throw. */
  function unavailable(err: unknown): Decision {
    if (!(err instanceof QuotaGatewayError) || err.code !== "backend_unavailable") throw err;
    const allowed = failMode === "open";
    return { allowed, reservationId: null, reasons: allowed ? [] : ["backend_unavailable"], deniedBy: [], denials: [], counters: [], expiresAt: null };
  }

  function decision(answer: ReserveAnswer): Decision {
    return {
      allowed: answer.allowed,
      reservationId: answer.reservationId ?? null,
      reasons: answer.reasons,
      deniedBy: answer.deniedBy,
      denials: answer.denials,
      counters: answer.counters,
      expiresAt: answer.expiresAt ?? null,
    };
  }

  const event = (userId: string, name: string, quantity?: number, metadata?: Metadata) => ({
    userId, event: name, ...(quantity === undefined ? {} : { quantity }), ...(metadata ? { metadata } : {}),
  });

  const client = {
    /** Holds quota in every matched group before the AI provider is called; all or nothing. */
    async reserve(userId: string, name: string, quantity?: number, metadata?: Metadata, opts: ReserveOptions = {}): Promise<Decision> {
      const body = { ...event(userId, name, quantity, metadata), ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}) };
      try {
        const answer = await request<ReserveAnswer>(transport, { method: "POST", path: "/v1/reserve", body, idempotencyKey: opts.idempotencyKey ?? newKey() });
        return decision(answer);
      } catch (err) {
        return unavailable(err);
      }
    },

    /** What `reserve` would answer now, holding nothing. */
    async canUse(userId: string, name: string, quantity?: number, metadata?: Metadata): Promise<Decision> {
      try {
        return decision(await request<ReserveAnswer>(transport, { method: "POST", path: "/v1/check", body: event(userId, name, quantity, metadata) }));
      } catch (err) {
        return unavailable(err);
      }
    },

    /** Makes the hold usage, with the actual amount when given; exactly once. */
    commit(reservationId: string, actual: Actual = {}, opts: { idempotencyKey?: string } = {}): Promise<CommitAnswer> {
      return request(transport, { method: "POST", path: `/v1/reservations/${path(reservationId)}/commit`, body: actual, idempotencyKey: opts.idempotencyKey ?? newKey() });
    },

    /** Gives the hold back; exactly once; `status: "expired"` after expiry. */
    release(reservationId: string): Promise<ReleaseAnswer> {
      return request(transport, { method: "POST", path: `/v1/reservations/${path(reservationId)}/release`, body: {} });
    },

    /** Moves the expiry to now + ttlSeconds (at most 24 h after the reservation was made). */
    extend(reservationId: string, ttlSeconds: number): Promise<ExtendAnswer> {
      return request(transport, { method: "POST", path: `/v1/reservations/${path(reservationId)}/extend`, body: { ttlSeconds } });
    },

    getReservation(reservationId: string): Promise<ReservationAnswer> {
      return request(transport, { method: "GET", path: `/v1/reservations/${path(reservationId)}` });
    },

    /** Counts usage that already happened, past any quota. */
    track(userId: string, name: string, quantity?: number, metadata?: Metadata, opts: { idempotencyKey?: string } = {}): Promise<TrackAnswer> {
      return request(transport, { method: "POST", path: "/v1/track", body: event(userId, name, quantity, metadata), idempotencyKey: opts.idempotencyKey ?? newKey() });
    },

    /** Every group of the user's plan in its current period (with a publishable key: the token's user only). */
    usage(userId: string): Promise<UsageAnswer> {
      return request(transport, { method: "GET", path: `/v1/users/${path(userId)}/usage` });
    },

    upsertSubscription(sub: { userId: string; planId: string; startedAt?: string | Date; overrides?: Record<string, { quota: number; expiresAt?: string }>; parentId?: string | null }): Promise<Subscription> {
      const { userId, startedAt, ...rest } = sub;
      const body = { ...rest, ...(startedAt ? { startedAt: startedAt instanceof Date ? startedAt.toISOString() : startedAt } : {}) };
      return request(transport, { method: "PUT", path: `/v1/users/${path(userId)}/subscription`, body });
    },

    getSubscription(userId: string): Promise<Subscription> {
      return request(transport, { method: "GET", path: `/v1/users/${path(userId)}/subscription` });
    },

    deleteSubscription(userId: string): Promise<Subscription> {
      return request(transport, { method: "DELETE", path: `/v1/users/${path(userId)}/subscription` });
    },

    setOverride(userId: string, groupId: string, override: { quota: number; expiresAt?: string }): Promise<Subscription> {
      return request(transport, { method: "PUT", path: `/v1/users/${path(userId)}/overrides/${path(groupId)}`, body: override });
    },

    removeOverride(userId: string, groupId: string): Promise<Subscription> {
      return request(transport, { method: "DELETE", path: `/v1/users/${path(userId)}/overrides/${path(groupId)}` });
    },

    block(userId: string, reason: string): Promise<Subscription> {
      return request(transport, { method: "POST", path: `/v1/users/${path(userId)}/block`, body: { reason } });
    },

    unblock(userId: string): Promise<Subscription> {
      return request(transport, { method: "POST", path: `/v1/users/${path(userId)}/unblock`, body: {} });
    },

    /** Corrects the current period's counter of one group (negative refunds), with a reason. */
    adjust(userId: string, adjustment: { groupId: string; amount: number; reason: string }): Promise<AdjustmentAnswer> {
      return request(transport, { method: "POST", path: `/v1/users/${path(userId)}/adjustments`, body: adjustment });
    },

    /**
     * A page of the usage ledger (commits, tracks, adjustments), oldest first per user: one
     * user's, or every user's without `userId`; pass `cursor: page.nextCursor` for the next.
     */
    listUsageEvents(query: { userId?: string; from?: string | Date; to?: string | Date; cursor?: string; limit?: number } = {}): Promise<UsageEventPage> {
      const params = new URLSearchParams();
      if (query.userId) params.set("userId", query.userId);
      const time = (t: string | Date) => (t instanceof Date ? t.toISOString() : t);
      if (query.from) params.set("from", time(query.from));
      if (query.to) params.set("to", time(query.to));
      if (query.cursor) params.set("cursor", query.cursor);
      if (query.limit) params.set("limit", String(query.limit));
      return request(transport, { method: "GET", path: `/v1/usage-events?${params}` });
    },

    /**
     * The user's daily rollups per group (used, reserves admitted and denied, releases,
     * expiries), every UTC day from `from` to `to` (`YYYY-MM-DD`, both included; the last 30
     * days by default), for charts.
     */
    dailyUsage(userId: string, range: { from?: string; to?: string } = {}): Promise<DailyUsage> {
      const params = new URLSearchParams();
      if (range.from) params.set("from", range.from);
      if (range.to) params.set("to", range.to);
      return request(transport, { method: "GET", path: `/v1/users/${path(userId)}/daily-usage?${params}` });
    },

    /** A webhook endpoint for alerts; the answer's `secret` (`whsec_…`) is shown only now. */
    createWebhook(endpoint: { url: string; events?: string[]; description?: string }): Promise<Webhook> {
      return request(transport, { method: "POST", path: "/v1/webhooks", body: endpoint });
    },

    listWebhooks(): Promise<{ data: Webhook[] }> {
      return request(transport, { method: "GET", path: "/v1/webhooks" });
    },

    deleteWebhook(webhookId: string): Promise<void> {
      return request(transport, { method: "DELETE", path: `/v1/webhooks/${path(webhookId)}` });
    },

    /** A new secret; the old one keeps signing for 24 hours. */
    rotateWebhookSecret(webhookId: string): Promise<{ secret: string }> {
      return request(transport, { method: "POST", path: `/v1/webhooks/${path(webhookId)}/rotate-secret`, body: {} });
    },

    /** Sends a `webhook.test` event to the endpoint. */
    testWebhook(webhookId: string): Promise<{ deliveryId: string }> {
      return request(transport, { method: "POST", path: `/v1/webhooks/${path(webhookId)}/test`, body: {} });
    },

    listWebhookDeliveries(webhookId: string): Promise<{ data: WebhookDelivery[] }> {
      return request(transport, { method: "GET", path: `/v1/webhooks/${path(webhookId)}/deliveries` });
    },

    /** A short-lived token that lets a browser read this user's usage with the publishable key. */
    createUserToken(userId: string, ttlSeconds?: number): Promise<UserToken> {
      return request(transport, { method: "POST", path: "/v1/user-tokens", body: { userId, ...(ttlSeconds ? { ttlSeconds } : {}) } });
    },

    /**
     * Reserves, runs `fn`, then commits (with the amount `fn` reported, else as reserved), or
     * releases when `fn` throws and throws again. A denial does not call `fn`.
     */
    async withReservation<T>(userId: string, name: string, quantity: number | undefined, metadata: Metadata | undefined,
      fn: (scope: ReservationScope) => Promise<T> | T): Promise<WithReservation<T>> {
      const reserved = await client.reserve(userId, name, quantity, metadata);
      if (!reserved.allowed || !reserved.reservationId) return { allowed: false, decision: reserved };
      const reservationId = reserved.reservationId;
      let actual: Actual = {};
      let value: T;
      try {
        value = await fn({ reservationId, decision: reserved, report: (a) => { actual = a; } });
      } catch (err) {
        await client.release(reservationId).catch(() => undefined);
        throw err;
      }
      return { allowed: true, value, commit: await client.commit(reservationId, actual) };
    },
  };
  return client;
}

export type QuotaGatewayClient = ReturnType<typeof createClient>;
