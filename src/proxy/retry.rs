//! Retry and fallback stop conditions on the proxy: an attempt of an `X-Quota-Action` that
//! ended in a class no retry fixes closes the action, and later attempts are refused
//! (`action_not_retryable`, by the hold) without calling the provider.

use actix_web::http::StatusCode;

use super::call::caller::Caller;
use crate::gateway::Gateway;

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

/// Closes the caller's action when the provider's error says no attempt will do better.
pub(crate) async fn after_error(gateway: &Gateway, caller: &Caller, status: StatusCode, body: &[u8]) {
    let (Some(step), Some(why)) = (&caller.step, not_retryable(status.as_u16(), body)) else {
        return;
    };
    if let Err(err) = gateway
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
