// The closed vocabularies a caller branches on, as literal unions: the gateway's error codes
// (its code table; a test holds this list to the codes its OpenAPI document names), the codes
// this client gives itself, and the reasons of a denial.

/** Every `code` the gateway answers in a problem+json body. */
export const GATEWAY_CODES = [
  "invalid_request", "invalid_plan", "unauthorized", "forbidden", "origin_not_allowed",
  "route_not_found", "method_not_allowed", "reservation_not_found", "reservation_not_committed", "plan_not_found",
  "project_not_found", "key_not_found", "subscription_not_found", "webhook_not_found",
  "delivery_not_found", "grant_not_found", "approval_not_found", "run_not_found", "simulation_not_found", "price_not_found", "operator_not_found", "project_exists", "reservation_committed",
  "reservation_released", "plan_in_use", "plan_missing", "webhook_limit", "grant_limit", "price_limit", "operator_exists", "operator_limit", "approval_decided",
  "webhook_disabled", "secret_rotation_limit", "reservation_expired", "run_ended", "simulation_running", "simulation_failed", "simulation_bound", "request_timeout",
  "payload_too_large", "unsupported_media_type", "idempotency_key_reused", "counter_limit", "unpriced_model",
  "headers_too_large", "override_limit", "user_key_limit", "internal_error", "backend_unavailable",
  "outcome_changed_enough", "counting_busy",
] as const;

export type GatewayCode = (typeof GATEWAY_CODES)[number];

/**
 * Every code the proxy (`/proxy/{upstream}/…`) answers in the provider's own error shape, also in
 * its `x-quota-code` header: a denial (429 `insufficient_quota`, or `rate_limit_exceeded` when a
 * window resets soon, or `fallback_budget_exhausted` when a routed call's next target would pass
 * what its fallbacks may spend), a provider that gave no answer (502 `upstream_unreachable` or
 * `upstream_broken`, 504 `upstream_timeout`), an upload that broke off (400 `upload_broken`), an
 * attempt of a closed action (409 `action_not_retryable`), a repeat of an Idempotency-Key (409
 * `idempotency_key_in_flight`, `idempotency_key_settled`), a path it does not forward (404
 * `upstream_not_found`, `route_not_found`), and an async job or file of another user (404
 * `not_found`, as the provider answers an id it does not know); the gateway's own codes above
 * otherwise.
 */
export const PROXY_CODES = [
  "insufficient_quota", "rate_limit_exceeded", "fallback_budget_exhausted", "upstream_unreachable", "upstream_broken",
  "upstream_timeout", "upload_broken", "action_not_retryable", "idempotency_key_in_flight", "idempotency_key_settled",
  "upstream_not_found", "route_not_found", "not_found",
] as const;

export type ProxyCode = (typeof PROXY_CODES)[number];

/**
 * Codes the client gives itself: `aborted` (the caller's `AbortSignal`), `webhook_invalid`
 * (`verifyWebhook`), `simulation_failed` and `simulation_timeout` (`simulate`: the simulation
 * ended as failed, or was still running at the caller's deadline), and `http_<status>` for an
 * answer without a problem+json body that is not a proxy's 502, 503 or 504 (those are
 * `backend_unavailable`).
 */
export type ClientCode = "aborted" | "webhook_invalid" | "simulation_failed" | "simulation_timeout" | `http_${number}`;

export type ErrorCode = GatewayCode | ClientCode;

/**
 * Why a reserve or check was denied: a quota (`limit_reached`, with `deniedBy`), a balance
 * group whose grants (and overdraft) cannot cover the amount (`insufficient_balance`, with
 * `deniedBy`), an approval group whose request waits for a person (`approval_pending`, the
 * denial naming its `approvalId`), a per-value group that has counted as many distinct values
 * this period as it may (`too_many_values`), a block, no plan, an event no group matches on a
 * plan that denies those, a priced group (`"measure": {"price": ...}`) that has no price for
 * the call's model (`unpriced_model`, the denial naming the `model`), a team's group whose room
 * is leased to its members' slices for now (`parent_capacity_leased`, back by `Retry-After`),
 * or a gateway that gave no
 * decision (`backend_unavailable`, from the client's fail mode). A run's step (and a child run's start) is also denied by its run: its
 * budget of a group is spent (`run_budget_exhausted`, with `deniedBy`), it has taken its
 * `limits.steps` (`run_steps_exhausted`), the action its `limits.attemptsPerAction`
 * (`action_attempts_exhausted`), fallbacks their count, a group's `fallbackShare` or the run's
 * `maxFallbackSpend` (`fallback_budget_exhausted`, with `deniedBy` for a group; a group's own
 * `maxFallbackSpend` denies a routed proxy call's later target so outside runs), or the run has ended: closed,
 * expired or unknown (`run_ended`); a child run's start is denied `run_too_deep` when it would
 * be a fourth level of runs.
 */
export type Reason =
  | "limit_reached" | "insufficient_balance" | "approval_pending" | "too_many_values"
  | "user_blocked" | "no_subscription" | "unmatched_event" | "unpriced_model" | "parent_capacity_leased" | "backend_unavailable"
  | "run_budget_exhausted" | "run_steps_exhausted" | "action_attempts_exhausted" | "fallback_budget_exhausted" | "run_ended" | "run_too_deep";
