//! Gemini's Live API (`BidiGenerateContent`) through a session's relay. The provider starts
//! each response itself, when its activity detection ends a turn or a client's turn completes,
//! and a Live session's maximum output is set once, in its `setup`: so the next response is
//! always held ahead of it, at the session's maximum (set in the `setup` the provider gets, the
//! model's where the caller named none) and at the input it may read, what the conversation is
//! and some headroom. Input that would pass what is held is held for first (a larger hold, the
//! smaller given back); each turn's `usageMetadata` settles its response and holds the next.
//! What cannot be held ends the session, closed with 1008 and why. Messages are JSON, the
//! provider's in binary frames: passed in the frames they came in.

use bytes::Bytes;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::events;
use super::open;
use super::relay::Relay;
use crate::proxy::call::usage::Usage;

/// Gemini's audio: 25 tokens a second, in and out.
pub(super) const AUDIO_TOKENS_PER_SECOND: u64 = 25;
/// The input a response is held for beyond what the conversation is: 30 s of audio.
const HEADROOM: u64 = 30 * AUDIO_TOKENS_PER_SECOND;
/// PCM16 at the rate a Live input names (`audio/pcm;rate=16000`), bytes a second; its default.
const DEFAULT_RATE_HZ: u64 = 16_000;

impl Relay {
    /// A client's Live message: read for what it adds (its setup holds the first response),
    /// then passed on as it came; false when the session must end (`self.refusal` says why).
    pub(super) async fn live_client(&mut self, raw: Bytes, binary: bool) -> bool {
        // One reading: the provider gets the message as the gateway read it; what is no JSON
        // ends the session, as Google ends one for it.
        let Ok(mut message) = serde_json::from_slice::<Value>(&raw) else {
            self.refusal = Some("a message is a JSON object".into());
            return false;
        };
        if let Some(setup) = message.get_mut("setup") {
            if !self.set_up(setup).await {
                return false;
            }
            self.tell_provider(Message::text(message.to_string())).await;
            return true;
        }
        self.added(&message);
        if self.session.is_some() && !self.conversation.covered() && !self.stand().await {
            return false;
        }
        self.tell_provider(frame(Bytes::from(message.to_string()), binary))
            .await;
        true
    }

    /// A provider's Live message: a turn's usage settles its response and holds the next;
    /// passed on as it came. False when the next cannot be held.
    pub(super) async fn live_provider(&mut self, raw: Bytes, binary: bool) -> bool {
        let message = serde_json::from_slice::<Value>(&raw).unwrap_or(Value::Null);
        if message.pointer("/serverContent/modelTurn").is_some() {
            self.conversation.underway = true;
        }
        let usage = message
            .get("usageMetadata")
            .filter(|u| u.as_object().is_some_and(|o| !o.is_empty()));
        let mut going = true;
        if let Some(usage) = usage {
            let session = self.session.clone().unwrap_or_default();
            self.conversation.stood(&self.door, of_usage(usage), &session).await;
            going = self.stand().await;
        }
        let _ = match binary {
            true => self.client.binary(raw).await,
            false => self.client.text(String::from_utf8_lossy(&raw).into_owned()).await,
        };
        going
    }

    /// The session's setup: its model's bounds, its maximum output set, its instructions and
    /// tools counted, and its first response held.
    async fn set_up(&mut self, setup: &mut Value) -> bool {
        let model = setup.get("model").and_then(Value::as_str).unwrap_or_default();
        let model = model.strip_prefix("models/").unwrap_or(model).to_string();
        let (limits, context) = super::bounds(&self.door, &self.ctx, &model);
        self.conversation.limits = limits;
        self.conversation.context = context;
        self.conversation.model = model;
        let config = match setup.get("generation_config").is_some() {
            true => "generation_config",
            false => "generationConfig",
        };
        let named = setup
            .get(config)
            .and_then(|c| c.get("maxOutputTokens").or_else(|| c.get("max_output_tokens")))
            .and_then(Value::as_u64)
            .filter(|n| *n > 0);
        let max = named.unwrap_or(limits.default_max);
        if let Some(Value::Object(config)) = setup
            .as_object_mut()
            .map(|s| s.entry(config).or_insert_with(|| Value::Object(Default::default())))
        {
            config.remove("max_output_tokens");
            config.insert("maxOutputTokens".into(), Value::from(max));
        }
        self.conversation.session_max = Some(max);
        self.conversation.add(setup);
        if !self.stand().await {
            return false;
        }
        let id = self.hold.id.as_str().to_string();
        self.listed = open::opened(&self.door, &self.ctx, &self.hold, &id).await;
        self.session = Some(id);
        true
    }

    /// What a client's message adds to the conversation: its audio (by the longest it lasts at
    /// its rate), its text and turns, its tools' results.
    fn added(&mut self, message: &Value) {
        let input = message.get("realtimeInput").or_else(|| message.get("realtime_input"));
        if let Some(input) = input {
            let chunks = input
                .get("mediaChunks")
                .or_else(|| input.get("media_chunks"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for blob in input.get("audio").into_iter().chain(chunks.iter()) {
                let hz = blob
                    .get("mimeType")
                    .or_else(|| blob.get("mime_type"))
                    .and_then(Value::as_str)
                    .and_then(|m| m.split("rate=").nth(1))
                    .and_then(|r| r.trim().parse::<u64>().ok())
                    .unwrap_or(DEFAULT_RATE_HZ);
                self.conversation.rate = hz.max(1) * 2;
                let bytes = blob.get("data").and_then(Value::as_str).map_or(0, events::decoded_len);
                self.conversation.add_audio(bytes);
            }
            if let Some(text) = input.get("text") {
                self.conversation.add(text);
            }
            return;
        }
        for name in ["clientContent", "client_content", "toolResponse", "tool_response"] {
            if let Some(part) = message.get(name) {
                self.conversation.add(part);
            }
        }
    }

    /// Holds the next response ahead (at the session's maximum); false, the session's end told
    /// why, when it cannot be.
    async fn stand(&mut self) -> bool {
        let max = self
            .conversation
            .session_max
            .unwrap_or(self.conversation.limits.default_max);
        match self.conversation.stand((&self.door, &self.ctx), max, HEADROOM).await {
            Ok(Ok(())) => true,
            Ok(Err(why)) => {
                self.refusal = Some(format!("the next response could not be held: {why}"));
                false
            }
            Err(err) => {
                self.refusal = Some(format!("the next response could not be held: {err}"));
                false
            }
        }
    }
}

/// A message in the kind of frame it came in.
fn frame(raw: Bytes, binary: bool) -> Message {
    match binary {
        true => Message::Binary(raw),
        false => Message::text(String::from_utf8_lossy(&raw).into_owned()),
    }
}

/// A Live turn's usage (`usageMetadata`): its prompt and response tokens, the cached part of
/// the prompt, and the audio of each (`promptTokensDetails`, `responseTokensDetails`, by
/// modality); audio priced as audio is what was not cached.
fn of_usage(usage: &Value) -> Usage {
    let count = |name: &str| usage.get(name).and_then(Value::as_u64);
    let audio = |name: &str| {
        usage.get(name).and_then(Value::as_array).map(|details| {
            details
                .iter()
                .filter(|d| d.get("modality").and_then(Value::as_str) == Some("AUDIO"))
                .filter_map(|d| d.get("tokenCount").and_then(Value::as_u64))
                .sum::<u64>()
        })
    };
    let cached_audio = audio("cacheTokensDetails").unwrap_or(0);
    let tool = count("toolUsePromptTokenCount").unwrap_or(0);
    Usage {
        input_tokens: count("promptTokenCount").map(|p| p.saturating_add(tool)),
        output_tokens: count("responseTokenCount").or(Some(0)),
        cached_input_tokens: count("cachedContentTokenCount"),
        audio_input_tokens: audio("promptTokensDetails").map(|a| a.saturating_sub(cached_audio)),
        audio_output_tokens: audio("responseTokensDetails"),
        ..Usage::default()
    }
}
