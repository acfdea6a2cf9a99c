//! The gateway's own answers on the proxy, in the upstream's error shape, so the official SDKs
//! raise their own errors (`RateLimitError` for a denial) and honour `x-should-retry`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::call::context::Ctx;
use super::call::outcome::Failure;
use super::call::wire::Wire;
use super::call::Operation;
use crate::http::headers;
use crate::http::ApiError;
use crate::quota::decision::Reason;
use crate::quota::{Decision, Milli};
use bytes::Bytes;

/// A window resetting within this long may be retried by an SDK; anything later is told not to.
const SOON_SECONDS: i64 = 60;

/// What an error the gateway answers itself says: a stable snake_case `code`, its message,
/// and the field it is about (`param`), if one.
pub(crate) struct Fault<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub param: Option<&'a str>,
}

impl<'a> Fault<'a> {
    /// A fault about no one field.
    pub(crate) fn new(code: &'a str, message: &'a str) -> Fault<'a> {
        Fault {
            code,
            message,
            param: None,
        }
    }
}

/// An error the gateway answers itself, with `status`.
pub(crate) fn error(wire: &dyn Wire, status: StatusCode, fault: Fault<'_>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    // Nothing here gets better by retrying at once but an outage of the gateway's backend.
    if status != StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header(("x-should-retry", "false"));
    }
    body(wire, response, status, fault)
}

fn body(wire: &dyn Wire, mut response: HttpResponseBuilder, status: StatusCode, fault: Fault<'_>) -> HttpResponse {
    let Fault { code, message, param } = fault;
    response.insert_header(("x-quota-code", code.to_string()));
    if let Some(header) = wire.error_type(status.as_u16()) {
        response.insert_header(header);
    }
    response.json(wire.error_body(status.as_u16(), code, message, param))
}

/// The event that ends a stream the provider broke off (`why`: "idle" or "stream_broken"):
/// Anthropic's `error` event, the Responses API's, or for chat a data line with an `error`.
pub(crate) fn stream_error(wire: &dyn Wire, operation: Operation, why: &str) -> Bytes {
    Bytes::from(wire.stream_error(operation, "upstream_broken", broke_off(why)))
}

/// The same for a stream that is one JSON array: an error element, then the array's end
/// (`began`: whether the array's `[` reached the caller).
pub(crate) fn array_error(wire: &dyn Wire, why: &str, began: bool) -> Bytes {
    let error = wire.error_body(
        StatusCode::BAD_GATEWAY.as_u16(),
        "upstream_broken",
        broke_off(why),
        None,
    );
    Bytes::from(format!("{}{error}]", if began { "," } else { "[" }))
}

fn broke_off(why: &str) -> &'static str {
    match why {
        "idle" => "the provider's stream went quiet past the gateway's idle timeout",
        _ => "the provider's stream broke off",
    }
}

/// An `ApiError` of the gateway (bad input, a key refused, the backend down) in the shape, with
/// `Retry-After` when it passes within moments (a busy read budget).
pub(crate) fn api_error(wire: &dyn Wire, err: &ApiError) -> HttpResponse {
    let param = match err {
        ApiError::Invalid { field, .. } => Some(field.as_str()),
        _ => None,
    };
    if let ApiError::Unavailable(cause) | ApiError::Internal(cause) = err {
        tracing::warn!(cause, "proxy: the gateway could not decide");
    }
    let message = err.to_string();
    let fault = Fault {
        param,
        ..Fault::new(err.code().as_str(), &message)
    };
    let mut response = error(wire, err.code().status(), fault);
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    }
    response
}

/// A denial: 429 with the reasons and the groups that denied, `Retry-After` when a window
/// resets and that would make room, and `x-should-retry: false` unless one resets soon. The
/// provider is not called. A call too large for what is left is told how to make it smaller
/// in its operation's terms (`smaller`); `max_field` is the field the caller named its
/// maximum output in.
pub(crate) fn denied(
    wire: &dyn Wire,
    decision: &Decision,
    operation: Operation,
    max_field: Option<&str>,
) -> HttpResponse {
    let now_ms = decision.decided_at_ms;
    let too_big = worst_case(decision);
    let mut response = HttpResponse::TooManyRequests();
    headers::rate_limit(&mut response, &decision.counters, now_ms);
    // A call larger than a group's whole quota fits after no reset: no Retry-After then.
    let never = too_big.as_ref().is_some_and(|w| w.over_quota);
    let retry_after = headers::retry_after_seconds(&decision.counters, &decision.denied_by, now_ms).filter(|_| !never);
    if !never {
        headers::retry_after(&mut response, &decision.counters, &decision.denied_by, now_ms);
    }
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
    // A routed call's next attempt past what its fallbacks may spend says so in its own code.
    let capped = decision.reasons.contains(&Reason::FallbackBudgetExhausted);
    let code = match (capped, soon) {
        (true, _) => "fallback_budget_exhausted",
        (false, true) => "rate_limit_exceeded",
        (false, false) => "insufficient_quota",
    };
    let resets = |s: i64| format!("; it resets in {}", duration(s));
    // No quota was used up when a priced group knows no price for the model: say which.
    let unpriced = decision.denied_by.iter().find(|d| d.reason == Reason::UnpricedModel);
    let message = match (&too_big, groups.is_empty(), retry_after) {
        _ if capped => format!(
            "this call's fallbacks may not hold or spend more ({}): the next target was not called",
            reasons.join(", ")
        ),
        _ if unpriced.is_some() => format!(
            "quota {} prices calls, and knows no price for the model {}: set one (PUT /v1/prices/{{model}}) or \
             call a model the catalog prices",
            unpriced.and_then(|d| d.group.as_deref()).unwrap_or("?"),
            unpriced.and_then(|d| d.model.as_deref()).unwrap_or("?"),
        ),
        (Some(w), _, _) => {
            let lower = smaller(operation, max_field);
            let after = match (w.over_quota, retry_after) {
                (true, _) => format!(", more than its whole quota of {}: {lower}", w.quota),
                (false, Some(s)) => format!("{}, or {lower}", resets(s)),
                (false, None) => format!("; {lower}"),
            };
            format!(
                "this call may use up to {} {} of quota {}, and {} are left{after}",
                w.asked, w.unit, w.group, w.left
            )
        }
        (None, true, _) => format!("quota denied this call ({})", reasons.join(", ")),
        (None, false, Some(s)) => format!("quota {} is used up for this user{}", groups.join(", "), resets(s)),
        (None, false, None) => format!("quota {} is used up for this user", groups.join(", ")),
    };
    body(
        wire,
        response,
        StatusCode::TOO_MANY_REQUESTS,
        Fault::new(code, &message),
    )
}

/// How a call held at a worst case too large for what is left is made smaller, in its
/// operation's terms: a maximum output is lowered only where the operation has one.
fn smaller(operation: Operation, max_field: Option<&str>) -> String {
    let maximum = || match max_field {
        Some(field) => format!("lower {field}"),
        None => "name a smaller maximum output".to_string(),
    };
    match operation {
        Operation::Chat => maximum(),
        Operation::Responses => maximum(),
        Operation::Messages => maximum(),
        Operation::Generate => maximum(),
        Operation::Converse => maximum(),
        Operation::RealtimeResponse => maximum(),
        Operation::Realtime => "close another session".to_string(),
        Operation::RealtimeMinute => "end the session".to_string(),
        Operation::Embed | Operation::Cache => "send less input".to_string(),
        Operation::Embeddings => "send less input".to_string(),
        Operation::Images => "ask for fewer images".to_string(),
        Operation::Transcriptions => "send a shorter file".to_string(),
        Operation::Translations => "send a shorter file".to_string(),
        Operation::Speech => "send a shorter input".to_string(),
        Operation::Batches => "send fewer requests (a smaller batch)".to_string(),
        Operation::Videos => "ask for fewer seconds or a smaller size".to_string(),
        Operation::Job => "send a smaller request".to_string(),
        Operation::Uncounted => "send a smaller request".to_string(),
    }
}

/// A group that denied because of the call's own worst case: what it asked is more than was
/// left, while something was left (or the call is larger than the whole quota).
struct WorstCase<'a> {
    group: &'a str,
    unit: &'static str,
    asked: Milli,
    left: Milli,
    quota: Milli,
    over_quota: bool,
}

fn worst_case(decision: &Decision) -> Option<WorstCase<'_>> {
    decision.denied_by.iter().find_map(|d| {
        let (group, asked) = (d.group.as_deref()?, d.asked?);
        if d.reason != Reason::LimitReached {
            return None;
        }
        let counter = decision
            .counters
            .iter()
            .find(|c| c.group_id == group && c.subject == d.subject)?;
        let left = counter
            .quota
            .saturating_sub(counter.used)
            .saturating_sub(counter.reserved);
        let over_quota = asked > counter.quota;
        (left > Milli(0) || over_quota).then_some(WorstCase {
            group,
            unit: counter.unit.as_str(),
            asked,
            left,
            quota: counter.quota,
            over_quota,
        })
    })
}

/// Seconds as a person reads them: `42 s`, `5 min`, `3 h`, `2 days`.
fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} days", s / 86_400),
    }
}

impl Failure {
    /// The caller's answer, in the upstream's error shape.
    pub(crate) fn answer(&self, ctx: &Ctx) -> HttpResponse {
        let (upstream, wire) = (ctx.upstream(), ctx.wire());
        let name = &upstream.name;
        let (status, code, message) = match self {
            Failure::Unreachable(cause) => {
                tracing::warn!(
                    upstream = name,
                    attempt = ctx.attempt,
                    cause,
                    "proxy: upstream unreachable"
                );
                let message = format!("the provider ({name}) could not be reached; the call was not made");
                (StatusCode::BAD_GATEWAY, "upstream_unreachable", message)
            }
            Failure::Broken(cause) => {
                tracing::warn!(
                    upstream = name,
                    attempt = ctx.attempt,
                    cause,
                    "proxy: upstream connection broke before an answer"
                );
                let message = format!(
                    "the connection to the provider ({name}) broke before it answered; the call was charged its hold"
                );
                (StatusCode::BAD_GATEWAY, "upstream_broken", message)
            }
            Failure::Timeout => {
                let message = format!(
                    "the provider ({name}) did not answer within {} s; the call was charged its hold",
                    upstream.timeouts.first_byte.as_secs()
                );
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", message)
            }
            Failure::Unsent(cut) => {
                let message = format!("{}, before the upload's end; the call was not made", cut.why);
                let fault = Fault {
                    param: cut.part.as_deref(),
                    ..Fault::new("upload_broken", &message)
                };
                return error(wire, StatusCode::BAD_REQUEST, fault);
            }
        };
        error(wire, status, Fault::new(code, &message))
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, smaller, Operation};

    #[test]
    fn a_denial_names_the_fix_of_its_own_operation() {
        assert_eq!(smaller(Operation::Chat, Some("max_tokens")), "lower max_tokens");
        assert_eq!(smaller(Operation::Messages, None), "name a smaller maximum output");
        assert_eq!(smaller(Operation::Transcriptions, None), "send a shorter file");
        assert_eq!(smaller(Operation::Speech, None), "send a shorter input");
        assert_eq!(smaller(Operation::Images, None), "ask for fewer images");
        for operation in [
            Operation::Embeddings,
            Operation::Images,
            Operation::Transcriptions,
            Operation::Translations,
            Operation::Speech,
            Operation::Batches,
            Operation::Videos,
        ] {
            assert!(!operation.has_maximum());
            assert!(!smaller(operation, None).contains("maximum"), "{operation:?}");
        }
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration(42), "42 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(10_800), "3 h");
        assert_eq!(duration(242_893), "2 days");
    }
}
