//! What a provider answers, as the door reads it: an answer's head as the caller gets it (its
//! hop-by-hop and cookie headers left out), its request id, its body read whole within a time
//! and a size; and the gateway's own reads of what a provider keeps (a job, a page of its list,
//! a stored response or cache): a GET with the upstream's credential, its head and its body
//! each within a time, its body within a size. One place, so every such read is bounded alike.

use std::fmt;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde_json::Value;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::call::hold::Hold;
use super::call::outcome::Answered;
use super::call::upstream::Upstream;
use super::call::wire::Wire;

/// A non-streamed answer read whole for its usage is at most this big.
const MAX_ANSWER_BYTES: usize = 64 << 20;
/// The answer's header naming the call's reservation: the caller says later what its output
/// came to with `POST /v1/reservations/{id}/outcome` (the commit follows the answer).
pub(crate) const RESERVATION: &str = "x-quota-reservation";

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

/// A GET of `path` (OpenAI's, as the wire serves it: `Wire::own_path`) on the upstream with its
/// credential, its answer's head within `head`: a success's response, else why not.
pub(crate) async fn get(upstream: &Upstream, path: &str, head: Duration) -> Result<reqwest::Response, Unread> {
    let request = upstream
        .client
        .get(format!("{}/{}", upstream.base_url, upstream.wire.own_path(path)));
    fetch(upstream, request, head).await
}

/// A request of the gateway's own to the upstream, with its credential: a success's response
/// within `head`, else why not.
async fn fetch(
    upstream: &Upstream,
    request: reqwest::RequestBuilder,
    head: Duration,
) -> Result<reqwest::Response, Unread> {
    let request = upstream.wire.authorize(
        request,
        upstream.credential.as_deref(),
        &actix_web::http::header::HeaderMap::new(),
    );
    let response = match tokio::time::timeout(head, upstream.send(request)).await {
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
    read_object(response, body, max_bytes).await
}

/// A POST of `body` (JSON) to `path` answering a JSON object, bounded as `object` is.
pub(crate) async fn posted(
    upstream: &Upstream,
    (path, sent): (&str, bytes::Bytes),
    times: (Duration, Duration),
    max_bytes: usize,
) -> Result<Value, Unread> {
    let request = upstream
        .client
        .post(format!("{}/{}", upstream.base_url, path))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(sent);
    let response = fetch(upstream, request, times.0).await?;
    read_object(response, times.1, max_bytes).await
}

async fn read_object(response: reqwest::Response, body: Duration, max_bytes: usize) -> Result<Value, Unread> {
    let bytes = match tokio::time::timeout(body, within(response, body, max_bytes)).await {
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

/// An answer's body read whole, each read within `idle`, at most `limit` bytes.
pub(crate) async fn within(response: reqwest::Response, idle: Duration, limit: usize) -> Result<Bytes, ()> {
    let mut stream = response.bytes_stream();
    let mut body = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(None) => return Ok(body.freeze()),
            Ok(Some(Ok(chunk))) if body.len() + chunk.len() <= limit => body.extend_from_slice(&chunk),
            _ => return Err(()),
        }
    }
}

/// What the provider said of the call, for the record: its status and its request id.
pub(crate) fn answered_by(wire: &dyn Wire, response: &reqwest::Response) -> Answered {
    let id = response.headers().get(wire.request_id_header());
    Answered {
        status: Some(response.status().as_u16()),
        request_id: id.and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

/// Whether the answer is JSON (or says nothing of its type, as some compatible servers do).
pub(crate) fn json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json") || v.contains("+json"))
}

/// Whether the answer is a stream of server-sent events.
pub(crate) fn streamed(response: &reqwest::Response) -> bool {
    typed(response, "text/event-stream")
}

/// Whether the answer is AWS event stream messages (Bedrock's streams).
pub(crate) fn event_stream(response: &reqwest::Response) -> bool {
    typed(response, "application/vnd.amazon.eventstream")
}

/// Whether the answer's content type is `kind`.
fn typed(response: &reqwest::Response, kind: &str) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(kind))
}

/// The answer's status and headers for the caller, without those that describe the
/// connection or a body the gateway sends differently.
pub(crate) fn head(response: &reqwest::Response) -> HttpResponseBuilder {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut reply = HttpResponse::build(status);
    for (name, value) in response.headers() {
        let skip = matches!(
            name.as_str(),
            "content-length" | "connection" | "keep-alive" | "transfer-encoding" | "set-cookie"
        ) || name.as_str().starts_with("access-control-");
        if skip {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            reply.append_header((name, value));
        }
    }
    // The provider's `x-request-id` reaches the caller as it came (the SDKs' `_request_id`,
    // which the provider's support asks for); the gateway's own is then `X-Quota-Request-Id`.
    // `X-Upstream-Request-Id` repeats it for callers that read it there.
    if let Some(id) = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
        reply.insert_header(("x-upstream-request-id", id.to_string()));
    }
    reply
}

/// Names the call's reservation on the answer.
pub(crate) fn reserved(reply: &mut HttpResponseBuilder, hold: &Hold) {
    reply.insert_header((RESERVATION, hold.id.as_str().to_string()));
}

/// A whole answer, at most `MAX_ANSWER_BYTES`, each read within `idle`.
pub(crate) async fn whole(response: reqwest::Response, idle: Duration) -> Result<Bytes, ()> {
    within(response, idle, MAX_ANSWER_BYTES).await
}
