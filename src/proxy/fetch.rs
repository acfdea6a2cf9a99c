//! The gateway's own reads of what a provider keeps (a job, a page of its list, a stored
//! response or cache): a GET with the upstream's credential, its head and its body each within
//! a time, its body within a size. One place, so every such read is bounded alike.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::read;
use super::upstreams::Upstream;
use super::wire;

/// Why a read found nothing.
#[derive(Debug)]
pub(crate) enum Unread {
    /// The provider has it no more (404).
    Gone,
    Failed(String),
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unread::Gone => write!(f, "the provider answered {}", reqwest::StatusCode::NOT_FOUND),
            Unread::Failed(why) => f.write_str(why),
        }
    }
}

/// A GET of `path` on the upstream with its credential, its answer's head within `head`: a
/// success's response, else why not.
pub(crate) async fn get(upstream: &Upstream, path: &str, head: Duration) -> Result<reqwest::Response, Unread> {
    let request = upstream.client.get(format!("{}/{path}", upstream.base_url));
    let request = wire::of(upstream.kind).authorize(
        request,
        upstream.credential.as_deref(),
        &actix_web::http::header::HeaderMap::new(),
    );
    let response = match tokio::time::timeout(head, request.send()).await {
        Err(_) => return Err(Unread::Failed("no answer in time".into())),
        Ok(Err(err)) => return Err(Unread::Failed(err.to_string())),
        Ok(Ok(response)) => response,
    };
    match response.status().as_u16() {
        200..=299 => Ok(response),
        404 => Err(Unread::Gone),
        _ => Err(Unread::Failed(format!("the provider answered {}", response.status()))),
    }
}

/// A GET of `path` answering a JSON object: its head within `head`, its body within `body`
/// and `max_bytes`.
pub(crate) async fn object(
    upstream: &Upstream,
    path: &str,
    (head, body): (Duration, Duration),
    max_bytes: usize,
) -> Result<Value, Unread> {
    let response = get(upstream, path, head).await?;
    let bytes = match tokio::time::timeout(body, read::within(response, body, max_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        _ => {
            return Err(Unread::Failed(
                "the answer did not end in time, or passed what is read".into(),
            ))
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(object) if object.is_object() => Ok(object),
        _ => Err(Unread::Failed("the answer is not a JSON object".into())),
    }
}
