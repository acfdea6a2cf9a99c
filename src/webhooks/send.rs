//! One delivery attempt: the guard, then a POST of the body with the Standard Webhooks
//! headers, no redirects followed, within the timeout.

use reqwest::redirect::Policy;

use super::guard::{self, Refused};
use super::{sign, WebhookSettings};

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx.
    Delivered(u16),
    /// 410 Gone: the receiver asks never to be called again.
    Gone,
    /// Any other status, a timeout, a refused or failed connection: try again later.
    Failed { status: Option<u16>, error: String },
}

/// What one attempt sends.
pub struct Message<'a> {
    pub url: &'a str,
    /// Every live secret of the endpoint (two for 24 hours after a rotation).
    pub secrets: &'a [&'a str],
    pub id: &'a str,
    pub body: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
}

pub async fn send(message: &Message<'_>, settings: &WebhookSettings) -> Attempt {
    match post(message, settings).await {
        Ok(status) if (200..300).contains(&status) => Attempt::Delivered(status),
        Ok(410) => Attempt::Gone,
        Ok(status) => Attempt::Failed {
            status: Some(status),
            error: format!("answered {status}"),
        },
        Err(error) => Attempt::Failed { status: None, error },
    }
}

async fn post(message: &Message<'_>, settings: &WebhookSettings) -> Result<u16, String> {
    let refused = |r: Refused| format!("refused: the URL {r}");
    let url = guard::check_url(message.url, settings).map_err(refused)?;
    let addrs = guard::resolve(&url, settings).await.map_err(refused)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(settings.timeout)
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
