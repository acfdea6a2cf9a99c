//! Amazon Bedrock's runtime: the Converse API (`model/{id}/converse` and `converse-stream`)
//! and Anthropic's Messages by `invoke` (`invoke-with-response-stream`), the model in the path.
//! Its streams are AWS event stream messages (`../eventstream.rs`): Converse's events by name,
//! the usage in the last, `metadata`; invoke's each a `chunk` whose `bytes` is one of
//! Anthropic's events in base64, read as Anthropic's. Converse reports cache reads and writes
//! beside `inputTokens`, as Anthropic does; here they are in the input.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::anthropic::{self, Anthropic};
use super::{count, counted, streams, texts, Counted, Event, Final, Free, Wire};
use crate::proxy::call::tokens::{self, Counter};
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{positive, wrong, Asked, BodyError, Limits, Operation};

pub(crate) struct Bedrock;

const COUNTED: [Counted; 4] = [
    streams(counted("POST", "model/*/converse", Operation::Converse), false),
    streams(counted("POST", "model/*/converse-stream", Operation::Converse), true),
    streams(counted("POST", "model/*/invoke", Operation::Messages), false),
    streams(
        counted("POST", "model/*/invoke-with-response-stream", Operation::Messages),
        true,
    ),
];

/// Converse's maximum output, one level down.
const CONVERSE_MAX: &str = "inferenceConfig.maxTokens";

impl Wire for Bedrock {
    fn counted(&self) -> &'static [Counted] {
        &COUNTED
    }

    fn free(&self) -> &'static [Free] {
        &[("POST", "model/*/count-tokens")]
    }

    fn counter(&self, model: &str) -> Counter {
        tokens::counter_for(model, false)
    }

    fn asked(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError> {
        if operation != Operation::Converse {
            return Anthropic.asked(operation, body, limits);
        }
        priced_as_held(body)?;
        let max = match body.get("inferenceConfig") {
            None | Some(Value::Null) => None,
            Some(Value::Object(config)) => {
                positive(config, "maxTokens").map_err(|_| wrong(CONVERSE_MAX, "must be a whole number from 1"))?
            }
            Some(_) => return Err(wrong("inferenceConfig", "must be an object")),
        };
        let mut asked = Asked {
            max_field: max.map(|_| CONVERSE_MAX),
            ..Asked::default()
        };
        asked.worst.input_tokens = Some(limits.body(body));
        asked.worst.output_tokens = Some(max.unwrap_or(limits.default_max));
        Ok(asked)
    }

    fn max_output_field(&self, operation: Operation) -> Option<&'static str> {
        match operation {
            Operation::Converse => Some(CONVERSE_MAX),
            Operation::Messages => Some("max_tokens"),
            _ => None,
        }
    }

    /// A Bedrock API key as a bearer token; an upstream without one is signed instead, once
    /// its request is whole (`Upstream::send`).
    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        credential: Option<&str>,
        _sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder {
        match credential {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn request_id_header(&self) -> &'static str {
        "x-amzn-requestid"
    }

    fn usage_of_answer(&self, operation: Operation, body: &Value) -> Usage {
        match operation {
            Operation::Converse => body
                .get("usage")
                .filter(|u| u.is_object())
                .map(converse_usage)
                .unwrap_or_default(),
            _ => Anthropic.usage_of_answer(operation, body),
        }
    }

    /// Converse's usage is in `metadata`, its last event; invoke's chunks are Anthropic's
    /// events, the last `message_stop`.
    fn usage_of_event(&self, operation: Operation, event: Option<&str>, data: &Value, seen: &mut Usage) -> Event {
        if operation != Operation::Converse {
            let inner = chunk(data);
            return Anthropic.usage_of_event(operation, None, &inner, seen);
        }
        let last = event == Some("metadata");
        if let Some(usage) = data.get("usage").filter(|u| last && u.is_object()) {
            seen.update(converse_usage(usage));
        }
        Event {
            gateway_only: false,
            last,
        }
    }

    fn final_usage(&self, _operation: Operation) -> Final {
        Final::LastEvent
    }

    fn streamed_text(&self, operation: Operation, data: &Value, each: &mut dyn FnMut(&str)) {
        match operation {
            Operation::Converse => texts(data.get("delta"), &["text"], each),
            _ => Anthropic.streamed_text(operation, &chunk(data), each),
        }
    }

    /// `400 ValidationException` whose message says the input is too long.
    fn context_too_long(&self, status: u16, body: &Value) -> bool {
        status == 400
            && body
                .get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.to_ascii_lowercase().contains("too long"))
    }

    fn error_body(&self, _status: u16, _code: &str, message: &str, _param: Option<&str>) -> Value {
        json!({ "message": message })
    }

    fn error_type(&self, status: u16) -> Option<(&'static str, &'static str)> {
        Some(("x-amzn-errortype", error_type(status)))
    }

    /// An exception message, as Bedrock ends a stream that failed mid-way; AWS's clients raise it.
    fn stream_error(&self, _operation: Operation, _code: &str, message: &str) -> Vec<u8> {
        let payload = json!({ "message": message }).to_string();
        crate::proxy::eventstream::message(
            &[
                (":message-type", "exception"),
                (":exception-type", "modelStreamErrorException"),
                (":content-type", "application/json"),
            ],
            payload.as_bytes(),
        )
    }
}

/// Refuses what Bedrock bills above the catalog's rate, which the hold does not price: latency-
/// optimized inference and the priority service tier.
fn priced_as_held(body: &Map<String, Value>) -> Result<(), BodyError> {
    let latency = body.get("performanceConfig").and_then(|c| c.get("latency"));
    if latency.and_then(Value::as_str).is_some_and(|l| l != "standard") {
        return Err(wrong(
            "performanceConfig.latency",
            "must be standard: optimized latency is billed above the price the gateway holds",
        ));
    }
    let tier = body.get("serviceTier").and_then(|t| t.get("type"));
    if tier.and_then(Value::as_str) == Some("priority") {
        return Err(wrong(
            "serviceTier.type",
            "must not be priority: it is billed above the price the gateway holds",
        ));
    }
    Ok(())
}

/// Bedrock's exception for a status the gateway answers itself.
fn error_type(status: u16) -> &'static str {
    match status {
        401 | 403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        s if s >= 500 => "InternalServerException",
        _ => "ValidationException",
    }
}

/// The Anthropic event an invoke stream's chunk carries (`{"bytes": <base64 of its JSON>}`);
/// Null for anything else.
fn chunk(data: &Value) -> Value {
    data.get("bytes")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or(Value::Null)
}

/// Converse's usage object, cache reads and writes counted into the input.
fn converse_usage(usage: &Value) -> Usage {
    anthropic::usage_counts(
        count(usage, &["inputTokens"]),
        count(usage, &["outputTokens"]),
        count(usage, &["cacheReadInputTokens"]),
        count(usage, &["cacheWriteInputTokens"]),
    )
}

/// A path whose model segment is an ARN with its `/` encoded, as boto3 sends one
/// (`model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2Fus.anthropic...:0/converse`):
/// the path with that segment as the ARN's last part (which the table routes), and the ARN
/// decoded, the call's model. None for any other path.
pub(crate) fn arn_path(path: &str) -> Option<(String, String)> {
    let (at, segment) = path
        .split('/')
        .enumerate()
        .find(|(_, s)| s.starts_with("arn:") && s.to_ascii_lowercase().contains("%2f"))?;
    let arn = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?
        .into_owned();
    let last = arn.rsplit('/').next()?.to_string();
    let routed: Vec<&str> = path
        .split('/')
        .enumerate()
        .map(|(i, s)| if i == at { last.as_str() } else { s })
        .collect();
    Some((routed.join("/"), arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converse_counts_cache_reads_and_writes_as_input() {
        let body = json!({"usage": {"inputTokens": 10, "outputTokens": 3, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 5}});
        let u = Bedrock.usage_of_answer(Operation::Converse, &body);
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cached_input_tokens,
                u.cache_write_tokens
            ),
            (Some(115), Some(3), Some(100), Some(5))
        );
    }

    #[test]
    fn a_converse_stream_ends_at_its_metadata() {
        let mut seen = Usage::default();
        let stop = json!({"stopReason": "end_turn"});
        assert!(
            !Bedrock
                .usage_of_event(Operation::Converse, Some("messageStop"), &stop, &mut seen)
                .last
        );
        let metadata = json!({"usage": {"inputTokens": 7, "outputTokens": 2, "totalTokens": 9}});
        let said = Bedrock.usage_of_event(Operation::Converse, Some("metadata"), &metadata, &mut seen);
        assert!(said.last);
        assert_eq!((seen.input_tokens, seen.output_tokens), (Some(7), Some(2)));
    }

    #[test]
    fn an_invoke_streams_chunks_of_anthropics_events() {
        let wrap = |event: Value| {
            let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
            json!({ "bytes": bytes })
        };
        let mut seen = Usage::default();
        let start =
            wrap(json!({"type": "message_start", "message": {"usage": {"input_tokens": 20, "output_tokens": 1}}}));
        Bedrock.usage_of_event(Operation::Messages, Some("chunk"), &start, &mut seen);
        let delta = wrap(json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}}));
        let mut text = Vec::new();
        Bedrock.streamed_text(Operation::Messages, &delta, &mut |t| text.push(t.to_string()));
        assert_eq!(text, ["hi"]);
        let end = wrap(json!({"type": "message_delta", "usage": {"output_tokens": 9}}));
        Bedrock.usage_of_event(Operation::Messages, Some("chunk"), &end, &mut seen);
        let stop = wrap(json!({"type": "message_stop"}));
        assert!(
            Bedrock
                .usage_of_event(Operation::Messages, Some("chunk"), &stop, &mut seen)
                .last
        );
        assert_eq!((seen.input_tokens, seen.output_tokens), (Some(20), Some(9)));
    }

    #[test]
    fn converse_takes_its_maximum_one_level_down() {
        let limits = Limits {
            counter: Counter::Bytes,
            default_max: 1000,
            fetched: 1000,
            stored: 1000,
        };
        let body = |v: Value| v.as_object().unwrap().clone();
        let asked = Bedrock
            .asked(
                Operation::Converse,
                &body(json!({"messages": [], "inferenceConfig": {"maxTokens": 64}})),
                &limits,
            )
            .unwrap();
        assert_eq!(
            (asked.worst.output_tokens, asked.max_field),
            (Some(64), Some(CONVERSE_MAX))
        );
        let refused = Bedrock
            .asked(
                Operation::Converse,
                &body(json!({"inferenceConfig": {"maxTokens": 0}})),
                &limits,
            )
            .unwrap_err();
        assert_eq!(refused.field, CONVERSE_MAX);
        let refused = Bedrock
            .asked(Operation::Converse, &body(json!({"inferenceConfig": 3})), &limits)
            .unwrap_err();
        assert_eq!(refused.field, "inferenceConfig");
        // Billed above the held price: refused, naming the field.
        let priced = |v: Value| Bedrock.asked(Operation::Converse, &body(v), &limits).map(|_| ());
        let refused = priced(json!({"performanceConfig": {"latency": "optimized"}})).unwrap_err();
        assert_eq!(refused.field, "performanceConfig.latency");
        let refused = priced(json!({"serviceTier": {"type": "priority"}})).unwrap_err();
        assert_eq!(refused.field, "serviceTier.type");
        assert!(priced(json!({"performanceConfig": {"latency": "standard"}, "serviceTier": {"type": "flex"}})).is_ok());
    }

    #[test]
    fn an_arns_encoded_slash_routes_by_its_last_part_and_holds_the_arn() {
        let path = "model/arn:aws:bedrock:us-east-1:1:inference-profile%2Fus.anthropic.x-v1:0/converse";
        let (routed, arn) = arn_path(path).unwrap();
        assert_eq!(routed, "model/us.anthropic.x-v1:0/converse");
        assert_eq!(arn, "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.x-v1:0");
        assert_eq!(arn_path("model/anthropic.x-v1:0/converse"), None);
    }
}
