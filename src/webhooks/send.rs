//! One delivery attempt: the guard, then a POST of the body with the Standard Webhooks
//! headers, no redirects followed. The whole attempt, DNS included, ends by one deadline, which
//! the caller sets within its lease.

use reqwest::redirect::Policy;
use tokio::time::Instant;

use super::guard::{self, Refused};
use super::{sign, WebhookSettings};

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A 2xx.
    Delivered(u16),
    /// 410 Gone: the receiver asks never to be called again.
    Gone,
    /// Any other status, a timeout, a refused or failed connection: try again later.
    Failed { status: Option<u16>, error: String },
}

/// What one attempt sends.
pub(crate) struct Message<'a> {
    pub url: &'a str,
    /// Every live secret of the endpoint (two for 24 hours after a rotation).
    pub secrets: &'a [&'a str],
    pub id: &'a str,
    pub body: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
}

/// One attempt, given up at `deadline` whatever it is waiting for (DNS, connecting, the answer).
pub(crate) async fn send(message: &Message<'_>, settings: &WebhookSettings, deadline: Instant) -> Attempt {
    let posted = tokio::time::timeout_at(deadline, post(message, settings, deadline))
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()));
    match posted {
        Ok(status) if (200..300).contains(&status) => Attempt::Delivered(status),
        Ok(410) => Attempt::Gone,
        Ok(status) => Attempt::Failed {
            status: Some(status),
            error: format!("answered {status}"),
        },
        Err(error) => Attempt::Failed { status: None, error },
    }
}

async fn post(message: &Message<'_>, settings: &WebhookSettings, deadline: Instant) -> Result<u16, String> {
    let refused = |r: Refused| format!("refused: the URL {r}");
    let url = guard::check_url(message.url, settings).map_err(refused)?;
    let addrs = guard::resolve(&url, settings, deadline).await.map_err(refused)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let left = deadline.saturating_duration_since(Instant::now());
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(left)
        .no_proxy()
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(|e| e.to_string())?;
    let signature = sign::signature(message.secrets, message.id, message.timestamp, message.body);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", message.id)
        .header("webhook-timestamp", message.timestamp.to_string())
        .header("webhook-signature", signature)
        .body(message.body.to_string())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_string()
            } else {
                e.to_string()
            }
        })?;
    Ok(response.status().as_u16())
}
