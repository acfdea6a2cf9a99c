//! Retry and fallback stop conditions on the proxy: an attempt of an `X-Quota-Action` that
//! ended in a class no retry fixes closes the action, and later attempts are refused
//! (`action_not_retryable`) without calling the provider.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::answer;
use super::caller::Caller;
use super::upstreams::Upstream;
use crate::http::{ApiError, AppState};

/// Why an answer closes its action, if it does: the request itself is wrong (400, 404, 422),
/// the key or the account may not (401, 402, 403), the account's billing quota is spent, or a
/// policy refused the content (answered 400).
fn not_retryable(status: u16, body: &[u8]) -> Option<&'static str> {
    match status {
        400 | 404 | 422 => Some("the provider refused the request"),
        401..=403 => Some("the provider refused the credentials or the account"),
        429 => {
            let text = String::from_utf8_lossy(body);
            let billing = ["insufficient_quota", "billing", "credit balance"]
                .iter()
                .any(|w| text.contains(w));
            billing.then_some("the provider's account is out of quota")
        }
        _ => None,
    }
}

/// The refusal of an attempt whose action is closed; None when it may go.
pub(crate) async fn refused(
    state: &AppState,
    caller: &Caller,
    upstream: &Upstream,
) -> Result<Option<HttpResponse>, ApiError> {
    let Some(step) = &caller.step else { return Ok(None) };
    let Some(why) = state
        .gateway
        .data()
        .closed_action(&caller.project, &caller.user, step)
        .await?
    else {
        return Ok(None);
    };
    let message = format!(
        "action {} is not attempted again: its last attempt failed ({why})",
        step.action
    );
    Ok(Some(answer::error(
        super::wire::of(upstream.kind),
        StatusCode::CONFLICT,
        "action_not_retryable",
        &message,
        None,
    )))
}

/// Closes the caller's action when the provider's error says no attempt will do better.
pub(crate) async fn after_error(state: &AppState, caller: &Caller, status: StatusCode, body: &[u8]) {
    let (Some(step), Some(why)) = (&caller.step, not_retryable(status.as_u16(), body)) else {
        return;
    };
    if let Err(err) = state
        .gateway
        .data()
        .close_action(&caller.project, &caller.user, step, why)
        .await
    {
        tracing::warn!(%err, "proxy: could not close an action after a non-retryable error");
    }
}

#[cfg(test)]
mod tests {
    use super::not_retryable;

    #[test]
    fn only_errors_no_retry_fixes_close_an_action() {
        for status in [400, 401, 402, 403, 404, 422] {
            assert!(not_retryable(status, b"").is_some(), "{status}");
        }
        for status in [408, 409, 500, 502, 503, 529] {
            assert!(not_retryable(status, b"").is_none(), "{status}");
        }
        assert!(not_retryable(429, br#"{"error": {"code": "rate_limit_exceeded"}}"#).is_none());
        assert!(not_retryable(429, br#"{"error": {"code": "insufficient_quota"}}"#).is_some());
    }
}
