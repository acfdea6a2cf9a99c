//! The third phase: the call's worst case held in one reserve (every limit, level, credit and
//! run of the user's plan), before the provider sees it. A denial, an attempt of a closed
//! action, or a repeat of an Idempotency-Key is answered here and reaches no provider.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::Map;

use super::call::Call;
use super::context::Ctx;
use super::settle::{self, Hold};
use super::understand::Body;
use super::{answer, jobs, retry, splice, trace, understand, Proxy};
use crate::http::idempotency::idempotency;
use crate::http::{ApiError, AppState};
use crate::quota::decision::Reason;
use crate::quota::{ReservationId, ReservationState};

/// What holding made of the call.
pub(crate) enum Held {
    /// Held: forward it.
    Go(Box<Go>),
    /// Denied by the user's plan, for these reasons: the provider is not called (a routed call
    /// may try its next target).
    Denied(HttpResponse, Vec<Reason>),
    /// Answered by the gateway otherwise: the provider is not called.
    Answered(HttpResponse),
}

/// A held call: its hold, and the body to forward (the caller's, with what the gateway must
/// insert).
pub(crate) struct Go {
    pub hold: Hold,
    pub call: Call,
    pub body: Body,
}

/// Holds the call's worst case; the body to forward when it may go.
pub(crate) async fn reserve(
    req: &HttpRequest,
    state: &AppState,
    proxy: &Proxy,
    ctx: &Ctx,
    mut call: Call,
    body: Body,
) -> Result<Held, ApiError> {
    if let Some(refused) = retry::refused(state, &ctx.caller, ctx.upstream()).await? {
        return Ok(Held::Answered(refused));
    }
    let input = understand::event(ctx, &call);
    let ttl_ms = call.ttl_ms.unwrap_or(proxy.hold_ttl_ms);
    // A routed call's later attempts have keys of their own, so a repeat of the call replays
    // each attempt's hold and calls no provider twice.
    let idempotency = match &ctx.fallback {
        Some(f) if ctx.attempt > 1 => idempotency(
            req,
            &format!("proxy#{}", ctx.attempt),
            &format!("{}\n{}", ctx.target.path, f.target),
            body.fingerprint(),
        )?,
        _ => idempotency(req, "proxy", &ctx.target.path, body.fingerprint())?,
    };
    let decision = state
        .gateway
        .data()
        .reserve(&ctx.caller.project, &input, ttl_ms, idempotency.as_ref())
        .await?;
    trace::decided(&decision);
    if !decision.allowed {
        settle::count_call(
            state.gateway.node().metrics(),
            &ctx.upstream().name,
            ctx.operation(),
            "denied",
        );
        let answer = answer::denied(ctx.wire(), &decision, call.operation, call.max_field);
        return Ok(Held::Denied(answer, decision.reasons));
    }
    let granted = decision
        .granted
        .as_ref()
        .ok_or_else(|| ApiError::Internal("an allowed reserve held nothing".into()))?;
    if granted.repeat {
        // One call per key: a repeat made no hold of its own, and the provider is never asked
        // twice for one key's hold, whether its first call still runs (on this node or another)
        // or has ended. A job's repeat is answered the job its first call submitted, as the
        // provider now tells it, so a stuck client's retry learns its job.
        let answer = match call.operation.is_job() {
            true => jobs::repeated(state, ctx, &granted.reservation_id, req).await?,
            false => None,
        };
        return Ok(Held::Answered(match answer {
            Some(answer) => answer,
            None => repeated(state, ctx, &granted.reservation_id).await?,
        }));
    }
    // A hold that clamped to what the user had left: the provider is asked for no more. A call
    // that named no maximum carries the one it was held at: the provider never produces more.
    let lowered = decision
        .fitted
        .and_then(|f| f.output_tokens)
        .and_then(|granted| call.lower_max_output(granted, ctx.wire()))
        .or_else(|| call.held_max_output(ctx.wire()));
    let hold = Hold {
        gateway: state.gateway.clone(),
        metrics: state.gateway.node().metrics().clone(),
        project: ctx.caller.project.clone(),
        id: granted.reservation_id.clone(),
        key_id: ctx.caller.key_id.clone(),
        upstream: ctx.upstream().name.clone(),
        operation: ctx.operation(),
        ttl_ms,
        worst: call.worst,
        measured: call.measured,
        started: ctx.started,
        labels: Map::new(),
        trace: trace::current(),
    };
    let body = match body {
        Body::Whole(body) => Body::Whole(forwarded_body(ctx, &call, body, lowered)),
        // An upload goes as it came: nothing in it is the gateway's to change.
        upload @ Body::Upload(_) => upload,
    };
    Ok(Held::Go(Box::new(Go { hold, call, body })))
}

/// The answer to a repeat of an Idempotency-Key: 409, `idempotency_key_in_flight` while its
/// first call's hold is open, else `idempotency_key_settled`; never forwarded.
async fn repeated(state: &AppState, ctx: &Ctx, id: &ReservationId) -> Result<HttpResponse, ApiError> {
    let view = state.gateway.data().reservation(&ctx.caller.project, id).await?;
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
    Ok(answer::error(ctx.wire(), StatusCode::CONFLICT, code, message, None))
}

/// The body the provider gets: the caller's bytes, with only what the gateway must insert
/// spliced in (never re-serialized): the maximum output the call was held at (lowered by a
/// clamped hold, or named where the caller named none), and what the wire format needs for the
/// usage to be reported.
fn forwarded_body(ctx: &Ctx, call: &Call, body: Bytes, lowered: Option<(&str, u64)>) -> Bytes {
    let mut body = body;
    if let Some((field, max)) = lowered {
        let path: Vec<&str> = field.split('.').collect();
        if let Some(spliced) = splice::set(&body, &path, &max.to_string()) {
            body = Bytes::from(spliced);
        }
    }
    ctx.wire().forwarded_body(call, body)
}
