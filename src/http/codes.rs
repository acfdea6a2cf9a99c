//! The one table of error codes: each stable snake_case code with its HTTP status. `ApiError`
//! maps each variant to a code, the answers take their status from here, and the OpenAPI
//! document lists from here what each route may answer.

use actix_web::http::StatusCode;

macro_rules! codes {
    ($($variant:ident $code:literal $status:ident,)*) => {
        /// A stable error code clients and dashboards branch on.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

codes! {
    InvalidRequest "invalid_request" BAD_REQUEST,
    InvalidPlan "invalid_plan" BAD_REQUEST,
    Unauthorized "unauthorized" UNAUTHORIZED,
    Forbidden "forbidden" FORBIDDEN,
    OriginNotAllowed "origin_not_allowed" FORBIDDEN,
    RouteNotFound "route_not_found" NOT_FOUND,
    MethodNotAllowed "method_not_allowed" METHOD_NOT_ALLOWED,
    ReservationNotFound "reservation_not_found" NOT_FOUND,
    PlanNotFound "plan_not_found" NOT_FOUND,
    ProjectNotFound "project_not_found" NOT_FOUND,
    KeyNotFound "key_not_found" NOT_FOUND,
    SubscriptionNotFound "subscription_not_found" NOT_FOUND,
    WebhookNotFound "webhook_not_found" NOT_FOUND,
    DeliveryNotFound "delivery_not_found" NOT_FOUND,
    GrantNotFound "grant_not_found" NOT_FOUND,
    ApprovalNotFound "approval_not_found" NOT_FOUND,
    RunNotFound "run_not_found" NOT_FOUND,
    SimulationNotFound "simulation_not_found" NOT_FOUND,
    PriceNotFound "price_not_found" NOT_FOUND,
    OperatorNotFound "operator_not_found" NOT_FOUND,
    ProjectExists "project_exists" CONFLICT,
    ReservationCommitted "reservation_committed" CONFLICT,
    ReservationReleased "reservation_released" CONFLICT,
    ReservationNotCommitted "reservation_not_committed" CONFLICT,
    PlanInUse "plan_in_use" CONFLICT,
    PlanMissing "plan_missing" CONFLICT,
    WebhookLimit "webhook_limit" CONFLICT,
    GrantLimit "grant_limit" CONFLICT,
    OverrideLimit "override_limit" CONFLICT,
    UserKeyLimit "user_key_limit" CONFLICT,
    PriceLimit "price_limit" CONFLICT,
    OperatorExists "operator_exists" CONFLICT,
    OperatorLimit "operator_limit" CONFLICT,
    ApprovalDecided "approval_decided" CONFLICT,
    WebhookDisabled "webhook_disabled" CONFLICT,
    SimulationRunning "simulation_running" CONFLICT,
    SimulationFailed "simulation_failed" CONFLICT,
    SecretRotationLimit "secret_rotation_limit" CONFLICT,
    OutcomeChangedEnough "outcome_changed_enough" CONFLICT,
    ReservationExpired "reservation_expired" GONE,
    RunEnded "run_ended" GONE,
    RequestTimeout "request_timeout" REQUEST_TIMEOUT,
    PayloadTooLarge "payload_too_large" PAYLOAD_TOO_LARGE,
    UnsupportedMediaType "unsupported_media_type" UNSUPPORTED_MEDIA_TYPE,
    IdempotencyKeyReused "idempotency_key_reused" UNPROCESSABLE_ENTITY,
    CounterLimit "counter_limit" UNPROCESSABLE_ENTITY,
    SimulationBound "simulation_bound" UNPROCESSABLE_ENTITY,
    UnpricedModel "unpriced_model" UNPROCESSABLE_ENTITY,
    HeadersTooLarge "headers_too_large" REQUEST_HEADER_FIELDS_TOO_LARGE,
    InternalError "internal_error" INTERNAL_SERVER_ERROR,
    BackendUnavailable "backend_unavailable" SERVICE_UNAVAILABLE,
    CountingBusy "counting_busy" SERVICE_UNAVAILABLE,
    ReadBudgetFull "read_budget_full" SERVICE_UNAVAILABLE,
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_distinct_snake_case_with_error_statuses() {
        for (i, code) in Code::ALL.iter().enumerate() {
            let text = code.as_str();
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{text}");
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{text}"
            );
            assert!(Code::ALL[..i].iter().all(|c| c.as_str() != text), "{text} twice");
        }
    }
}
