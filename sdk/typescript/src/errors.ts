import type { ErrorCode } from "./codes.js";

/**
 * Every answer of the gateway that is not a success, as one error class: the stable `code`
 * (`limit_reached` is never an error: a denial is an answer), the HTTP `status`, the `detail`
 * a person can act on, the `field` at fault where there is one, and the `requestId` to quote.
 * A gateway that could not be reached is `backend_unavailable` with status 0 (or the status a
 * proxy or the gateway answered); a call the caller aborted is `aborted`, never an outage.
 */
export class QuotaGatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly requestId: string | null;
  readonly field: string | null;

  constructor(init: {
    code: ErrorCode;
    status: number;
    detail: string;
    requestId?: string | null | undefined;
    field?: string | null | undefined;
    cause?: unknown;
  }) {
    super(`${init.code}: ${init.detail}`);
    this.name = "QuotaGatewayError";
    this.code = init.code;
    this.status = init.status;
    this.detail = init.detail;
    this.requestId = init.requestId ?? null;
    this.field = init.field ?? null;
    // Set by hand: the `cause` option of Error needs ES2022 libs some runtimes' types lack.
    if (init.cause !== undefined) Object.defineProperty(this, "cause", { value: init.cause, enumerable: false });
  }

  /**
   * True when the gateway gave no decision: nothing answered, a proxy answered for it, 429, or
   * a 5xx. `reserve` and `canUse` answer these by their fail mode instead of throwing.
   */
  get unavailable(): boolean {
    if (this.code === "aborted") return false;
    return this.code === "backend_unavailable" || this.status === 0 || this.status === 429 || this.status >= 500;
  }
}
