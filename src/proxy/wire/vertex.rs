//! Google's Vertex AI: a project's models in a location, by publisher. Google's own
//! (`publishers/google/models/{model}:generateContent`, `:streamGenerateContent`) speak the
//! Gemini API's format, read by `gemini.rs`; Anthropic's (`publishers/anthropic/models/{model}`
//! `:rawPredict`, `:streamRawPredict`) speak Anthropic's Messages with the model in the path and
//! `anthropic_version` in the body, read by `anthropic.rs`. Each request carries an access token
//! the upstream mints (`Upstream::send`); the caller's own token is never sent. The gateway's
//! own errors are Google's, as Vertex's front door answers.

use serde_json::{Map, Value};

use super::anthropic::Anthropic;
use super::gemini::Gemini;
use super::{counted, streams, Counted, Event, Final, Free, Wire};
use crate::proxy::call::tokens::Counter;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{Asked, BodyError, Limits, Operation};

pub(crate) struct Vertex;

const fn call(path: &'static str, operation: Operation, stream: bool) -> Counted {
    streams(counted("POST", path, operation), stream)
}

/// Google's clients call `v1beta1` (google-genai) or `v1` (Anthropic's, and google-genai
/// given a base URL with it).
const COUNTED: [Counted; 8] = [
    call(
        "v1/projects/*/locations/*/publishers/google/models/*:generateContent",
        Operation::Generate,
        false,
    ),
    call(
        "v1/projects/*/locations/*/publishers/google/models/*:streamGenerateContent",
        Operation::Generate,
        true,
    ),
    call(
        "v1beta1/projects/*/locations/*/publishers/google/models/*:generateContent",
        Operation::Generate,
        false,
    ),
    call(
        "v1beta1/projects/*/locations/*/publishers/google/models/*:streamGenerateContent",
        Operation::Generate,
        true,
    ),
    call(
        "v1/projects/*/locations/*/publishers/anthropic/models/*:rawPredict",
        Operation::Messages,
        false,
    ),
    call(
        "v1/projects/*/locations/*/publishers/anthropic/models/*:streamRawPredict",
        Operation::Messages,
        true,
    ),
    call(
        "v1beta1/projects/*/locations/*/publishers/anthropic/models/*:rawPredict",
        Operation::Messages,
        false,
    ),
    call(
        "v1beta1/projects/*/locations/*/publishers/anthropic/models/*:streamRawPredict",
        Operation::Messages,
        true,
    ),
];

/// The format an operation's body and answer are in.
fn format(operation: Operation) -> &'static dyn Wire {
    match operation {
        Operation::Messages => &Anthropic,
        _ => &Gemini,
    }
}

impl Wire for Vertex {
    fn counted(&self) -> &'static [Counted] {
        &COUNTED
    }

    /// Token counting, Google's and Anthropic's (a model named `count-tokens`, which the
    /// counted `rawPredict` would take for a model: found first).
    fn free_first(&self) -> &'static [Free] {
        &[
            (
                "POST",
                "v1/projects/*/locations/*/publishers/anthropic/models/count-tokens:rawPredict",
            ),
            (
                "POST",
                "v1beta1/projects/*/locations/*/publishers/anthropic/models/count-tokens:rawPredict",
            ),
        ]
    }

    fn free(&self) -> &'static [Free] {
        &[
            (
                "POST",
                "v1/projects/*/locations/*/publishers/google/models/*:countTokens",
            ),
            (
                "POST",
                "v1beta1/projects/*/locations/*/publishers/google/models/*:countTokens",
            ),
        ]
    }

    fn counter(&self, model: &str) -> Counter {
        Gemini.counter(model)
    }

    fn asked(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError> {
        format(operation).asked(operation, body, limits)
    }

    fn max_output_field(&self, operation: Operation) -> Option<&'static str> {
        format(operation).max_output_field(operation)
    }

    /// The access token goes on in `Upstream::send`, minted: no key of the upstream's is sent.
    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        _credential: Option<&str>,
        _sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder {
        request
    }

    fn request_id_header(&self) -> &'static str {
        "x-request-id"
    }

    fn answer_id<'a>(&self, body: &'a Value) -> Option<&'a str> {
        Gemini.answer_id(body)
    }

    fn usage_of_answer(&self, operation: Operation, body: &Value) -> Usage {
        format(operation).usage_of_answer(operation, body)
    }

    fn reads_event_at_once(&self, operation: Operation, data: &str) -> bool {
        format(operation).reads_event_at_once(operation, data)
    }

    fn usage_of_event(&self, operation: Operation, event: Option<&str>, data: &Value, seen: &mut Usage) -> Event {
        format(operation).usage_of_event(operation, event, data, seen)
    }

    fn final_usage(&self, operation: Operation) -> Final {
        format(operation).final_usage(operation)
    }

    /// Gemini's stream without `alt=sse` is one JSON array; Anthropic's is always events,
    /// which its content type says first.
    fn streams_json_arrays(&self) -> bool {
        true
    }

    fn streamed_text(&self, operation: Operation, data: &Value, each: &mut dyn FnMut(&str)) {
        format(operation).streamed_text(operation, data, each);
    }

    fn context_too_long(&self, status: u16, body: &Value) -> bool {
        Anthropic.context_too_long(status, body) || Gemini.context_too_long(status, body)
    }

    fn error_body(&self, status: u16, code: &str, message: &str, param: Option<&str>) -> Value {
        Gemini.error_body(status, code, message, param)
    }

    fn stream_error(&self, operation: Operation, code: &str, message: &str) -> Vec<u8> {
        format(operation).stream_error(operation, code, message)
    }
}
