// One call to the gateway: a timeout per attempt, retries with jittered backoff on network
// errors and 503 only (the same Idempotency-Key on each), and problem+json turned into errors.
import { QuotaGatewayError } from "./errors.js";

export interface Transport {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  userToken?: string;
  fetch: typeof fetch;
}

export interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  /** Sent on reserve, track and commit; the same on every retry of the call. */
  idempotencyKey?: string;
}

const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 2_000;

/** A random id for an Idempotency-Key, from WebCrypto where the runtime has it. */
export function newKey(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

function unreachable(detail: string, status = 0, requestId: string | null = null): QuotaGatewayError {
  return new QuotaGatewayError({ code: "backend_unavailable", status, detail, requestId });
}

/** Full jitter: a random wait up to a doubling ceiling. */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt);
  return new Promise((done) => setTimeout(done, Math.random() * ceiling));
}

async function once(t: Transport, call: Call): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${t.apiKey}` };
  if (call.body !== undefined) headers["Content-Type"] = "application/json";
  if (call.idempotencyKey) headers["Idempotency-Key"] = call.idempotencyKey;
  if (t.userToken) headers["X-User-Token"] = t.userToken;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), t.timeoutMs);
  try {
    return await t.fetch(t.baseUrl + call.path, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal: abort.signal,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** The answer's JSON (undefined for 204), or the error it stands for. */
export async function request<T>(t: Transport, call: Call): Promise<T> {
  let last: QuotaGatewayError = unreachable("the gateway was not called");
  for (let attempt = 0; attempt <= t.maxRetries; attempt++) {
    if (attempt > 0) await backoff(attempt - 1);
    let response: Response;
    try {
      response = await once(t, call);
    } catch (err) {
      // A network error or a timeout: the call may still have run, which the key covers.
      const timedOut = err instanceof Error && err.name === "AbortError";
      last = unreachable(timedOut ? `no answer within ${t.timeoutMs} ms` : `cannot reach ${t.baseUrl}: ${String(err)}`);
      continue;
    }
    if (response.ok) {
      return (response.status === 204 ? undefined : await response.json()) as T;
    }
    const problem = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    const error = new QuotaGatewayError({
      code: typeof problem.code === "string" ? problem.code : `http_${response.status}`,
      status: response.status,
      detail: typeof problem.detail === "string" ? problem.detail : response.statusText,
      requestId: (problem.requestId as string | undefined) ?? response.headers.get("x-request-id"),
      field: (problem.field as string | undefined) ?? null,
    });
    if (response.status !== 503) throw error;
    last = error;
  }
  throw last;
}
