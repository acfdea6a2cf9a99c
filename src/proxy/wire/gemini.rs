//! Google's Generative Language API (Gemini), as Google's own clients call it: the model and
//! whether the answer streams are in the path (`v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent`, the same under `v1`); a stream is server-sent events with
//! `?alt=sse`, else one JSON array written element by element. Its usage (`usageMetadata`) is a
//! running total repeated in every chunk: the last one counts, and a chunk without it erases
//! nothing. `promptTokenCount` includes cached tokens; thoughts are billed as output but are not
//! in `candidatesTokenCount`; a tool-use prompt is input. Google reads a request's field by its
//! JSON name or its proto name (`candidateCount`, `candidate_count`), and so does the hold.

use serde_json::{json, Map, Value};

use super::{count, counted, jobs, streams, texts, Counted, Event, Final, Free, Wire};
use crate::proxy::call::tokens::{self, Counter};
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::wire::Named;
use crate::proxy::call::{wrong, Asked, BodyError, Limits, Operation};

/// The most candidates one call may ask for.
const MAX_CANDIDATES: u64 = 8;

pub(crate) struct Gemini;

impl Wire for Gemini {
    fn counted(&self) -> &'static [Counted] {
        const fn generate(path: &'static str, stream: bool) -> Counted {
            streams(counted("POST", path, Operation::Generate), stream)
        }
        const fn embed(path: &'static str) -> Counted {
            streams(counted("POST", path, Operation::Embed), false)
        }
        const fn cache(path: &'static str) -> Counted {
            counted("POST", path, Operation::Cache)
        }
        // Google's clients call `v1beta`, or `v1` when given a base URL with it.
        const COUNTED: [Counted; 12] = [
            generate("v1beta/models/*:generateContent", false),
            generate("v1beta/models/*:streamGenerateContent", true),
            generate("v1/models/*:generateContent", false),
            generate("v1/models/*:streamGenerateContent", true),
            embed("v1beta/models/*:embedContent"),
            embed("v1beta/models/*:batchEmbedContents"),
            embed("v1/models/*:embedContent"),
            embed("v1/models/*:batchEmbedContents"),
            // A cache created: its model is the body's.
            cache("v1beta/cachedContents"),
            cache("v1/cachedContents"),
            // The Live API: a WebSocket session, each response in it held (`realtime/`).
            counted(
                "GET",
                "ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
                Operation::Realtime,
            ),
            counted(
                "GET",
                "ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent",
                Operation::Realtime,
            ),
        ];
        &COUNTED
    }

    fn free(&self) -> &'static [Free] {
        &[
            ("GET", "v1beta/models"),
            ("GET", "v1beta/models/*"),
            ("POST", "v1beta/models/*:countTokens"),
            ("GET", "v1/models"),
            ("GET", "v1/models/*"),
            ("POST", "v1/models/*:countTokens"),
        ]
    }

    fn jobs(&self) -> &'static [jobs::Entry] {
        jobs::GEMINI
    }

    fn counter(&self, model: &str) -> Counter {
        tokens::counter_for(model, false)
    }

    /// Input from the whole body (`contents`, `systemInstruction`, `tools`; a cached content
    /// the provider expands at the upstream's context), output `maxOutputTokens` (which bounds
    /// thinking and visible output together) times `candidateCount`. The config must be named
    /// `generationConfig`, where a clamped hold lowers its maximum.
    fn asked(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError> {
        let mut asked = Asked::default();
        if operation == Operation::Cache {
            // What it caches (contents, a system instruction, tools), held at its bound, written.
            let input = limits.body(body);
            asked.worst.input_tokens = Some(input);
            asked.worst.cache_write_tokens = Some(input);
            asked.worst.output_tokens = Some(0);
            return Ok(asked);
        }
        if operation == Operation::Embed {
            // The contents to embed, held at their bound; the provider counts them after.
            embedded(body)?;
            asked.worst.input_tokens = Some(limits.body(body));
            asked.worst.output_tokens = Some(0);
            return Ok(asked);
        }
        if operation != Operation::Generate {
            return Ok(asked);
        }
        if named(body, "generation_config").is_some() {
            return Err(wrong(
                "generation_config",
                "must be named generationConfig, where the gateway reads and lowers the maximum output",
            ));
        }
        let config = match named(body, "generationConfig") {
            None => None,
            Some(Value::Object(config)) => Some(config),
            Some(_) => return Err(wrong("generationConfig", "must be an object")),
        };
        let count_in = |names: [&'static str; 2], max: u64| -> Result<Option<(&'static str, u64)>, BodyError> {
            let at = |e: BodyError| wrong(&format!("generationConfig.{}", e.field), &e.detail);
            let Some((name, value)) = config.map(|c| either(c, names)).transpose().map_err(at)?.flatten() else {
                return Ok(None);
            };
            match value.as_u64() {
                Some(n) if (1..=max).contains(&n) => Ok(Some((name, n))),
                _ => Err(wrong(
                    &format!("generationConfig.{name}"),
                    &format!("must be a whole number from 1 to {max}"),
                )),
            }
        };
        let candidates = count_in(["candidateCount", "candidate_count"], MAX_CANDIDATES)?.map_or(1, |(_, n)| n);
        let max = count_in(["maxOutputTokens", "max_output_tokens"], 100_000_000)?;
        asked.choices = candidates;
        // A clamp lowers the maximum under the name the caller wrote: never a second one beside it.
        asked.max_field = max.map(|(name, _)| match name {
            "max_output_tokens" => "generationConfig.max_output_tokens",
            _ => "generationConfig.maxOutputTokens",
        });
        let max = max.map(|(_, n)| n);
        let cached = either(body, ["cachedContent", "cached_content"])?.is_some();
        let unseen = if cached { limits.stored } else { 0 };
        asked.unseen = unseen;
        asked.worst.input_tokens = Some(limits.body(body).saturating_add(unseen));
        asked.worst.output_tokens = Some(max.unwrap_or(limits.default_max).saturating_mul(candidates));
        Ok(asked)
    }

    fn max_output_field(&self, operation: Operation) -> Option<&'static str> {
        (operation == Operation::Generate).then_some("generationConfig.maxOutputTokens")
    }

    /// A cached content the call names: the cache, whose `usageMetadata` says its size.
    fn referenced(&self, operation: Operation, body: &Map<String, Value>) -> Option<String> {
        if operation != Operation::Generate {
            return None;
        }
        let (_, name) = either(body, ["cachedContent", "cached_content"]).ok()??;
        let id = name.as_str()?.strip_prefix("cachedContents/")?;
        super::path_id(id).then(|| format!("v1beta/cachedContents/{id}"))
    }

    fn referenced_tokens(&self, object: &Value) -> Option<u64> {
        object.get("usageMetadata")?.get("totalTokenCount")?.as_u64()
    }

    fn named_objects(&self, _operation: Operation, body: &Map<String, Value>, upstream: &Upstream) -> Vec<Named> {
        super::named::gemini(body, &upstream.base_url)
    }

    fn kept(&self, operation: Operation, answer: &Value) -> Option<String> {
        (operation == Operation::Cache).then(|| super::named::gemini_kept(answer))?
    }

    /// Embeddings report no usage: `countTokens` of the same contents says what Google bills.
    fn count_request(&self, operation: Operation, model: &str, body: &Map<String, Value>) -> Option<(String, Value)> {
        if operation != Operation::Embed || !super::path_id(&model.replace('.', "_")) {
            return None;
        }
        let contents = embedded(body).ok()?;
        Some((
            format!("v1beta/models/{model}:countTokens"),
            json!({ "contents": contents }),
        ))
    }

    fn counted_tokens(&self, answer: &Value) -> Option<u64> {
        answer.get("totalTokens")?.as_u64()
    }

    fn socket_credential(&self, credential: &str) -> (&'static str, String) {
        ("x-goog-api-key", credential.to_string())
    }

    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        credential: Option<&str>,
        _sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder {
        match credential {
            Some(credential) => request.header("x-goog-api-key", credential),
            None => request,
        }
    }

    fn key_param(&self) -> Option<&'static str> {
        Some("key")
    }

    fn request_id_header(&self) -> &'static str {
        "x-request-id"
    }

    fn answer_id<'a>(&self, body: &'a Value) -> Option<&'a str> {
        body.get("responseId").and_then(Value::as_str)
    }

    fn usage_of_answer(&self, operation: Operation, body: &Value) -> Usage {
        if operation == Operation::Cache {
            // The cache's size: every token of it written, none generated.
            let tokens = count(body, &["usageMetadata", "totalTokenCount"]);
            return Usage {
                input_tokens: tokens,
                cache_write_tokens: tokens,
                output_tokens: tokens.map(|_| 0),
                ..Usage::default()
            };
        }
        body.get("usageMetadata")
            .filter(|u| u.is_object())
            .map(of_usage)
            .unwrap_or_default()
    }

    fn usage_of_event(&self, _operation: Operation, _event: Option<&str>, data: &Value, seen: &mut Usage) -> Event {
        if let Some(usage) = data.get("usageMetadata").filter(|u| u.is_object()) {
            seen.update(of_usage(usage));
        }
        // No chunk is the last by itself: one candidate may finish before another, and the
        // usage may come in a chunk after the finish. The stream's end makes it final.
        Event::default()
    }

    fn final_usage(&self, _operation: Operation) -> Final {
        Final::End
    }

    fn streams_json_arrays(&self) -> bool {
        true
    }

    fn streamed_text(&self, _operation: Operation, data: &Value, each: &mut dyn FnMut(&str)) {
        let candidates = data.get("candidates").and_then(Value::as_array);
        for candidate in candidates.into_iter().flatten() {
            let parts = candidate
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array);
            for part in parts.into_iter().flatten() {
                texts(Some(part), &["text"], each);
                if let Some(args) = part.get("functionCall").and_then(|f| f.get("args")) {
                    // Arguments come as a JSON object: counted as its text, whose tokens the
                    // model wrote.
                    match args.as_str() {
                        Some(text) => each(text),
                        None => each(&args.to_string()),
                    }
                }
            }
        }
    }

    fn error_body(&self, status: u16, _code: &str, message: &str, _param: Option<&str>) -> Value {
        let status_name = match status {
            400 | 413 | 415 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ => "INTERNAL",
        };
        json!({"error": {"code": status, "message": message, "status": status_name}})
    }

    fn stream_error(&self, _operation: Operation, _code: &str, message: &str) -> Vec<u8> {
        let data = json!({"error": {"code": 502, "message": message, "status": "UNAVAILABLE"}});
        format!("data: {data}\n\n").into_bytes()
    }
}

/// The contents an embedding call embeds: `embedContent`'s `content`, or each of
/// `batchEmbedContents`' `requests`' (at most 250, as Google takes).
fn embedded(body: &Map<String, Value>) -> Result<Vec<&Value>, BodyError> {
    if let Some(content) = named(body, "content") {
        return Ok(vec![content]);
    }
    let requests = match named(body, "requests") {
        Some(Value::Array(requests)) if !requests.is_empty() && requests.len() <= 250 => requests,
        Some(_) => return Err(wrong("requests", "must be a list of 1 to 250 requests")),
        None => return Err(wrong("content", "is required")),
    };
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.get("content")
                .filter(|c| c.is_object())
                .ok_or_else(|| wrong(&format!("requests[{i}].content"), "is required"))
        })
        .collect()
}

/// A member of `object` that is not null.
fn named<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

/// A field of a request by its JSON name or its proto name (`names`), with the name it was
/// given by; a body giving it by both is refused rather than read one way the provider may not.
fn either<'a>(
    object: &'a Map<String, Value>,
    names: [&'static str; 2],
) -> Result<Option<(&'static str, &'a Value)>, BodyError> {
    let [json, proto] = names;
    match (named(object, json), named(object, proto)) {
        (Some(_), Some(_)) => Err(wrong(json, &format!("is named twice, as {json} and as {proto}"))),
        (Some(value), None) => Ok(Some((json, value))),
        (None, Some(value)) => Ok(Some((proto, value))),
        (None, None) => Ok(None),
    }
}

/// Gemini's `usageMetadata` in the gateway's names: the prompt includes its cached tokens and
/// the tool-use prompt is input too; thoughts are output (and reasoning).
fn of_usage(usage: &Value) -> Usage {
    let prompt = count(usage, &["promptTokenCount"]);
    let tool_prompt = count(usage, &["toolUsePromptTokenCount"]).unwrap_or(0);
    let thoughts = count(usage, &["thoughtsTokenCount"]);
    let candidates = count(usage, &["candidatesTokenCount"]);
    let input = prompt.map(|p| p.saturating_add(tool_prompt));
    // A count Gemini leaves out of a report that has the prompt is 0 (it omits zeros).
    let known = |n: Option<u64>| n.or(input.map(|_| 0));
    let output = known(candidates).map(|c| c.saturating_add(thoughts.unwrap_or(0)));
    Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: known(count(usage, &["cachedContentTokenCount"])),
        cache_write_tokens: input.map(|_| 0),
        reasoning_tokens: known(thoughts),
        images: None,
        cost_nano: None,
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::call::tokens::Counter;

    fn understood(body: Value) -> Result<Asked, BodyError> {
        let limits = Limits {
            counter: Counter::Bytes,
            default_max: 1_000,
            fetched: 5_000,
            stored: 7_000,
        };
        let Value::Object(body) = body else { unreachable!() };
        Gemini.asked(Operation::Generate, &body, &limits)
    }

    /// A cache is held at its body's bound, all of it written, and charged the size Google answers.
    #[test]
    fn a_cache_is_charged_its_size_as_written() {
        let route = super::super::route(&Gemini, &[], "POST", "v1beta/cachedContents").unwrap();
        assert_eq!((route.operation, route.model), (Operation::Cache, None));
        let u = Gemini.usage_of_answer(Operation::Cache, &json!({"usageMetadata": {"totalTokenCount": 300}}));
        assert_eq!(
            (u.input_tokens, u.cache_write_tokens, u.output_tokens),
            (Some(300), Some(300), Some(0))
        );
    }

    /// Embeddings are held at their contents' bound and counted after by the provider, each
    /// content of a batch in one `countTokens`.
    #[test]
    fn embeddings_are_counted_by_the_provider_after() {
        let body = json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "one"}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "two"}]}}]});
        let Value::Object(map) = &body else { unreachable!() };
        let (path, sent) = Gemini
            .count_request(Operation::Embed, "gemini-embedding-001", map)
            .unwrap();
        assert_eq!(path, "v1beta/models/gemini-embedding-001:countTokens");
        assert_eq!(sent["contents"].as_array().unwrap().len(), 2);
        assert_eq!(Gemini.counted_tokens(&json!({"totalTokens": 9})), Some(9));
        assert!(Gemini.count_request(Operation::Generate, "m", map).is_none());
        let refused = |body: Value| {
            let Value::Object(body) = body else { unreachable!() };
            let limits = Limits {
                counter: Counter::Bytes,
                default_max: 1,
                fetched: 1,
                stored: 1,
            };
            Gemini.asked(Operation::Embed, &body, &limits).unwrap_err().field
        };
        assert_eq!(refused(json!({})), "content");
        assert_eq!(refused(json!({"requests": []})), "requests");
        assert_eq!(refused(json!({"requests": [{"model": "m"}]})), "requests[0].content");
    }

    #[test]
    fn counts_are_read_by_their_json_or_proto_names_as_google_reads_them() {
        let contents = json!([{"role": "user", "parts": [{"text": "hi"}]}]);
        let camel =
            understood(json!({"contents": contents, "generationConfig": {"maxOutputTokens": 10, "candidateCount": 3}}));
        let proto = understood(
            json!({"contents": contents, "generationConfig": {"max_output_tokens": 10, "candidate_count": 3}}),
        );
        for (asked, field) in [
            (camel.unwrap(), "generationConfig.maxOutputTokens"),
            (proto.unwrap(), "generationConfig.max_output_tokens"),
        ] {
            assert_eq!((asked.worst.output_tokens, asked.choices), (Some(30), 3));
            assert_eq!(asked.max_field, Some(field), "a clamp lowers the caller's own field");
        }
        // Candidates by their proto name beside a maximum by its JSON name: held at both.
        let mixed = understood(
            json!({"contents": contents, "generationConfig": {"maxOutputTokens": 10, "candidate_count": 3}}),
        );
        assert_eq!(mixed.unwrap().worst.output_tokens, Some(30));
        let cached = understood(json!({"contents": contents, "cached_content": "cachedContents/x"})).unwrap();
        assert!(
            cached.worst.input_tokens.unwrap() >= 7_000,
            "a cached content is held at the context"
        );
        let twice = understood(
            json!({"contents": contents, "generationConfig": {"maxOutputTokens": 10, "max_output_tokens": 20}}),
        );
        assert_eq!(twice.unwrap_err().field, "generationConfig.maxOutputTokens");
        let snake = understood(json!({"contents": contents, "generation_config": {"max_output_tokens": 10}}));
        assert_eq!(snake.unwrap_err().field, "generation_config");
        let none = understood(json!({"contents": contents})).unwrap();
        assert_eq!((none.worst.output_tokens, none.max_field), (Some(1_000), None));
    }

    #[test]
    fn a_streamed_function_calls_arguments_count_as_the_text_the_model_wrote() {
        let data = json!({"candidates": [{"content": {"parts": [
            {"text": "Calling it"},
            {"functionCall": {"name": "weather", "args": {"city": "Paris", "days": 3}}}]}}]});
        let mut all = Vec::new();
        Gemini.streamed_text(Operation::Generate, &data, &mut |t| all.push(t.to_string()));
        assert_eq!(all, ["Calling it", r#"{"city":"Paris","days":3}"#]);
    }
}
