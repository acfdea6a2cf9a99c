//! Errors to HTTP: RFC 9457 problem+json with a stable snake_case `code` per variant.
//! No body carries Redis or Rust internals; internal causes are logged once, here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::codes::Code;
use crate::gateway::GatewayError;
use crate::quota::{Problem, ReservationState};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("the plan is invalid")]
    InvalidPlan(Vec<Problem>),
    #[error("missing, malformed, unknown or revoked key")]
    Unauthorized,
    #[error("this key may not use this route")]
    Forbidden,
    /// A user key naming another user than its own.
    #[error("this is a user key of user {own}; it spends as {own} only, not as {named}")]
    OtherUser { own: String, named: String },
    #[error("this origin may not read usage from a browser; add it to the project's allowedOrigins")]
    OriginNotAllowed,
    #[error("no such route")]
    RouteNotFound,
    /// The path exists with these methods only.
    #[error("this path takes {}", .0.join(", "))]
    MethodNotAllowed(Vec<&'static str>),
    #[error("no such reservation in this project")]
    ReservationNotFound,
    #[error("no plan {0} in this project")]
    PlanNotFound(String),
    #[error("no project {0}")]
    ProjectNotFound(String),
    #[error("no key {0} in this project")]
    KeyNotFound(String),
    #[error("user {0} has no subscription")]
    SubscriptionNotFound(String),
    #[error("no webhook endpoint {0} in this project")]
    WebhookNotFound(String),
    #[error("no delivery {0} of this endpoint")]
    DeliveryNotFound(String),
    #[error("no grant {0} of this user")]
    GrantNotFound(String),
    #[error("no approval request {0} in this project")]
    ApprovalNotFound(String),
    #[error("no such run in this project")]
    RunNotFound,
    #[error("no simulation {0} in this project (results are kept a day)")]
    SimulationNotFound(String),
    #[error("simulation {0} is still running; its CSV comes when it is done")]
    SimulationRunning(String),
    #[error("simulation {0} failed and has no rows; GET it as JSON for its error")]
    SimulationFailed(String),
    /// A simulation past a bound, which `field` names.
    #[error("{field}: {detail}")]
    SimulationBound { field: String, detail: String },
    #[error("the run has ended ({0}); start another")]
    RunEnded(&'static str),
    #[error("approval request {id} was {status} already")]
    ApprovalDecided { id: String, status: &'static str },
    #[error("project {0} exists already")]
    ProjectExists(String),
    #[error("an operator with email {0} exists already; change their roles with PATCH /v1/operators/{{operatorId}}")]
    OperatorExists(String),
    #[error("no operator {0}")]
    OperatorNotFound(String),
    #[error("the deployment has {0} operators, the most it may have; remove one first")]
    OperatorLimit(usize),
    #[error("the reservation was committed already")]
    ReservationCommitted,
    #[error("the reservation was released already")]
    ReservationReleased,
    #[error("the reservation has expired")]
    ReservationExpired,
    #[error("the reservation is {0}, not committed: an outcome is said of a committed call's output")]
    ReservationNotCommitted(&'static str),
    #[error("this call's outcome was changed 8 times, the most it may be; it stands as last said")]
    OutcomeChangedEnough,
    #[error("{0}; move them first")]
    PlanInUse(String),
    #[error("the user's plan {0} does not exist; store it with PUT /v1/plans/{0}")]
    PlanMissing(String),
    #[error("the project has {0} webhook endpoints, the most it may have; delete one first")]
    WebhookLimit(usize),
    #[error("balance {balance} has {limit} live grants, the most it may have (grant limit); let one finish or void one first")]
    GrantLimit { balance: String, limit: usize },
    #[error("the user has {0} overrides, the most one may have (override limit); remove one first")]
    OverrideLimit(usize),
    #[error("the user has {0} user keys, the most one may have; revoke one first")]
    UserKeyLimit(usize),
    #[error("the project has {0} prices, the most it may have; delete one first")]
    PriceLimit(usize),
    #[error("the project sets no price of model {0}: GET /v1/catalog says whether the catalog prices it")]
    PriceNotFound(String),
    #[error("group {group} prices calls by their model, and model {model} has no price: set one with PUT /v1/prices/{model}; nothing was counted")]
    UnpricedModel { group: String, model: String },
    #[error("webhook endpoint {id} is disabled ({reason}); enable it with POST /v1/webhooks/{id}/enable first")]
    WebhookDisabled { id: String, reason: String },
    #[error(
        "two replaced secrets still sign beside the current one, the most there may be; rotate again after {until}"
    )]
    SecretRotationLimit { until: String },
    #[error("this Idempotency-Key was used before with another body; use a new key for a new request")]
    IdempotencyKeyReused,
    #[error("group {0} would pass 9007199254740.991 units, the most a counter counts exactly; nothing was counted")]
    CounterLimit(String),
    #[error("the request body is larger than the route takes (64 KiB; 4 MiB for a simulation)")]
    PayloadTooLarge,
    #[error("the request body must be JSON: send Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request head did not arrive whole within 5 seconds; nothing was done")]
    RequestTimeout,
    #[error("the request head is over 128 KiB or has more than 96 headers; nothing was done")]
    HeadersTooLarge,
    #[error("the quota backend is unavailable; retry shortly")]
    Unavailable(String),
    /// The proxy counts a project's large bodies a few at a time, off the request threads.
    #[error("this project has as many large request bodies waiting to be counted as it may; retry shortly")]
    CountingBusy,
    /// A proxied call's body stopped arriving before the gateway had read what its hold needs.
    #[error("the request body stopped arriving for {0} s before it was read; nothing was held or forwarded")]
    BodyStalled(u64),
    /// A proxied call's body kept arriving, but too slowly to be read in a bounded time.
    #[error(
        "the request body arrived slower than {0} bytes a second before it was read; nothing was held or forwarded"
    )]
    BodyTooSlow(u64),
    /// The node keeps as many bodies read before their hold as its budget (or this user's share
    /// of it) allows.
    #[error("this gateway node is reading as many request bodies for this user as it may at once; retry shortly")]
    ReadBudgetFull,
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// A reservation that already ended: committed or released (409), or expired (410).
    pub fn ended(state: ReservationState) -> ApiError {
        match state {
            ReservationState::Committed => ApiError::ReservationCommitted,
            ReservationState::Expired => ApiError::ReservationExpired,
            ReservationState::Released => ApiError::ReservationReleased,
            ReservationState::Held => ApiError::Internal("a held reservation was reported as ended".into()),
        }
    }

    /// The stable code clients and dashboards branch on; its status comes with it.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid { .. } => Code::InvalidRequest,
            Self::InvalidPlan(_) => Code::InvalidPlan,
            Self::Unauthorized => Code::Unauthorized,
            Self::Forbidden => Code::Forbidden,
            Self::OriginNotAllowed => Code::OriginNotAllowed,
            Self::RouteNotFound => Code::RouteNotFound,
            Self::MethodNotAllowed(_) => Code::MethodNotAllowed,
            Self::ReservationNotFound => Code::ReservationNotFound,
            Self::PlanNotFound(_) => Code::PlanNotFound,
            Self::ProjectNotFound(_) => Code::ProjectNotFound,
            Self::KeyNotFound(_) => Code::KeyNotFound,
            Self::SubscriptionNotFound(_) => Code::SubscriptionNotFound,
            Self::WebhookNotFound(_) => Code::WebhookNotFound,
            Self::DeliveryNotFound(_) => Code::DeliveryNotFound,
            Self::GrantNotFound(_) => Code::GrantNotFound,
            Self::ApprovalNotFound(_) => Code::ApprovalNotFound,
            Self::RunNotFound => Code::RunNotFound,
            Self::SimulationNotFound(_) => Code::SimulationNotFound,
            Self::SimulationRunning(_) => Code::SimulationRunning,
            Self::SimulationFailed(_) => Code::SimulationFailed,
            Self::SimulationBound { .. } => Code::SimulationBound,
            Self::RunEnded(_) => Code::RunEnded,
            Self::ApprovalDecided { .. } => Code::ApprovalDecided,
            Self::ProjectExists(_) => Code::ProjectExists,
            Self::OperatorExists(_) => Code::OperatorExists,
            Self::OperatorNotFound(_) => Code::OperatorNotFound,
            Self::OperatorLimit(_) => Code::OperatorLimit,
            Self::ReservationCommitted => Code::ReservationCommitted,
            Self::ReservationReleased => Code::ReservationReleased,
            Self::ReservationNotCommitted(_) => Code::ReservationNotCommitted,
            Self::OutcomeChangedEnough => Code::OutcomeChangedEnough,
            Self::ReservationExpired => Code::ReservationExpired,
            Self::PlanInUse(_) => Code::PlanInUse,
            Self::PlanMissing(_) => Code::PlanMissing,
            Self::WebhookLimit(_) => Code::WebhookLimit,
            Self::GrantLimit { .. } => Code::GrantLimit,
            Self::OverrideLimit(_) => Code::OverrideLimit,
            Self::UserKeyLimit(_) => Code::UserKeyLimit,
            Self::PriceLimit(_) => Code::PriceLimit,
            Self::PriceNotFound(_) => Code::PriceNotFound,
            Self::UnpricedModel { .. } => Code::UnpricedModel,
            Self::WebhookDisabled { .. } => Code::WebhookDisabled,
            Self::SecretRotationLimit { .. } => Code::SecretRotationLimit,
            Self::IdempotencyKeyReused => Code::IdempotencyKeyReused,
            Self::OtherUser { .. } => Code::Forbidden,
            Self::CounterLimit(_) => Code::CounterLimit,
            Self::PayloadTooLarge => Code::PayloadTooLarge,
            Self::UnsupportedMediaType => Code::UnsupportedMediaType,
            Self::RequestTimeout => Code::RequestTimeout,
            Self::HeadersTooLarge => Code::HeadersTooLarge,
            Self::Unavailable(_) => Code::BackendUnavailable,
            Self::CountingBusy => Code::CountingBusy,
            Self::BodyStalled(_) | Self::BodyTooSlow(_) => Code::RequestTimeout,
            Self::ReadBudgetFull => Code::ReadBudgetFull,
            Self::Internal(_) => Code::InternalError,
        }
    }

    /// An error actix answered (or a handler's, carried through it) as ours: the API's
    /// problem+json and the dashboard's error pages both answer it.
    pub fn of_actix(err: &actix_web::Error, status: StatusCode) -> ApiError {
        if let Some(api_err) = err.as_error::<ApiError>() {
            return api_err.clone();
        }
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::NOT_FOUND => ApiError::RouteNotFound,
            s if s.is_client_error() => ApiError::invalid("request", err.to_string()),
            _ => ApiError::Internal(err.to_string()),
        }
    }

    /// Logs the cause of a failure to decide, once per request.
    pub fn log(&self, request_id: &str) {
        match self {
            Self::Unavailable(cause) => tracing::warn!(request_id, cause, "backend unavailable"),
            Self::Internal(cause) => tracing::error!(request_id, cause, "internal error"),
            _ => {}
        }
    }

    /// The problem+json body, tagged with the request's id.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        let status = self.status_code();
        let mut body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "code": self.code().as_str(),
            "detail": self.to_string(),
            "requestId": request_id,
        });
        match self {
            Self::Invalid { field, .. } | Self::SimulationBound { field, .. } => body["field"] = json!(field),
            Self::InvalidPlan(problems) => {
                let listed: Vec<_> = problems
                    .iter()
                    .map(|p| json!({"field": p.field, "detail": p.detail}))
                    .collect();
                let summary: Vec<_> = problems.iter().map(|p| format!("{}: {}", p.field, p.detail)).collect();
                body["detail"] = json!(format!("the plan is invalid: {}", summary.join("; ")));
                body["problems"] = json!(listed);
            }
            _ => {}
        }
        body
    }

    /// The problem+json answer, tagged with the request's id.
    pub fn problem(&self, request_id: &str) -> HttpResponse {
        let body = self.body(request_id);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        if let Self::MethodNotAllowed(methods) = self {
            response.insert_header((header::ALLOW, methods.join(", ")));
        }
        response.body(body.to_string())
    }

    /// The `Retry-After` of an error that passes by itself within moments (the backend's
    /// outage, a node's counting or read budget busy), on every surface that answers it.
    pub fn retry_after(&self) -> Option<&'static str> {
        match self {
            Self::Unavailable(_) | Self::CountingBusy | Self::ReadBudgetFull => Some("1"),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        // The request-id middleware replaces this with a body that carries the id.
        self.problem("")
    }
}

/// A value a domain rule refused, named by its field.
impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Invalid {
            field: problem.field,
            detail: problem.detail,
        }
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Store(_) if !err.redis_failed() => ApiError::Internal(err.to_string()),
            GatewayError::Encode { .. } => ApiError::Internal(err.to_string()),
            GatewayError::Store(_) | GatewayError::Unsettled(_) | GatewayError::Starting => {
                ApiError::Unavailable(err.to_string())
            }
            GatewayError::PlanMissing(plan) => ApiError::PlanMissing(plan),
            GatewayError::PlanNotFound(plan) => ApiError::PlanNotFound(plan),
            GatewayError::NoSubscription(user) => ApiError::SubscriptionNotFound(user),
            GatewayError::NotAGroup { field, plan } => {
                ApiError::invalid(field, format!("is not a group of plan {plan}"))
            }
            GatewayError::Measure(err) => ApiError::invalid(err.field, err.detail),
            GatewayError::IdempotencyReused => ApiError::IdempotencyKeyReused,
            GatewayError::CounterLimit(group) => ApiError::CounterLimit(group),
            GatewayError::Invalid { field, detail } => ApiError::invalid(field, detail),
            GatewayError::WebhookNotFound(id) => ApiError::WebhookNotFound(id),
            GatewayError::WebhookLimit(max) => ApiError::WebhookLimit(max),
            GatewayError::OverrideLimit(max) => ApiError::OverrideLimit(max),
            GatewayError::UserKeyLimit(max) => ApiError::UserKeyLimit(max),
            GatewayError::PriceLimit(max) => ApiError::PriceLimit(max),
            GatewayError::OperatorExists(email) => ApiError::OperatorExists(email),
            GatewayError::OperatorNotFound(id) => ApiError::OperatorNotFound(id),
            GatewayError::OperatorLimit(max) => ApiError::OperatorLimit(max),
            GatewayError::UnpricedModel { group, model } => ApiError::UnpricedModel { group, model },
            GatewayError::WebhookDisabled { id, reason } => ApiError::WebhookDisabled { id, reason },
            GatewayError::Bound { bound, detail } => ApiError::SimulationBound {
                field: bound.to_string(),
                detail,
            },
            GatewayError::RotationLimit { until_ms } => ApiError::SecretRotationLimit {
                until: crate::json::rfc3339(until_ms),
            },
        }
    }
}
