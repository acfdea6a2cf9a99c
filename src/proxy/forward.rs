//! The fourth phase: the call sent upstream with the provider's credential and the headers an
//! allow-list lets through, an upload streamed as it arrives; the answer's head back, or why
//! there was none (a `Failure`, which settling turns into what it means for the bill).

use actix_web::http::header::HeaderName;
use actix_web::HttpRequest;
use std::sync::{Arc, OnceLock};

use super::body::Body;
use super::call::context::Ctx;
use super::call::outcome::{Cut, Failure};
use super::call::upstream::{SendError, Upstream};
use super::door::Door;
use super::headers;
use crate::metrics::traces;

/// Headers forwarded upstream, an allow-list: what the providers' APIs and SDKs read (content
/// negotiation, API versions and betas, the SDKs' own `x-stainless-*` telemetry, Bedrock's
/// guardrail and trace options, a trace's context) and those the upstream's configuration adds (`forwardHeaders`). Never the caller's
/// credentials, the gateway's own headers, hop-by-hop ones, routing hints a server in between
/// might obey (`X-Forwarded-*`, `X-HTTP-Method-Override`, `X-Original-URL`), or the length and
/// encoding, which the client library sets again.
pub(crate) fn forwarded(name: &HeaderName, upstream: &Upstream) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "accept"
            | "content-type"
            | "user-agent"
            | "openai-beta"
            | "anthropic-version"
            | "anthropic-beta"
            | "traceparent"
            | "tracestate"
            // Not Bedrock's latency or service tier: each is priced otherwise than what is held.
            | "x-amzn-bedrock-guardrailidentifier"
            | "x-amzn-bedrock-guardrailversion"
            | "x-amzn-bedrock-trace"
    ) || name.starts_with("x-stainless-")
        // Gemini's resumable upload protocol: the command, and the file's size and type.
        || name.starts_with("x-goog-upload-")
        || upstream.forward_headers.iter().any(|h| h == name)
}

/// The call as it goes upstream, but its body: the upstream's URL for the path and query (a
/// caller's key in the query left out), the headers the allow-list lets through, and the
/// provider's credential.
pub(crate) fn request(req: &HttpRequest, ctx: &Ctx) -> Result<reqwest::RequestBuilder, Failure> {
    let upstream = ctx.upstream();
    let mut url = format!("{}/{}", upstream.base_url, ctx.target.path);
    let query = match ctx.wire().key_param() {
        Some(name) => headers::query_without(req.query_string(), name),
        None => req.query_string().to_string(),
    };
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let mut builder = upstream.client.request(method, url);
    // A traced call continues its own span upstream, in place of the caller's `traceparent`
    // (which its span already continues).
    let mut context = Vec::new();
    let traced = traces::inject(|name, value| context.push((name.to_string(), value)));
    for (name, value) in req.headers() {
        let own = traced && matches!(name.as_str(), "traceparent" | "tracestate");
        if forwarded(name, upstream) && !own {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    for (name, value) in context {
        builder = builder.header(name, value);
    }
    Ok(ctx
        .wire()
        .authorize(builder, upstream.credential.as_deref(), req.headers()))
}

impl Door {
    /// Sends the call upstream with the provider's credential; answers once its head arrived. An
    /// upload's first-byte timeout runs from its last byte, however long the caller takes to send
    /// it (each of its chunks within the idle timeout).
    pub(crate) async fn forward(&self, req: &HttpRequest, ctx: &Ctx, body: Body) -> Result<reqwest::Response, Failure> {
        let upstream = ctx.upstream();
        let mut builder = request(req, ctx)?;
        let upload = match body {
            Body::Whole(body) if body.is_empty() => None,
            Body::Whole(body) => {
                builder = builder.body(body);
                None
            }
            Body::Upload(upload) => {
                let sending = upload.sending(upstream.timeouts.idle);
                if let Some(length) = sending.length {
                    builder = builder.header(reqwest::header::CONTENT_LENGTH, length);
                }
                builder = builder.body(sending.body);
                Some((sending.sent, sending.broke))
            }
        };
        let mut answer = std::pin::pin!(upstream.send(builder));
        if let Some((mut sent, _)) = upload.clone() {
            // The upload first, however long it takes; then the provider's first byte.
            while !*sent.borrow_and_update() {
                tokio::select! {
                    answer = &mut answer => return failed(answer, upload.as_ref()),
                    changed = sent.changed() => if changed.is_err() { break },
                }
            }
        }
        match tokio::time::timeout(upstream.timeouts.first_byte, answer).await {
            Err(_) => Err(Failure::Timeout),
            Ok(answer) => failed(answer, upload.as_ref()),
        }
    }
}

/// What the provider's answer (or the lack of one) means for the call.
fn failed(
    answer: Result<reqwest::Response, SendError>,
    upload: Option<&(tokio::sync::watch::Receiver<bool>, Arc<OnceLock<Cut>>)>,
) -> Result<reqwest::Response, Failure> {
    let broke = upload.and_then(|(_, broke)| broke.get());
    match answer {
        // The caller's upload broke off: the provider never had a whole request, whatever it
        // answered to the part it had.
        _ if broke.is_some() => Err(Failure::Unsent(broke.cloned().unwrap_or_default())),
        Err(SendError::Credential(why)) => Err(Failure::Unreachable(why)),
        Err(SendError::Http(err)) => http_failed(err),
        Ok(response) => Ok(response),
    }
}

/// What an HTTP failure means for the call.
fn http_failed(err: reqwest::Error) -> Result<reqwest::Response, Failure> {
    // (A connect timeout is a timeout too, but the provider never saw the call.)
    if err.is_connect() || err.is_builder() {
        return Err(Failure::Unreachable(err.to_string()));
    }
    match err.is_timeout() {
        true => Err(Failure::Timeout),
        false => Err(Failure::Broken(err.to_string())),
    }
}
