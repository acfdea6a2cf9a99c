//! A realtime session's responses, each held before it starts. What a response may read is the
//! conversation so far: the last response's reported input and output (its input carries the
//! conversation up to it, and its output joins it), what was added since (text at its bound,
//! audio at the longest its bytes last) and what the `response.create` itself brings
//! (instructions, out-of-band input), at most the model's context window. What it may write is
//! its maximum output: the caller's, else the session's, else the model's own, lowered to what
//! the user has left where the caller named none, and always sent with the response, so the
//! provider cannot produce more. Each response is settled from its `response.done` usage.

use std::collections::VecDeque;

use bytes::Bytes;
use opentelemetry::trace::{FutureExt, TraceContextExt};
use serde_json::{Map, Value};

use super::{events, running};
use crate::http::ApiError;
use crate::proxy::body::Body;
use crate::proxy::call::context::Ctx;
use crate::proxy::call::hold::{Hold, KeepAlive};
use crate::proxy::call::outcome::Answered;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{Call, Limits, Operation};
use crate::proxy::door::Door;
use crate::proxy::hold::{Go, Held};
use crate::proxy::trace;
use crate::quota::PendingJob;

/// A response held: the event id it was asked with, its hold and its record (both kept ahead
/// of their end while it runs, `running.rs`), and what the conversation had gained when it was
/// asked, which its input then holds.
pub(super) struct HeldResponse {
    pub event_id: String,
    pub hold: Hold,
    record: PendingJob,
    _alive: KeepAlive,
    gained: (u64, u64),
}

/// The conversation as the gateway knows it, and the responses held in it.
pub(super) struct Conversation {
    pub limits: Limits,
    /// The model's context window: no response reads more.
    pub context: u64,
    /// The model the session's responses are held for.
    pub model: String,
    /// The session's input audio, bytes a second, and the audio tokens a second of it is.
    pub rate: u64,
    pub audio_per_second: u64,
    /// The session's maximum output, where it names one.
    pub session_max: Option<u64>,
    /// The most a response's maximum output may be, as the protocol takes it (OpenAI's
    /// realtime responses: 4,096), whatever the model's own limit.
    pub output_cap: u64,
    /// The last response's input and output, as reported.
    reported: u64,
    /// Text tokens and audio bytes added since.
    text: u64,
    audio: u64,
    /// Asked for, in the order the provider creates them.
    pub asked: VecDeque<HeldResponse>,
    /// Created, by the provider's response id.
    pub running: Vec<(String, HeldResponse)>,
    /// Gemini's Live API, where the provider starts each response itself: the next one, held
    /// ahead of it with the input it may read, and whether one is under way.
    pub standing: Option<(HeldResponse, u64)>,
    pub underway: bool,
}

/// What asking for a response came to.
pub(super) enum Asked {
    /// Held: the event to send the provider, with the response's maximum in it.
    Send(Bytes),
    /// Not held: the `error` event the client gets.
    Refused(String),
}

impl Conversation {
    pub(super) fn new((limits, context): (Limits, u64), model: &str, audio_per_second: u64) -> Conversation {
        Conversation {
            limits,
            context,
            model: model.to_string(),
            rate: events::LEAST_AUDIO_BYTES_PER_SECOND,
            audio_per_second,
            session_max: None,
            output_cap: u64::MAX,
            reported: 0,
            text: 0,
            audio: 0,
            asked: VecDeque::new(),
            running: Vec::new(),
            standing: None,
            underway: false,
        }
    }

    /// Text (or an item with audio in it) added to the conversation.
    pub(super) fn add(&mut self, value: &Value) {
        let tokens = events::input_tokens(value, &self.limits, (self.rate, self.audio_per_second));
        self.text = self.text.saturating_add(tokens);
    }

    /// Input audio appended (its decoded bytes).
    pub(super) fn add_audio(&mut self, bytes: u64) {
        self.audio = self.audio.saturating_add(bytes);
    }

    /// The input a response asked now may read, at most, with what its `response` brings.
    fn input(&self, response: &Value) -> u64 {
        let own = events::input_tokens(response, &self.limits, (self.rate, self.audio_per_second));
        let audio = events::audio_tokens(self.audio, self.rate, self.audio_per_second);
        self.reported
            .saturating_add(self.text)
            .saturating_add(audio)
            .saturating_add(own)
            .min(self.context)
    }

    /// Holds the response `event` asks for (a client's `response.create`, or the gateway's own
    /// at a turn's end); the event to send with its maximum in it, or the client's error.
    pub(super) async fn ask(&mut self, door: &Door, ctx: &Ctx, mut event: Value) -> Result<Asked, ApiError> {
        let client_id = event.get("event_id").and_then(Value::as_str).map(str::to_string);
        let event_id = client_id.clone().unwrap_or_else(events::own_event_id);
        let Value::Object(object) = &mut event else {
            return Ok(Asked::Refused(events::error_event(
                None,
                "invalid_event",
                "an event is a JSON object",
            )));
        };
        object.insert("event_id".into(), Value::String(event_id.clone()));
        let response = object.entry("response").or_insert_with(|| Value::Object(Map::new()));
        let named = response
            .get("max_output_tokens")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0);
        let input = self.input(response);
        let mut call = self.call(ctx, input, named);
        call.ttl_ms = Some(running::held_for(door));
        let body = Body::Whole(Bytes::from(event.to_string()));
        match traced(door, ctx, call, body).await? {
            Held::Go(go) => {
                let Go { hold, body, call } = *go;
                let Body::Whole(sent) = body else {
                    return Err(ApiError::Internal(
                        "a realtime response's event became an upload".into(),
                    ));
                };
                let (record, alive) = running::record(door, (&hold, &call), ctx.caller.user.as_str()).await?;
                self.asked.push_back(HeldResponse {
                    event_id,
                    hold,
                    record,
                    _alive: alive,
                    gained: (self.text, self.audio),
                });
                Ok(Asked::Send(sent))
            }
            Held::Denied(answer, _) | Held::Answered(answer) => {
                let (code, message) = events::said(answer).await;
                Ok(Asked::Refused(events::error_event(
                    client_id.as_deref(),
                    &code,
                    &message,
                )))
            }
            Held::Repeat(_) => Err(ApiError::Internal("a realtime response has no key to repeat".into())),
        }
    }

    /// A response's call: `input` in, at most, all of it audio; its maximum out (`named`, else
    /// the session's or the model's), all of it audio: audio is the dearer of each.
    fn call(&self, ctx: &Ctx, input: u64, named: Option<u64>) -> Call {
        let max = named.unwrap_or_else(|| {
            self.session_max
                .map_or(self.limits.default_max, |m| m.min(self.limits.default_max))
                .min(self.output_cap)
        });
        let worst = Usage {
            input_tokens: Some(input),
            audio_input_tokens: Some(input),
            output_tokens: Some(max),
            audio_output_tokens: Some(max),
            ..Usage::default()
        };
        let worst = worst.held(Operation::RealtimeResponse);
        let mut call = super::call_of(ctx, Operation::RealtimeResponse, (&self.model, worst));
        call.max_field = named.map(|_| "response.max_output_tokens");
        call
    }

    /// The provider created the next response asked for, `id`.
    pub(super) fn created(&mut self, id: &str) -> bool {
        match self.asked.pop_front() {
            Some(held) => {
                self.running.push((id.to_string(), held));
                true
            }
            None => false,
        }
    }

    /// A response asked for that the provider refused (its error names the event): its hold
    /// goes back.
    pub(super) async fn refused(&mut self, door: &Door, event_id: &str) {
        if let Some(at) = self.asked.iter().position(|h| h.event_id == event_id) {
            if let Some(held) = self.asked.remove(at) {
                held.hold.release().await;
                running::ended(door, &held.hold.project, &held.record).await;
            }
        }
    }

    /// A response ended (`response.done`): committed at its usage, and the conversation moved
    /// on to what it read and wrote.
    pub(super) async fn done(&mut self, (door, ctx): (&Door, &Ctx), response: &Value, session: &str) {
        let Some(id) = response.get("id").and_then(Value::as_str) else {
            return;
        };
        let Some(at) = self.running.iter().position(|(r, _)| r == id) else {
            return;
        };
        let (_, mut held) = self.running.swap_remove(at);
        let usage = ctx.wire().usage_of_answer(Operation::RealtimeResponse, response);
        if let (Some(input), Some(output)) = (usage.input_tokens, usage.output_tokens) {
            self.reported = input.saturating_add(output);
            self.text = self.text.saturating_sub(held.gained.0);
            self.audio = self.audio.saturating_sub(held.gained.1);
        }
        held.hold.labels.insert("realtime_session".into(), Value::from(session));
        let answered = Answered {
            status: Some(200),
            request_id: Some(id.to_string()),
        };
        held.hold.commit(usage, answered).await;
        running::ended(door, &held.hold.project, &held.record).await;
    }

    /// Holds the next response of a Live session ahead of it: the input it may read (what the
    /// conversation is now and `headroom` more, at most the context window) and `max` out, the
    /// session's maximum, never lowered (a Live session's maximum is set once, in its setup).
    /// The response held before it, if any, is given back once this one is held. Err(message):
    /// the user's plan does not hold it.
    pub(super) async fn stand(
        &mut self,
        (door, ctx): (&Door, &Ctx),
        max: u64,
        headroom: u64,
    ) -> Result<Result<(), String>, ApiError> {
        let input = self.input(&Value::Null).saturating_add(headroom).min(self.context);
        let mut call = self.call(ctx, input, Some(max));
        call.ttl_ms = Some(running::held_for(door));
        let (hold, call) = match traced(door, ctx, call, Body::Whole(Bytes::from_static(b"{}"))).await? {
            Held::Go(go) => (go.hold, go.call),
            Held::Denied(answer, _) | Held::Answered(answer) => return Ok(Err(events::said(answer).await.1)),
            Held::Repeat(_) => return Err(ApiError::Internal("a live response has no key to repeat".into())),
        };
        let (record, alive) = running::record(door, (&hold, &call), ctx.caller.user.as_str()).await?;
        let held = HeldResponse {
            event_id: String::new(),
            hold,
            record,
            _alive: alive,
            gained: (self.text, self.audio),
        };
        if let Some((before, _)) = self.standing.replace((held, input)) {
            before.hold.release().await;
            running::ended(door, &before.hold.project, &before.record).await;
        }
        Ok(Ok(()))
    }

    /// Whether the response held ahead still covers all the conversation may be now.
    pub(super) fn covered(&self) -> bool {
        self.standing
            .as_ref()
            .is_some_and(|(_, input)| *input >= self.input(&Value::Null))
    }

    /// A Live response ended with its `usage`: committed, and the conversation moved on.
    pub(super) async fn stood(&mut self, door: &Door, usage: Usage, session: &str) {
        let Some((mut held, _)) = self.standing.take() else {
            return;
        };
        if let (Some(input), Some(output)) = (usage.input_tokens, usage.output_tokens) {
            self.reported = input.saturating_add(output);
            self.text = self.text.saturating_sub(held.gained.0);
            self.audio = self.audio.saturating_sub(held.gained.1);
        }
        self.underway = false;
        held.hold.labels.insert("realtime_session".into(), Value::from(session));
        held.hold.commit(usage, Answered::nothing()).await;
        running::ended(door, &held.hold.project, &held.record).await;
    }

    /// The session ended with a Live response held ahead: charged at its hold when one was
    /// under way (the provider may bill what it started), else given back.
    pub(super) async fn unstand(&mut self, door: &Door) {
        let Some((held, _)) = self.standing.take() else { return };
        match self.underway {
            true => held.hold.commit(Usage::default(), Answered::nothing()).await,
            false => held.hold.release().await,
        }
        running::ended(door, &held.hold.project, &held.record).await;
    }

    /// The session ended with responses held and not done: each committed at its hold (the
    /// provider may have billed what it started), marked estimated.
    pub(super) async fn abandoned(&mut self, door: &Door) {
        let asked = std::mem::take(&mut self.asked);
        let running = std::mem::take(&mut self.running);
        for held in asked.into_iter().chain(running.into_iter().map(|(_, h)| h)) {
            held.hold.commit(Usage::default(), Answered::nothing()).await;
            running::ended(door, &held.hold.project, &held.record).await;
        }
    }
}

/// Holds a response, traced as a span of its own in its session's (ended with its hold, or at
/// once when it is not held).
async fn traced(door: &Door, ctx: &Ctx, call: Call, body: Body) -> Result<Held, ApiError> {
    let span = trace::start(&door.gateway, ctx, &call).await;
    let holding = door.reserve_unkeyed(ctx, call, body);
    let held = match span.clone() {
        Some(span) => holding.with_context(span).await?,
        None => holding.await?,
    };
    if let (Some(span), false) = (&span, matches!(held, Held::Go(_))) {
        span.span().end();
    }
    Ok(held)
}
