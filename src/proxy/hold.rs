//! The third phase: the call's worst case held in one reserve (every limit, level, credit and
//! run of the user's plan), before the provider sees it. A denial or an attempt of a closed
//! action is answered here and reaches no provider; a repeat of an Idempotency-Key is told to
//! the sequence, which answers it (a job's repeat is answered its job).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::answer::{self, Fault};
use super::body::Body;
use super::call::context::Ctx;
use super::call::hold::Hold;
use super::call::Call;
use super::door::Door;
use super::{splice, trace};
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::quota::amount::MAX_UNITS;
use crate::quota::decision::Decision;
use crate::quota::decision::Reason;
use crate::quota::run::StepKind;
use crate::quota::{EventInput, FallbackOf, Milli, ReservationId, ReservationState};

/// How many tries one Idempotency-Key makes at most, each after the one before was released.
const TRIES_OF_A_KEY: usize = 8;

/// What holding made of the call.
pub(crate) enum Held {
    /// Held: forward it.
    Go(Box<Go>),
    /// Denied by the user's plan, for these reasons: the provider is not called (a routed call
    /// may try its next target).
    Denied(HttpResponse, Vec<Reason>),
    /// Answered by the gateway otherwise: the provider is not called.
    Answered(HttpResponse),
    /// A repeat of an Idempotency-Key, whose first call made this hold: one call per key, so
    /// the provider is never asked twice for one key's hold, whether its first call still runs
    /// (on this node or another) or has ended.
    Repeat(ReservationId),
}

/// A held call: its hold, and the body to forward (the caller's, with what the gateway must
/// insert).
pub(crate) struct Go {
    pub hold: Hold,
    pub call: Call,
    pub body: Body,
}

impl Door {
    /// Holds the call's worst case; the body to forward when it may go.
    pub(crate) async fn reserve(&self, req: &HttpRequest, ctx: &Ctx, call: Call, body: Body) -> Result<Held, ApiError> {
        self.reserve_of(Some(req), ctx, call, body).await
    }

    /// Holds a call that is no request of its own (a realtime session's response): as
    /// `reserve`, with no Idempotency-Key (its session's request's is the session's).
    pub(crate) async fn reserve_unkeyed(&self, ctx: &Ctx, call: Call, body: Body) -> Result<Held, ApiError> {
        self.reserve_of(None, ctx, call, body).await
    }

    async fn reserve_of(
        &self,
        req: Option<&HttpRequest>,
        ctx: &Ctx,
        mut call: Call,
        body: Body,
    ) -> Result<Held, ApiError> {
        if let Some(refused) = self.closed(ctx).await? {
            return Ok(Held::Answered(refused));
        }
        let input = event(ctx, &call);
        let ttl_ms = call.ttl_ms.unwrap_or(self.hold_ttl_ms);
        let decision = self.decide(req, ctx, (&input, ttl_ms), body.fingerprint()).await?;
        trace::decided(&decision);
        if !decision.allowed {
            self.count_call(&ctx.upstream().name, ctx.operation(), "denied");
            let answer = answer::denied(ctx.wire(), &decision, call.operation, call.max_field);
            return Ok(Held::Denied(answer, decision.reasons));
        }
        let granted = decision
            .granted
            .as_ref()
            .ok_or_else(|| ApiError::Internal("an allowed reserve held nothing".into()))?;
        if granted.repeat {
            return Ok(Held::Repeat(granted.reservation_id.clone()));
        }
        // A hold that clamped to what the user had left: the provider is asked for no more. A
        // call that named no maximum carries the one it was held at: the provider never
        // produces more.
        let lowered = decision
            .fitted
            .and_then(|f| f.output_tokens)
            .and_then(|granted| call.lower_max_output(granted, ctx.wire()))
            .or_else(|| call.held_max_output(ctx.wire()));
        let mut hold = self.hold(ctx, &call, granted.reservation_id.clone(), ttl_ms);
        hold.record = granted.record.clone();
        let body = match body {
            Body::Whole(body) => Body::Whole(forwarded_body(ctx, &call, body, lowered)),
            // An upload goes as it came: nothing in it is the gateway's to change.
            upload @ Body::Upload(_) => upload,
        };
        Ok(Held::Go(Box::new(Go { hold, call, body })))
    }

    /// The call's reserve, made once per Idempotency-Key. A repeat whose first call was
    /// released (the provider refused it, or could not be reached: it made nothing) is a new
    /// try, reserved under a key of its own drawn from the released hold's id: concurrent
    /// repeats make that one try between them, and a call that ran, runs or was charged is
    /// never made again. A routed call's later attempts have keys of their own, so a repeat of
    /// the call replays each attempt's hold and calls no provider twice. `input` is held for
    /// `ttl_ms`.
    async fn decide(
        &self,
        req: Option<&HttpRequest>,
        ctx: &Ctx,
        (input, ttl_ms): (&EventInput, i64),
        fingerprint: &[u8],
    ) -> Result<Decision, ApiError> {
        let (route, scope) = match &ctx.fallback {
            Some(f) if ctx.attempt > 1 => (
                format!("proxy#{}", ctx.attempt),
                format!("{}\n{}", ctx.target.path, f.target),
            ),
            _ => ("proxy".to_string(), ctx.target.path.to_string()),
        };
        let (data, project) = (self.gateway.data(), &ctx.caller.project);
        let mut tried = route.clone();
        let mut tries = 0;
        loop {
            let key = match req {
                Some(req) => idempotency(req, &tried, &scope, fingerprint)?,
                None => None,
            };
            let decision = data.reserve_to_commit(project, input, ttl_ms, key.as_ref()).await?;
            tries += 1;
            let Some(repeat) = decision.granted.as_ref().filter(|g| g.repeat) else {
                return Ok(decision);
            };
            let released = data
                .reservation(project, &repeat.reservation_id)
                .await?
                .is_some_and(|v| v.state == ReservationState::Released);
            if !released || tries == TRIES_OF_A_KEY {
                return Ok(decision);
            }
            tried = format!("{route}~{}", repeat.reservation_id.as_str());
        }
    }

    /// The refusal of an attempt whose action is closed; None when it may go.
    async fn closed(&self, ctx: &Ctx) -> Result<Option<HttpResponse>, ApiError> {
        let caller = &ctx.caller;
        let Some(step) = &caller.step else { return Ok(None) };
        let Some(why) = self
            .gateway
            .data()
            .closed_action(&caller.project, &caller.user, step)
            .await?
        else {
            return Ok(None);
        };
        let message = format!(
            "action {} is not attempted again: its last attempt failed ({why})",
            step.action
        );
        Ok(Some(answer::error(
            ctx.wire(),
            StatusCode::CONFLICT,
            Fault::new("action_not_retryable", &message),
        )))
    }

    /// The hold `id` of `call`, for `ttl_ms`.
    fn hold(&self, ctx: &Ctx, call: &Call, id: ReservationId, ttl_ms: i64) -> Hold {
        Hold {
            gateway: self.gateway.clone(),
            metrics: self.metrics.clone(),
            project: ctx.caller.project.clone(),
            id,
            key_id: ctx.caller.key_id.clone(),
            upstream: ctx.upstream().name.clone(),
            operation: call.operation,
            ttl_ms,
            worst: call.worst,
            measured: call.measured,
            started: ctx.started,
            labels: Map::new(),
            trace: trace::current(),
            record: None,
        }
    }

    /// The answer to a repeat of an Idempotency-Key: 409, `idempotency_key_in_flight` while its
    /// first call's hold is open, else `idempotency_key_settled`; never forwarded.
    pub(crate) async fn repeated(&self, ctx: &Ctx, id: &ReservationId) -> Result<HttpResponse, ApiError> {
        let view = self.gateway.data().reservation(&ctx.caller.project, id).await?;
        Ok(repeat(ctx, view.is_some_and(|v| v.state == ReservationState::Held)))
    }
}

/// A repeat of an Idempotency-Key whose first call is `in_flight` or settled: 409 either way.
pub(crate) fn repeat(ctx: &Ctx, in_flight: bool) -> HttpResponse {
    let (code, message) = match in_flight {
        true => (
            "idempotency_key_in_flight",
            "a call with this Idempotency-Key is in flight and was not made again; read the first call's answer, and use a new key for a new call",
        ),
        false => (
            "idempotency_key_settled",
            "a call with this Idempotency-Key was made and settled already; use a new key for a new call",
        ),
    };
    answer::error(ctx.wire(), StatusCode::CONFLICT, Fault::new(code, message))
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

/// The hold's event: `<upstream>.<operation>`, its quantity and counts the worst case, with the
/// model, the upstream, the operation, whether it streams and the caller's metadata. A call
/// that names no maximum output would be held at the model's whole output limit, which a user
/// near the end of a budget cannot afford: it is clamped to what is left unless the caller
/// said otherwise. A call that names one keeps its choice (its group's `fit` still applies).
fn event(ctx: &Ctx, call: &Call) -> EventInput {
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
