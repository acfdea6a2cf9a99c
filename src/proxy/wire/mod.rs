//! The wire formats the door speaks, one module each: which paths are calls, what a body asks
//! for, where an answer and a stream report usage, how the provider wants its credential and
//! how its errors look. The phases around them (`super`) know none of it: a new provider is a
//! new module here and a `Kind`, not a branch in every phase.

mod anthropic;
mod gemini;
mod openai;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::call::{wrong, Asked, BodyError, Call, Limits, Operation};
use super::jobs::{self, JobPath};
use super::paths;
use super::tokens::Counter;
use super::upload::Audio;
use super::upstreams::Kind;
use super::usage::Usage;
use crate::quota::JobKind;

/// What a path names: its operation, and for a format that says them in the path rather than
/// the body, the model and whether the answer streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub operation: Operation,
    pub model: Option<String>,
    pub stream: Option<bool>,
    /// The body is a multipart upload, streamed through (`upload.rs`), not JSON read whole.
    pub upload: bool,
    /// A path of async jobs (`jobs/`): what it does, and the id of the object it names.
    pub job: Option<(JobPath, Option<String>)>,
}

impl From<Operation> for Route {
    fn from(operation: Operation) -> Route {
        Route {
            operation,
            model: None,
            stream: None,
            upload: false,
            job: None,
        }
    }
}

/// A path a format counts: `method` and `path` (a pattern, `paths.rs`; a `*` in it is the
/// model), the operation, whether the path says the answer streams, and whether its body is
/// an upload.
pub(crate) struct Counted {
    pub method: &'static str,
    pub path: &'static str,
    pub operation: Operation,
    pub stream: Option<bool>,
    pub upload: bool,
}

/// A path passed free: `method` and a pattern.
pub(crate) type Free = (&'static str, &'static str);

const fn counted(method: &'static str, path: &'static str, operation: Operation) -> Counted {
    Counted {
        method,
        path,
        operation,
        stream: None,
        upload: false,
    }
}

/// A path whose body is a multipart upload.
const fn upload(method: &'static str, path: &'static str, operation: Operation) -> Counted {
    Counted {
        upload: true,
        ..counted(method, path, operation)
    }
}

/// What `method` and `path` (after `/proxy/{upstream}/`) name on an upstream of `wire` that
/// also passes `passthrough` (the upstream's own list): a counted call first, else a job's
/// path, else a free path; None for anything else, which is never forwarded.
pub(crate) fn route(wire: &dyn Wire, passthrough: &[(String, String)], method: &str, path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    for c in wire.counted().iter().filter(|c| c.method == method) {
        if let Some(stars) = paths::matches(c.path, path) {
            return Some(Route {
                operation: c.operation,
                model: stars.first().map(|m| m.to_string()),
                stream: c.stream,
                upload: c.upload,
                job: None,
            });
        }
    }
    // A job's paths after the calls (no path is both; the calls are the hot path), before the
    // free ones: a job's objects are its owner's, whatever an upstream passes through.
    for (_, pattern, job) in wire.jobs().iter().filter(|(m, ..)| *m == method) {
        if let Some(stars) = paths::matches(pattern, path) {
            let operation = match job {
                JobPath::Submit(JobKind::Video) => Operation::Videos,
                JobPath::Submit(_) => Operation::Batches,
                _ => Operation::Job,
            };
            return Some(Route {
                job: Some((*job, stars.first().map(|id| id.to_string()))),
                ..operation.into()
            });
        }
    }
    let free = wire
        .free()
        .iter()
        .map(|(m, p)| (*m, *p))
        .chain(passthrough.iter().map(|(m, p)| (m.as_str(), p.as_str())));
    for (m, pattern) in free {
        if m == method && paths::matches(pattern, path).is_some() {
            return Some(Operation::Uncounted.into());
        }
    }
    None
}

/// When a stream's usage is final (`Wire::final_usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Final {
    AnyReport,
    LastEvent,
    End,
}

/// What one event of a stream said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    /// The event only carries usage the gateway asked for and the caller did not: not relayed.
    pub gateway_only: bool,
    /// The provider's last event: its running totals are final.
    pub last: bool,
}

/// One wire format.
pub(crate) trait Wire: Sync {
    /// The paths it counts: each a call of an operation.
    fn counted(&self) -> &'static [Counted];

    /// The paths it passes free by default (model lists, token counting).
    fn free(&self) -> &'static [Free];

    /// The paths of its async jobs (`jobs/paths.rs`): none unless it has them.
    fn jobs(&self) -> &'static [jobs::Entry] {
        &[]
    }

    /// How a model's text is counted, for holds and for streams left before their usage.
    fn counter(&self, model: &str) -> Counter;

    /// The call's worst case, in every count the commit will report, from its body.
    fn understand(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError>;

    /// The worst case of an upload, from its text fields and what its audio's header said.
    fn understand_upload(
        &self,
        _operation: Operation,
        _fields: &Map<String, Value>,
        _audio: &Audio,
        _limits: &Limits,
    ) -> Result<Asked, BodyError> {
        Err(wrong("body", "is an upload this format does not take"))
    }

    /// An input the call names by id, stored at the provider (a cache, an earlier response),
    /// whose size a read of this path (relative to the upstream's base URL) tells; None when
    /// the call names none, or none whose size can be read.
    fn referenced(&self, _operation: Operation, _body: &Map<String, Value>) -> Option<String> {
        None
    }

    /// The tokens a referenced input (`referenced`'s object, as the provider answered it) adds
    /// to a call's input.
    fn referenced_tokens(&self, _object: &Value) -> Option<u64> {
        None
    }

    /// The field a clamped hold lowers in a body that named no maximum output; None for an
    /// operation whose output has no maximum (embeddings, images).
    fn max_output_field(&self, operation: Operation) -> Option<&'static str>;

    /// The body to forward, from the caller's bytes (spliced, never re-serialized): what the
    /// format needs inserted for the gateway to read the usage.
    fn forwarded_body(&self, _call: &Call, body: Bytes) -> Bytes {
        body
    }

    /// Whether the stream's events that carry only the usage the gateway asked for are taken
    /// out of the caller's stream (OpenAI chat's usage chunk, when the caller did not ask).
    fn hides_gateway_usage(&self, _call: &Call) -> bool {
        false
    }

    /// The provider's credential and the headers the format requires, on a request upstream.
    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        credential: Option<&str>,
        sent: &actix_web::http::header::HeaderMap,
    ) -> reqwest::RequestBuilder;

    /// A query parameter the format's clients may carry their key in (Gemini's `key`): read
    /// as the caller's key, never forwarded.
    fn key_param(&self) -> Option<&'static str> {
        None
    }

    /// The header the provider names its request id in.
    fn request_id_header(&self) -> &'static str;

    /// The id a provider that sends no request id header names its answer by in the body (in
    /// each event of a stream), recorded in its place.
    fn answer_id<'a>(&self, _body: &'a Value) -> Option<&'a str> {
        None
    }

    /// The usage a whole answer reports.
    fn usage_of_answer(&self, operation: Operation, body: &Value) -> Usage;

    /// What `audio_ms` of audio delivered (an answer of bytes with no usage: speech) counts,
    /// in the operation's counts; nothing unless the format knows its rate.
    fn delivered_audio(&self, _operation: Operation, _audio_ms: u64) -> Usage {
        Usage::default()
    }

    /// Folds what one stream event says of usage into `seen`.
    fn usage_of_event(&self, operation: Operation, event: Option<&str>, data: &Value, seen: &mut Usage) -> Event;

    /// When a stream's usage is final: at any report or the stream's end (`AnyReport`), only
    /// at the format's last event (`LastEvent`, a running total), or only at the stream's end
    /// (`End`, a running total with no last event of its own).
    fn final_usage(&self, _operation: Operation) -> Final {
        Final::AnyReport
    }

    /// Whether a stream not sent as server-sent events is one JSON array of events.
    fn streams_json_arrays(&self) -> bool {
        false
    }

    /// Each piece of output text one event carries, for a stream left before its usage.
    fn streamed_text(&self, operation: Operation, data: &Value, each: &mut dyn FnMut(&str));

    /// Whether a provider's error answer (`status`, `body`) says the request was longer than the
    /// model's context: a route moves on to a model that may take it.
    fn context_too_long(&self, _status: u16, _body: &Value) -> bool {
        false
    }

    /// The format's error body for the gateway's own answers.
    fn error_body(&self, status: u16, code: &str, message: &str, param: Option<&str>) -> Value;

    /// The event that ends a stream the provider broke off, in the format's in-stream shape.
    fn stream_error(&self, operation: Operation, code: &str, message: &str) -> String;
}

/// The wire format of an upstream kind.
pub(crate) fn of(kind: Kind) -> &'static dyn Wire {
    match kind {
        Kind::OpenAi => &openai::OpenAi { compatible: false },
        Kind::OpenAiCompatible => &openai::OpenAi { compatible: true },
        Kind::Anthropic => &anthropic::Anthropic,
        Kind::Gemini => &gemini::Gemini,
    }
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
fn texts(object: Option<&Value>, fields: &[&str], each: &mut dyn FnMut(&str)) {
    for field in fields {
        if let Some(t) = object.and_then(|o| o.get(*field)).and_then(Value::as_str) {
            each(t);
        }
    }
}

/// Whether an id a caller names may go into a path the gateway reads: letters, digits, `-`
/// and `_`, 1 to 256 of them, so it names one object and no other path.
pub(crate) fn path_id(id: &str) -> bool {
    (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_operations_and_nothing_else_is_forwarded() {
        let op = |kind, method, path| route(of(kind), &[], method, path).map(|r| r.operation);
        assert_eq!(op(Kind::OpenAi, "POST", "v1/chat/completions"), Some(Operation::Chat));
        assert_eq!(
            op(Kind::OpenAiCompatible, "POST", "v1/responses"),
            Some(Operation::Responses)
        );
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/gpt-4o"), Some(Operation::Uncounted));
        assert_eq!(op(Kind::Anthropic, "POST", "v1/messages"), Some(Operation::Messages));
        assert_eq!(op(Kind::Anthropic, "POST", "v1/chat/completions"), None);
        assert_eq!(op(Kind::OpenAi, "POST", "v1/audio/speech"), Some(Operation::Speech));
        let upload = |kind| route(of(kind), &[], "POST", "v1/audio/transcriptions").map(|r| (r.operation, r.upload));
        assert_eq!(upload(Kind::OpenAiCompatible), Some((Operation::Transcriptions, true)));
        assert_eq!(upload(Kind::Anthropic), None);
        assert_eq!(
            op(Kind::OpenAi, "POST", "v1/audio/translations"),
            Some(Operation::Translations)
        );
        assert_eq!(op(Kind::Gemini, "POST", "v1/audio/speech"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/chat/completions"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/../files"), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/.."), None);
        assert_eq!(op(Kind::OpenAi, "GET", "v1/models/."), None);
        let gemini = route(
            of(Kind::Gemini),
            &[],
            "POST",
            "v1beta/models/gemini-2.5-flash:streamGenerateContent",
        );
        assert_eq!(
            gemini,
            Some(Route {
                operation: Operation::Generate,
                model: Some("gemini-2.5-flash".into()),
                stream: Some(true),
                upload: false,
                job: None,
            })
        );
        assert_eq!(
            op(Kind::Gemini, "POST", "v1/models/gemini-2.5-pro:countTokens"),
            Some(Operation::Uncounted)
        );
        assert_eq!(op(Kind::Gemini, "POST", "v1beta/models/x:embedContent"), None);
        // An upstream's own passthrough adds paths, free.
        let stores = [("GET".to_string(), "v1/vector_stores/*".to_string())];
        assert_eq!(
            route(of(Kind::OpenAi), &stores, "GET", "v1/vector_stores/vs-1").map(|r| r.operation),
            Some(Operation::Uncounted)
        );
        assert_eq!(op(Kind::OpenAi, "GET", "v1/vector_stores/vs-1"), None);
        // Jobs: submissions held for their life, their objects their owner's.
        assert_eq!(op(Kind::OpenAi, "POST", "v1/batches"), Some(Operation::Batches));
        assert_eq!(op(Kind::OpenAiCompatible, "POST", "v1/videos"), Some(Operation::Videos));
        assert_eq!(
            op(Kind::Anthropic, "POST", "v1/messages/batches"),
            Some(Operation::Batches)
        );
        let owned = route(of(Kind::OpenAi), &[], "GET", "v1/files/file-1").and_then(|r| r.job);
        assert_eq!(
            owned,
            Some((
                JobPath::Owned(jobs::Object::File, jobs::Action::Read),
                Some("file-1".to_string())
            ))
        );
        // A list is the gateway's own, of the caller's objects: the provider's shows every user's.
        let list = |kind, path| route(of(kind), &[], "GET", path).and_then(|r| r.job).map(|(p, _)| p);
        assert_eq!(
            list(Kind::OpenAi, "v1/batches"),
            Some(JobPath::List(jobs::Object::Job(JobKind::Batch)))
        );
        assert_eq!(
            list(Kind::OpenAiCompatible, "v1/files"),
            Some(JobPath::List(jobs::Object::File))
        );
        assert_eq!(
            list(Kind::Anthropic, "v1/messages/batches"),
            Some(JobPath::List(jobs::Object::Job(JobKind::MessageBatch)))
        );
        assert_eq!(list(Kind::Gemini, "v1/batches"), None);
        assert_eq!(op(Kind::Gemini, "POST", "v1/batches"), None);
    }
}
