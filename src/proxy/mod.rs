//! The provider's front door: `/proxy/{upstream}/…` speaks each upstream's own API, so the
//! official SDKs work by their base URL alone. A counted call is held at its worst case in one
//! reserve (every limit, level, credit and run of the user's plan) before the provider sees
//! it, and settled with the usage the provider reports, streams included.
//!
//! A request goes: the upstream and operation by path (`call.rs`), who pays (`caller.rs`), the
//! body's worst case (`call.rs`, `tokens.rs`), the reserve, the call upstream, then the answer:
//! an error releases, a whole answer commits its usage (`usage.rs`, `settle.rs`), a stream is
//! relayed event by event (`sse.rs`, `relay.rs`). The gateway's own answers are in the
//! upstream's error shape (`answer.rs`).

mod answer;
mod call;
mod caller;
mod counting;
mod relay;
mod retry;
mod settle;
mod splice;
mod sse;
mod tokens;
pub mod upstreams;
mod usage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use self::call::{Call, Operation};
use self::caller::Caller;
use self::relay::{Drains, Relay};
use self::settle::{Answered, Hold};
use self::upstreams::{Kind, Upstream, Upstreams};
use self::usage::Usage;
use crate::api::idempotency::idempotency;
use crate::http::{ApiError, AppState};
use crate::quota::amount::MAX_UNITS;
use crate::quota::catalog::Catalog;
use crate::quota::{EventInput, Milli, ReservationId, ReservationState};

pub use self::settle::HOLD_TTL_MS;

/// What the proxy routes share.
pub struct Proxy {
    pub upstreams: Upstreams,
    drains: Drains,
    counting: counting::Counting,
    max_body_bytes: usize,
    hold_ttl_ms: i64,
}

/// The node's proxy settings beside its upstreams.
pub struct ProxySettings {
    /// Streams the node keeps reading after their caller left, at most at once.
    pub drains: usize,
    /// How long one such drain may read.
    pub drain_for: Duration,
    /// The largest request body forwarded.
    pub max_body_bytes: usize,
    pub hold_ttl_ms: i64,
}

impl Proxy {
    pub fn new(upstreams: Upstreams, settings: &ProxySettings) -> Proxy {
        // Loading the tokenizers takes a moment: not on a caller's time.
        std::thread::spawn(tokens::warm);
        Proxy {
            upstreams,
            drains: Drains::new(settings.drains, settings.drain_for),
            // One thread: counting large bodies takes at most a core's spare time.
            counting: counting::Counting::start(1),
            max_body_bytes: settings.max_body_bytes,
            hold_ttl_ms: settings.hold_ttl_ms,
        }
    }
}

/// Registers `/proxy/{upstream}/{path}` for every method.
pub fn routes(cfg: &mut web::ServiceConfig, proxy: web::Data<Proxy>) {
    cfg.app_data(proxy)
        .route("/proxy/{upstream}/{path:.*}", web::route().to(handle));
}

/// A non-streamed answer read whole for its usage is at most this big.
const MAX_ANSWER_BYTES: usize = 64 << 20;

async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    proxy: web::Data<Proxy>,
) -> HttpResponse {
    let name = req.match_info().get("upstream").unwrap_or_default();
    let Some(upstream) = proxy.upstreams.by_name.get(name).cloned() else {
        return answer::error(
            Kind::OpenAi,
            StatusCode::NOT_FOUND,
            "upstream_not_found",
            &format!("this gateway has no upstream named {name}"),
            None,
        );
    };
    let kind = upstream.kind;
    if req.method() == actix_web::http::Method::OPTIONS {
        return preflight(&state, &req).await;
    }
    let Some(path) = normal_path(&req) else {
        let message = "the path has a dot segment or an encoded separator; the gateway forwards plain paths only";
        return answer::error(kind, StatusCode::NOT_FOUND, "route_not_found", message, None);
    };
    let Some(operation) = Operation::of(kind, req.method().as_str(), &path) else {
        let message = format!("the gateway does not forward {} /{path}", req.method());
        return answer::error(kind, StatusCode::NOT_FOUND, "route_not_found", &message, None);
    };
    let mut project = None;
    let mut response = match call(&req, payload, &state, &proxy, &upstream, operation, &path, &mut project).await {
        Ok(response) => response,
        Err(err) => answer::api_error(kind, &err),
    };
    cors(&state, &req, project.as_deref(), &mut response).await;
    response
}

/// One call, from the caller's headers to the answer; `project` is the caller's, once known.
#[allow(clippy::too_many_arguments)]
async fn call(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    proxy: &Proxy,
    upstream: &Arc<Upstream>,
    operation: Operation,
    path: &str,
    project: &mut Option<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller::identify(state, req.headers()).await?;
    *project = Some(caller.project.clone());
    if !upstream.allows(&caller.project) {
        return Err(ApiError::Forbidden);
    }
    let body = read_body(req, payload, proxy.max_body_bytes).await?;
    let started = Instant::now();
    if operation == Operation::Uncounted {
        let sent = send(req, upstream, path, body).await;
        return Ok(match sent {
            Ok(response) => {
                let mut reply = head(&response);
                match read_answer(response, upstream.timeouts.idle).await {
                    Ok(body) => reply.body(body),
                    Err(()) => reply.finish(),
                }
            }
            Err(failure) => failure.answer(upstream),
        });
    }
    // A large body is read on a counting thread, in its project's turn: parsing and tokenizing
    // megabytes on a request thread would stall every other caller of the node.
    let mut call = if body.len() <= counting::INLINE_BYTES {
        read_call(upstream, operation, &body, state.gateway.catalog())?
    } else {
        let (upstream, body, catalog) = (upstream.clone(), body.clone(), state.gateway.catalog().clone());
        proxy
            .counting
            .run(&caller.project, move || {
                read_call(&upstream, operation, &body, &catalog)
            })
            .await
            .map_err(|_| ApiError::CountingBusy)??
    };
    if let Some(refused) = retry::refused(state, &caller, upstream).await? {
        return Ok(refused);
    }
    let mut input = event(upstream, &call, &caller);
    // A call that names no maximum output would be held at the model's whole output limit,
    // which a user near the end of a budget cannot afford: it is clamped to what is left
    // unless the caller said otherwise. A call that names one keeps its choice (its group's
    // `fit` still applies). Embeddings and images have no maximum to lower: never clamped so.
    let has_maximum = matches!(operation, Operation::Chat | Operation::Responses | Operation::Messages);
    if has_maximum && call.max_field.is_none() && input.fit.clamp.is_none() {
        input.fit.clamp = Some(true);
    }
    let idempotency = idempotency(req, "proxy", path, &body)?;
    let decision = state
        .gateway
        .reserve(&caller.project, &input, proxy.hold_ttl_ms, idempotency.as_ref())
        .await?;
    if !decision.allowed {
        count(state, upstream, operation, "denied");
        return Ok(answer::denied(upstream.kind, &decision, call.max_field));
    }
    let granted = decision
        .granted
        .as_ref()
        .ok_or_else(|| ApiError::Internal("an allowed reserve held nothing".into()))?;
    let id = ReservationId::parse(&granted.reservation_id)
        .ok_or_else(|| ApiError::Internal("a reserve answered a malformed reservation id".into()))?;
    if granted.repeat {
        // One call per key: a repeat made no hold of its own, and the provider is never asked
        // twice for one key's hold, whether its first call still runs (on this node or another)
        // or has ended.
        return repeated(state, &caller, upstream, &id).await;
    }
    // A hold that clamped to what the user had left: the provider is asked for no more.
    let lowered = decision
        .fitted
        .and_then(|f| f.output_tokens)
        .and_then(|granted| call.lower_max_output(granted, upstream.kind));
    let hold = Hold {
        gateway: state.gateway.clone(),
        metrics: state.gateway.metrics().clone(),
        project: caller.project.clone(),
        id,
        key_id: caller.key_id.clone(),
        upstream: upstream.name.clone(),
        operation,
        ttl_ms: proxy.hold_ttl_ms,
        worst: call.worst,
        started,
    };
    let body = forwarded_body(&call, body, lowered);
    let alive = hold.keep_alive();
    let sent = send(req, upstream, path, body).await;
    let response = match sent {
        Ok(response) => response,
        Err(failure) => {
            drop(alive);
            hold.upstream_error(failure.kind());
            failure.settle(&hold).await;
            return Ok(failure.answer(upstream));
        }
    };
    let answered = Answered {
        status: Some(response.status().as_u16()),
        request_id: request_id(upstream.kind, response.headers()),
    };
    if !response.status().is_success() {
        drop(alive);
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut reply = head(&response);
        let error = read_answer(response, upstream.timeouts.idle).await.unwrap_or_default();
        hold.release().await;
        hold.upstream_error(if status.is_server_error() {
            "status_5xx"
        } else {
            "status_4xx"
        });
        retry::after_error(state, &caller, status, &error).await;
        return Ok(reply.body(error));
    }
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if streamed {
        drop(alive);
        let mut reply = head(&response);
        reservation_header(&mut reply, &hold);
        let relay = Relay {
            hold,
            kind: upstream.kind,
            drop_usage_chunk: call.stream && operation == Operation::Chat && !call.caller_wants_usage,
            idle: upstream.timeouts.idle,
            drains: proxy.drains.clone(),
            answered,
            user: caller.user.to_string(),
            counter: call.counter,
        };
        return Ok(reply.streaming(relay::start(relay, response.bytes_stream())));
    }
    let mut reply = head(&response);
    reservation_header(&mut reply, &hold);
    let whole = read_answer(response, upstream.timeouts.idle).await;
    drop(alive);
    let Ok(whole) = whole else {
        hold.upstream_error("stream_broken");
        hold.commit(Usage::default(), answered).await;
        let message = "the provider's answer broke off; the call was charged its hold";
        return Ok(answer::error(
            upstream.kind,
            StatusCode::BAD_GATEWAY,
            "upstream_broken",
            message,
            None,
        ));
    };
    let reported = serde_json::from_slice::<Value>(&whole)
        .map(|v| usage::of_answer(operation, &v))
        .unwrap_or_default();
    hold.commit(reported, answered).await;
    Ok(reply.body(whole))
}

/// The answer to a repeat of an Idempotency-Key: 409, `idempotency_key_in_flight` while its
/// first call's hold is open, else `idempotency_key_settled`; never forwarded.
async fn repeated(
    state: &AppState,
    caller: &Caller,
    upstream: &Upstream,
    id: &ReservationId,
) -> Result<HttpResponse, ApiError> {
    let view = state.gateway.reservation(&caller.project, id).await?;
    let (code, message) = match view.is_some_and(|v| v.state == ReservationState::Held) {
        true => (
            "idempotency_key_in_flight",
            "a call with this Idempotency-Key is in flight and was not made again; read the first call's answer, and use a new key for a new call",
        ),
        false => (
            "idempotency_key_settled",
            "a call with this Idempotency-Key was made and settled already; use a new key for a new call",
        ),
    };
    Ok(answer::error(upstream.kind, StatusCode::CONFLICT, code, message, None))
}

/// The call's worst case, from its body and the catalog's limits of its model.
fn read_call(upstream: &Upstream, operation: Operation, body: &[u8], catalog: &Catalog) -> Result<Call, ApiError> {
    let json: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    call::understand(upstream, operation, &json, |model| {
        catalog.find(model).map(|m| call::ModelLimits {
            output: m.entry.max_output_tokens,
            context: m.entry.context_window,
        })
    })
    .map_err(|e| ApiError::invalid(e.field, e.detail))
}

/// The hold's event: `<upstream>.<operation>`, its quantity and counts the worst case, with the
/// model, the upstream, the operation, whether it streams and the caller's metadata.
fn event(upstream: &Upstream, call: &Call, caller: &Caller) -> EventInput {
    let mut metadata = caller.metadata.clone();
    metadata.insert("model".into(), Value::from(call.model.clone()));
    metadata.insert("upstream".into(), Value::from(upstream.name.clone()));
    metadata.insert("operation".into(), Value::from(call.operation.as_str()));
    metadata.insert("stream".into(), Value::from(call.stream));
    // One a call, so a group measuring it counts calls (requests a minute) beside the tokens.
    metadata.insert("calls".into(), Value::from(1));
    call.worst.write(&mut metadata);
    let quantity = call.worst.quantity(call.operation);
    EventInput {
        user: caller.user.clone(),
        event: format!("{}.{}", upstream.name, call.operation.as_str()),
        quantity: Milli::from_units(quantity.min(MAX_UNITS)),
        metadata,
        step: caller.step.clone(),
        fit: caller.fit,
    }
}

/// The body the provider gets: the caller's bytes, with only what the gateway must insert
/// spliced in (never re-serialized): the maximum output a clamped hold lowered, and for OpenAI
/// chat streams, which report usage only when asked, `stream_options.include_usage` (the
/// gateway then removes the usage chunk from a caller that had not asked).
fn forwarded_body(call: &Call, body: Bytes, lowered: Option<(&str, u64)>) -> Bytes {
    let mut body = body;
    if let Some((field, max)) = lowered {
        if let Some(spliced) = splice::set(&body, &[field], &max.to_string()) {
            body = Bytes::from(spliced);
        }
    }
    if call.stream && call.operation == Operation::Chat && !call.caller_wants_usage {
        if let Some(spliced) = splice::set(&body, &["stream_options", "include_usage"], "true") {
            body = Bytes::from(spliced);
        }
    }
    body
}

/// The path after `/proxy/{upstream}/` as it will be forwarded, or None when it has a `.` or
/// `..` segment (as written or percent-encoded) or an encoded `/` or `\`: the upstream's URL
/// would resolve those to another path than the one the allow-list read.
fn normal_path(req: &HttpRequest) -> Option<String> {
    let raw = req.uri().path();
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || raw.contains('\\') {
        return None;
    }
    let path = req.match_info().get("path").unwrap_or_default();
    let dotted = |segment: &str| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    let raw_tail = raw.splitn(4, '/').nth(3).unwrap_or_default();
    if path.split('/').any(dotted) || raw_tail.split('/').any(dotted) {
        return None;
    }
    Some(path.to_string())
}

/// Reads the caller's body, at most `limit` bytes: a body declared as anything but JSON is 415
/// (the API's rule), one compressed in a way the gateway does not read is 400 naming
/// `Content-Encoding`, and a declared length past the limit is refused before any byte is read.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let headers = req.headers();
    if let Some(declared) = headers.get(actix_web::http::header::CONTENT_TYPE) {
        if !crate::api::body::is_json(declared.to_str().unwrap_or("")) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let encoded = headers
        .get(actix_web::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity");
    if let Some(encoding) = encoded {
        return Err(ApiError::invalid(
            "Content-Encoding",
            format!("{encoding} is not read by this gateway; send the body uncompressed"),
        ));
    }
    let declared = headers
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::invalid(
            "body",
            format!("is larger than this gateway forwards ({limit} bytes)"),
        ));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("body", "could not be read whole"))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::invalid(
                "body",
                format!("is larger than this gateway forwards ({limit} bytes)"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Headers forwarded upstream, an allow-list: what the providers' APIs and SDKs read (content
/// negotiation, API versions and betas, the SDKs' own `x-stainless-*` telemetry, a trace's
/// context) and those the upstream's configuration adds (`forwardHeaders`). Never the caller's
/// credentials, the gateway's own headers, hop-by-hop ones, routing hints a server in between
/// might obey (`X-Forwarded-*`, `X-HTTP-Method-Override`, `X-Original-URL`), or the length and
/// encoding, which the client library sets again.
fn forwarded(name: &HeaderName, upstream: &Upstream) -> bool {
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
    ) || name.starts_with("x-stainless-")
        || upstream.forward_headers.iter().any(|h| h == name)
}

/// Why the upstream gave no answer.
enum Failure {
    /// No connection could be made: it never saw the call.
    Unreachable(String),
    /// The connection broke after the call was sent: it may have taken the call, and bill it.
    Broken(String),
    /// No answer before the first-byte timeout: it may be working on it, and billing it.
    Timeout,
}

impl Failure {
    fn kind(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => "connect",
            Failure::Broken(_) => "stream_broken",
            Failure::Timeout => "timeout",
        }
    }

    async fn settle(&self, hold: &Hold) {
        match self {
            Failure::Unreachable(_) => hold.release().await,
            Failure::Broken(_) | Failure::Timeout => {
                let answered = Answered {
                    status: None,
                    request_id: None,
                };
                hold.commit(Usage::default(), answered).await;
            }
        }
    }

    fn answer(&self, upstream: &Upstream) -> HttpResponse {
        match self {
            Failure::Unreachable(cause) => {
                tracing::warn!(upstream = upstream.name, cause, "proxy: upstream unreachable");
                let message = format!(
                    "the provider ({}) could not be reached; the call was not made",
                    upstream.name
                );
                answer::error(
                    upstream.kind,
                    StatusCode::BAD_GATEWAY,
                    "upstream_unreachable",
                    &message,
                    None,
                )
            }
            Failure::Broken(cause) => {
                tracing::warn!(
                    upstream = upstream.name,
                    cause,
                    "proxy: upstream connection broke before an answer"
                );
                let message = format!(
                    "the connection to the provider ({}) broke before it answered; the call was charged its hold",
                    upstream.name
                );
                answer::error(
                    upstream.kind,
                    StatusCode::BAD_GATEWAY,
                    "upstream_broken",
                    &message,
                    None,
                )
            }
            Failure::Timeout => {
                let message = format!(
                    "the provider ({}) did not answer within {} s; the call was charged its hold",
                    upstream.name,
                    upstream.timeouts.first_byte.as_secs()
                );
                answer::error(
                    upstream.kind,
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    &message,
                    None,
                )
            }
        }
    }
}

/// Sends the call upstream with the provider's credential; answers once its head arrived.
async fn send(req: &HttpRequest, upstream: &Upstream, path: &str, body: Bytes) -> Result<reqwest::Response, Failure> {
    let mut url = format!("{}/{path}", upstream.base_url);
    if !req.query_string().is_empty() {
        url.push('?');
        url.push_str(req.query_string());
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let mut builder = upstream.client.request(method, url);
    for (name, value) in req.headers() {
        if forwarded(name, upstream) {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    if let Some(credential) = &upstream.credential {
        builder = if upstream.kind == Kind::Anthropic {
            builder.header("x-api-key", credential.as_str())
        } else {
            builder.bearer_auth(credential)
        };
    }
    if upstream.kind == Kind::Anthropic && !req.headers().contains_key("anthropic-version") {
        builder = builder.header("anthropic-version", "2023-06-01");
    }
    if !body.is_empty() {
        builder = builder.body(body);
    }
    match tokio::time::timeout(upstream.timeouts.first_byte, builder.send()).await {
        Err(_) => Err(Failure::Timeout),
        // (A connect timeout is a timeout too, but the provider never saw the call.)
        Ok(Err(err)) if err.is_connect() || err.is_builder() => Err(Failure::Unreachable(err.to_string())),
        Ok(Err(err)) if err.is_timeout() => Err(Failure::Timeout),
        Ok(Err(err)) => Err(Failure::Broken(err.to_string())),
        Ok(Ok(response)) => Ok(response),
    }
}

/// The answer's status and headers for the caller, without those that describe the
/// connection or a body the gateway sends differently.
fn head(response: &reqwest::Response) -> actix_web::HttpResponseBuilder {
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

/// The call's reservation on an answer the provider gave: the caller says later what its
/// output came to with `POST /v1/reservations/{id}/outcome` (the commit follows the answer).
fn reservation_header(reply: &mut actix_web::HttpResponseBuilder, hold: &settle::Hold) {
    reply.insert_header((RESERVATION, hold.id.as_str().to_string()));
}

/// The answer's header naming the call's reservation.
pub const RESERVATION: &str = "x-quota-reservation";

/// A whole answer, at most `MAX_ANSWER_BYTES`, each read within `idle`.
async fn read_answer(response: reqwest::Response, idle: Duration) -> Result<Bytes, ()> {
    let mut stream = response.bytes_stream();
    let mut whole = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(None) => return Ok(whole.freeze()),
            Ok(Some(Ok(chunk))) if whole.len() + chunk.len() <= MAX_ANSWER_BYTES => whole.extend_from_slice(&chunk),
            _ => return Err(()),
        }
    }
}

/// The provider's id for the call: OpenAI's `x-request-id`, Anthropic's `request-id`.
fn request_id(kind: Kind, headers: &reqwest::header::HeaderMap) -> Option<String> {
    let name = if kind == Kind::Anthropic {
        "request-id"
    } else {
        "x-request-id"
    };
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn count(state: &AppState, upstream: &Upstream, operation: Operation, outcome: &str) {
    settle::count_call(state.gateway.metrics(), &upstream.name, operation, outcome);
}

/// A browser's preflight: allowed when any project lists its origin (a preflight carries no
/// key); the call itself is then held to its own project's list.
async fn preflight(state: &AppState, req: &HttpRequest) -> HttpResponse {
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    let allowed = match origin {
        Some(origin) => state.gateway.origin_allowed_anywhere(origin).await.unwrap_or(false),
        None => false,
    };
    let Some(origin) = origin.filter(|_| allowed) else {
        return HttpResponse::Forbidden().finish();
    };
    let asked = req
        .headers()
        .get("access-control-request-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("authorization, content-type");
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", origin))
        .insert_header(("Access-Control-Allow-Methods", "GET, POST"))
        .insert_header(("Access-Control-Allow-Headers", asked))
        .insert_header(("Access-Control-Max-Age", "600"))
        .insert_header(("Vary", "Origin"))
        .finish()
}

/// CORS headers on an answer to a browser: readable by the page when the caller's project
/// lists its origin in `allowedOrigins` (before the key is known, as a refused key is, when
/// any project does, as for a preflight).
async fn cors(state: &AppState, req: &HttpRequest, project: Option<&str>, response: &mut HttpResponse) {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else {
        return;
    };
    let allowed = match project {
        Some(project) => state
            .gateway
            .project_settings(project)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.allows_origin(origin)),
        None => state.gateway.origin_allowed_anywhere(origin).await.unwrap_or(false),
    };
    if !allowed {
        return;
    }
    let headers: &mut HeaderMap = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(HeaderName::from_static("access-control-allow-origin"), value);
        headers.insert(
            HeaderName::from_static("access-control-expose-headers"),
            HeaderValue::from_static(
                "retry-after, x-should-retry, x-quota-reasons, x-quota-denied-by, x-quota-code, x-quota-reservation, ratelimit, ratelimit-policy, x-request-id, x-quota-request-id, x-upstream-request-id, request-id",
            ),
        );
        headers.insert(HeaderName::from_static("vary"), HeaderValue::from_static("Origin"));
    }
}
