// Runs: a budget held up front from a user's quotas and credits (as a reserve of the run's event
// would hold it, all or nothing), from which an agent's steps draw; what the run does not use
// goes back when it ends. Retries as elsewhere: a start carries an Idempotency-Key like a
// reserve (and, unanswered, is closed in the background like a reserve is released); a step is
// a reserve or a track with the run's id; close and extend set a state and repeat harmlessly;
// reads are retried like every read.
import type { CallOptions, Decide, ReserveOptions, TrackOptions, WriteOptions } from "./client.js";
import type { Reason } from "./codes.js";
import { type Allowed, type Common, common, type Decision, type Denied, toDecision } from "./decision.js";
import { type Call, newKey } from "./http.js";
import type { ExtendRunAnswer, Metadata, Outcome, ReserveAnswer, RunAnswer, RunList, RunProgress, RunStartAnswer, TrackAnswer } from "./types.js";

type Send = <T>(call: Call) => Promise<T>;
type Per = (opts: CallOptions) => { signal: AbortSignal | undefined; timeoutMs: number | undefined };

export const RUNS_PATH = "/v1/runs";
// The gateway's default ttl of a run, for how long an unanswered start is worth closing.
const RUN_TTL_SECONDS = 900;

/**
 * What a step is to its action: the first try (`primary`, the default), another try of the
 * same (`retry`), or another way to the same end (`fallback`, bounded by `limits.fallbacks`,
 * `limits.fallbackShare` and, for a routed proxy call's later targets, `limits.maxFallbackSpend`).
 */
export type StepKind = "primary" | "retry" | "fallback";

/** Bounds of a run beside its budget; each may be left out (no bound). */
export interface RunLimits {
  /** Steps the run admits in all, at least 1. */
  steps?: number | undefined;
  /** Steps one `actionId` admits, at least 1. */
  attemptsPerAction?: number | undefined;
  /** Steps of kind `fallback` the run admits, at least 0. */
  fallbacks?: number | undefined;
  /** The share of each group's budget that fallback steps may spend, 0 to 1. */
  fallbackShare?: number | undefined;
  /**
   * What the attempts after the first of one action (a proxied call a route moves to its next
   * target) may hold and spend together in each group the run holds, in the group's unit.
   */
  maxFallbackSpend?: number | undefined;
}

/**
 * An admitted start: the run holds its budget until `expiresAt`. `runId` is `""` (and
 * `unchecked` true) when the gateway gave no answer and `failMode: "open"` let the work run.
 */
export interface RunStarted extends Common {
  allowed: true;
  runId: string;
  expiresAt: string | null;
  reasons: Reason[];
}

/**
 * A refused start: no run exists. `reasons` as a reserve's (a child's start also the step
 * reasons of its parent: `run_budget_exhausted`, ...), `deniedBy` and `denials` the groups.
 */
export interface RunDenied extends Common {
  allowed: false;
  runId: null;
  expiresAt: null;
  reasons: Reason[];
}

/**
 * A step's decision: a reserve's, with where its run stands (`run`; null when the gateway gave
 * no decision, or for a step of an unchecked run). Commit or release `reservationId` as any
 * reservation's: it settles against the run.
 */
export type Step = (Allowed | Denied) & { run: RunProgress | null };

/** A tracked step: a track's answer, with where its run stands (null for an unchecked run). */
export type TrackedStep = TrackAnswer & { run: RunProgress | null };

export interface StartRunOptions extends WriteOptions {
  limits?: RunLimits | undefined;
  /** 1 to 86,400 (the gateway's default 900): the run ends by itself then. */
  ttlSeconds?: number | undefined;
  /** A run of the same user whose remaining budget the new run's is carved from (at most 3 levels). */
  parentRunId?: string | undefined;
}

/** Which action a step is a try of, and what kind of try. */
export interface StepFields {
  /** `[A-Za-z0-9_.:-]{1,128}`: the steps of one action count against `limits.attemptsPerAction`. */
  actionId?: string | undefined;
  /** `primary` by default. */
  kind?: StepKind | undefined;
}

/** A step's reserve options: a reserve's, less `fit` and `minFit` (a run's budget does not clamp a step). */
export interface StepOptions extends Omit<ReserveOptions, "fit" | "minFit">, StepFields {}

export interface TrackStepOptions extends TrackOptions, StepFields {}

/** A close's options: with `outcome`, what the run's output came to (on its `run_close` entry, counted in its groups). */
export interface CloseRunOptions extends CallOptions {
  outcome?: Outcome | undefined;
}

/**
 * `withRun`'s options: a start's, and `outcome`, which decides from what `fn` returned what the
 * run's output came to, said by the close (undefined: none). Not asked when `fn` throws.
 */
export interface WithRunOptions<T> extends StartRunOptions {
  outcome?: ((value: T) => Outcome | undefined) | undefined;
}

/**
 * A started run: its steps draw on its budget. `id` is `""` (and `unchecked` true) when the
 * gateway gave no answer and `failMode: "open"` let the work run: its steps are then plain
 * reserves and tracks of the user, and `close`, `extend` and `get` answer at once.
 */
export interface Run {
  allowed: true;
  id: string;
  userId: string;
  /** The start's answer. */
  decision: RunStarted;
  unchecked: boolean;
  /** A step: a reserve of `event` drawing on the run's budget (denied, not thrown, when the run is out). */
  reserve(event: string, quantity?: number, metadata?: Metadata, opts?: StepOptions): Promise<Step>;
  /** A step that already happened: counted into the run, never denied (on the user once the run has ended). */
  track(event: string, quantity?: number, metadata?: Metadata, opts?: TrackStepOptions): Promise<TrackedStep>;
  /** Ends the run: what its steps committed counts, the rest (open steps included) goes back; `outcome` as `closeRun`'s. */
  close(opts?: CloseRunOptions): Promise<RunAnswer>;
  extend(ttlSeconds: number, opts?: CallOptions): Promise<ExtendRunAnswer>;
  get(opts?: CallOptions): Promise<RunAnswer>;
  /** A run whose budget is carved from this one's remaining (a step of this run). */
  startChild(event: string, quantity?: number, metadata?: Metadata, opts?: Omit<StartRunOptions, "parentRunId">): Promise<Run | RunDenied>;
}

export type WithRun<T> =
  | { allowed: true; value: T; run: RunAnswer; decision: RunStarted }
  | { allowed: false; decision: RunDenied };

/** What the client lends its runs: sending, its keyed decisions, and a track's checks. */
export interface RunDeps {
  send: Send;
  per: Per;
  decide: Decide;
  event(userId: string, name: string, quantity?: number, metadata?: Metadata): object;
  warnRefund(name: string): void;
}

const path = (runId: string, verb = "") => `${RUNS_PATH}/${encodeURIComponent(runId)}${verb ? `/${verb}` : ""}`;

/** The client's own answer for the unchecked run `""`: nothing held, nothing to end. */
function uncheckedRun(): RunAnswer {
  return {
    runId: "", userId: "", event: "", state: "unchecked", createdAt: null, expiresAt: "", endedAt: null, parentRunId: null,
    limits: { steps: null, attemptsPerAction: null, fallbacks: null, fallbackShare: null },
    steps: 0, fallbacks: 0, attempts: {}, groups: [], children: [],
  };
}

function toRunDecision(answer: RunStartAnswer, headers: Headers): RunStarted | RunDenied {
  const fields = { ...common(answer, headers), reasons: answer.reasons as Reason[] };
  if (answer.allowed && answer.runId) return { ...fields, allowed: true, runId: answer.runId, expiresAt: answer.expiresAt ?? null };
  return { ...fields, allowed: false, runId: null, expiresAt: null };
}

/** The fail mode's decision for a start the gateway gave none for: an unchecked run `""`, or a denial. */
function unansweredStart(decision: Decision): RunStarted | RunDenied {
  const { reservationId: _, granted: __, ...fields } = decision;
  return fields.allowed ? { ...fields, runId: "" } : { ...fields, runId: null };
}

/** A step's own body fields; none for the unchecked run, whose steps are the user's plain calls. */
function stepBody(runId: string, opts: StepFields): object {
  if (runId === "") return {};
  return { runId, ...(opts.actionId === undefined ? {} : { actionId: opts.actionId }), ...(opts.kind === undefined ? {} : { kind: opts.kind }) };
}

function startBody(opts: StartRunOptions): object {
  const { limits, ttlSeconds, parentRunId } = opts;
  return {
    ...(limits ? { limits } : {}),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    ...(parentRunId === undefined ? {} : { parentRunId }),
  };
}

export function runMethods(d: RunDeps) {
  const replay = { replayable: true };

  async function startRun(userId: string, name: string, quantity?: number, metadata?: Metadata, opts: StartRunOptions = {}): Promise<Run | RunDenied> {
    const body = { ...d.event(userId, name, quantity, metadata), ...startBody(opts) };
    const decided = await d.decide<RunStartAnswer>(RUNS_PATH, body, opts, opts.ttlSeconds ?? RUN_TTL_SECONDS);
    const decision = decided.ok ? toRunDecision(decided.value, decided.headers) : unansweredStart(decided.decision);
    return decision.allowed ? handle(userId, decision) : decision;
  }

  async function step(userId: string, runId: string, name: string, quantity: number | undefined, metadata: Metadata | undefined, opts: StepOptions): Promise<Step> {
    const body = { ...d.event(userId, name, quantity, metadata), ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}), ...stepBody(runId, opts) };
    const decided = await d.decide<ReserveAnswer>("/v1/reserve", body, opts, opts.ttlSeconds);
    if (!decided.ok) return { ...decided.decision, run: null };
    return { ...toDecision(decided.value, decided.headers), run: decided.value.run ?? null };
  }

  async function trackStep(userId: string, runId: string, name: string, quantity: number | undefined, metadata: Metadata | undefined, opts: TrackStepOptions): Promise<TrackedStep> {
    d.warnRefund(name);
    const body = { ...d.event(userId, name, quantity, metadata), ...stepBody(runId, opts), ...(opts.outcome === undefined ? {} : { outcome: opts.outcome }) };
    const answer = await d.send<TrackAnswer>({ method: "POST", path: "/v1/track", body, idempotencyKey: opts.idempotencyKey ?? newKey(), ...replay, ...d.per(opts) });
    return { ...answer, run: answer.run ?? null };
  }

  function handle(userId: string, decision: RunStarted): Run {
    const id = decision.runId;
    return {
      allowed: true, id, userId, decision, unchecked: decision.unchecked,
      reserve: (name, quantity, metadata, opts = {}) => step(userId, id, name, quantity, metadata, opts),
      track: (name, quantity, metadata, opts = {}) => trackStep(userId, id, name, quantity, metadata, opts),
      close: (opts) => methods.closeRun(id, opts),
      extend: (ttlSeconds, opts) => methods.extendRun(id, ttlSeconds, opts),
      get: (opts) => methods.getRun(id, opts),
      // A child of the unchecked run has no parent the gateway knows: it is started on the user.
      startChild: (name, quantity, metadata, opts = {}) => startRun(userId, name, quantity, metadata, { ...opts, parentRunId: id || undefined }),
    };
  }

  const methods = {
    /**
     * Holds a budget for a run of `event` from every group it matches, all or nothing, and
     * answers a `Run` to take steps on, or a `RunDenied` (never thrown: see `failMode`). Throws
     * for a bad request and for an abort.
     */
    startRun,

    /** The run: its state, limits, steps, and per group its budget, used, open and remaining. */
    getRun(runId: string, opts: CallOptions = {}): Promise<RunAnswer> {
      if (runId === "") return Promise.resolve(uncheckedRun());
      return d.send({ method: "GET", path: path(runId), ...replay, ...d.per(opts) });
    },

    /** The user's runs, newest first, at most 100: `{data, nextCursor: null}`. */
    listRuns(userId: string, opts: CallOptions = {}): Promise<RunList> {
      return d.send({ method: "GET", path: `${RUNS_PATH}?${new URLSearchParams({ userId })}`, ...replay, ...d.per(opts) });
    },

    /**
     * Ends the run: what its steps committed counts on the user, the rest goes back (open steps
     * released); with `outcome`, what the run's output came to. A repeat answers the ended run
     * (`state` `"expired"` when it had expired first), its outcome as the first close said it.
     */
    closeRun(runId: string, opts: CloseRunOptions = {}): Promise<RunAnswer> {
      if (runId === "") return Promise.resolve(uncheckedRun());
      const body = opts.outcome === undefined ? {} : { outcome: opts.outcome };
      return d.send({ method: "POST", path: path(runId, "close"), body, ...replay, ...d.per(opts) });
    },

    /** Moves the run's expiry to now + ttlSeconds; a repeat sets the same. `run_ended` (410) once it has ended. */
    extendRun(runId: string, ttlSeconds: number, opts: CallOptions = {}): Promise<ExtendRunAnswer> {
      if (runId === "") return Promise.resolve({ runId: "", expiresAt: "" });
      return d.send({ method: "POST", path: path(runId, "extend"), body: { ttlSeconds }, ...replay, ...d.per(opts) });
    },

    /**
     * Starts a run, calls `fn` with it, then closes it, whatever `fn` did: threw (thrown again
     * after the close), or returned (closed with the outcome `opts.outcome` decides from its
     * value). A denied start does not call `fn`; with `failMode: "open"` a gateway that gives
     * no decision does (the run is unchecked then).
     */
    async withRun<T>(userId: string, name: string, quantity: number | undefined, metadata: Metadata | undefined,
      fn: (run: Run) => Promise<T> | T, opts: WithRunOptions<T> = {}): Promise<WithRun<T>> {
      const { outcome, ...start } = opts;
      const run = await startRun(userId, name, quantity, metadata, start);
      if (!run.allowed) return { allowed: false, decision: run };
      let value: T;
      try {
        value = await fn(run);
      } catch (err) {
        // Not under the caller's signal, which may be why fn threw: the budget goes back now
        // rather than at the run's expiry.
        await methods.closeRun(run.id).catch(() => undefined);
        throw err;
      }
      // Not under the caller's signal either: the steps ran, so what they committed is counted.
      return { allowed: true, value, run: await methods.closeRun(run.id, { outcome: outcome?.(value) }), decision: run.decision };
    },
  };
  return methods;
}
