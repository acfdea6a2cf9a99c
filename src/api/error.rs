//! Errors to HTTP: RFC 9457 problem+json with a stable snake_case `code` per variant.
//! No body carries Redis or Rust internals; internal causes are logged once, here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::gateway::GatewayError;
use crate::quota::{Problem, ReservationState};
use crate::store::StoreError;

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
    #[error("this origin may not read usage from a browser; add it to the project's allowedOrigins")]
    OriginNotAllowed,
    #[error("no such route")]
    RouteNotFound,
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
    #[error("project {0} exists already")]
    ProjectExists(String),
    #[error("the reservation was committed already")]
    ReservationCommitted,
    #[error("the reservation was released already")]
    ReservationReleased,
    #[error("the reservation has expired")]
    ReservationExpired,
    #[error("{0}; move them first")]
    PlanInUse(String),
    #[error("the user's plan {0} does not exist; store it with PUT /v1/plans/{0}")]
    PlanMissing(String),
    #[error("this Idempotency-Key was used before with another body; use a new key for a new request")]
    IdempotencyKeyReused,
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("the quota backend is unavailable; retry shortly")]
    Unavailable(String),
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

    /// The stable code clients and dashboards branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_request",
            Self::InvalidPlan(_) => "invalid_plan",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::RouteNotFound => "route_not_found",
            Self::ReservationNotFound => "reservation_not_found",
            Self::PlanNotFound(_) => "plan_not_found",
            Self::ProjectNotFound(_) => "project_not_found",
            Self::KeyNotFound(_) => "key_not_found",
            Self::SubscriptionNotFound(_) => "subscription_not_found",
            Self::ProjectExists(_) => "project_exists",
            Self::ReservationCommitted => "reservation_committed",
            Self::ReservationReleased => "reservation_released",
            Self::ReservationExpired => "reservation_expired",
            Self::PlanInUse(_) => "plan_in_use",
            Self::PlanMissing(_) => "plan_missing",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unavailable(_) => "backend_unavailable",
            Self::Internal(_) => "internal_error",
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

    /// The problem+json answer, tagged with the request's id.
    pub fn problem(&self, request_id: &str) -> HttpResponse {
        let status = self.status_code();
        let mut body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "code": self.code(),
            "detail": self.to_string(),
            "requestId": request_id,
        });
        match self {
            Self::Invalid { field, .. } => body["field"] = json!(field),
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
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Self::Unavailable(_) = self {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.body(body.to_string())
    }
}

#[cfg(test)]
impl ApiError {
    /// One of every variant, for tests that must see them all.
    pub fn samples() -> Vec<ApiError> {
        let s = || "x".to_string();
        vec![
            Self::invalid("f", "d"),
            Self::InvalidPlan(Vec::new()),
            Self::Unauthorized,
            Self::Forbidden,
            Self::OriginNotAllowed,
            Self::RouteNotFound,
            Self::ReservationNotFound,
            Self::PlanNotFound(s()),
            Self::ProjectNotFound(s()),
            Self::KeyNotFound(s()),
            Self::SubscriptionNotFound(s()),
            Self::ProjectExists(s()),
            Self::ReservationCommitted,
            Self::ReservationReleased,
            Self::ReservationExpired,
            Self::PlanInUse(s()),
            Self::PlanMissing(s()),
            Self::IdempotencyKeyReused,
            Self::PayloadTooLarge,
            Self::Unavailable(s()),
            Self::Internal(s()),
        ]
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        // No `_ =>` arm: a new variant has to choose its status here.
        match self {
            Self::Invalid { .. } | Self::InvalidPlan(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::RouteNotFound
            | Self::ReservationNotFound
            | Self::PlanNotFound(_)
            | Self::ProjectNotFound(_)
            | Self::KeyNotFound(_)
            | Self::SubscriptionNotFound(_) => StatusCode::NOT_FOUND,
            Self::PlanInUse(_)
            | Self::ProjectExists(_)
            | Self::ReservationCommitted
            | Self::ReservationReleased
            | Self::PlanMissing(_) => StatusCode::CONFLICT,
            Self::ReservationExpired => StatusCode::GONE,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The request-id middleware replaces this with a body that carries the id.
        self.problem("")
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Store(StoreError::Protocol(_)) => ApiError::Internal(err.to_string()),
            GatewayError::Store(StoreError::Unavailable(_) | StoreError::Timeout(_) | StoreError::ReadOnly(_))
            | GatewayError::Unsettled(_)
            | GatewayError::Starting => ApiError::Unavailable(err.to_string()),
            GatewayError::PlanMissing(plan) => ApiError::PlanMissing(plan),
            GatewayError::Measure(err) => ApiError::invalid(err.field, err.detail),
            GatewayError::IdempotencyReused => ApiError::IdempotencyKeyReused,
            GatewayError::Invalid { field, detail } => ApiError::invalid(field, detail),
        }
    }
}
