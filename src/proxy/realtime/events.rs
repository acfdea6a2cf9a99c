//! OpenAI's realtime events as the gateway reads and edits them: what a client event adds to
//! the conversation (text by its bound, audio by the longest its bytes can last), the session's
//! turn detection made to wait for the gateway (`create_response` off, the gateway creating
//! each response once it is held), and the `error` event a response that cannot be held gets.

use serde_json::{json, Map, Value};

use crate::proxy::call::tokens;
use crate::proxy::call::Limits;

/// Bytes a second of input audio takes at the least: G.711's 8 kHz of one byte a sample
/// (`audio/pcmu`, `audio/pcma`); PCM16 at 24 kHz takes six times as many.
pub(super) const LEAST_AUDIO_BYTES_PER_SECOND: u64 = 8_000;
/// PCM16 at 24 kHz, mono: the sessions' default input.
const PCM_BYTES_PER_SECOND: u64 = 48_000;

/// The type of an event, "" for none.
pub(super) fn kind(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The bytes per second of the session's input audio, as its configuration names its format
/// (GA's `audio.input.format.type`, the beta's `input_audio_format`); None where it names none.
pub(super) fn input_rate(session: &Value) -> Option<u64> {
    let named = session
        .pointer("/audio/input/format/type")
        .or_else(|| session.get("input_audio_format"))
        .and_then(Value::as_str)?;
    Some(match named {
        "audio/pcm" | "pcm16" => PCM_BYTES_PER_SECOND,
        _ => LEAST_AUDIO_BYTES_PER_SECOND,
    })
}

/// The audio tokens `bytes` of input audio at `rate` bytes a second can be, at `per_second`
/// tokens a second: whole hundredths of a second, rounded up.
pub(super) fn audio_tokens(bytes: u64, rate: u64, per_second: u64) -> u64 {
    let hundredths = bytes.saturating_mul(100).div_ceil(rate.max(1));
    hundredths.saturating_mul(per_second).div_ceil(100)
}

/// The decoded length of base64 `text`.
pub(super) fn decoded_len(text: &str) -> u64 {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count() as u64;
    ((text.len() as u64) / 4 * 3).saturating_sub(padding)
}

/// The input tokens `value` adds, at most: its text by its bound (an input the provider
/// fetches at the model's bound for it), every `audio` member (base64) by the longest its bytes
/// last at `rate`.
pub(super) fn input_tokens(value: &Value, limits: &Limits, (rate, per_second): (u64, u64)) -> u64 {
    let mut audio = 0u64;
    let text = without_audio(value, &mut audio);
    limits
        .held(tokens::bound(limits.counter, &text))
        .saturating_add(audio_tokens(audio, rate, per_second))
}

/// `value` without its `audio` members, their decoded bytes added to `audio`.
fn without_audio(value: &Value, audio: &mut u64) -> Value {
    match value {
        Value::Object(map) => {
            let mut kept = Map::new();
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("audio", Value::String(b64)) => *audio = audio.saturating_add(decoded_len(b64)),
                    _ => {
                        kept.insert(key.clone(), without_audio(item, audio));
                    }
                }
            }
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| without_audio(i, audio)).collect()),
        other => other.clone(),
    }
}

/// A session configuration's turn detection, where it names one: its object (GA's
/// `audio.input.turn_detection`, the beta's `turn_detection`), or None inside for `null`.
fn turn_detection(session: &mut Value) -> Option<&mut Value> {
    if session.pointer("/audio/input/turn_detection").is_some() {
        return session.pointer_mut("/audio/input/turn_detection");
    }
    session.get_mut("turn_detection")
}

/// Makes the session's turn detection wait for the gateway: `create_response` off where the
/// provider would start a response by itself. Whether the caller wants responses started at
/// each turn's end (which the gateway then creates, once held); None where the configuration
/// says nothing of turns.
pub(super) fn hold_turns(session: &mut Value) -> Option<bool> {
    let detection = turn_detection(session)?;
    let Value::Object(detection) = detection else {
        // No turn detection: the caller creates every response.
        return Some(false);
    };
    let wanted = detection
        .get("create_response")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    detection.insert("create_response".into(), Value::Bool(false));
    Some(wanted)
}

/// Shows the caller the turn detection it asked for: `create_response` as it wanted.
pub(super) fn show_turns(session: &mut Value, wanted: bool) {
    if let Some(Value::Object(detection)) = turn_detection(session) {
        if detection.contains_key("create_response") {
            detection.insert("create_response".into(), Value::Bool(wanted));
        }
    }
}

/// The `session.update` that makes a session's turn detection (`session`'s, already made to
/// wait) the provider's: only that, in the shape the provider used (GA's
/// `audio.input.turn_detection` with the session's `type`, or the beta's `turn_detection`).
pub(super) fn turns_update(session: &Value) -> Value {
    let mut update = Map::new();
    if let Some(kind) = session.get("type") {
        update.insert("type".into(), kind.clone());
    }
    match session.pointer("/audio/input/turn_detection") {
        Some(turns) => update.insert("audio".into(), json!({"input": {"turn_detection": turns}})),
        None => update.insert(
            "turn_detection".into(),
            session.get("turn_detection").cloned().unwrap_or(Value::Null),
        ),
    };
    json!({"type": "session.update", "event_id": own_event_id(), "session": update})
}

/// The session's own maximum output (`max_output_tokens`, the beta's
/// `max_response_output_tokens`): a number, or None for `"inf"` or none.
pub(super) fn session_max(session: &Value) -> Option<Option<u64>> {
    let named = session
        .get("max_output_tokens")
        .or_else(|| session.get("max_response_output_tokens"))?;
    Some(named.as_u64().filter(|n| *n > 0))
}

/// The `error` event a client event gets when the gateway will not pass it: in the provider's
/// shape (`error.type`, `code`, `message`, the client event's `event_id`), which the official
/// clients raise or hand to their error handlers.
pub(super) fn error_event(event_id: Option<&str>, code: &str, message: &str) -> String {
    json!({
        "type": "error",
        "event_id": own_event_id(),
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": null,
            "event_id": event_id,
        }
    })
    .to_string()
}

/// A new event id of the gateway's own, for an event it sends the provider.
pub(super) fn own_event_id() -> String {
    format!("event_qg{}", hex::encode(crate::secrets::id_bytes::<8>()))
}

/// The decoded bytes of an `input_audio_buffer.append`'s `audio`, without decoding it.
pub(super) fn appended_bytes(event: &Value) -> u64 {
    event.get("audio").and_then(Value::as_str).map_or(0, decoded_len)
}

/// A denial's code and message, read from the answer the door made for it.
pub(super) async fn said(answer: actix_web::HttpResponse) -> (String, String) {
    let body = actix_web::body::to_bytes(answer.into_body()).await.unwrap_or_default();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let error = value.get("error").unwrap_or(&value);
    let text = |name: &str, or: &str| error.get(name).and_then(Value::as_str).unwrap_or(or).to_string();
    (
        text("code", "insufficient_quota"),
        text("message", "the user's quota does not hold this response"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_held_at_the_longest_its_bytes_last() {
        // A second of PCM16 at 24 kHz is 10 tokens; the same bytes as G.711 last six seconds.
        assert_eq!(audio_tokens(48_000, PCM_BYTES_PER_SECOND, 10), 10);
        assert_eq!(audio_tokens(48_000, LEAST_AUDIO_BYTES_PER_SECOND, 10), 60);
        assert_eq!(audio_tokens(1, PCM_BYTES_PER_SECOND, 10), 1);
        assert_eq!(audio_tokens(32_000, 32_000, 25), 25);
        assert_eq!(decoded_len("AAAA"), 3);
        assert_eq!(decoded_len("AAA="), 2);
        let item = json!({"type": "message", "content": [{"type": "input_audio", "audio": "AAAAAAAA"}]});
        let limits = Limits {
            counter: tokens::Counter::Bytes,
            default_max: 1,
            fetched: 1,
            stored: 1,
        };
        let bare = json!({"type": "message", "content": [{"type": "input_audio"}]});
        assert_eq!(
            input_tokens(&item, &limits, (8_000, 10)),
            input_tokens(&bare, &limits, (8_000, 10)) + 1
        );
    }

    #[test]
    fn turns_wait_for_the_gateway_and_show_the_caller_what_it_asked() {
        let mut ga = json!({"audio": {"input": {"turn_detection": {"type": "server_vad"}}}});
        assert_eq!(hold_turns(&mut ga), Some(true));
        assert_eq!(
            ga.pointer("/audio/input/turn_detection/create_response"),
            Some(&json!(false))
        );
        show_turns(&mut ga, true);
        assert_eq!(
            ga.pointer("/audio/input/turn_detection/create_response"),
            Some(&json!(true))
        );
        let mut off = json!({"turn_detection": {"type": "server_vad", "create_response": false}});
        assert_eq!(hold_turns(&mut off), Some(false));
        assert_eq!(
            hold_turns(&mut json!({"audio": {"input": {"turn_detection": null}}})),
            Some(false)
        );
        assert_eq!(hold_turns(&mut json!({"instructions": "be brief"})), None);
        assert_eq!(session_max(&json!({"max_output_tokens": "inf"})), Some(None));
        assert_eq!(session_max(&json!({"max_output_tokens": 300})), Some(Some(300)));
    }
}
