//! Anthropic's Messages format. Its usage leaves cache reads and writes out of `input_tokens`
//! (here they are in); a stream's usage is a running total, in `message_start` and each
//! `message_delta`, final at `message_stop`.

use serde_json::{json, Map, Value};

use super::{count, counted, jobs, texts, Counted, Event, Final, Free, Wire};
use crate::proxy::call::tokens::{self, Counter};
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{positive, Asked, BodyError, Limits, Operation};

/// The API version sent when the caller names none.
const VERSION: &str = "2023-06-01";

pub(crate) struct Anthropic;

impl Wire for Anthropic {
    fn counted(&self) -> &'static [Counted] {
        const COUNTED: [Counted; 1] = [counted("POST", "v1/messages", Operation::Messages)];
        &COUNTED
    }

    fn free(&self) -> &'static [Free] {
        &[
            ("GET", "v1/models"),
            ("GET", "v1/models/*"),
            ("POST", "v1/messages/count_tokens"),
        ]
    }

    fn jobs(&self) -> &'static [jobs::Entry] {
        jobs::ANTHROPIC
    }

    fn counter(&self, model: &str) -> Counter {
        tokens::counter_for(model, false)
    }

    fn asked(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError> {
        let mut asked = Asked::default();
        if operation == Operation::Messages {
            let max = positive(body, "max_tokens")?;
            asked.max_field = max.map(|_| "max_tokens");
            asked.worst.input_tokens = Some(limits.body(body));
            asked.worst.output_tokens = Some(max.unwrap_or(limits.default_max));
        }
        Ok(asked)
    }

    fn max_output_field(&self, operation: Operation) -> Option<&'static str> {
        (operation == Operation::Messages).then_some("max_tokens")
    }

    fn authorize(
        &self,
        mut request: reqwest::RequestBuilder,
        credential: Option<&str>,
        sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder {
        if let Some(credential) = credential {
            request = request.header("x-api-key", credential);
        }
        if !sent.contains_key("anthropic-version") {
            request = request.header("anthropic-version", VERSION);
        }
        request
    }

    fn request_id_header(&self) -> &'static str {
        "request-id"
    }

    fn usage_of_answer(&self, _operation: Operation, body: &Value) -> Usage {
        body.get("usage")
            .filter(|u| u.is_object())
            .map(of_usage)
            .unwrap_or_default()
    }

    /// Usage comes in `message_start` and `message_delta`, each under a `usage` key, and the
    /// stream ends at `message_stop`; the other events (a content block's start, deltas, stop,
    /// pings) say neither.
    fn reads_event_at_once(&self, _operation: Operation, data: &str) -> bool {
        data.contains("\"usage\"") || data.contains("\"message_stop\"")
    }

    fn usage_of_event(&self, _operation: Operation, _event: Option<&str>, data: &Value, seen: &mut Usage) -> Event {
        let kind = data.get("type").and_then(Value::as_str);
        let usage = match kind {
            Some("message_start") => data.get("message").and_then(|m| m.get("usage")),
            Some("message_delta") => data.get("usage"),
            _ => None,
        };
        if let Some(usage) = usage.filter(|u| u.is_object()) {
            // Each delta is cumulative; a count it leaves out keeps its earlier value.
            let mut update = of_usage(usage);
            if usage.get("input_tokens").is_none() {
                update.input_tokens = None;
                update.cached_input_tokens = None;
                update.cache_write_tokens = None;
            }
            seen.update(update);
        }
        Event {
            gateway_only: false,
            last: kind == Some("message_stop"),
        }
    }

    fn final_usage(&self, _operation: Operation) -> Final {
        Final::LastEvent
    }

    fn streamed_text(&self, _operation: Operation, data: &Value, each: &mut dyn FnMut(&str)) {
        if data.get("type").and_then(Value::as_str) == Some("content_block_delta") {
            texts(data.get("delta"), &["text", "partial_json", "thinking"], each);
        }
    }

    /// `400 invalid_request_error` whose message says "prompt is too long".
    fn context_too_long(&self, status: u16, body: &Value) -> bool {
        status == 400
            && body.pointer("/error/type").and_then(Value::as_str) == Some("invalid_request_error")
            && body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.to_ascii_lowercase().contains("prompt is too long"))
    }

    fn error_body(&self, status: u16, _code: &str, message: &str, _param: Option<&str>) -> Value {
        let kind = match status {
            400 | 409 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            _ => "api_error",
        };
        json!({"type": "error", "error": {"type": kind, "message": message}})
    }

    fn stream_error(&self, _operation: Operation, _code: &str, message: &str) -> Vec<u8> {
        let data = json!({"type": "error", "error": {"type": "api_error", "message": message}});
        format!("event: error\ndata: {data}\n\n").into_bytes()
    }
}

/// Anthropic's usage object, cache reads and writes counted into the input.
fn of_usage(usage: &Value) -> Usage {
    usage_counts(
        count(usage, &["input_tokens"]),
        count(usage, &["output_tokens"]),
        count(usage, &["cache_read_input_tokens"]),
        count(usage, &["cache_creation_input_tokens"]),
    )
}

/// Usage reported as Anthropic counts it (the input apart from the cache's reads and writes),
/// with those counted into the input: Anthropic's, and Bedrock's Converse.
pub(super) fn usage_counts(plain: Option<u64>, output: Option<u64>, read: Option<u64>, written: Option<u64>) -> Usage {
    let input = plain.map(|p| p + read.unwrap_or(0) + written.unwrap_or(0));
    Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: read.or(input.map(|_| 0)),
        cache_write_tokens: written.or(input.map(|_| 0)),
        reasoning_tokens: None,
        images: None,
        cost_nano: None,
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_reads_and_writes_count_as_input() {
        let u = Anthropic.usage_of_answer(
            Operation::Messages,
            &json!({"usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}}),
        );
        assert_eq!(
            (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens),
            (Some(115), Some(100), Some(5))
        );
    }

    #[test]
    fn deltas_are_cumulative_and_the_stop_is_the_last() {
        let mut seen = Usage::default();
        let start = json!({"type": "message_start", "message": {"usage": {"input_tokens": 20, "output_tokens": 1}}});
        Anthropic.usage_of_event(Operation::Messages, Some("message_start"), &start, &mut seen);
        for output in [7, 12] {
            let delta = json!({"type": "message_delta", "usage": {"output_tokens": output}});
            Anthropic.usage_of_event(Operation::Messages, None, &delta, &mut seen);
        }
        assert_eq!((seen.input_tokens, seen.output_tokens), (Some(20), Some(12)));
        let stop = json!({"type": "message_stop"});
        assert!(
            Anthropic
                .usage_of_event(Operation::Messages, None, &stop, &mut seen)
                .last
        );
    }

    #[test]
    fn the_text_streamed_is_read_from_deltas() {
        let mut all = Vec::new();
        let data = json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "c"}});
        Anthropic.streamed_text(Operation::Messages, &data, &mut |t| all.push(t.to_string()));
        assert_eq!(all, ["c"]);
    }
}
