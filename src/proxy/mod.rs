//! The provider's front door: `/proxy/{upstream}/…` speaks each upstream's own API, so the
//! official SDKs work by their base URL alone. A counted call is held at its worst case in one
//! reserve (every limit, level, credit and run of the user's plan) before the provider sees
//! it, and settled with the usage the provider reports, streams included.
//!
//! A call goes through phases, one file each, over its context (`context.rs`): `identify` (the
//! target the path names, who pays), `understand` (the body's worst case), `hold` (the
//! reserve), `forward` (the call upstream), then `read` a whole answer or `relay` a stream, and
//! `settle` (commit what the provider reported, or release). A call whose model the upstreams
//! file routes makes an attempt of those phases per target until one serves it (`chain.rs`,
//! the rules in `fallback.rs`). What differs between providers is their wire format's, one
//! module each under `wire/`. The gateway's own answers are in the upstream's error shape
//! (`answer.rs`). Async jobs (batches, videos) are held from submission to their end
//! (`jobs/`). This file is the sequence and nothing else.

mod answer;
mod array;
mod budget;
mod call;
mod caller;
mod chain;
mod context;
mod counting;
mod delivered;
mod duration;
mod fallback;
mod fetch;
mod forward;
mod hold;
mod identify;
mod jobs;
mod multipart;
mod passthrough;
mod paths;
mod read;
mod referenced;
mod relay;
mod retry;
mod routes;
mod settle;
mod splice;
mod sse;
mod tokens;
mod trace;
mod understand;
mod upload;
pub(crate) mod upstreams;
mod usage;
mod wire;

use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use opentelemetry::context::FutureExt as _;

use self::chain::Chain;
use self::context::Ctx;
use self::fallback::{Ended, Next};
use self::hold::{Go, Held};
use self::relay::Drains;
use self::understand::Body;
use self::upstreams::Upstreams;
use crate::http::cors::{self, Expose};
use crate::http::{ApiError, AppState};

pub(crate) use self::jobs::JobSettings;
pub(crate) use self::settle::HOLD_TTL_MS;

/// What the proxy routes share.
pub(crate) struct Proxy {
    pub upstreams: Upstreams,
    drains: Drains,
    counting: counting::Counting,
    max_body_bytes: usize,
    max_upload_bytes: u64,
    hold_ttl_ms: i64,
    jobs: JobSettings,
    /// How long a body read before its hold may go quiet.
    read_idle: Duration,
    /// What the node keeps of bodies read before their hold, shared fairly by users.
    read_budget: std::sync::Arc<budget::Budget>,
}

/// The node's proxy settings beside its upstreams.
pub struct ProxySettings {
    /// Streams the node keeps reading after their caller left, at most at once.
    pub drains: usize,
    /// How long one such drain may read.
    pub drain_for: Duration,
    /// The largest request body read whole (and what an upload may keep before its hold).
    pub max_body_bytes: usize,
    /// The largest upload streamed through.
    pub max_upload_bytes: u64,
    pub hold_ttl_ms: i64,
    /// How async jobs are held and polled.
    pub jobs: JobSettings,
    /// How long a body read before its hold may go quiet before the call is refused (408).
    pub read_idle: Duration,
    /// The bytes of bodies read before their hold the node keeps at most, a quarter of it at
    /// most for one user; past it a call is refused with 503 and Retry-After.
    pub read_budget_bytes: usize,
}

impl Proxy {
    pub(crate) fn new(upstreams: Upstreams, settings: &ProxySettings) -> Proxy {
        // Loading the tokenizers takes a moment: not on a caller's time.
        std::thread::spawn(tokens::warm);
        Proxy {
            upstreams,
            drains: Drains::new(settings.drains, settings.drain_for),
            // One thread: counting large bodies takes at most a core's spare time.
            counting: counting::Counting::start(1),
            max_body_bytes: settings.max_body_bytes,
            max_upload_bytes: settings.max_upload_bytes,
            hold_ttl_ms: settings.hold_ttl_ms,
            jobs: settings.jobs,
            read_idle: settings.read_idle,
            read_budget: budget::Budget::new(settings.read_budget_bytes),
        }
    }
}

/// Starts what the proxy does in the background: polling open jobs.
pub(crate) fn start_background(gateway: crate::gateway::Gateway, proxy: web::Data<Proxy>) {
    jobs::start_sweeper(gateway, proxy);
}

/// Registers `/proxy/{upstream}/{path}` for every method, as a scope: its prefix is one
/// comparison for any other request, and a proxied call matches it first, not after every
/// route of the API.
pub(crate) fn routes(cfg: &mut web::ServiceConfig, proxy: web::Data<Proxy>) {
    cfg.service(
        web::scope("/proxy")
            .app_data(proxy)
            .route("/{upstream}/{path:.*}", web::route().to(handle)),
    );
}

async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    proxy: web::Data<Proxy>,
) -> HttpResponse {
    let upstream = match identify::upstream(&proxy, &req) {
        Ok(upstream) => upstream,
        Err(unrouted) => return unrouted.answer(),
    };
    if req.method() == Method::OPTIONS {
        return cors::preflight_any(&state, &req, "GET, POST", "authorization, content-type").await;
    }
    let target = match identify::target(upstream, &req) {
        Ok(target) => target,
        Err(unrouted) => return unrouted.answer(),
    };
    let wire = target.wire;
    let (project, response) = match identify::caller(&state, &req, &target).await {
        Ok(caller) => {
            let project = caller.project.clone();
            (
                Some(project),
                serve(&req, payload, &state, &proxy, Ctx::new(target, caller)).await,
            )
        }
        Err(err) => (None, Err(err)),
    };
    let mut response = response.unwrap_or_else(|err| answer::api_error(wire, &err));
    cors::allow_answer(&state, &req, project.as_deref(), &mut response, Expose::Proxy).await;
    response
}

/// One call whose caller is known: the phases in the order they run, once per target its route
/// tries until one serves it.
async fn serve(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    proxy: &Proxy,
    mut ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    identify::allowed(&ctx)?;
    if let Some((path, id)) = ctx.target.route.job.clone() {
        return jobs::serve(req, payload, state, proxy, &ctx, (path, id.as_deref())).await;
    }
    if ctx.operation() == call::Operation::Uncounted {
        let body = understand::passing(req, payload, proxy)?;
        return Ok(match forward::send(req, &ctx, body).await {
            Ok(response) => read::uncounted(&ctx, response),
            Err(failure) => failure.answer(&ctx),
        });
    }
    let body = understand::read_body(req, payload, proxy, &ctx).await?;
    // (A call's duration runs from its body read.)
    ctx.started = Instant::now();
    let mut chain = Chain::of(req, proxy, &ctx, &body)?;
    let bytes = match &body {
        Body::Whole(bytes) if chain.routed() => bytes.clone(),
        _ => return Ok(attempt(req, state, proxy, &ctx, body, false).await?.answer()),
    };
    let mut last = None;
    while let Some(body) = chain.next(req, &mut ctx, &bytes) {
        match attempt(req, state, proxy, &ctx, body, chain.has_next()).await? {
            Tried::Served(answer) => return Ok(answer),
            Tried::GaveWay(answer, reason) => {
                chain.moved_on(state, &ctx.caller.project, reason);
                last = Some(answer);
            }
        }
    }
    last.ok_or_else(|| ApiError::invalid("model", "no target of its route forwards this path"))
}

/// How one attempt ended: it served the call (its answer is the caller's), or it gave way to
/// the next target, its answer kept in case no other serves.
enum Tried {
    Served(HttpResponse),
    GaveWay(HttpResponse, &'static str),
}

impl Tried {
    /// What the rules say of an attempt that did not serve, with `more` targets left or not.
    fn of(answer: HttpResponse, next: Next, more: bool) -> Tried {
        match next {
            Next::MoveOn(reason) if more => Tried::GaveWay(answer, reason),
            _ => Tried::Served(answer),
        }
    }

    fn answer(self) -> HttpResponse {
        match self {
            Tried::Served(answer) | Tried::GaveWay(answer, _) => answer,
        }
    }
}

/// One attempt at `ctx`'s target: hold, forward, then read or relay the answer, or settle what
/// kept it from being one. `more`: another target follows if this one gives way.
async fn attempt(
    req: &HttpRequest,
    state: &AppState,
    proxy: &Proxy,
    ctx: &Ctx,
    body: Body,
    more: bool,
) -> Result<Tried, ApiError> {
    let call = understand::call(state, proxy, ctx, &body).await?;
    // Traced, the attempt runs in its call's span: its hold, forward and settlement.
    match trace::start(state, ctx, &call).await {
        Some(span) => held(req, state, proxy, ctx, call, body, more).with_context(span).await,
        None => held(req, state, proxy, ctx, call, body, more).await,
    }
}

/// The attempt from its hold on.
async fn held(
    req: &HttpRequest,
    state: &AppState,
    proxy: &Proxy,
    ctx: &Ctx,
    call: call::Call,
    body: Body,
    more: bool,
) -> Result<Tried, ApiError> {
    let Go { hold, call, body } = match hold::reserve(req, state, proxy, ctx, call, body).await? {
        Held::Go(go) => *go,
        Held::Denied(answer, reasons) => {
            trace::end_here();
            return Ok(Tried::of(answer, fallback::next(Ended::Denied(&reasons)), more));
        }
        Held::Answered(answer) => {
            trace::end_here();
            return Ok(Tried::Served(answer));
        }
    };
    let alive = hold.keep_alive();
    let response = match forward::send(req, ctx, body).await {
        Ok(response) => response,
        Err(failure) => {
            drop(alive);
            failure.settle(&hold).await;
            return Ok(Tried::of(
                failure.answer(ctx),
                fallback::next(Ended::Failed(&failure)),
                more,
            ));
        }
    };
    if !response.status().is_success() {
        drop(alive);
        let refusal = read::refused(ctx, response).await;
        let next = fallback::next(refusal.ended(ctx));
        let ends = !more || next == Next::Stop;
        let mut answer = refusal.settle(state, ctx, hold, ends).await;
        chain::served_by(ctx, &call.model, &mut answer);
        return Ok(Tried::of(answer, next, more));
    }
    let mut answer = match relay::framing(ctx, &call, &response) {
        None => read::answered(ctx, &call, hold, alive, response).await,
        Some(framing) => {
            drop(alive);
            relay::answer(ctx, &call, hold, &proxy.drains, framing, response)
        }
    };
    chain::served_by(ctx, &call.model, &mut answer);
    Ok(Tried::Served(answer))
}
