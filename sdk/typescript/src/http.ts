// One call to the gateway: one deadline across its attempts, each attempt bounded too; retries
// with jittered backoff on network errors, timeouts, 429, 502, 503 and 504 whatever the body
// (a load balancer's HTML page included), at least `Retry-After` apart; the same
// Idempotency-Key on each; the caller's AbortSignal ends it at once, as an abort.
import { QuotaGatewayError } from "./errors.js";
import { readAnswer } from "./answer.js";

export interface Transport {
  baseUrl: string;
  apiKey: string;
  /** The whole call, every retry included. */
  timeoutMs: number;
  /** One attempt, so a hung one leaves time to retry; by default 40 % of the call's deadline. */
  attemptTimeoutMs: number | undefined;
  maxRetries: number;
  userToken?: string | undefined;
  fetch: typeof fetch;
}

export interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  /** The same on every attempt of the call. */
  idempotencyKey?: string | undefined;
  /**
   * A repeat does no harm: the gateway deduplicates it by its key, or the route is idempotent.
   * Other writes are retried only when the request cannot have arrived.
   */
  replayable: boolean;
  /** The answer is this media type's text (a simulation's CSV), not the gateway's JSON. */
  accept?: "text/csv" | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
}

/** A call's end: the answer, or the error with whether some attempt may have run unanswered. */
export type Result<T> =
  | { ok: true; value: T; headers: Headers }
  | { ok: false; error: QuotaGatewayError; uncertain: boolean };

// Answers a proxy or the gateway gives while it cannot decide: retried, whatever the body.
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
// A 429 comes from in front of the gateway: the request did not reach it.
const NOT_RECEIVED_STATUSES = new Set([429]);
// Errors of a connection that was never made: the request cannot have left.
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);
// A hung attempt gives up in time for about two more within the deadline.
const ATTEMPT_SHARE = 0.4;
const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 2_000;

/** A random id for an Idempotency-Key, from WebCrypto where the runtime has it. */
export function newKey(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

export function unreachable(detail: string, status = 0, requestId: string | null = null): QuotaGatewayError {
  return new QuotaGatewayError({ code: "backend_unavailable", status, detail, requestId });
}

export function aborted(signal: AbortSignal): QuotaGatewayError {
  return new QuotaGatewayError({ code: "aborted", status: 0, detail: "the call was aborted by its signal", cause: signal.reason });
}

/** Whether a failed fetch can have sent its request: only a connection never made cannot. */
function maybeSent(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; errors?: { code?: string }[] } })?.cause;
  if (!cause) return true;
  if (cause.code && NEVER_SENT.has(cause.code)) return false;
  return !(cause.errors?.length && cause.errors.every((e) => e.code && NEVER_SENT.has(e.code)));
}

/** `Retry-After` in milliseconds: whole seconds, or an HTTP date. */
function retryAfterMs(value: string | null): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** Waits `ms`, or less when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      done();
    }
    signal?.addEventListener("abort", finish);
  });
}

/** One attempt, bounded by `ms` and by the caller's signal; the body is read within both. */
async function once(t: Transport, call: Call, ms: number): Promise<{ response: Response; text: string }> {
  const headers: Record<string, string> = { Authorization: `Bearer ${t.apiKey}`, Accept: call.accept ?? "application/json" };
  if (call.body !== undefined) headers["Content-Type"] = "application/json";
  if (call.idempotencyKey) headers["Idempotency-Key"] = call.idempotencyKey;
  if (t.userToken) headers["X-User-Token"] = t.userToken;
  // AbortSignal.any is not in Node 18: join the caller's signal to the attempt's by hand.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  const forward = () => abort.abort();
  call.signal?.addEventListener("abort", forward);
  try {
    const init: RequestInit = { method: call.method, headers, signal: abort.signal };
    if (call.body !== undefined) init.body = JSON.stringify(call.body);
    const response = await t.fetch(t.baseUrl + call.path, init);
    return { response, text: await response.text() };
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener("abort", forward);
  }
}

/** Carries out a call: its answer, or why there is none. Never throws. */
export async function perform<T>(t: Transport, call: Call): Promise<Result<T>> {
  const totalMs = call.timeoutMs ?? t.timeoutMs;
  const deadline = Date.now() + totalMs;
  const maxRetries = call.maxRetries ?? t.maxRetries;
  // With no retry to leave time for, the one attempt may take the whole deadline.
  const attemptMs = t.attemptTimeoutMs ?? (maxRetries === 0 ? totalMs : totalMs * ATTEMPT_SHARE);
  let uncertain = false;
  let last = unreachable("the gateway was not called");
  for (let attempt = 0; ; attempt++) {
    if (call.signal?.aborted) return { ok: false, error: aborted(call.signal), uncertain };
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    let safe: boolean;
    let wait: number | null = null;
    try {
      const { response, text } = await once(t, call, Math.min(attemptMs, remaining));
      const answer = readAnswer<T>(response, text, call.accept);
      if (answer.ok) return { ok: true, value: answer.value, headers: response.headers };
      last = answer.error;
      if (!RETRY_STATUSES.has(response.status)) {
        // A 5xx, or a 200 that is not the gateway's, may come after the call ran.
        if (response.status >= 500 || response.ok) uncertain = true;
        break;
      }
      safe = NOT_RECEIVED_STATUSES.has(response.status);
      if (!safe) uncertain = true;
      wait = retryAfterMs(response.headers.get("retry-after"));
    } catch (err) {
      if (call.signal?.aborted) return { ok: false, error: aborted(call.signal), uncertain: true };
      const sent = maybeSent(err);
      if (sent) uncertain = true;
      safe = !sent;
      const timedOut = err instanceof Error && err.name === "AbortError";
      last = unreachable(timedOut ? `no answer within ${Math.round(Math.min(attemptMs, remaining))} ms` : `cannot reach ${t.baseUrl}: ${String(err)}`);
    }
    if (!(safe || call.replayable) || attempt >= maxRetries) break;
    // Full jitter under a doubling ceiling, and never sooner than the answer asked.
    const delay = Math.max(Math.random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt), wait ?? 0);
    // A wait that ends past the deadline is not worth starting: the call ends now.
    if (Date.now() + delay >= deadline) break;
    await sleep(delay, call.signal);
  }
  return { ok: false, error: last, uncertain };
}
