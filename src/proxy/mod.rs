//! The provider's front door: `/proxy/{upstream}/…` speaks each upstream's own API, so the
//! official SDKs work by their base URL alone. A counted call is held at its worst case in one
//! reserve (every limit, level, credit and run of the user's plan) before the provider sees
//! it, and settled with the usage the provider reports, streams included.
//!
//! The door stands on floors, each importing only the floors below it (`tests/layers.rs` keeps
//! them): (1) the vocabulary, `call/`: the call and its context, who pays, its usage, its hold,
//! the upstreams, the paths of jobs, and what a wire format answers; with it the small tools
//! that know no call (`multipart.rs`, `splice.rs`, `duration.rs`, ...). (2) The wire formats,
//! one module each under `wire/`, and the tools that speak the vocabulary: the caller's body
//! (`body/`), the provider's answers (`provider.rs`), the gateway's own answers (`answer.rs`),
//! and the door service itself (`door.rs`). (3) The phases, each a file of methods on `Door`
//! taking the request and the call's context, none importing another: `identify` (the target
//! the path names, who pays), `understand` (the body's worst case), `hold` (the reserve),
//! `forward` (the call upstream), then `read` a whole answer or `relay` a stream, and `settle`
//! (commit what the provider reported, or release; every failure settles there); `chain`
//! tries a routed call's targets in turn (the rules in `fallback.rs`). (4) The sequences, which
//! only order the phases: async jobs (batches, videos) in `jobs/`, and a call in this file,
//! which is the sequence and nothing else.

mod answer;
mod array;
mod body;
mod budget;
mod call;
mod chain;
mod counting;
mod delivered;
mod door;
mod drains;
mod duration;
mod eventstream;
mod fallback;
mod forward;
mod headers;
mod hold;
mod identify;
mod jobs;
mod multipart;
mod paths;
mod provider;
mod read;
mod realtime;
mod relay;
mod reported;
mod retry;
mod settle;
mod splice;
mod sse;
mod trace;
mod understand;
pub(crate) mod upstreams;
mod wire;

use std::time::Instant;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use opentelemetry::context::FutureExt as _;

use self::body::Body;
use self::call::context::Ctx;
use self::call::hold::Hold;
use self::call::{Call, Operation};
use self::fallback::{Ended, Next};
use self::hold::{Go, Held};
use crate::http::apart::{apart, Apart};
use crate::http::cors::{self, Expose};
use crate::http::{ApiError, AppState};

pub(crate) use self::call::hold::HOLD_TTL_MS;
pub(crate) use self::call::jobs::JobSettings;
pub(crate) use self::door::{Door, ProxySettings};

/// Starts what the proxy does in the background: polling open jobs.
pub(crate) fn start_background(door: web::Data<Door>) {
    jobs::start_sweeper(door);
}

/// Registers `/proxy/{upstream}/{path}` for every method, as a scope: its prefix is one
/// comparison for any other request, and a proxied call matches it first, not after every
/// route of the API.
pub(crate) fn routes(cfg: &mut web::ServiceConfig, door: web::Data<Door>) {
    cfg.service(
        web::scope("/proxy")
            .app_data(door)
            .route("/{upstream}/{path:.*}", web::route().to(handle)),
    );
}

/// A proxied call runs as a task of its own (`http::apart`): it is woken a dozen times on its
/// way (its hold, the provider's answer, its commit), and each wake would run the connection's
/// whole dispatcher again. Not an `async fn`: its future would keep room for the call's, which
/// actix-web moves into its box, twice, copying kilobytes a call.
fn handle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>, door: web::Data<Door>) -> Apart {
    apart(|| proxied(req, payload, state, door))
}

async fn proxied(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    door: web::Data<Door>,
) -> HttpResponse {
    let upstream = match door.upstream(&req) {
        Ok(upstream) => upstream,
        Err(unrouted) => return unrouted.answer(),
    };
    if req.method() == Method::OPTIONS {
        return cors::preflight_any(&state, &req, "GET, POST", "authorization, content-type").await;
    }
    let target = match door.target(upstream, &req) {
        Ok(target) => target,
        Err(unrouted) => return unrouted.answer(),
    };
    let wire = target.wire;
    let (project, response) = match door.caller(&req, &target).await {
        Ok(caller) if target.route.operation == Operation::Realtime => {
            let project = caller.project.clone();
            let session = realtime::serve(door.clone(), req.clone(), payload, Ctx::new(target, caller));
            (Some(project), session.await)
        }
        Ok(caller) => {
            let project = caller.project.clone();
            (
                Some(project),
                serve(&door, &req, payload, Ctx::new(target, caller)).await,
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
async fn serve(door: &Door, req: &HttpRequest, payload: web::Payload, mut ctx: Ctx) -> Result<HttpResponse, ApiError> {
    door.allowed(&ctx)?;
    if ctx.target.route.job.is_some() {
        // Boxed: a job's future is the largest of a call's, and unboxed every call's future
        // (copied whole into the server's box per request) would be its size.
        return Box::pin(jobs::serve(door, req, payload, &ctx)).await;
    }
    if ctx.operation() == Operation::Uncounted {
        let body = body::passing(req, payload, door.max_upload_bytes)?;
        return Ok(match door.forward(req, &ctx, body).await {
            Ok(response) => door.pass(&ctx, response),
            Err(failure) => failure.answer(&ctx),
        });
    }
    let body = door.body(req, payload, &ctx).await?;
    // (A call's duration runs from its body read.)
    ctx.started = Instant::now();
    let mut chain = door.chain(req, &ctx, &body)?;
    let calling = Calling { door, req };
    let bytes = match &body {
        Body::Whole(bytes) if chain.routed() => bytes.clone(),
        _ => return Ok(calling.attempt(&ctx, body, false).await?.answer()),
    };
    let mut last = None;
    while let Some(body) = chain.next(req, &mut ctx, &bytes) {
        match calling.attempt(&ctx, body, chain.has_next()).await? {
            Tried::Served(answer) => return Ok(answer),
            Tried::GaveWay(answer, reason) => {
                chain.moved_on(door, &ctx.caller.project, reason);
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

/// A call's attempts as they run: the door and the caller's request.
struct Calling<'a> {
    door: &'a Door,
    req: &'a HttpRequest,
}

impl Calling<'_> {
    /// One attempt at `ctx`'s target: hold, forward, then read or relay the answer, or settle
    /// what kept it from being one. `more`: another target follows if this one gives way.
    async fn attempt(&self, ctx: &Ctx, body: Body, more: bool) -> Result<Tried, ApiError> {
        let call = self.door.understand(ctx, &body).await?;
        // Traced, the attempt runs in its call's span: its hold, forward and settlement.
        match trace::start(&self.door.gateway, ctx, &call).await {
            Some(span) => self.held(ctx, call, (body, more)).with_context(span).await,
            None => self.held(ctx, call, (body, more)).await,
        }
    }

    /// The attempt from its hold on. The rare ends (a repeat, a failure, a refusal) are boxed:
    /// a future is as large as its largest await, and the server copies each call's whole.
    async fn held(&self, ctx: &Ctx, call: Call, (body, more): (Body, bool)) -> Result<Tried, ApiError> {
        let (door, req) = (self.door, self.req);
        let Go { hold, call, body } = match door.reserve(req, ctx, call, body).await? {
            Held::Go(go) => *go,
            Held::Denied(answer, reasons) => {
                trace::end_here();
                return Ok(Tried::of(answer, fallback::next(Ended::Denied(&reasons)), more));
            }
            Held::Answered(answer) => {
                trace::end_here();
                return Ok(Tried::Served(answer));
            }
            Held::Repeat(id) => return Ok(Tried::Served(Box::pin(door.repeated(ctx, &id)).await?)),
        };
        let alive = hold.keep_alive();
        let response = match door.forward(req, ctx, body).await {
            Ok(response) => response,
            Err(failure) => {
                drop(alive);
                Box::pin(door.settle_failure(&hold, &failure)).await;
                let next = fallback::next(Ended::Failed(&failure));
                return Ok(Tried::of(failure.answer(ctx), next, more));
            }
        };
        if !response.status().is_success() {
            drop(alive);
            return Ok(Box::pin(self.refused(ctx, (&call, hold), response, more)).await);
        }
        let mut answer = match door.framing(ctx, &call, &response) {
            None => door.read(ctx, &call, (hold, alive), response).await,
            Some(_) => {
                drop(alive);
                door.relay(ctx, &call, hold, response)
            }
        };
        chain::served_by(ctx, &call.model, &mut answer);
        Ok(Tried::Served(answer))
    }

    /// The attempt the provider refused: settled, and given way where the rules say so.
    async fn refused(&self, ctx: &Ctx, (call, hold): (&Call, Hold), response: reqwest::Response, more: bool) -> Tried {
        let refusal = self.door.refusal(ctx, response).await;
        let next = fallback::next(refusal.ended(ctx));
        let ends = !more || next == Next::Stop;
        let mut answer = self.door.settle_refusal(ctx, hold, refusal, ends).await;
        chain::served_by(ctx, &call.model, &mut answer);
        Tried::of(answer, next, more)
    }
}
