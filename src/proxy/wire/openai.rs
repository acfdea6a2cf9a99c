//! OpenAI's format, spoken by OpenAI and by any server compatible with it (a model served on the
//! same host, a router): chat completions, Responses, embeddings, image generation, and audio
//! (transcriptions and translations of an upload, speech). Chat streams report usage only when
//! asked (`stream_options.include_usage`), in a last chunk with no choices; Responses streams in
//! their `response.completed` event, a transcription's in `transcript.text.done`, speech's in
//! `speech.audio.done`.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{count, counted, jobs, texts, upload, Counted, Event, Free, Wire};
use crate::proxy::call::tokens::{self, Counter, IMAGE_TOKENS};
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::wire::Named;
use crate::proxy::call::Audio;
use crate::proxy::call::{positive, required, wrong, Asked, BodyError, Call, Limits, Operation};
use crate::proxy::splice;

/// Audio tokens a second of input audio is held at: OpenAI counts audio in tokens of 100 ms (a
/// transcription model's 16,000-token context holds its longest input, 1,500 s, at this rate).
pub(crate) const AUDIO_TOKENS_PER_SECOND: u64 = 10;
/// Speech's audio output tokens a minute: gpt-4o-mini-tts's $12 a million is its $0.015 a
/// minute, so 1,250 (a little under 21 a second).
const SPEECH_TOKENS_PER_MINUTE: u64 = 1_250;

/// `compatible`: another server speaking the format, whose chat may not know OpenAI's newer
/// `max_completion_tokens` (a clamp then lowers `max_tokens`). `azure`: Azure OpenAI, the same
/// bodies at Azure's paths, a deployment's (`openai/deployments/{deployment}/...`, as the
/// `AzureOpenAI` clients call them) or the `openai/v1` paths and `openai/responses`, whose body
/// names the deployment as its model; its key in `api-key`, or with `entra` an Entra ID token
/// as a bearer token.
pub(crate) struct OpenAi {
    pub compatible: bool,
    pub azure: bool,
    pub entra: bool,
}

/// Azure OpenAI's counted paths: the star is the deployment, held as the model it serves.
const AZURE_COUNTED: [Counted; 18] = [
    counted("POST", "openai/deployments/*/chat/completions", Operation::Chat),
    counted("POST", "openai/deployments/*/embeddings", Operation::Embeddings),
    counted("POST", "openai/deployments/*/images/generations", Operation::Images),
    upload("POST", "openai/deployments/*/images/edits", Operation::Images),
    upload(
        "POST",
        "openai/deployments/*/audio/transcriptions",
        Operation::Transcriptions,
    ),
    upload(
        "POST",
        "openai/deployments/*/audio/translations",
        Operation::Translations,
    ),
    counted("POST", "openai/deployments/*/audio/speech", Operation::Speech),
    counted("POST", "openai/responses", Operation::Responses),
    counted("POST", "openai/v1/chat/completions", Operation::Chat),
    counted("POST", "openai/v1/responses", Operation::Responses),
    counted("POST", "openai/v1/embeddings", Operation::Embeddings),
    counted("POST", "openai/v1/images/generations", Operation::Images),
    upload("POST", "openai/v1/images/edits", Operation::Images),
    upload("POST", "openai/v1/audio/transcriptions", Operation::Transcriptions),
    upload("POST", "openai/v1/audio/translations", Operation::Translations),
    counted("POST", "openai/v1/audio/speech", Operation::Speech),
    // A realtime session: its deployment in the query (`deployment`, or `model` under `v1`).
    counted("GET", "openai/realtime", Operation::Realtime),
    counted("GET", "openai/v1/realtime", Operation::Realtime),
];

impl Wire for OpenAi {
    fn counted(&self) -> &'static [Counted] {
        if self.azure {
            return &AZURE_COUNTED;
        }
        const COUNTED: [Counted; 9] = [
            counted("POST", "v1/chat/completions", Operation::Chat),
            counted("POST", "v1/responses", Operation::Responses),
            counted("POST", "v1/embeddings", Operation::Embeddings),
            counted("POST", "v1/images/generations", Operation::Images),
            // An edit's form is read whole: its images are counted before its hold.
            upload("POST", "v1/images/edits", Operation::Images),
            upload("POST", "v1/audio/transcriptions", Operation::Transcriptions),
            upload("POST", "v1/audio/translations", Operation::Translations),
            counted("POST", "v1/audio/speech", Operation::Speech),
            // A WebSocket: its session, and each response in it (`realtime/`).
            counted("GET", "v1/realtime", Operation::Realtime),
        ];
        &COUNTED
    }

    fn free(&self) -> &'static [Free] {
        if self.azure {
            return &[
                ("GET", "openai/models"),
                ("GET", "openai/models/*"),
                ("GET", "openai/v1/models"),
                ("GET", "openai/v1/models/*"),
            ];
        }
        &[("GET", "v1/models"), ("GET", "v1/models/*")]
    }

    fn jobs(&self) -> &'static [jobs::Entry] {
        if self.azure {
            return jobs::AZURE;
        }
        jobs::OPENAI
    }

    fn own_path(&self, path: &str) -> String {
        match self.azure {
            true => format!("openai/v1/{}", path.strip_prefix("v1/").unwrap_or(path)),
            false => path.to_string(),
        }
    }

    fn counter(&self, model: &str) -> Counter {
        tokens::counter_for(model, true)
    }

    fn asked(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError> {
        let mut asked = Asked::default();
        let worst = &mut asked.worst;
        match operation {
            Operation::Chat => {
                let n = positive(body, "n")?.unwrap_or(1);
                asked.choices = n;
                let max = match positive(body, "max_completion_tokens")? {
                    Some(max) => Some(("max_completion_tokens", max)),
                    None => positive(body, "max_tokens")?.map(|max| ("max_tokens", max)),
                };
                asked.max_field = max.map(|(field, _)| field);
                asked.caller_wants_usage = body
                    .get("stream_options")
                    .and_then(|o| o.get("include_usage"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                worst.input_tokens = Some(limits.body(body));
                let max = max.map_or(limits.default_max, |(_, max)| max);
                worst.output_tokens = Some(max.saturating_mul(n));
            }
            Operation::Responses => {
                let max = positive(body, "max_output_tokens")?;
                asked.max_field = max.map(|_| "max_output_tokens");
                // A stored conversation's input is the provider's, unseen here: held at the
                // model's context window on top of what is sent, until a previous response's
                // own size is read from the provider (`understand.rs`).
                let stored = ["previous_response_id", "conversation", "prompt"]
                    .iter()
                    .any(|k| body.get(*k).is_some_and(|v| !v.is_null()));
                let unseen = if stored { limits.stored } else { 0 };
                asked.unseen = unseen;
                worst.input_tokens = Some(limits.body(body).saturating_add(unseen));
                worst.output_tokens = Some(max.unwrap_or(limits.default_max));
            }
            Operation::Embeddings => {
                worst.input_tokens = Some(limits.value(required(body, "input")?));
                worst.output_tokens = Some(0);
            }
            Operation::Images => {
                let n = positive(body, "n")?.unwrap_or(1);
                worst.input_tokens = Some(limits.value(required(body, "prompt")?));
                // gpt-image-1's largest image is 6,240 output tokens.
                worst.output_tokens = Some(n.saturating_mul(IMAGE_TOKENS + 240));
                worst.images = Some(n);
            }
            Operation::Speech => {
                // Held at its characters (a per-character price) and at its tokens with the
                // output at the model's limit (a token price): its price reads the one it has.
                let input = required(body, "input")?;
                let text = input.as_str().ok_or_else(|| wrong("input", "must be text"))?;
                let characters = text.chars().count() as u64;
                worst.input_characters = Some(characters);
                asked.measured.input_characters = Some(characters);
                let instructions = body.get("instructions").map_or(0, |i| limits.value(i));
                worst.input_tokens = Some(limits.value(input).saturating_add(instructions));
                worst.output_tokens = Some(limits.default_max);
                worst.audio_output_tokens = worst.output_tokens;
                asked.stream = Some(body.get("stream_format").and_then(Value::as_str) == Some("sse"));
            }
            Operation::Messages
            | Operation::Converse
            | Operation::Embed
            | Operation::Cache
            | Operation::Generate
            | Operation::Transcriptions
            | Operation::Translations
            | Operation::Batches
            | Operation::Videos
            | Operation::Job
            | Operation::Uncounted
            // A realtime response's worst case is its conversation's, which its session reads.
            | Operation::Realtime
            | Operation::RealtimeMinute
            | Operation::RealtimeResponse => {}
        }
        Ok(asked)
    }

    /// A transcription or translation: held at the seconds its header states (else its size's
    /// bound), as audio tokens too (at most the model's context), with its prompt's tokens and
    /// the output at the model's limit. `fields` holds only those an upload is priced from
    /// (`body/upload.rs`'s `PRICED`, which the form is sealed against once held).
    fn asked_of_upload(
        &self,
        operation: Operation,
        fields: &Map<String, Value>,
        audio: &Audio,
        limits: &Limits,
    ) -> Result<Asked, BodyError> {
        if operation == Operation::Images {
            return edited(fields, limits);
        }
        if !matches!(operation, Operation::Transcriptions | Operation::Translations) {
            return Err(wrong("body", "is an upload this path does not take"));
        }
        let mut asked = Asked::default();
        let seconds = audio.held_seconds;
        let audio_tokens = seconds.saturating_mul(AUDIO_TOKENS_PER_SECOND).min(limits.fetched);
        let prompt = fields.get("prompt").map_or(0, |p| limits.value(p));
        let worst = &mut asked.worst;
        worst.audio_seconds = Some(seconds);
        worst.audio_input_tokens = Some(audio_tokens);
        worst.input_tokens = Some(audio_tokens.saturating_add(prompt));
        worst.output_tokens = Some(limits.default_max);
        asked.measured.audio_seconds = audio.seconds;
        Ok(asked)
    }

    fn form_read_whole(&self, operation: Operation) -> bool {
        operation == Operation::Images
    }

    /// A response that continues a stored one alone (no conversation or stored prompt beside
    /// it, whose size no read tells): the stored response, whose usage is its conversation's size.
    fn referenced(&self, operation: Operation, body: &Map<String, Value>) -> Option<String> {
        let named = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
        if operation != Operation::Responses || named("conversation") || named("prompt") {
            return None;
        }
        let id = body.get("previous_response_id")?.as_str()?;
        super::path_id(id).then(|| format!("v1/responses/{id}"))
    }

    /// A stored response's conversation: its input and its output, which the next input carries.
    fn referenced_tokens(&self, object: &Value) -> Option<u64> {
        let usage = object.get("usage")?;
        let input = usage.get("input_tokens")?.as_u64()?;
        let output = usage.get("output_tokens")?.as_u64()?;
        Some(input.saturating_add(output))
    }

    fn named_objects(&self, operation: Operation, body: &Map<String, Value>, _upstream: &Upstream) -> Vec<Named> {
        super::named::openai(operation, body)
    }

    fn kept(&self, operation: Operation, answer: &Value) -> Option<String> {
        (operation == Operation::Responses).then(|| super::named::openai_kept(answer))?
    }

    fn max_output_field(&self, operation: Operation) -> Option<&'static str> {
        match operation {
            Operation::Chat if self.compatible => Some("max_tokens"),
            Operation::Chat => Some("max_completion_tokens"),
            Operation::Responses => Some("max_output_tokens"),
            // A realtime response's, in its `response.create` event.
            Operation::RealtimeResponse => Some("response.max_output_tokens"),
            _ => None,
        }
    }

    /// A chat stream reports usage only when asked: the gateway asks (and removes the usage
    /// chunk from a caller that had not).
    fn forwarded_body(&self, call: &Call, body: Bytes) -> Bytes {
        if call.stream && call.operation == Operation::Chat && !call.caller_wants_usage {
            if let Some(spliced) = splice::set(&body, &["stream_options", "include_usage"], "true") {
                return Bytes::from(spliced);
            }
        }
        body
    }

    fn hides_gateway_usage(&self, call: &Call) -> bool {
        call.stream && call.operation == Operation::Chat && !call.caller_wants_usage
    }

    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        credential: Option<&str>,
        _sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder {
        match credential {
            Some(credential) if self.azure && !self.entra => request.header("api-key", credential),
            Some(credential) => request.bearer_auth(credential),
            None => request,
        }
    }

    fn request_id_header(&self) -> &'static str {
        "x-request-id"
    }

    fn socket_credential(&self, credential: &str) -> (&'static str, String) {
        match self.azure && !self.entra {
            true => ("api-key", credential.to_string()),
            false => ("authorization", format!("Bearer {credential}")),
        }
    }

    fn usage_of_answer(&self, operation: Operation, body: &Value) -> Usage {
        let usage = body.get("usage").filter(|u| u.is_object());
        if is_audio(operation) {
            return usage.map(|u| of_audio(operation, u)).unwrap_or_default();
        }
        if operation == Operation::RealtimeResponse {
            return usage.map(of_realtime).unwrap_or_default();
        }
        let mut u = usage.map(of_usage).unwrap_or_default();
        match operation {
            Operation::Embeddings => u.output_tokens = u.input_tokens.map(|_| 0),
            Operation::Images => u.images = body.get("data").and_then(Value::as_array).map(|d| d.len() as u64),
            _ => {}
        }
        u
    }

    fn delivered_audio(&self, operation: Operation, audio_ms: u64) -> Usage {
        if operation != Operation::Speech {
            return Usage::default();
        }
        let tokens = audio_ms.saturating_mul(SPEECH_TOKENS_PER_MINUTE).div_ceil(60_000);
        Usage {
            output_tokens: Some(tokens),
            audio_output_tokens: Some(tokens),
            ..Usage::default()
        }
    }

    /// A chat chunk reports usage under its `usage` key (a key's quotes are never escaped in
    /// JSON text, so the key cannot hide); a chunk without one carries only deltas.
    fn reads_event_at_once(&self, operation: Operation, data: &str) -> bool {
        operation != Operation::Chat || data.contains("\"usage\"")
    }

    fn usage_of_event(&self, operation: Operation, event: Option<&str>, data: &Value, seen: &mut Usage) -> Event {
        match operation {
            Operation::Chat => {
                let Some(usage) = data.get("usage").filter(|u| u.is_object()) else {
                    return Event::default();
                };
                seen.update(of_usage(usage));
                Event {
                    gateway_only: data.get("choices").and_then(Value::as_array).is_some_and(Vec::is_empty),
                    last: false,
                }
            }
            Operation::Responses => {
                let kind = event.or_else(|| data.get("type").and_then(Value::as_str));
                let ends = matches!(
                    kind,
                    Some("response.completed" | "response.incomplete" | "response.failed")
                );
                if ends {
                    if let Some(usage) = data
                        .get("response")
                        .and_then(|r| r.get("usage"))
                        .filter(|u| u.is_object())
                    {
                        seen.update(of_usage(usage));
                    }
                }
                Event {
                    gateway_only: false,
                    last: ends,
                }
            }
            Operation::Images => {
                let done = data.get("type").and_then(Value::as_str) == Some("image_generation.completed");
                if done {
                    if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
                        seen.update(of_usage(usage));
                    }
                    seen.images = Some(seen.images.unwrap_or(0) + 1);
                }
                Event::default()
            }
            Operation::Transcriptions | Operation::Translations | Operation::Speech => {
                let kind = event.or_else(|| data.get("type").and_then(Value::as_str));
                let done = matches!(kind, Some("transcript.text.done" | "speech.audio.done"));
                if let Some(usage) = data.get("usage").filter(|u| u.is_object() && done) {
                    seen.update(of_audio(operation, usage));
                }
                Event {
                    gateway_only: false,
                    last: done,
                }
            }
            Operation::Embeddings
            | Operation::Messages
            | Operation::Converse
            | Operation::Embed
            | Operation::Cache
            | Operation::Generate
            | Operation::Batches
            | Operation::Videos
            | Operation::Job
            | Operation::Uncounted
            | Operation::Realtime
            | Operation::RealtimeMinute
            | Operation::RealtimeResponse => Event::default(),
        }
    }

    fn streamed_text(&self, operation: Operation, data: &Value, each: &mut dyn FnMut(&str)) {
        match operation {
            Operation::Chat => {
                for choice in data.get("choices").and_then(Value::as_array).into_iter().flatten() {
                    let delta = choice.get("delta");
                    texts(delta, &["content", "refusal", "reasoning_content", "reasoning"], each);
                    let calls = delta.and_then(|d| d.get("tool_calls")).and_then(Value::as_array);
                    for call in calls.into_iter().flatten() {
                        texts(call.get("function"), &["arguments"], each);
                    }
                }
            }
            Operation::Responses | Operation::Transcriptions | Operation::Translations => {
                let delta = data
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with(".delta"));
                if delta {
                    texts(Some(data), &["delta"], each);
                }
            }
            _ => {}
        }
    }

    /// `400 {"error": {"code": "context_length_exceeded"}}`.
    fn context_too_long(&self, status: u16, body: &Value) -> bool {
        status == 400 && body.pointer("/error/code").and_then(Value::as_str) == Some("context_length_exceeded")
    }

    fn error_body(&self, status: u16, code: &str, message: &str, param: Option<&str>) -> Value {
        let kind = match status {
            401 => "authentication_error",
            403 => "permission_error",
            429 if code == "insufficient_quota" => "insufficient_quota",
            429 => "requests",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        };
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
    }

    /// The Responses API's `error` event, or for chat a data line with an `error`.
    fn stream_error(&self, operation: Operation, code: &str, message: &str) -> Vec<u8> {
        if operation == Operation::Responses {
            let data = json!({"type": "error", "code": code, "message": message, "param": null,
                              "error": {"type": "server_error", "code": code, "message": message}});
            format!("event: error\ndata: {data}\n\n").into_bytes()
        } else {
            let data = json!({"error": {"message": message, "type": "server_error", "param": null, "code": code}});
            format!("data: {data}\n\n").into_bytes()
        }
    }
}

/// An image edit's worst case, from its form read whole: `n` images out (at most 10), as a
/// generation's; in, the prompt's tokens and each image and mask part at an image's most
/// (`IMAGE_TOKENS`), as the proxy holds an image it does not read.
fn edited(fields: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError> {
    let count = |name: &str| match fields.get(name) {
        None => Ok(0),
        Some(Value::Number(n)) => Ok(n.as_u64().unwrap_or(0)),
        Some(_) => Err(wrong(name, "must be a file")),
    };
    let images = count("image")?;
    if images == 0 {
        return Err(wrong("image", "is required: one file, or several as image[]"));
    }
    let mask = count("mask")?;
    let n = match fields.get("n") {
        None => 1,
        Some(v) => v
            .as_str()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|n| (1..=10).contains(n))
            .ok_or_else(|| wrong("n", "must be a whole number from 1 to 10"))?,
    };
    let prompt = fields
        .get("prompt")
        .filter(|p| p.is_string())
        .ok_or_else(|| wrong("prompt", "is required"))?;
    let mut asked = Asked::default();
    let worst = &mut asked.worst;
    let pictures = (images + mask).saturating_mul(IMAGE_TOKENS);
    worst.input_tokens = Some(limits.value(prompt).saturating_add(pictures));
    worst.output_tokens = Some(n.saturating_mul(IMAGE_TOKENS + 240));
    worst.images = Some(n);
    Ok(asked)
}

/// OpenAI's usage object (chat's prompt/completion names, or Responses' and images' input/output).
fn of_usage(usage: &Value) -> Usage {
    let first = |a: &[&str], b: &[&str]| count(usage, a).or_else(|| count(usage, b));
    Usage {
        input_tokens: first(&["prompt_tokens"], &["input_tokens"]),
        output_tokens: first(&["completion_tokens"], &["output_tokens"]),
        cached_input_tokens: first(
            &["prompt_tokens_details", "cached_tokens"],
            &["input_tokens_details", "cached_tokens"],
        ),
        cache_write_tokens: None,
        reasoning_tokens: first(
            &["completion_tokens_details", "reasoning_tokens"],
            &["output_tokens_details", "reasoning_tokens"],
        ),
        images: None,
        cost_nano: usage.get("cost").and_then(nano_dollars),
        ..Usage::default()
    }
}

/// A realtime response's usage (its `response.done`): tokens in and out, with the cached and
/// audio tokens of the input (`input_token_details`) and the audio of the output
/// (`output_token_details`). Cached tokens are text and audio both: the audio priced as audio
/// is what was not cached, so the input's parts never overlap (and the whole is not priced at
/// the dearest of its prices).
fn of_realtime(usage: &Value) -> Usage {
    let audio = count(usage, &["input_token_details", "audio_tokens"]);
    let cached_audio = count(usage, &["input_token_details", "cached_tokens_details", "audio_tokens"]).unwrap_or(0);
    Usage {
        input_tokens: count(usage, &["input_tokens"]),
        output_tokens: count(usage, &["output_tokens"]),
        cached_input_tokens: count(usage, &["input_token_details", "cached_tokens"]),
        audio_input_tokens: audio.map(|a| a.saturating_sub(cached_audio)),
        audio_output_tokens: count(usage, &["output_token_details", "audio_tokens"]),
        ..Usage::default()
    }
}

fn is_audio(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::Transcriptions | Operation::Translations | Operation::Speech
    )
}

/// An audio call's usage: `{"type": "duration", "seconds"}` (whisper-1's, whole seconds
/// rounded up), or `{"type": "tokens", "input_tokens", "output_tokens",
/// "input_token_details": {"audio_tokens"}}`; speech's output is all audio.
fn of_audio(operation: Operation, usage: &Value) -> Usage {
    let mut u = Usage {
        input_tokens: count(usage, &["input_tokens"]),
        output_tokens: count(usage, &["output_tokens"]),
        audio_input_tokens: count(usage, &["input_token_details", "audio_tokens"]),
        audio_seconds: usage.get("seconds").and_then(Value::as_f64).and_then(whole_seconds),
        cost_nano: usage.get("cost").and_then(nano_dollars),
        ..Usage::default()
    };
    if operation == Operation::Speech {
        u.audio_output_tokens = u.output_tokens;
    }
    u
}

/// Seconds as whole seconds rounded up; None for what is no length.
fn whole_seconds(seconds: f64) -> Option<u64> {
    (seconds.is_finite() && (0.0..1e12).contains(&seconds)).then(|| seconds.ceil() as u64)
}

/// A cost in dollars (at most 9 decimals, as OpenRouter reports it) as nano-dollars.
fn nano_dollars(cost: &Value) -> Option<u64> {
    match cost {
        Value::Number(n) => crate::quota::amount::parse_scaled(&n.to_string(), 9, u64::MAX / 2).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_realtime_responses_cached_audio_is_priced_as_cached_not_as_audio_too() {
        let usage = serde_json::json!({"input_tokens": 100, "output_tokens": 20,
            "input_token_details": {"text_tokens": 40, "audio_tokens": 60, "cached_tokens": 50,
                "cached_tokens_details": {"text_tokens": 20, "audio_tokens": 30}},
            "output_token_details": {"text_tokens": 4, "audio_tokens": 16}});
        let u = of_realtime(&usage);
        assert_eq!(
            (
                u.input_tokens,
                u.cached_input_tokens,
                u.audio_input_tokens,
                u.output_tokens,
                u.audio_output_tokens
            ),
            (Some(100), Some(50), Some(30), Some(20), Some(16))
        );
    }

    /// An edit holds each image and the mask at an image's most and `n` images out; the form's
    /// counts are numbers, its fields text, as `understand.rs` reads them.
    #[test]
    fn an_image_edit_is_held_per_image() {
        let limits = Limits {
            counter: Counter::Bytes,
            default_max: 1,
            fetched: 1,
            stored: 1,
        };
        let form = |v: Value| v.as_object().unwrap().clone();
        let asked = edited(
            &form(json!({"prompt": "hat", "n": "2", "image": 2, "mask": 1})),
            &limits,
        )
        .unwrap();
        assert_eq!(
            asked.worst.input_tokens,
            Some(limits.value(&json!("hat")) + 3 * IMAGE_TOKENS)
        );
        assert_eq!(
            (asked.worst.images, asked.worst.output_tokens),
            (Some(2), Some(2 * (IMAGE_TOKENS + 240)))
        );
        let refused = |v: Value| edited(&form(v), &limits).unwrap_err().field;
        assert_eq!(refused(json!({"prompt": "hat"})), "image");
        assert_eq!(refused(json!({"prompt": "hat", "image": "text"})), "image");
        assert_eq!(refused(json!({"prompt": "hat", "image": 1, "n": "11"})), "n");
        assert_eq!(refused(json!({"image": 1})), "prompt");
    }

    fn read(operation: Operation, data: Value) -> Vec<String> {
        let mut all = Vec::new();
        OpenAi {
            compatible: false,
            azure: false,
            entra: false,
        }
        .streamed_text(operation, &data, &mut |t| all.push(t.to_string()));
        all
    }

    #[test]
    fn the_text_streamed_is_read_from_each_kind_of_delta() {
        assert_eq!(
            read(
                Operation::Chat,
                json!({"choices": [{"delta": {"content": "a", "tool_calls": [{"function": {"arguments": "{\"x\""}}]}}]})
            ),
            ["a", "{\"x\""]
        );
        assert_eq!(
            read(
                Operation::Responses,
                json!({"type": "response.output_text.delta", "delta": "b"})
            ),
            ["b"]
        );
        assert!(read(Operation::Chat, json!({"choices": [], "usage": {}})).is_empty());
    }

    #[test]
    fn only_chats_usage_chunk_is_the_one_to_remove_and_an_explicit_zero_is_zero() {
        let wire = OpenAi {
            compatible: false,
            azure: false,
            entra: false,
        };
        let mut seen = Usage::default();
        let content = json!({"choices": [{"delta": {"content": "hi"}}], "usage": null});
        assert!(
            !wire
                .usage_of_event(Operation::Chat, None, &content, &mut seen)
                .gateway_only
        );
        let usage = json!({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}});
        assert!(
            wire.usage_of_event(Operation::Chat, None, &usage, &mut seen)
                .gateway_only
        );
        assert_eq!(seen.quantity(Operation::Chat), 6);
        let mut zero = Usage::default();
        let zeros = json!({"choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0}});
        wire.usage_of_event(Operation::Chat, None, &zeros, &mut zero);
        assert_eq!((zero.input_tokens, zero.output_tokens), (Some(0), Some(0)));
        assert!(zero.reported());
    }

    #[test]
    fn audio_usage_is_read_in_seconds_or_tokens_from_answers_and_done_events() {
        let wire = OpenAi {
            compatible: false,
            azure: false,
            entra: false,
        };
        let whisper = wire.usage_of_answer(
            Operation::Transcriptions,
            &json!({"text": "hi", "usage": {"type": "duration", "seconds": 8.2}}),
        );
        assert_eq!((whisper.audio_seconds, whisper.input_tokens), (Some(9), None));
        assert!(whisper.reported());
        let tokens = json!({"type": "tokens", "input_tokens": 70, "output_tokens": 12,
            "input_token_details": {"text_tokens": 5, "audio_tokens": 65}});
        let transcribed = wire.usage_of_answer(Operation::Transcriptions, &json!({"text": "hi", "usage": tokens}));
        assert_eq!(
            (
                transcribed.input_tokens,
                transcribed.audio_input_tokens,
                transcribed.output_tokens
            ),
            (Some(70), Some(65), Some(12))
        );
        let mut seen = Usage::default();
        let delta = json!({"type": "transcript.text.delta", "delta": "hi"});
        assert!(
            !wire
                .usage_of_event(Operation::Transcriptions, None, &delta, &mut seen)
                .last
        );
        let done = json!({"type": "transcript.text.done", "text": "hi", "usage": tokens});
        assert!(
            wire.usage_of_event(Operation::Transcriptions, None, &done, &mut seen)
                .last
        );
        assert_eq!(seen.audio_input_tokens, Some(65));
        let mut spoken = Usage::default();
        let done = json!({"type": "speech.audio.done", "usage": {"input_tokens": 9, "output_tokens": 300, "total_tokens": 309}});
        wire.usage_of_event(Operation::Speech, Some("speech.audio.done"), &done, &mut spoken);
        assert_eq!(
            (spoken.output_tokens, spoken.audio_output_tokens),
            (Some(300), Some(300))
        );
    }
}
