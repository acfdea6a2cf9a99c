//! A realtime session relayed message by message between the caller and the provider, on its
//! own task. The caller's events reach the provider as the gateway read them (re-serialized,
//! text or binary frames alike), and the gateway acts where it must: the session's turn
//! detection is made to wait for it (`create_response` off, shown to the caller as it asked), a
//! `response.create` goes on only once its response is held (with its maximum in it), a turn's
//! end starts a held response where the caller wanted responses started by themselves, the
//! conversation's growth is counted as it passes, and each `response.done` settles its
//! response. Until the provider's `session.created` has arrived and the gateway's own
//! `session.update` went out, the caller's events wait, so no turn can start a response the
//! gateway did not hold. A response the provider starts unasked is held as it starts, or
//! cancelled; one it leaves unfinished for the upstream's idle time ends the session. Gemini's
//! Live messages are `live.rs`'s; the session's time, a minute at a time, `clock.rs`'s.

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TheirCode;
use tokio_tungstenite::tungstenite::Message;

use super::clock::{self, Minute};
use super::events::{self, kind};
use super::open;
use super::responses::{Asked, Conversation};
use super::upstream::Provider;
use crate::proxy::call::context::Ctx;
use crate::proxy::call::hold::{Hold, KeepAlive};
use crate::proxy::door::Door;
use crate::quota::JobRecord;

/// How long the provider is read after the caller left, for the responses it was making to end
/// with their usage.
const DRAIN: Duration = Duration::from_secs(10);
/// The caller's events kept while the session opens, at most.
const EARLY_EVENTS: usize = 256;

/// One session: the door and the call, the session's hold, both sides, and the conversation.
pub(super) struct Relay {
    pub door: actix_web::web::Data<Door>,
    pub ctx: Ctx,
    pub hold: Hold,
    pub alive: KeepAlive,
    pub client: actix_ws::Session,
    pub provider: SplitSink<Provider, Message>,
    pub conversation: Conversation,
    /// Whether the caller wants a response started at each turn's end.
    pub auto: bool,
    /// The provider's session id, once it said it; the caller's events kept until then.
    pub session: Option<String>,
    pub early: Vec<String>,
    /// The session's time: the minute held now, and when the next is due.
    pub minute: Option<Minute>,
    /// The session as its user's open job, once the provider named it.
    pub listed: Option<JobRecord>,
    /// Gemini's Live API, not OpenAI's Realtime API (`live.rs`).
    pub live: bool,
    /// Why the gateway ends the session, where it does.
    pub refusal: Option<String>,
    /// When the provider last said anything: a response it leaves unfinished for the upstream's
    /// idle time ends the session.
    pub heard: tokio::time::Instant,
    pub next_minute: tokio::time::Instant,
}

/// How a session ended.
enum Ended {
    /// The caller closed it, or went away.
    Caller(Option<CloseReason>),
    /// The provider did.
    Provider(Option<CloseReason>),
    /// The user's plan holds no more of its time.
    OutOfTime,
    /// The user's plan holds no more of what it asks (`Relay::refusal` says why).
    Refused,
}

impl Relay {
    /// Relays the session to its end, then settles it.
    pub(super) async fn run(
        mut self,
        mut from_client: AggregatedMessageStream,
        mut from_provider: SplitStream<Provider>,
    ) {
        let ended = loop {
            tokio::select! {
                message = from_client.recv() => match message {
                    Some(Ok(AggregatedMessage::Text(text))) if self.live => {
                        if !self.live_client(text.into_bytes(), false).await { break Ended::Refused }
                    }
                    Some(Ok(AggregatedMessage::Binary(bytes))) if self.live => {
                        if !self.live_client(bytes, true).await { break Ended::Refused }
                    }
                    Some(Ok(AggregatedMessage::Text(text))) => self.client_said(text.to_string()).await,
                    // A provider may read a binary frame as an event: so does the gateway.
                    Some(Ok(AggregatedMessage::Binary(bytes))) => {
                        self.client_said(String::from_utf8_lossy(&bytes).into_owned()).await
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => { let _ = self.client.pong(&bytes).await; }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(reason))) => break Ended::Caller(reason),
                    Some(Err(_)) | None => break Ended::Caller(None),
                },
                _ = tokio::time::sleep_until(self.next_minute) => if !self.next_minute().await {
                    break Ended::OutOfTime;
                },
                _ = tokio::time::sleep_until(self.heard + self.ctx.upstream().timeouts.idle), if self.waiting() => {
                    break Ended::Provider(Some(CloseReason {
                        code: CloseCode::Error,
                        description: Some("the provider went quiet in the middle of a response".into()),
                    }));
                },
                message = from_provider.next() => {
                    self.heard = tokio::time::Instant::now();
                    if let Some(ended) = self.provider_message(message).await {
                        break ended;
                    }
                }
            }
        };
        self.end(ended, from_provider).await;
    }

    /// A provider's message, passed on after what it tells the gateway; how the session ends
    /// when it ends it.
    async fn provider_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Option<Ended> {
        match message {
            Some(Ok(Message::Text(text))) if self.live => {
                let bytes = Bytes::copy_from_slice(text.as_bytes());
                (!self.live_provider(bytes, false).await).then_some(Ended::Refused)
            }
            Some(Ok(Message::Binary(bytes))) if self.live => {
                (!self.live_provider(bytes, true).await).then_some(Ended::Refused)
            }
            Some(Ok(Message::Text(text))) => {
                self.provider_said(text.to_string()).await;
                None
            }
            Some(Ok(Message::Binary(bytes))) => {
                let _ = self.client.binary(bytes).await;
                None
            }
            Some(Ok(Message::Close(frame))) => Some(Ended::Provider(frame.map(|f| CloseReason {
                code: CloseCode::from(u16::from(f.code)),
                description: Some(f.reason.to_string()),
            }))),
            Some(Ok(_)) => None,
            Some(Err(_)) | None => Some(Ended::Provider(None)),
        }
    }

    /// Whether a response held is waiting on the provider.
    fn waiting(&self) -> bool {
        let c = &self.conversation;
        !c.asked.is_empty() || !c.running.is_empty() || c.underway
    }

    /// A caller's event: passed on, but where the gateway acts on it.
    async fn client_said(&mut self, text: String) {
        if self.session.is_none() {
            if self.early.len() < EARLY_EVENTS {
                self.early.push(text);
            }
            return;
        }
        // One reading: the provider gets the event as the gateway read it (a key named twice,
        // once), never bytes it did not read; what is no event is not passed on at all.
        let Ok(mut event) = serde_json::from_str::<Value>(&text) else {
            let error = events::error_event(None, "invalid_json", "an event is a JSON object");
            let _ = self.client.text(error).await;
            return;
        };
        match kind(&event) {
            "response.create" => return self.ask(event).await,
            "session.update" => {
                if let Some(session) = event.get_mut("session") {
                    self.configured(session);
                    if let Some(wanted) = events::hold_turns(session) {
                        self.auto = wanted;
                    }
                    return self.tell_provider(Message::text(event.to_string())).await;
                }
            }
            "input_audio_buffer.append" => self.conversation.add_audio(events::appended_bytes(&event)),
            "conversation.item.create" => self.conversation.add(event.get("item").unwrap_or(&Value::Null)),
            _ => {}
        }
        self.tell_provider(Message::text(event.to_string())).await
    }

    /// A provider's event: passed on, after what it tells the gateway.
    async fn provider_said(&mut self, text: String) {
        let Ok(mut event) = serde_json::from_str::<Value>(&text) else {
            let _ = self.client.text(text).await;
            return;
        };
        let mut shown = None;
        match kind(&event) {
            "session.created" | "session.updated" => {
                if let Some(session) = event.get_mut("session") {
                    self.configured(session);
                    if self.session.is_none() {
                        self.opened(session).await;
                    }
                    events::show_turns(session, self.auto);
                    shown = Some(event.to_string());
                }
            }
            "input_audio_buffer.committed" if self.auto => self.ask(json!({"type": "response.create"})).await,
            "response.created" => self.created(&event).await,
            "response.done" => {
                let session = self.session.clone().unwrap_or_default();
                if let Some(response) = event.get("response") {
                    self.conversation
                        .done((&self.door, &self.ctx), response, &session)
                        .await;
                }
            }
            "error" => {
                if let Some(id) = event.pointer("/error/event_id").and_then(Value::as_str) {
                    self.conversation.refused(&self.door, id).await;
                }
            }
            _ => {}
        }
        let _ = self.client.text(shown.unwrap_or(text)).await;
    }

    /// What a session configuration (the caller's, or the provider's account of it) says the
    /// gateway needs: the input audio's rate, the session's maximum output, its instructions
    /// and tools, which every response reads.
    fn configured(&mut self, session: &Value) {
        if let Some(rate) = events::input_rate(session) {
            self.conversation.rate = rate;
        }
        if let Some(max) = events::session_max(session) {
            self.conversation.session_max = max;
        }
    }

    /// The provider's session opened: its turns made to wait for the gateway, then the caller's
    /// early events passed on.
    async fn opened(&mut self, session: &Value) {
        let id = session.get("id").and_then(Value::as_str).unwrap_or_default();
        self.session = Some(id.to_string());
        self.listed = open::opened(&self.door, &self.ctx, &self.hold, id).await;
        let mut turns = session.clone();
        if let Some(wanted) = events::hold_turns(&mut turns) {
            self.auto = wanted;
            if wanted {
                let update = events::turns_update(&turns);
                self.tell_provider(Message::text(update.to_string())).await;
            }
        }
        for text in std::mem::take(&mut self.early) {
            Box::pin(self.client_said(text)).await;
        }
    }

    /// A response asked for: held, then sent; or the caller told why not.
    async fn ask(&mut self, event: Value) {
        match self.conversation.ask(&self.door, &self.ctx, event).await {
            Ok(Asked::Send(sent)) => {
                let text = String::from_utf8_lossy(&sent).into_owned();
                self.tell_provider(Message::text(text)).await;
                // The provider's idle time runs from the response's start.
                self.heard = tokio::time::Instant::now();
            }
            Ok(Asked::Refused(error)) => {
                let _ = self.client.text(error).await;
            }
            Err(err) => {
                let message = format!("the response could not be held: {err}");
                let _ = self
                    .client
                    .text(events::error_event(None, "quota_unavailable", &message))
                    .await;
            }
        }
    }

    /// A response the provider created: the one asked for next, or one it started unasked,
    /// held now or cancelled.
    async fn created(&mut self, event: &Value) {
        let Some(id) = event.pointer("/response/id").and_then(Value::as_str) else {
            return;
        };
        if self.conversation.created(id) {
            return;
        }
        let held = match self
            .conversation
            .ask(&self.door, &self.ctx, json!({"type": "response.create"}))
            .await
        {
            Ok(Asked::Send(_)) => self.conversation.created(id),
            _ => false,
        };
        if !held {
            let cancel = json!({"type": "response.cancel", "event_id": events::own_event_id(), "response_id": id});
            self.tell_provider(Message::text(cancel.to_string())).await;
        }
    }

    /// The minute held ends: committed whole, and the next held; false when it cannot be (the
    /// caller told why, in an `error` event).
    async fn next_minute(&mut self) -> bool {
        if let Some(minute) = self.minute.take() {
            clock::settle(&self.door, minute).await;
        }
        self.next_minute += Duration::from_millis(clock::minute_ms(&self.door));
        let refused = match clock::hold(&self.door, &self.ctx).await {
            Ok(Ok(minute)) => {
                self.minute = Some(minute);
                return true;
            }
            Ok(Err(denied)) => events::said(denied).await,
            Err(err) => ("quota_unavailable".to_string(), err.to_string()),
        };
        let message = format!("the session ends: its time could not be held: {}", refused.1);
        // (Gemini's Live API has no error message: its close says why.)
        if !self.live {
            let _ = self.client.text(events::error_event(None, &refused.0, &message)).await;
        }
        false
    }

    pub(super) async fn tell_provider(&mut self, message: Message) {
        if let Err(err) = self.provider.send(message).await {
            tracing::debug!(%err, "proxy: a realtime event could not reach the provider");
        }
    }

    /// The session's end: the provider read on (within `DRAIN`) for the responses it was making
    /// when the caller left; what stays held is committed at its hold; the other side closed,
    /// and the session's hold given back.
    async fn end(mut self, ended: Ended, mut from_provider: SplitStream<Provider>) {
        match ended {
            Ended::Caller(reason) => {
                // What it was making is no longer anyone's: stopped, and read to its usage.
                let running: Vec<String> = self.conversation.running.iter().map(|(id, _)| id.clone()).collect();
                for id in running {
                    let cancel =
                        json!({"type": "response.cancel", "event_id": events::own_event_id(), "response_id": id});
                    self.tell_provider(Message::text(cancel.to_string())).await;
                }
                let drain = async {
                    while !(self.conversation.running.is_empty() && self.conversation.asked.is_empty()) {
                        match from_provider.next().await {
                            Some(Ok(Message::Text(text))) => self.provider_said(text.to_string()).await,
                            Some(Ok(_)) => {}
                            _ => break,
                        }
                    }
                };
                let _ = tokio::time::timeout(DRAIN, drain).await;
                let code = reason.map_or(TheirCode::Normal, |r| TheirCode::from(u16::from(r.code)));
                let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code,
                    reason: "".into(),
                };
                let _ = self.provider.send(Message::Close(Some(frame))).await;
            }
            Ended::Refused => {
                let why = self.refusal.clone().unwrap_or_default();
                let reason = CloseReason {
                    code: CloseCode::Policy,
                    description: Some(why.chars().take(120).collect()),
                };
                let _ = self.client.clone().close(Some(reason)).await;
                let _ = self.provider.send(Message::Close(None)).await;
            }
            Ended::OutOfTime => {
                let reason = CloseReason {
                    code: CloseCode::Policy,
                    description: Some("the user's realtime time is used up".into()),
                };
                let _ = self.client.clone().close(Some(reason)).await;
                let _ = self.provider.send(Message::Close(None)).await;
            }
            Ended::Provider(reason) => {
                let reason = reason.or(Some(CloseReason {
                    code: CloseCode::Error,
                    description: Some("the provider's side of the session ended".into()),
                }));
                let _ = self.client.clone().close(reason).await;
            }
        }
        self.conversation.abandoned(&self.door).await;
        self.conversation.unstand(&self.door).await;
        if let Some(minute) = self.minute.take() {
            clock::settle(&self.door, minute).await;
        }
        if let Some(listed) = self.listed.take() {
            open::closed(&self.door, &self.ctx.caller.project, listed).await;
        }
        drop(self.alive);
        self.hold.release().await;
    }
}
