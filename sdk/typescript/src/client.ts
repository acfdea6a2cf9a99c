// The client: one method per route a builder calls, named as the recipes name them. The data
// plane is here (a reserve of alternatives in alternatives.ts); subscriptions, ledger reads and webhooks are in admin.ts, the approval queue
// in approvals.ts, runs (a budget held up front for an agent's steps) in runs.ts, simulations
// (the pricing lab) in simulations.ts, the providers' clients on the gateway's proxy and user
// keys in proxy.ts.
import { adminMethods } from "./admin.js";
import { alternativeMethods } from "./alternatives.js";
import { approvalMethods } from "./approvals.js";
import { type Allowed, type Check, type Decision, type Denied, type FitOptions, fitFields, limitOutput, type OutputField, toCheck, toDecision, unchecked } from "./decision.js";
import { baseUrl, development } from "./env.js";
import { QuotaGatewayError } from "./errors.js";
import { type Call, newKey, perform, type Result, type Transport } from "./http.js";
import { type Orphan, PendingReleases } from "./pending.js";
import { proxyMethods } from "./proxy.js";
import { RUNS_PATH, runMethods } from "./runs.js";
import { simulationMethods } from "./simulations.js";
import { priceMethods } from "./prices.js";
import type { CommitAnswer, ExtendAnswer, Granted, Metadata, Outcome, OutcomeAnswer, ReleaseAnswer, ReservationAnswer, ReserveAnswer, TrackAnswer } from "./types.js";

export interface ClientOptions {
  /** A secret key (`qg_sk_…`, server side) or a publishable key (`qg_pk_…`, browsers, with `userToken`). */
  apiKey: string;
  /**
   * The gateway. Defaults to the `QUOTA_GATEWAY_URL` environment variable, else
   * http://127.0.0.1:8080 where the runtime has a readable environment; required on Workers,
   * Edge, Deno without --allow-env and in browsers.
   */
  baseUrl?: string | undefined;
  /** One deadline for a whole call, every retry included; default 5000. */
  timeoutMs?: number | undefined;
  /** One attempt; default 40 % of the call's deadline, so a hung attempt leaves time to retry. */
  attemptTimeoutMs?: number | undefined;
  /** Retries within the deadline after a network error, a timeout, 429, 502, 503 or 504; default 2. */
  maxRetries?: number | undefined;
  /** When the gateway gives no decision, `reserve` and `canUse` deny (`"closed"`, the default) or allow (`"open"`). */
  failMode?: "closed" | "open" | undefined;
  /** A user token from `createUserToken`, for browser reads of that user's usage with a publishable key. */
  userToken?: string | undefined;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch | undefined;
}

/** What every method takes last. */
export interface CallOptions {
  /** Ends the call at once, retries included, with a `QuotaGatewayError` of code `aborted`. */
  signal?: AbortSignal | undefined;
  /** This call's deadline instead of the client's `timeoutMs`. */
  timeoutMs?: number | undefined;
}

export interface WriteOptions extends CallOptions {
  /** Defaults to a new random key per call, reused on its retries. */
  idempotencyKey?: string | undefined;
}

export interface ReserveOptions extends WriteOptions, FitOptions {
  ttlSeconds?: number | undefined;
}

/** `track`'s options: with `outcome`, what the call's output came to. */
export interface TrackOptions extends WriteOptions {
  outcome?: Outcome | undefined;
}

/** `canUse`'s options: what a reserve would answer with this `fit` and `minFit`. */
export interface CheckOptions extends CallOptions, FitOptions {}

export interface Actual {
  /** The amount to commit instead of the reserved one. */
  quantity?: number | undefined;
  /** Put in the commit's ledger entry, on top of the reservation's metadata. */
  metadata?: Metadata | undefined;
  /**
   * What the call's output came to, when it is known at the commit (`accepted`, `rejected`,
   * `failed`, or a word of the app's); `setOutcome` says it later.
   */
  outcome?: Outcome | undefined;
}

/** What `fn` of `withReservation` gets: the reservation, and a way to report the actual amount. */
export interface ReservationScope {
  /** `""` when the gateway gave no answer and `failMode: "open"` let the work run. */
  reservationId: string;
  decision: Allowed;
  /**
   * The amount to commit instead of the reserved one (tokens the LLM really used, ...), and
   * what the output came to (`outcome`), when `fn` knows it.
   */
  report(actual: Actual): void;
  /** The signal passed to `withReservation`, to hand on to the work. */
  signal: AbortSignal | undefined;
  /**
   * What a clamped reserve granted (`decision.granted`): call the provider for no more than
   * `granted.quantity`, and with no more output than `granted.outputTokens` (`limitOutput`).
   * Null when it was held whole.
   */
  granted: Granted | null;
  /**
   * The provider request with its maximum output lowered to what the reserve granted
   * (`limitOutput(decision, request, field)`): the request as it was when nothing was clamped.
   */
  limitOutput<B extends object>(request: B, field?: OutputField): B;
}

export type WithReservation<T> =
  | { allowed: true; value: T; commit: CommitAnswer; decision: Allowed }
  | { allowed: false; decision: Denied };

const DEFAULT_TTL_SECONDS = 60;
// A replayed reserve or its release gets one short attempt; a drain tries again later.
const SETTLE_ATTEMPT_MS = 1_000;

/** A keyed decision's end: the gateway's answer, or the fail mode's decision when it gave none. */
export type Decided<A> = { ok: true; value: A; headers: Headers } | { ok: false; decision: Decision };

/** Sends a keyed call that holds quota (a reserve, a run's step, a run's start); see `decide` in `createClient`. */
export type Decide = <A>(path: string, body: object, opts: WriteOptions, ttlSeconds: number | undefined) => Promise<Decided<A>>;

let warnedRefund = false;

/** `@vevee/sdk` code refunds with a `.refund` event; here a track only ever adds. Said once. */
function warnRefund(name: string): void {
  if (warnedRefund || !name.endsWith(".refund") || !development()) return;
  warnedRefund = true;
  console.warn(
    `quota-gateway: track("${name}") counts usage like any other event: it never refunds. ` +
      "Reserve an upper bound and commit the amount really used (commit(reservationId, { quantity })), " +
      "or correct a counter with adjust(). (Shown once; not in production.)",
  );
}

/**
 * A reserve the gateway allowed without a counter matched no group of the user's plan (the
 * plan's `unmatched: "allow"`): nothing is held or counted, which is most often an event
 * name the plan does not know. Said once per client and event name, in every environment.
 */
function warnUncounted(warned: Set<string>, name: string, decision: Decision): void {
  if (!decision.allowed || decision.unchecked || decision.counters.length > 0 || warned.has(name)) return;
  warned.add(name);
  console.warn(
    `quota-gateway: reserve("${name}") was allowed but matched no group of the user's plan, so nothing is held or counted. ` +
      "Add a group that matches it, or set the plan's \"unmatched\" to \"deny\" to refuse such events (unmatched_event). " +
      "(Shown once per event name.)",
  );
}

const segment = (value: string) => encodeURIComponent(value);

/** A commit's body: what `actual` gives of the amount, the metadata and the outcome. */
function commitBody(actual: Actual): object {
  const { quantity, metadata, outcome } = actual;
  return { ...(quantity === undefined ? {} : { quantity }), ...(metadata ? { metadata } : {}), ...(outcome === undefined ? {} : { outcome }) };
}

/** What a replayed reserve or run's start answers, as far as undoing it needs. */
type Made = { allowed: boolean; reservationId?: string | null; runId?: string | null };

export function createClient(options: ClientOptions) {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxRetries = options.maxRetries ?? 2;
  const failMode = options.failMode ?? "closed";
  if (!(timeoutMs > 0) || !(maxRetries >= 0)) throw new TypeError("quota-gateway: timeoutMs must be positive and maxRetries at least 0");
  if (failMode !== "closed" && failMode !== "open") throw new TypeError('quota-gateway: failMode is "closed" or "open"');
  const transport: Transport = {
    baseUrl: baseUrl(options.baseUrl),
    apiKey: options.apiKey,
    timeoutMs,
    attemptTimeoutMs: options.attemptTimeoutMs,
    maxRetries,
    userToken: options.userToken,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
  };
  const pending = new PendingReleases();
  // Event names whose allowed reserve counted nothing, warned of once each.
  const uncounted = new Set<string>();

  /**
   * The same reserve (or run's start) again, to learn the reservation (or run) its key made,
   * which is then released (or closed).
   */
  async function settle(orphan: Orphan, leftMs: number): Promise<"settled" | "retry"> {
    const short = { replayable: false, maxRetries: 0, timeoutMs: Math.min(SETTLE_ATTEMPT_MS, leftMs) };
    const found = await perform<Made>(transport, { method: "POST", path: orphan.path, body: orphan.body, idempotencyKey: orphan.key, ...short });
    if (!found.ok) return found.error.unavailable ? "retry" : "settled";
    const undo = undoPath(orphan.path, found.value);
    if (!undo) return "settled";
    const released = await perform(transport, { method: "POST", path: undo, body: {}, ...short });
    return released.ok || !released.error.unavailable ? "settled" : "retry";
  }

  /** Carries out a call; any answer from the gateway lets reserves that timed out be released, in the background. */
  async function run<T>(call: Call): Promise<Result<T>> {
    const result = await perform<T>(transport, call);
    if (result.ok && pending.size > 0) void pending.drain(settle);
    return result;
  }

  async function send<T>(call: Call): Promise<T> {
    const result = await run<T>(call);
    if (!result.ok) throw result.error;
    return result.value;
  }

  /** The fail mode's answer for an error that means the gateway gave no decision; others are thrown. */
  function failed(error: QuotaGatewayError): Decision {
    if (!error.unavailable) throw error;
    return unchecked(failMode === "open");
  }

  const event = (userId: string, name: string, quantity?: number, metadata?: Metadata) => ({
    userId, event: name, ...(quantity === undefined ? {} : { quantity }), ...(metadata ? { metadata } : {}),
  });
  const call = (opts: CallOptions) => ({ signal: opts.signal, timeoutMs: opts.timeoutMs });
  const reservation = (id: string, verb: string) => `/v1/reservations/${segment(id)}/${verb}`;

  /**
   * Sends a keyed call that may hold quota: its answer, or the fail mode's decision when the
   * gateway gave none. One that may have held something unanswered is remembered by its key, to
   * be undone once the gateway answers again (`ttlSeconds` bounds how long that is worth trying;
   * undefined is a reserve's default). A key the caller chose is the caller's to repeat, and
   * what it finds the caller's to use, so it is left alone.
   */
  const decide: Decide = async <A>(path: string, body: object, opts: WriteOptions, ttlSeconds: number | undefined): Promise<Decided<A>> => {
    const key = opts.idempotencyKey ?? newKey();
    const result = await run<A>({ method: "POST", path, body, idempotencyKey: key, replayable: true, ...call(opts) });
    if (result.ok) return result;
    if (result.uncertain && !opts.idempotencyKey) pending.add(key, path, body, (ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000);
    return { ok: false, decision: failed(result.error) };
  };

  /** What undoes what a replayed call found: a reservation's release, a run's close; null when it holds nothing. */
  function undoPath(path: string, made: Made): string | null {
    if (!made.allowed) return null;
    if (path === RUNS_PATH) return made.runId ? `${RUNS_PATH}/${segment(made.runId)}/close` : null;
    return made.reservationId ? reservation(made.reservationId, "release") : null;
  }

  const client = {
    /** The gateway this client calls. */
    baseUrl: transport.baseUrl,

    /** Reserves that may have run without an answer, not yet released. */
    get pendingReleases(): number {
      return pending.size;
    },

    /**
     * Releases now what reserves that timed out may hold (it happens by itself, in the
     * background, after the gateway's next answer); for tests and shutdown hooks.
     */
    releasePending(): Promise<void> {
      return pending.drain(settle);
    },

    /**
     * Holds quota in every matched group before the AI provider is called; all or nothing.
     * Never throws for a gateway that gives no decision (see `failMode`); throws for a bad
     * request and for an abort.
     */
    async reserve(userId: string, name: string, quantity?: number, metadata?: Metadata, opts: ReserveOptions = {}): Promise<Decision> {
      const body = { ...event(userId, name, quantity, metadata), ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}), ...fitFields(opts) };
      const decided = await decide<ReserveAnswer>("/v1/reserve", body, opts, opts.ttlSeconds);
      if (!decided.ok) return decided.decision;
      const decision = toDecision(decided.value, decided.headers);
      warnUncounted(uncounted, name, decision);
      return decision;
    },

    /** What `reserve` would answer now, holding nothing (with `fit: "clamp"`, what it would be `granted`). */
    async canUse(userId: string, name: string, quantity?: number, metadata?: Metadata, opts: CheckOptions = {}): Promise<Check> {
      const body = { ...event(userId, name, quantity, metadata), ...fitFields(opts) };
      const result = await run<ReserveAnswer>({ method: "POST", path: "/v1/check", body, replayable: true, ...call(opts) });
      if (result.ok) return toCheck(result.value, result.headers);
      const decision = failed(result.error);
      return { ...decision, reservationId: null, expiresAt: null, granted: null };
    },

    /**
     * Makes the hold usage, with the actual amount when given; exactly once. Its ledger entry
     * carries the reservation's metadata with `actual.metadata` merged on top.
     */
    async commit(reservationId: string, actual: Actual = {}, opts: WriteOptions = {}): Promise<CommitAnswer> {
      if (reservationId === "") return { reservationId: "", status: "unchecked", late: false, counters: [], overQuota: [] };
      return send({ method: "POST", path: reservation(reservationId, "commit"), body: commitBody(actual), idempotencyKey: opts.idempotencyKey ?? newKey(), replayable: true, ...call(opts) });
    },

    /** Gives the hold back; exactly once (a repeat answers as the first); `status: "expired"` after expiry. */
    async release(reservationId: string, opts: CallOptions = {}): Promise<ReleaseAnswer> {
      if (reservationId === "") return { reservationId: "", status: "unchecked", counters: [] };
      return send({ method: "POST", path: reservation(reservationId, "release"), body: {}, replayable: true, ...call(opts) });
    },

    /** Moves the expiry to now + ttlSeconds (at most 24 h after the reservation was made); a repeat sets the same. */
    async extend(reservationId: string, ttlSeconds: number, opts: CallOptions = {}): Promise<ExtendAnswer> {
      if (reservationId === "") return { reservationId: "", expiresAt: "" };
      return send({ method: "POST", path: reservation(reservationId, "extend"), body: { ttlSeconds }, replayable: true, ...call(opts) });
    },

    /**
     * Says what a committed call's output came to, after its commit (an output is often judged
     * later: the user keeps it, or asks again). Said again, nothing changes; a new word replaces
     * the old and moves the count, at most 8 times a call. `reservation_not_committed` (409) for
     * a reservation held, released or expired; `outcome_changed_enough` (409) past 8 changes;
     * `reservation_not_found` (404).
     */
    async setOutcome(reservationId: string, outcome: Outcome, opts: CallOptions = {}): Promise<OutcomeAnswer> {
      if (reservationId === "") return { reservationId: "", outcome, previous: null };
      // Replayable: said again, it changes nothing.
      return send({ method: "POST", path: reservation(reservationId, "outcome"), body: { outcome }, replayable: true, ...call(opts) });
    },

    /** The reservation: its status and holds, and what it was for (`quantity`, `metadata`). */
    getReservation(reservationId: string, opts: CallOptions = {}): Promise<ReservationAnswer> {
      return send({ method: "GET", path: `/v1/reservations/${segment(reservationId)}`, replayable: true, ...call(opts) });
    },

    /** Counts usage that already happened, past any quota; it only ever adds. */
    track(userId: string, name: string, quantity?: number, metadata?: Metadata, opts: TrackOptions = {}): Promise<TrackAnswer> {
      warnRefund(name);
      const body = { ...event(userId, name, quantity, metadata), ...(opts.outcome === undefined ? {} : { outcome: opts.outcome }) };
      return send({ method: "POST", path: "/v1/track", body, idempotencyKey: opts.idempotencyKey ?? newKey(), replayable: true, ...call(opts) });
    },

    ...alternativeMethods(decide),

    ...adminMethods(send, call),

    ...approvalMethods(send, call),

    ...runMethods({ send, per: call, decide, event, warnRefund }),

    ...simulationMethods(send, call, timeoutMs),

    ...proxyMethods(send, call, transport),

    ...priceMethods(send, call),

    /**
     * Reserves, runs `fn`, then commits (with the amount `fn` reported, else as reserved), or
     * releases when `fn` throws and throws again. A denial does not call `fn`; with
     * `failMode: "open"` a gateway that gives no decision does (nothing to commit then). A
     * clamped reserve (`fit: "clamp"`) hands `fn` what it was `granted`, and `limitOutput` to
     * lower the provider request's maximum output to it.
     */
    async withReservation<T>(userId: string, name: string, quantity: number | undefined, metadata: Metadata | undefined,
      fn: (scope: ReservationScope) => Promise<T> | T, opts: ReserveOptions = {}): Promise<WithReservation<T>> {
      const decision = await client.reserve(userId, name, quantity, metadata, opts);
      if (!decision.allowed) return { allowed: false, decision };
      const reservationId = decision.reservationId;
      let actual: Actual = {};
      let value: T;
      try {
        value = await fn({
          reservationId, decision, report: (a) => { actual = a; }, signal: opts.signal, granted: decision.granted,
          limitOutput: (request, field) => limitOutput(decision, request, field),
        });
      } catch (err) {
        await client.release(reservationId).catch(() => undefined);
        throw err;
      }
      // Not under the caller's signal: the work ran, so its usage is committed even if the
      // caller gave up meanwhile.
      return { allowed: true, value, commit: await client.commit(reservationId, actual), decision };
    },
  };
  return client;
}

export type QuotaGatewayClient = ReturnType<typeof createClient>;
