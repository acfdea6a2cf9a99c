//! The second phase: the caller's body, read whole within the node's bound (an upload only as
//! far as its hold needs, `upload.rs`), and what it asks for: the call's worst case in its wire
//! format, and the hold's event. A large body is read on a counting thread in its project's
//! turn (`counting.rs`): parsing and tokenizing megabytes on a request thread would stall
//! every other caller of the node.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::budget::{Budget, Lease};
use super::call::{self, Call, ModelLimits};
use super::caller::Caller;
use super::context::Ctx;
use super::upload::{self, Upload};
use super::upstreams::Upstream;
use super::wire::{Route, Wire};
use super::{counting, referenced, Proxy};
use crate::http::{ApiError, AppState};
use crate::quota::amount::MAX_UNITS;
use crate::quota::catalog::Catalog;
use crate::quota::run::StepKind;
use crate::quota::{EventInput, FallbackOf, Milli};

/// The caller's body: JSON read whole, or an upload read as far as its hold needs.
pub(crate) enum Body {
    Whole(Bytes),
    Upload(Box<Upload>),
}

impl Body {
    /// What an Idempotency-Key's repeat must match: the whole body, or an upload's fields and
    /// its file's first bytes.
    pub(crate) fn fingerprint(&self) -> &[u8] {
        match self {
            Body::Whole(bytes) => bytes,
            Body::Upload(upload) => &upload.fingerprint,
        }
    }
}

/// How a body is read before its hold: at most `keep` bytes, each chunk within the node's idle
/// time, its bytes leased from the node's budget in the caller's name (`budget.rs`), so a
/// caller that sends slowly or not at all pins neither memory nor a read for long.
pub(crate) struct BodyReader<'a> {
    pub keep: usize,
    idle: Duration,
    budget: &'a Arc<Budget>,
    caller: &'a Caller,
}

impl<'a> BodyReader<'a> {
    pub(crate) fn of(proxy: &'a Proxy, ctx: &'a Ctx) -> BodyReader<'a> {
        BodyReader {
            keep: proxy.max_body_bytes,
            idle: proxy.read_idle,
            budget: &proxy.read_budget,
            caller: &ctx.caller,
        }
    }

    /// The same reader keeping at most `keep` bytes.
    pub(crate) fn keeping(self, keep: usize) -> BodyReader<'a> {
        BodyReader { keep, ..self }
    }

    /// A lease of the node's budget for one read.
    pub(crate) fn lease(&self) -> Lease {
        self.budget.lease(&self.caller.project, self.caller.user.as_str())
    }

    /// The body's next chunk (None at its end), within the idle time.
    pub(crate) async fn next(&self, payload: &mut web::Payload) -> Result<Option<Bytes>, ApiError> {
        match tokio::time::timeout(self.idle, payload.next()).await {
            Err(_) => Err(ApiError::BodyStalled(self.idle.as_secs().max(1))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
            Ok(Some(Err(_))) => Err(ApiError::invalid("body", "could not be read whole")),
        }
    }
}

/// Reads the caller's body as its route takes it: an upload (`Route::upload`) as far as its
/// hold needs, anything else whole.
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    proxy: &Proxy,
    ctx: &Ctx,
) -> Result<Body, ApiError> {
    let reader = BodyReader::of(proxy, ctx);
    match ctx.target.route.upload {
        true => upload::read(req, payload, &reader, proxy.max_upload_bytes)
            .await
            .map(|u| Body::Upload(Box::new(u))),
        false => body(req, payload, &reader).await.map(Body::Whole),
    }
}

/// An uncounted call's body, never read: the gateway counts nothing of it, so any type passes,
/// streamed through as it arrives, at most the node's upload bound (refused before any byte
/// when its declared length is past it). No declared length and no chunked body: none.
pub(crate) fn passing(req: &HttpRequest, payload: web::Payload, proxy: &Proxy) -> Result<Body, ApiError> {
    plain(req)?;
    let declared = declared(req, proxy.max_upload_bytes)?;
    let chunked = req.headers().contains_key(actix_web::http::header::TRANSFER_ENCODING);
    Ok(match (declared, chunked) {
        (None | Some(0), false) => Body::Whole(Bytes::new()),
        _ => Body::Upload(Box::new(Upload::unread(payload, declared, proxy.max_upload_bytes))),
    })
}

/// Reads the caller's body as `reader` says: a body declared as anything but JSON is 415 (the
/// API's rule), one compressed in a way the gateway does not read is 400 naming
/// `Content-Encoding`, and a declared length past the limit is refused before any byte is read.
pub(crate) async fn body(req: &HttpRequest, payload: web::Payload, reader: &BodyReader<'_>) -> Result<Bytes, ApiError> {
    let headers = req.headers();
    if let Some(declared) = headers.get(actix_web::http::header::CONTENT_TYPE) {
        if !crate::http::body::is_json(declared.to_str().unwrap_or("")) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    bytes(req, payload, reader).await
}

/// Reads the caller's body as it came, whatever its type, as `reader` says (a compressed one is
/// refused as `body` says).
pub(crate) async fn bytes(
    req: &HttpRequest,
    mut payload: web::Payload,
    reader: &BodyReader<'_>,
) -> Result<Bytes, ApiError> {
    plain(req)?;
    let limit = reader.keep;
    declared(req, limit as u64)?;
    let mut lease = reader.lease();
    let mut body = BytesMut::new();
    while let Some(chunk) = reader.next(&mut payload).await? {
        if body.len() + chunk.len() > limit {
            return Err(upload::too_large(limit as u64));
        }
        lease.take(chunk.len()).map_err(|_| ApiError::ReadBudgetFull)?;
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The body's length as the caller declared it (`Content-Length`), if it did; a declared length
/// past `limit` is refused before any byte is read.
pub(crate) fn declared(req: &HttpRequest, limit: u64) -> Result<Option<u64>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(upload::too_large(limit)),
        declared => Ok(declared),
    }
}

/// A body compressed in a way the gateway does not read is 400 naming `Content-Encoding`.
pub(crate) fn plain(req: &HttpRequest) -> Result<(), ApiError> {
    let headers = req.headers();
    let encoded = headers
        .get(actix_web::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity");
    match encoded {
        Some(encoding) => Err(ApiError::invalid(
            "Content-Encoding",
            format!("{encoding} is not read by this gateway; send the body uncompressed"),
        )),
        None => Ok(()),
    }
}

/// The call's worst case, from its body and the catalog's limits of its model, with an input
/// it names that the provider stores held at its size as the provider reads it.
pub(crate) async fn call(state: &AppState, proxy: &Proxy, ctx: &Ctx, body: &Body) -> Result<Call, ApiError> {
    let mut call = counted(state, proxy, ctx, body).await?;
    referenced::size(ctx, &mut call).await;
    Ok(call)
}

/// The call's worst case as its body says: inline for a small body or an upload's fields, on
/// a counting thread in the project's turn for a large one.
async fn counted(state: &AppState, proxy: &Proxy, ctx: &Ctx, body: &Body) -> Result<Call, ApiError> {
    let wire = ctx.wire();
    let catalog = state.gateway.node().catalog();
    let body = match body {
        Body::Upload(upload) => {
            return understand(
                wire,
                ctx.upstream(),
                &ctx.target.route,
                &upload.fields,
                Some(&upload.audio),
                catalog,
            )
        }
        Body::Whole(body) => body,
    };
    if body.len() <= counting::INLINE_BYTES {
        return read(wire, ctx.upstream(), &ctx.target.route, body, catalog);
    }
    let (body, catalog) = (body.clone(), catalog.clone());
    let (upstream, route) = (ctx.target.upstream.clone(), ctx.target.route.clone());
    proxy
        .counting
        .run(&ctx.caller.project, move || {
            read(wire, &upstream, &route, &body, &catalog)
        })
        .await
        .map_err(|_| ApiError::CountingBusy)?
}

fn read(
    wire: &'static dyn Wire,
    upstream: &Upstream,
    route: &Route,
    body: &[u8],
    catalog: &Catalog,
) -> Result<Call, ApiError> {
    let json: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    understand(wire, upstream, route, &json, None, catalog)
}

fn understand(
    wire: &'static dyn Wire,
    upstream: &Upstream,
    route: &Route,
    fields: &Map<String, Value>,
    audio: Option<&upload::Audio>,
    catalog: &Catalog,
) -> Result<Call, ApiError> {
    call::understand(wire, upstream, route, fields, audio, |model| {
        catalog.find(model).map(|m| ModelLimits {
            output: m.entry.max_output_tokens,
            context: m.entry.context_window,
        })
    })
    .map_err(|e| ApiError::invalid(e.field, e.detail))
}

/// The hold's event: `<upstream>.<operation>`, its quantity and counts the worst case, with the
/// model, the upstream, the operation, whether it streams and the caller's metadata. A call
/// that names no maximum output would be held at the model's whole output limit, which a user
/// near the end of a budget cannot afford: it is clamped to what is left unless the caller
/// said otherwise. A call that names one keeps its choice (its group's `fit` still applies).
pub(crate) fn event(ctx: &Ctx, call: &Call) -> EventInput {
    let (caller, upstream) = (&ctx.caller, ctx.upstream());
    let mut metadata = caller.metadata.clone();
    metadata.insert("model".into(), Value::from(call.model.clone()));
    metadata.insert("upstream".into(), Value::from(upstream.name.clone()));
    metadata.insert("operation".into(), Value::from(call.operation.as_str()));
    metadata.insert("stream".into(), Value::from(call.stream));
    // One a call, so a group measuring it counts calls (requests a minute) beside the tokens.
    metadata.insert("calls".into(), Value::from(1));
    // A routed call's attempt names the call it is one of, its place, its target and why the
    // attempt before it gave way: the ledger links them. After the first, the attempts of one
    // original action (the call, or its run's action) are capped together (`FallbackOf`).
    let mut step = caller.step.clone();
    let mut chain = None;
    if let Some(fallback) = &ctx.fallback {
        metadata.insert("fallback_of".into(), Value::from(fallback.of.clone()));
        metadata.insert("attempt".into(), Value::from(ctx.attempt));
        metadata.insert("target".into(), Value::from(fallback.target.clone()));
        if let Some(reason) = fallback.reason {
            metadata.insert("fallback_reason".into(), Value::from(reason));
        }
        // After the first, an attempt of a run's action is a fallback of it.
        if let Some(step) = step.as_mut().filter(|_| ctx.attempt > 1) {
            step.kind = StepKind::Fallback;
        }
        if ctx.attempt > 1 {
            chain = Some(FallbackOf::of(&fallback.of, step.as_ref()));
        }
    }
    call.worst.write(&mut metadata);
    metadata.extend(call.extra.clone());
    let quantity = call.worst.quantity(call.operation);
    let mut fit = caller.fit;
    if call.operation.has_maximum() && call.max_field.is_none() && fit.clamp.is_none() {
        fit.clamp = Some(true);
    }
    // A job runs whole once submitted: its hold is never cut to what is left.
    if call.operation.is_job() {
        fit.clamp = Some(false);
    }
    EventInput {
        user: caller.user.clone(),
        event: format!("{}.{}", upstream.name, call.operation.as_str()),
        quantity: Milli::from_units(quantity.min(MAX_UNITS)),
        metadata,
        step,
        fit,
        fallback: chain,
    }
}
