// Reading one HTTP answer: the gateway's JSON, or the error it stands for. A body that is not
// the gateway's problem+json (a proxy's HTML page) says only what its status says.
import type { ErrorCode } from "./codes.js";
import { QuotaGatewayError } from "./errors.js";

export type Answer<T> = { ok: true; value: T } | { ok: false; error: QuotaGatewayError };

function json(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** `accept`: the media type asked for instead of JSON; its answer is the body's text. */
export function readAnswer<T>(response: Response, text: string, accept?: string): Answer<T> {
  const requestId = response.headers.get("x-request-id");
  if (response.ok) {
    if (response.status === 204) return { ok: true, value: undefined as T };
    if (accept) {
      // A 2xx of another type is not the gateway's (a proxy's page), as below.
      if (response.headers.get("content-type")?.startsWith(accept)) return { ok: true, value: text as T };
      return { ok: false, error: new QuotaGatewayError({ code: "backend_unavailable", status: response.status, detail: `an answer that is not the gateway's ${accept}`, requestId }) };
    }
    const value = json(text);
    // A 2xx whose body is not JSON is not the gateway's (a captive portal, a proxy's page).
    if (value === undefined || value === null || typeof value !== "object") {
      return { ok: false, error: new QuotaGatewayError({ code: "backend_unavailable", status: response.status, detail: "an answer that is not the gateway's JSON", requestId }) };
    }
    return { ok: true, value: value as T };
  }
  const problem = json(text) as Record<string, unknown> | undefined;
  if (!problem || typeof problem !== "object" || typeof problem.code !== "string") {
    const proxied = response.status === 502 || response.status === 503 || response.status === 504;
    const code: ErrorCode = proxied ? "backend_unavailable" : `http_${response.status}`;
    return { ok: false, error: new QuotaGatewayError({ code, status: response.status, detail: `HTTP ${response.status} without a problem+json body`, requestId }) };
  }
  return {
    ok: false,
    error: new QuotaGatewayError({
      code: problem.code as ErrorCode,
      status: response.status,
      detail: typeof problem.detail === "string" ? problem.detail : response.statusText,
      requestId: typeof problem.requestId === "string" ? problem.requestId : requestId,
      field: typeof problem.field === "string" ? problem.field : null,
    }),
  };
}
