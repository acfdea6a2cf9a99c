// What `reserve` and `canUse` answer, as a union told apart by `allowed`, so that after
// `if (d.allowed)` a type checker knows `reservationId` is a string. The gateway's RateLimit
// headers ride along, to pass on to your own callers with `rateLimitHeaders`.
import type { Reason } from "./codes.js";
import type { Counter, Denial, Fit, Granted, ReserveAnswer } from "./types.js";

/** What every decision carries, a run's start's too (`RunStarted`, `RunDenied`). */
export interface Common {
  /** Ids of the groups that denied, at any level. */
  deniedBy: string[];
  /**
   * The groups that denied, each with its subject: the user, or a parent whose pool it is; an
   * `approval_pending` denial names its request (`approvalId`).
   */
  denials: Denial[];
  /** Empty when the gateway gave no decision (`unchecked`); a per-value group's name their `value`. */
  counters: Counter[];
  /** The gateway gave no decision; the fail mode did (`reasons` has `backend_unavailable`). */
  unchecked: boolean;
  /** The gateway's `RateLimit` header, when it answered. */
  rateLimit: string | null;
  /** The gateway's `RateLimit-Policy` header, when it answered. */
  rateLimitPolicy: string | null;
  /**
   * Seconds until a denying group resets, or for a rolling group until enough has rolled out
   * (`Retry-After`); null when never, or not denied.
   */
  retryAfter: number | null;
}

/**
 * An admitted reserve: commit or release `reservationId` when the work is done. When the
 * gateway gave no answer and `failMode: "open"` let the call through, `unchecked` is true and
 * `reservationId` is `""`: commit, release and extend of it do nothing and answer at once.
 */
export interface Allowed extends Common {
  allowed: true;
  reservationId: string;
  expiresAt: string | null;
  reasons: Reason[];
  /**
   * Set when a hold did not fit whole and took what was left (`fit: "clamp"`, or a group's
   * own): the `quantity` granted, and `outputTokens`, the most output to ask the provider for
   * when the metadata named `output_tokens`. Call the provider for no more (`limitOutput`).
   * Null when the reserve was held whole.
   */
  granted: Granted | null;
}

/** A refused reserve: `reasons`, and the groups that refused it. */
export interface Denied extends Common {
  allowed: false;
  reservationId: null;
  expiresAt: null;
  reasons: Reason[];
  granted: null;
}

/** A reservation decision as `reserve` answers it. */
export type Decision = Allowed | Denied;

/** What `reserve` would answer now (`canUse`): nothing is held, so there is no reservation. */
export interface Check extends Common {
  allowed: boolean;
  reservationId: null;
  expiresAt: null;
  reasons: Reason[];
  /** What a clamping reserve would be granted now; null when it would be held whole (or denied). */
  granted: Granted | null;
}

export function common(answer: Pick<ReserveAnswer, "deniedBy" | "denials" | "counters">, headers: Headers): Common {
  const after = headers.get("retry-after");
  return {
    deniedBy: answer.deniedBy,
    // The gateway's reasons are a closed set the document calls a string.
    denials: answer.denials as Denial[],
    counters: answer.counters,
    unchecked: false,
    rateLimit: headers.get("ratelimit"),
    rateLimitPolicy: headers.get("ratelimit-policy"),
    retryAfter: after && /^\d+$/.test(after) ? Number(after) : null,
  };
}

/** The answer's `granted`, null when absent; `outputTokens` null when the event named no output. */
function granted(answer: ReserveAnswer): Granted | null {
  const g = answer.granted;
  return g ? { quantity: g.quantity, outputTokens: g.outputTokens ?? null } : null;
}

export function toDecision(answer: ReserveAnswer, headers: Headers): Decision {
  const reasons = answer.reasons as Reason[];
  if (answer.allowed && answer.reservationId) {
    return { ...common(answer, headers), allowed: true, reservationId: answer.reservationId, expiresAt: answer.expiresAt ?? null, reasons, granted: granted(answer) };
  }
  return { ...common(answer, headers), allowed: false, reservationId: null, expiresAt: null, reasons, granted: null };
}

export function toCheck(answer: ReserveAnswer, headers: Headers): Check {
  return { ...common(answer, headers), allowed: answer.allowed, reservationId: null, expiresAt: null, reasons: answer.reasons as Reason[], granted: granted(answer) };
}

/** The fail mode's answer when the gateway gave none: allowed (open, nothing held) or denied. */
export function unchecked(open: true): Allowed;
export function unchecked(open: false): Denied;
export function unchecked(open: boolean): Decision;
export function unchecked(open: boolean): Decision {
  // New arrays per answer: a caller may change the ones it got.
  const none = { deniedBy: [], denials: [], counters: [], unchecked: true, rateLimit: null, rateLimitPolicy: null, retryAfter: null };
  const reasons: Reason[] = ["backend_unavailable"];
  return open
    ? { ...none, allowed: true, reservationId: "", expiresAt: null, reasons, granted: null }
    : { ...none, allowed: false, reservationId: null, expiresAt: null, reasons, granted: null };
}

/** How a reserve (or a check) may fit: what `reserve`, `canUse` and a run's `reserve` take beside their other options. */
export interface FitOptions {
  /**
   * `"clamp"`: a hold that does not fit whole takes what is left of its hard group (every hard
   * group of the call may), and the decision's `granted` says what the call was granted;
   * `"whole"`: no group clamps. Left out, each group's own `fit`.
   */
  fit?: Fit | undefined;
  /**
   * With clamping: the least the call may be granted, in output tokens when the metadata names
   * `output_tokens`, else in its quantity (default: the groups' `minFit`, else 1); less is denied.
   */
  minFit?: number | undefined;
}

/** The body fields of `FitOptions` that were given. */
export function fitFields(opts: FitOptions): { fit?: Fit; minFit?: number } {
  return { ...(opts.fit === undefined ? {} : { fit: opts.fit }), ...(opts.minFit === undefined ? {} : { minFit: opts.minFit }) };
}

/** A provider request's field that bounds its output. */
export type OutputField = "max_tokens" | "max_completion_tokens" | "max_output_tokens";

const OUTPUT_FIELDS: readonly OutputField[] = ["max_completion_tokens", "max_tokens", "max_output_tokens"];

/**
 * A provider request (`openai.chat.completions.create`'s, `anthropic.messages.create`'s, ...)
 * with its maximum output lowered to what a clamped reserve granted (`decision.granted.outputTokens`,
 * shared by the request's `n` choices, at least 1 each), so the provider bills no more than was
 * held. Each of `max_completion_tokens`, `max_tokens` and `max_output_tokens` the request names
 * is lowered (never raised); a request that names none gets `field` (`max_tokens` by default:
 * pass `"max_completion_tokens"` for OpenAI's reasoning models, `"max_output_tokens"` for its
 * Responses API). The request itself is answered when nothing was clamped. A copy: the request
 * passed is left as it was.
 */
export function limitOutput<B extends object>(decision: { granted?: { outputTokens?: number | null } | null | undefined }, request: B, field: OutputField = "max_tokens"): B {
  const most = decision.granted?.outputTokens;
  if (most === null || most === undefined) return request;
  const fields = request as Record<string, unknown>;
  const n = typeof fields.n === "number" && fields.n >= 1 ? Math.floor(fields.n) : 1;
  const each = Math.max(1, Math.floor(most / n));
  const named = OUTPUT_FIELDS.filter((f) => typeof fields[f] === "number");
  const lowered: Record<string, unknown> = { ...fields };
  for (const f of named.length > 0 ? named : [field]) {
    lowered[f] = typeof fields[f] === "number" ? Math.min(fields[f] as number, each) : each;
  }
  return lowered as B;
}

export interface RateLimitHeaders {
  RateLimit?: string;
  "RateLimit-Policy"?: string;
  "Retry-After"?: string;
}

/**
 * `RateLimit`, `RateLimit-Policy` and `Retry-After` for your own answer, from a decision: the
 * gateway's own headers when it sent them, else made from the counters as it makes them. A
 * decision the gateway did not give (no counters) asks the caller to come back in a second
 * when it was denied, and sets nothing else.
 */
export function rateLimitHeaders(decision: Decision | Check, now: number = Date.now()): RateLimitHeaders {
  const headers: RateLimitHeaders = {};
  const made = fromCounters(decision.counters, now);
  const limit = decision.rateLimit ?? made?.limit;
  const policy = decision.rateLimitPolicy ?? made?.policy;
  if (limit) headers.RateLimit = limit;
  if (policy) headers["RateLimit-Policy"] = policy;
  if (!decision.allowed) {
    if (decision.retryAfter !== null) headers["Retry-After"] = String(decision.retryAfter);
    else if (decision.reasons.includes("backend_unavailable")) headers["Retry-After"] = "1";
  }
  return headers;
}

/**
 * The headers as the gateway writes them: whole numbers rounded down, no window for lifetime
 * groups; a rolling group's window is its `rollingSeconds` (its `periodStart` and `resetsAt`
 * span everything it counts now, longer than the window).
 */
function fromCounters(counters: Counter[], now: number): { limit: string; policy: string } | null {
  if (counters.length === 0) return null;
  const policy = counters.map((c) => {
    const rolling = c.rollingSeconds;
    const window =
      rolling != null
        ? rolling
        : c.periodStart && c.resetsAt
          ? (Date.parse(c.resetsAt) - Date.parse(c.periodStart)) / 1000
          : null;
    return `"${c.groupId}";q=${Math.floor(c.quota)}${window === null ? "" : `;w=${Math.floor(window)}`}`;
  });
  const limit = counters.map((c) => {
    const reset = c.resetsAt ? Math.max(0, Math.ceil((Date.parse(c.resetsAt) - now) / 1000)) : null;
    return `"${c.groupId}";r=${Math.floor(c.remaining)}${reset === null ? "" : `;t=${reset}`}`;
  });
  return { limit: limit.join(", "), policy: policy.join(", ") };
}
