/**
 * Every answer of the gateway that is not a success, as one error class: the stable `code`
 * (`limit_reached` is never an error: a denial is an answer), the HTTP `status`, the `detail`
 * a person can act on, the `field` at fault where there is one, and the `requestId` to quote.
 * A gateway that could not be reached is `backend_unavailable` with status 0 (or 503 when it
 * answered so).
 */
export class QuotaGatewayError extends Error {
  readonly code: string;
  readonly status: number;
  readonly detail: string;
  readonly requestId: string | null;
  readonly field: string | null;

  constructor(init: { code: string; status: number; detail: string; requestId?: string | null; field?: string | null }) {
    super(`${init.code}: ${init.detail}`);
    this.name = "QuotaGatewayError";
    this.code = init.code;
    this.status = init.status;
    this.detail = init.detail;
    this.requestId = init.requestId ?? null;
    this.field = init.field ?? null;
  }
}
