//! The gateway's own answers on the proxy, in the upstream's error shape, so the official SDKs
//! raise their own errors (`RateLimitError` for a denial) and honour `x-should-retry`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde_json::json;

use super::call::Operation;
use super::upstreams::Kind;
use crate::api::headers;
use crate::http::ApiError;
use crate::quota::Decision;
use bytes::Bytes;

/// A window resetting within this long may be retried by an SDK; anything later is told not to.
const SOON_SECONDS: i64 = 60;

/// An error the gateway answers itself: `code` is a stable snake_case code, `param` the field.
pub fn error(kind: Kind, status: StatusCode, code: &str, message: &str, param: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    // Nothing here gets better by retrying at once but an outage of the gateway's backend.
    if status != StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header(("x-should-retry", "false"));
    }
    body(kind, response, status, code, message, param)
}

fn body(
    kind: Kind,
    mut response: HttpResponseBuilder,
    status: StatusCode,
    code: &str,
    message: &str,
    param: Option<&str>,
) -> HttpResponse {
    response.insert_header(("x-quota-code", code.to_string()));
    if kind.openai() {
        let kind = match status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            429 if code == "insufficient_quota" => "insufficient_quota",
            429 => "requests",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        };
        response.json(json!({"error": {"message": message, "type": kind, "param": param, "code": code}}))
    } else {
        let kind = match status.as_u16() {
            400 | 409 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            _ => "api_error",
        };
        response.json(json!({"type": "error", "error": {"type": kind, "message": message}}))
    }
}

/// The event that ends a stream the provider broke off (`why`: "idle" or "stream_broken"):
/// Anthropic's `error` event, the Responses API's, or for chat a data line with an `error`.
pub fn stream_error(kind: Kind, operation: Operation, why: &str) -> Bytes {
    let message = match why {
        "idle" => "the provider's stream went quiet past the gateway's idle timeout",
        _ => "the provider's stream broke off",
    };
    let code = "upstream_broken";
    let text = if !kind.openai() {
        let data = json!({"type": "error", "error": {"type": "api_error", "message": message}});
        format!("event: error\ndata: {data}\n\n")
    } else if operation == Operation::Responses {
        let data = json!({"type": "error", "code": code, "message": message, "param": null,
                          "error": {"type": "server_error", "code": code, "message": message}});
        format!("event: error\ndata: {data}\n\n")
    } else {
        let data = json!({"error": {"message": message, "type": "server_error", "param": null, "code": code}});
        format!("data: {data}\n\n")
    };
    Bytes::from(text)
}

/// An `ApiError` of the gateway (bad input, a key refused, the backend down) in the shape.
pub fn api_error(kind: Kind, err: &ApiError) -> HttpResponse {
    let param = match err {
        ApiError::Invalid { field, .. } => Some(field.as_str()),
        _ => None,
    };
    if let ApiError::Unavailable(cause) | ApiError::Internal(cause) = err {
        tracing::warn!(cause, "proxy: the gateway could not decide");
    }
    error(kind, err.code().status(), err.code().as_str(), &err.to_string(), param)
}

/// A denial: 429 with the reasons and the groups that denied, `Retry-After` when a window
/// resets, and `x-should-retry: false` unless one resets soon. The provider is not called.
pub fn denied(kind: Kind, decision: &Decision) -> HttpResponse {
    let now_ms = decision.decided_at_ms;
    let mut response = HttpResponse::TooManyRequests();
    headers::rate_limit(&mut response, &decision.counters, now_ms);
    headers::retry_after(&mut response, &decision.counters, &decision.denied_by, now_ms);
    let retry_after = headers::retry_after_seconds(&decision.counters, &decision.denied_by, now_ms);
    let soon = retry_after.is_some_and(|s| s <= SOON_SECONDS);
    if !soon {
        response.insert_header(("x-should-retry", "false"));
    }
    let reasons: Vec<&str> = decision.reasons.iter().map(|r| r.code()).collect();
    let groups: Vec<&str> = decision.denied_by.iter().filter_map(|d| d.group.as_deref()).collect();
    response.insert_header(("x-quota-reasons", reasons.join(",")));
    if !groups.is_empty() {
        response.insert_header(("x-quota-denied-by", groups.join(",")));
    }
    if let Some(approval) = decision.denied_by.iter().find_map(|d| d.approval_id.as_deref()) {
        response.insert_header(("x-quota-approval", approval.to_string()));
    }
    let code = if soon {
        "rate_limit_exceeded"
    } else {
        "insufficient_quota"
    };
    let message = match (groups.is_empty(), retry_after) {
        (true, _) => format!("quota denied this call ({})", reasons.join(", ")),
        (false, Some(s)) => format!(
            "quota {} is used up for this user; it resets in {s} s",
            groups.join(", ")
        ),
        (false, None) => format!("quota {} is used up for this user", groups.join(", ")),
    };
    body(kind, response, StatusCode::TOO_MANY_REQUESTS, code, &message, None)
}
