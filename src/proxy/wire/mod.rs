//! The wire formats the door speaks, one module each: which paths are calls, what a body asks
//! for, where an answer and a stream report usage, how the provider wants its credential and
//! how its errors look. The phases around them (`super`) know none of it: a new provider is a
//! new module here and a `Kind`, not a branch in every phase.

mod anthropic;
mod openai;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::call::{Asked, BodyError, Call, Limits, Operation};
use super::tokens::Counter;
use super::upstreams::Kind;
use super::usage::Usage;

/// What one event of a stream said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The event only carries usage the gateway asked for and the caller did not: not relayed.
    pub gateway_only: bool,
    /// The provider's last event: its running totals are final.
    pub last: bool,
}

/// One wire format.
pub trait Wire: Sync {
    /// The operation `method` and `path` (after `/proxy/{upstream}/`) name; None for anything
    /// else, which is never forwarded.
    fn operation(&self, method: &str, path: &str) -> Option<Operation>;

    /// How a model's text is counted, for holds and for streams left before their usage.
    fn counter(&self, model: &str) -> Counter;

    /// The call's worst case, in every count the commit will report, from its body.
    fn understand(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError>;

    /// The field a clamped hold lowers in a body that named no maximum output; None for an
    /// operation whose output has no maximum (embeddings, images).
    fn max_output_field(&self, operation: Operation) -> Option<&'static str>;

    /// The body to forward, from the caller's bytes (spliced, never re-serialized): what the
    /// format needs inserted for the gateway to read the usage.
    fn forwarded_body(&self, _call: &Call, body: Bytes) -> Bytes {
        body
    }

    /// The provider's credential and the headers the format requires, on a request upstream.
    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        credential: Option<&str>,
        sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder;

    /// The header the provider names its request id in.
    fn request_id_header(&self) -> &'static str;

    /// The usage a whole answer reports.
    fn usage_of_answer(&self, operation: Operation, body: &Value) -> Usage;

    /// Folds what one stream event says of usage into `seen`.
    fn usage_of_event(&self, operation: Operation, event: Option<&str>, data: &Value, seen: &mut Usage) -> Event;

    /// Whether a stream's usage is a running total, final only at its last event (else any
    /// report, or the stream's end, is final).
    fn running_total(&self, _operation: Operation) -> bool {
        false
    }

    /// Each piece of output text one event carries, for a stream left before its usage.
    fn streamed_text<'a>(&self, operation: Operation, data: &'a Value, each: &mut dyn FnMut(&'a str));

    /// The format's error body for the gateway's own answers.
    fn error_body(&self, status: u16, code: &str, message: &str, param: Option<&str>) -> Value;

    /// The event that ends a stream the provider broke off, in the format's in-stream shape.
    fn stream_error(&self, operation: Operation, code: &str, message: &str) -> String;
}

/// The wire format of an upstream kind.
pub fn of(kind: Kind) -> &'static dyn Wire {
    match kind {
        Kind::OpenAi => &openai::OpenAi { compatible: false },
        Kind::OpenAiCompatible => &openai::OpenAi { compatible: true },
        Kind::Anthropic => &anthropic::Anthropic,
    }
}

/// `GET v1/models` and `GET v1/models/{id}`, which every format answers uncounted.
fn model_list(method: &str, path: &str) -> bool {
    method == "GET" && (path == "v1/models" || path.strip_prefix("v1/models/").is_some_and(plain))
}

/// One path segment of plain characters (a model id).
fn plain(segment: &str) -> bool {
    !segment.is_empty()
        && segment.bytes().any(|b| b != b'.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// A count at `path` in a JSON value.
fn count(value: &Value, path: &[&str]) -> Option<u64> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_u64()
}

/// Each string among `fields` of `object`, to `each`.
fn texts<'a>(object: Option<&'a Value>, fields: &[&str], each: &mut dyn FnMut(&'a str)) {
    for field in fields {
        if let Some(t) = object.and_then(|o| o.get(*field)).and_then(Value::as_str) {
            each(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_operations_and_nothing_else_is_forwarded() {
        let op = |kind, method, path| of(kind).operation(method, path);
        assert_eq!(op(Kind::OpenAi, "POST", "v1/chat/completions"), Some(Operation::Chat));
        assert_eq!(
            op(Kind::OpenAiCompatible, "POST", "v1/responses"),
            Some(Operation::Responses)
        );
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/gpt-4o"), Some(Operation::Uncounted));
        assert_eq!(op(Kind::Anthropic, "POST", "v1/messages"), Some(Operation::Messages));
        assert_eq!(op(Kind::Anthropic, "POST", "v1/chat/completions"), None);
        assert_eq!(op(Kind::OpenAi, "POST", "v1/audio/speech"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/chat/completions"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/../files"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/.."), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/."), None);
    }
}
