// What `reserve` and `canUse` answer, as a union told apart by `allowed`, so that after
// `if (d.allowed)` a type checker knows `reservationId` is a string. The gateway's RateLimit
// headers ride along, to pass on to your own callers with `rateLimitHeaders`.
import type { Reason } from "./codes.js";
import type { Counter, Denial, ReserveAnswer } from "./types.js";

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
  /** Seconds until a denying group resets (`Retry-After`); null when never, or not denied. */
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
}

/** A refused reserve: `reasons`, and the groups that refused it. */
export interface Denied extends Common {
  allowed: false;
  reservationId: null;
  expiresAt: null;
  reasons: Reason[];
}

/** A reservation decision as `reserve` answers it. */
export type Decision = Allowed | Denied;

/** What `reserve` would answer now (`canUse`): nothing is held, so there is no reservation. */
export interface Check extends Common {
  allowed: boolean;
  reservationId: null;
  expiresAt: null;
  reasons: Reason[];
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

export function toDecision(answer: ReserveAnswer, headers: Headers): Decision {
  const reasons = answer.reasons as Reason[];
  if (answer.allowed && answer.reservationId) {
    return { ...common(answer, headers), allowed: true, reservationId: answer.reservationId, expiresAt: answer.expiresAt ?? null, reasons };
  }
  return { ...common(answer, headers), allowed: false, reservationId: null, expiresAt: null, reasons };
}

export function toCheck(answer: ReserveAnswer, headers: Headers): Check {
  return { ...common(answer, headers), allowed: answer.allowed, reservationId: null, expiresAt: null, reasons: answer.reasons as Reason[] };
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
    ? { ...none, allowed: true, reservationId: "", expiresAt: null, reasons }
    : { ...none, allowed: false, reservationId: null, expiresAt: null, reasons };
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

/** The headers as the gateway writes them: whole numbers rounded down, no window for lifetime groups. */
function fromCounters(counters: Counter[], now: number): { limit: string; policy: string } | null {
  if (counters.length === 0) return null;
  const policy = counters.map((c) => {
    const window = c.periodStart && c.resetsAt ? (Date.parse(c.resetsAt) - Date.parse(c.periodStart)) / 1000 : null;
    return `"${c.groupId}";q=${Math.floor(c.quota)}${window === null ? "" : `;w=${Math.floor(window)}`}`;
  });
  const limit = counters.map((c) => {
    const reset = c.resetsAt ? Math.max(0, Math.ceil((Date.parse(c.resetsAt) - now) / 1000)) : null;
    return `"${c.groupId}";r=${Math.floor(c.remaining)}${reset === null ? "" : `;t=${reset}`}`;
  });
  return { limit: limit.join(", "), policy: policy.join(", ") };
}
