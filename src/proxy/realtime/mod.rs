//! Realtime sessions (OpenAI's Realtime API, `GET v1/realtime?model=...`): a WebSocket the
//! caller opens with the gateway's key, relayed to the provider's with the upstream's. The
//! session is held while it is open (the event `<upstream>.realtime`, one a session, so a
//! `concurrent` group counts open sessions), and each response in it is held before it starts
//! and settled from its usage (the event `<upstream>.realtime_response`, `responses.rs`); the
//! relay (`relay.rs`) is where the gateway reads and edits the events (`events.rs`) on their way.

mod clock;
mod events;
mod live;
mod open;
mod relay;
mod responses;
mod running;
mod upstream;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use opentelemetry::trace::{FutureExt, TraceContextExt};
use opentelemetry::Context;
use serde_json::Map;

use self::clock::Minute;
use self::relay::Relay;
use self::responses::Conversation;
use super::answer::{self, Fault};
use super::body::Body;
use super::call::context::Ctx;
use super::call::hold::Hold;
use super::call::upstream::Kind;
use super::call::usage::Usage;
use super::call::{Call, Limits, ModelLimits, Operation};
use super::door::Door;
use super::headers;
use super::hold::{Go, Held};
use super::trace;
use crate::http::ApiError;

/// Opens a session: held, the provider's side opened, then the caller's upgraded and relayed
/// on a task of its own. Refused as any call before the upgrade (a denial is the provider's
/// 429, which the clients raise as they connect).
pub(crate) async fn serve(
    door: web::Data<Door>,
    req: HttpRequest,
    payload: web::Payload,
    mut ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    door.allowed(&ctx)?;
    let upgrade = req.headers().get("upgrade").and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::invalid(
            "Upgrade",
            "must be websocket: a realtime session is a WebSocket",
        ));
    }
    // A Live session names its model in its first message, after the upgrade.
    ctx.target.route.model = Some(match ctx.upstream().kind {
        Kind::Gemini => String::new(),
        // An Azure deployment is held as the model it serves.
        _ => ctx.upstream().model_of(model_named(&req)?),
    });
    let (hold, minute, traced) = match traced(&door, &req, &ctx).await? {
        Ok(held) => held,
        Err(answer) => return Ok(answer),
    };
    let provider = match upstream::connect(&req, &ctx).await {
        Ok(provider) => provider,
        Err(why) => {
            hold.release().await;
            clock::release(&door, minute).await;
            let message = format!("the provider ({}) did not open the session: {why}", ctx.upstream().name);
            let fault = Fault::new("upstream_unreachable", &message);
            return Ok(answer::error(ctx.wire(), StatusCode::BAD_GATEWAY, fault));
        }
    };
    let (response, client, stream) = match actix_ws::handle_with_protocols(&req, payload, &["realtime"]) {
        Ok(opened) => opened,
        Err(err) => {
            hold.release().await;
            clock::release(&door, minute).await;
            return Err(ApiError::invalid(
                "Upgrade",
                format!("is not a WebSocket's opening: {err}"),
            ));
        }
    };
    let from_client = stream
        .max_frame_size(upstream::MAX_MESSAGE_BYTES)
        .aggregate_continuations()
        .max_continuation_size(upstream::MAX_MESSAGE_BYTES);
    let (to_provider, from_provider) = provider.split();
    let conversation = conversation(&door, &ctx);
    let ctx_live = ctx.upstream().kind == Kind::Gemini;
    let next_minute = tokio::time::Instant::now() + std::time::Duration::from_millis(clock::minute_ms(&door));
    let relay = Relay {
        alive: hold.keep_alive(),
        hold,
        door,
        ctx,
        client,
        provider: to_provider,
        conversation,
        auto: false,
        session: None,
        early: Vec::new(),
        next_minute,
        minute: Some(minute),
        listed: None,
        live: ctx_live,
        refusal: None,
        heard: tokio::time::Instant::now(),
    };
    match traced {
        Some(span) => actix_web::rt::spawn(relay.run(from_client, from_provider).with_context(span)),
        None => actix_web::rt::spawn(relay.run(from_client, from_provider)),
    };
    Ok(response)
}

/// The session's holds (`held`), traced as a span, the parent of its responses', which ends
/// with its hold (or at once when it is not held).
async fn traced(
    door: &Door,
    req: &HttpRequest,
    ctx: &Ctx,
) -> Result<Result<(Hold, Minute, Option<Context>), HttpResponse>, ApiError> {
    let span = trace::start(&door.gateway, ctx, &session_call(ctx)).await;
    let holding = held(door, req, ctx);
    let held = match span.clone() {
        Some(span) => holding.with_context(span).await?,
        None => holding.await?,
    };
    match held {
        Ok((hold, minute)) => Ok(Ok((hold, minute, span))),
        Err(answer) => {
            if let Some(span) = &span {
                span.span().end();
            }
            Ok(Err(answer))
        }
    }
}

/// The session's hold and its first minute's; Err(answer): the user's plan holds neither.
async fn held(door: &Door, req: &HttpRequest, ctx: &Ctx) -> Result<Result<(Hold, Minute), HttpResponse>, ApiError> {
    let call = session_call(ctx);
    let Go { hold, .. } = match door.reserve(req, ctx, call, Body::Whole(Bytes::new())).await? {
        Held::Go(go) => *go,
        Held::Denied(answer, _) | Held::Answered(answer) => return Ok(Err(answer)),
        Held::Repeat(id) => return door.repeated(ctx, &id).await.map(Err),
    };
    match clock::hold(door, ctx).await {
        Ok(Ok(minute)) => Ok(Ok((hold, minute))),
        Ok(Err(denied)) => {
            hold.release().await;
            Ok(Err(denied))
        }
        Err(err) => {
            hold.release().await;
            Err(err)
        }
    }
}

/// The session's model, as its query names it.
pub(super) fn model(ctx: &Ctx) -> &str {
    ctx.target.route.model.as_deref().unwrap_or_default()
}

fn model_named(req: &HttpRequest) -> Result<String, ApiError> {
    let query = req.query_string();
    // (Azure OpenAI's realtime path names its deployment.)
    let named = headers::query_value(query, "model").or_else(|| headers::query_value(query, "deployment"));
    match named {
        Some(m) if !m.is_empty() && m.len() <= 256 && m.bytes().all(|b| b.is_ascii_graphic()) => Ok(m.to_string()),
        _ => Err(ApiError::invalid("model", "must name the session's model in the query")),
    }
}

/// The session's own hold: one session, nothing billed, none of its time (its minutes are held
/// apart, `clock.rs`).
fn session_call(ctx: &Ctx) -> Call {
    let mut call = call_of(ctx, Operation::Realtime, (model(ctx), Usage::default()));
    call.extra.insert(clock::SECONDS.into(), serde_json::Value::from(0));
    call
}

/// A hold of a session's (the session, a minute of it, a response) for `model` at `worst`:
/// streamed, one choice, nothing else said.
pub(super) fn call_of(ctx: &Ctx, operation: Operation, (model, worst): (&str, Usage)) -> Call {
    Call {
        operation,
        model: model.to_string(),
        stream: true,
        caller_wants_usage: true,
        worst,
        measured: Usage::default(),
        choices: 1,
        max_field: None,
        counter: ctx.wire().counter(model),
        extra: Map::new(),
        ttl_ms: None,
        referenced: None,
        count_after: None,
        named: Vec::new(),
    }
}

/// A new session's conversation, at its model's bounds.
fn conversation(door: &Door, ctx: &Ctx) -> Conversation {
    let model = model(ctx);
    let per_second = match ctx.upstream().kind {
        Kind::Gemini => live::AUDIO_TOKENS_PER_SECOND,
        _ => crate::proxy::wire::openai::AUDIO_TOKENS_PER_SECOND,
    };
    let mut conversation = Conversation::new(bounds(door, ctx, model), model, per_second);
    if ctx.upstream().kind != Kind::Gemini {
        // OpenAI's realtime responses take a maximum of 4,096 at most (or "inf").
        conversation.output_cap = OPENAI_MAX_OUTPUT;
    }
    conversation
}

/// The largest `max_output_tokens` OpenAI's Realtime API takes.
const OPENAI_MAX_OUTPUT: u64 = 4_096;

/// The bounds of `model`'s responses: its limits and its context window.
pub(super) fn bounds(door: &Door, ctx: &Ctx, model: &str) -> (Limits, u64) {
    let known = door.gateway.node().catalog().find(model).map(|m| ModelLimits {
        output: m.entry.max_output_tokens,
        context: m.entry.context_window,
    });
    let limits = Limits::of(ctx.wire().counter(model), ctx.upstream(), known);
    let context = known
        .map(|k| k.context)
        .filter(|c| *c > 0)
        .unwrap_or(ctx.upstream().context_tokens);
    (limits, context)
}
