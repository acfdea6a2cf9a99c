//! What a wire format answers for the door, as a trait: which paths are calls, what a body
//! asks for, where an answer and a stream report usage, how the provider wants its credential
//! and how its errors look. The formats themselves are `wire/`'s, one module each.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::jobs::{self, JobPath};
use super::tokens::Counter;
use super::upstream::Upstream;
use super::usage::Usage;
use super::{wrong, Asked, Audio, BodyError, Call, Limits, Operation};

/// The most objects one call (or one batch's requests) may name, each looked up before the hold.
pub(crate) const MAX_NAMED: usize = 512;

/// An object the provider keeps that a call's body names by id (`Wire::named_objects`): a file
/// (its id as the Files API gives it), a stored response (`responses/{id}`) or a cache
/// (`cachedContents/{id}`); the field that names it. An id of "" is a file named in a form the
/// gateway does not read, which is nobody's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub field: String,
    pub id: String,
}

/// Why a named object that is not the caller's user's is refused.
pub(crate) fn not_owned(id: &str) -> &'static str {
    if id.starts_with("responses/") {
        "is not a response this user made through this gateway"
    } else if id.starts_with("cachedContents/") {
        "is not a cache this user made through this gateway"
    } else {
        "is not a file this user uploaded through this gateway: upload it here first"
    }
}

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

/// A path a format counts: `method` and `path` (a pattern, `../paths.rs`; a `*` in it is the
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

    /// Free paths a counted path's `*` would also match (a literal where a model goes): found
    /// before the counted ones.
    fn free_first(&self) -> &'static [Free] {
        &[]
    }

    /// The paths of its async jobs (`call/jobs.rs`): none unless it has them.
    fn jobs(&self) -> &'static [jobs::Entry] {
        &[]
    }

    /// How a model's text is counted, for holds and for streams left before their usage.
    fn counter(&self, model: &str) -> Counter;

    /// The call's worst case, in every count the commit will report, from its body.
    fn asked(&self, operation: Operation, body: &Map<String, Value>, limits: &Limits) -> Result<Asked, BodyError>;

    /// Whether an upload of `operation` is a form read whole before its hold (an image edit,
    /// priced by how many images it sends), not streamed through as it arrives (audio).
    fn form_read_whole(&self, _operation: Operation) -> bool {
        false
    }

    /// The worst case of an upload, from the text fields it is priced from and what its audio's
    /// header said.
    fn asked_of_upload(
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

    /// The objects the body names by id that the provider keeps (at `upstream`): files, stored
    /// responses, caches, each with the field that names it. A call may name only its user's,
    /// made through the gateway (`understand.rs`).
    fn named_objects(&self, _operation: Operation, _body: &Map<String, Value>, _upstream: &Upstream) -> Vec<Named> {
        Vec::new()
    }

    /// The object a whole answer (or a stream's event) says the provider now keeps for later
    /// calls to name (a stored response, a cache), as `named_objects` names it: recorded as the
    /// caller's before the caller reads its id.
    fn kept(&self, _operation: Operation, _answer: &Value) -> Option<String> {
        None
    }

    /// For an operation whose answer reports no usage (Gemini's embeddings): the request that
    /// asks the provider to count the call's input (a path relative to the upstream's base
    /// URL, and its JSON body), sent once the answer came.
    fn count_request(
        &self,
        _operation: Operation,
        _model: &str,
        _body: &Map<String, Value>,
    ) -> Option<(String, Value)> {
        None
    }

    /// The input tokens a `count_request`'s answer says.
    fn counted_tokens(&self, _answer: &Value) -> Option<u64> {
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

    /// The header a realtime session's socket carries the provider's credential in, and its
    /// value: a bearer token unless the format says otherwise.
    fn socket_credential(&self, credential: &str) -> (&'static str, String) {
        ("authorization", format!("Bearer {credential}"))
    }

    /// Where this format serves `path`, a path of OpenAI's (`v1/...`) the gateway reads on its
    /// own (a job, a file, a stored response) or a batch's line calls: itself, but on Azure
    /// OpenAI, whose `openai/v1/` paths need no `api-version`, and whose batch lines may name
    /// theirs without `v1/`.
    fn own_path(&self, path: &str) -> String {
        path.to_string()
    }

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

    /// Whether a stream event (`data`, its JSON text) must be read as it comes: whether it may
    /// report usage or end the stream (`usage_of_event`) or name the answer (`answer_id`). One
    /// that cannot, a delta of text, is read only for the output it streamed (`streamed_text`),
    /// and only when the caller leaves before the usage. Every event, unless the format knows.
    fn reads_event_at_once(&self, _operation: Operation, _data: &str) -> bool {
        true
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

    /// A header the format names an error's type in beside its body (Bedrock's
    /// `x-amzn-ErrorType`, which AWS's clients raise by), for the gateway's own answers.
    fn error_type(&self, _status: u16) -> Option<(&'static str, &'static str)> {
        None
    }

    /// The event that ends a stream the provider broke off, in the format's in-stream shape
    /// (bytes: an AWS event stream's are binary).
    fn stream_error(&self, operation: Operation, code: &str, message: &str) -> Vec<u8>;
}
