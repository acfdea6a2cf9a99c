//! The door's vocabulary, which every other part of the proxy speaks and which speaks none of
//! them: a call's operation, target and context (`context.rs`), who pays (`caller.rs`), its
//! worst case and usage (`usage.rs`, `tokens.rs`), its hold and how an attempt ended
//! (`hold.rs`, `outcome.rs`), the upstreams and their routes (`upstream.rs`), the paths of async
//! jobs (`jobs.rs`), and what a wire format answers (`wire.rs`, the formats under `../wire/`).
//!
//! This file is the call as the gateway sees it: which operation the path names, and from the
//! body, the model, whether it streams, and its worst case in every count the commit will
//! report. What each operation's body says is its wire format's to read; this is what every
//! format shares: the model, `stream`, the limits a hold falls back on, and the rule that a
//! part is held at its whole.

use serde_json::{Map, Value};

pub(crate) mod caller;
pub(crate) mod context;
pub(crate) mod google_token;
pub(crate) mod hold;
pub(crate) mod jobs;
pub(crate) mod outcome;
pub(crate) mod sigv4;
pub(crate) mod tokens;
pub(crate) mod upstream;
pub(crate) mod usage;
pub(crate) mod wire;

use self::context::Target;
use self::tokens::{Bound, Counter};
use self::upstream::Upstream;
use self::usage::Usage;
use self::wire::Wire;

/// What a path under `/proxy/{upstream}/` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Chat,
    Responses,
    Embeddings,
    Images,
    Messages,
    /// Gemini's `generateContent` and `streamGenerateContent`.
    Generate,
    /// Bedrock's `converse` and `converse-stream`.
    Converse,
    /// Gemini's `embedContent` and `batchEmbedContents`: input only, which Google does not
    /// report (`Wire::count_request`).
    Embed,
    /// Gemini's `cachedContents` created: its contents' tokens, written to the cache.
    Cache,
    /// Audio to text (OpenAI's `audio/transcriptions`, `audio/translations`), an upload.
    Transcriptions,
    Translations,
    /// Text to audio (OpenAI's `audio/speech`).
    Speech,
    /// A batch job (OpenAI's `batches`, Anthropic's `messages/batches`): held from submission
    /// to its end (`jobs/`).
    Batches,
    /// A video job (`videos`), held likewise.
    Videos,
    /// A realtime session (OpenAI's `realtime`, a WebSocket): one held for its life, so a
    /// `concurrent` group counts open sessions (`realtime/`).
    Realtime,
    /// One response of a realtime session: held before it starts, settled from `response.done`.
    RealtimeResponse,
    /// A minute of a realtime session's time, held ahead and settled at the seconds it ran
    /// (`realtime_seconds`): the session's event, counting no session.
    RealtimeMinute,
    /// A read, cancel or upload of a job's objects (a batch, its files, a video), served only
    /// to the user who owns them (`jobs/`).
    Job,
    /// Forwarded uncounted: model lists and Anthropic's token counting.
    Uncounted,
}

impl Operation {
    /// Its name in the event `<upstream>.<operation>` and in metadata.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Responses => "responses",
            Operation::Embeddings => "embeddings",
            Operation::Images => "images",
            Operation::Messages => "messages",
            Operation::Generate => "generate",
            Operation::Converse => "converse",
            Operation::Embed => "embed",
            Operation::Cache => "cache",
            Operation::Transcriptions => "transcriptions",
            Operation::Translations => "translations",
            Operation::Speech => "speech",
            Operation::Batches => "batches",
            Operation::Videos => "videos",
            Operation::Realtime => "realtime",
            Operation::RealtimeResponse => "realtime_response",
            // The session's own event: a seconds group on it measures `realtime_seconds`.
            Operation::RealtimeMinute => "realtime",
            Operation::Job => "job",
            Operation::Uncounted => "uncounted",
        }
    }

    /// Whether it submits an async job, held from submission to its end (`jobs/`).
    pub(crate) fn is_job(self) -> bool {
        matches!(self, Operation::Batches | Operation::Videos)
    }

    /// Whether its output has a maximum the caller names (and a clamped hold lowers).
    pub(crate) fn has_maximum(self) -> bool {
        matches!(
            self,
            Operation::Chat
                | Operation::Responses
                | Operation::Messages
                | Operation::Generate
                | Operation::Converse
                | Operation::RealtimeResponse
        )
    }
}

/// What the gateway holds for a call, and what it needs to relay it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub operation: Operation,
    pub model: String,
    pub stream: bool,
    /// OpenAI chat streams: whether the caller asked for the usage chunk itself.
    pub caller_wants_usage: bool,
    /// The worst case, in the counts the commit reports.
    pub worst: Usage,
    /// What the gateway measured of the call itself, counted where the provider reports none.
    pub measured: Usage,
    /// Chat's `n`: choices, each up to the maximum output.
    pub choices: u64,
    /// The field that names the maximum output in the caller's body, if any.
    pub max_field: Option<&'static str>,
    /// How the model's text is counted.
    pub counter: Counter,
    /// What the hold's event carries beside the counts (a batch's `batch`, a video's `size`).
    pub extra: Map<String, Value>,
    /// A job's hold lives this long (its window and a margin after it); None: the proxy's hold
    /// time, extended while the call runs.
    pub ttl_ms: Option<i64>,
    /// An input stored at the provider, held at `unseen` tokens until its size is read: the
    /// path that reads it, and those tokens.
    pub referenced: Option<(String, u64)>,
    /// A call whose answer reports no usage: the request (a path and its JSON body) that asks
    /// the provider to count its input, as it bills it.
    pub count_after: Option<(String, bytes::Bytes)>,
    /// What the body names that the provider keeps (files, stored responses, caches): each must
    /// be its user's, made through the gateway.
    pub named: Vec<wire::Named>,
}

/// What the gateway knows of an upload's audio before the provider sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audio {
    /// The longest the file's bytes can last, in whole seconds rounded up: what is held.
    pub held_seconds: u64,
    /// Its exact length, where the gateway read it from all of the file's data (a PCM WAV read
    /// to its end): what is settled where the provider reports no duration.
    pub seconds: Option<u64>,
}

/// What a wire format read of an operation's body.
#[derive(Debug, Default)]
pub(crate) struct Asked {
    pub worst: Usage,
    pub measured: Usage,
    pub choices: u64,
    pub max_field: Option<&'static str>,
    pub caller_wants_usage: bool,
    /// Whether the answer streams, where the body says so otherwise than by `stream`.
    pub stream: Option<bool>,
    /// The input tokens held for an input stored at the provider (a cache, a conversation),
    /// which the gateway does not see.
    pub unseen: u64,
}

/// What is wrong with a body; `field` is its JSON path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BodyError {
    pub field: String,
    pub detail: String,
}

pub(crate) fn wrong(field: &str, detail: &str) -> BodyError {
    BodyError {
        field: field.to_string(),
        detail: detail.to_string(),
    }
}

/// The most any one count of a request may ask for.
const MAX_COUNT: u64 = 100_000_000;

/// A model's limits as the catalog knows them: its output limit and context window, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelLimits {
    pub output: u64,
    pub context: u64,
}

/// What a body's counts fall back on, for its model on its upstream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub counter: Counter,
    /// What a call that names no maximum output is held for (and forwarded with): the model's
    /// output limit (the catalog's), cut to the upstream's `maxOutputTokens` where the operator
    /// set one; for a model the catalog does not know, the upstream's.
    pub default_max: u64,
    /// What an input the provider fetches or expands is held at: the upstream's own bound when
    /// its configuration names one, else the model's context window (no input exceeds it).
    pub fetched: u64,
    /// What an input stored at the provider (a cache, a conversation) is held at while its size
    /// is unknown: the model's context window, else the upstream's `contextTokens`.
    pub stored: u64,
}

impl Limits {
    /// The limits of a model on `upstream`, counted by `counter`, as the catalog knows it
    /// (`known`) or not.
    pub(crate) fn of(counter: Counter, upstream: &Upstream, known: Option<ModelLimits>) -> Limits {
        let context = known.map(|l| l.context).filter(|c| *c > 0);
        Limits {
            counter,
            default_max: known
                .map(|l| l.output)
                .filter(|limit| *limit > 0)
                .map_or(upstream.max_output_tokens, |limit| {
                    upstream.output_cap.map_or(limit, |cap| limit.min(cap))
                }),
            fetched: upstream
                .fetched_input_tokens
                .unwrap_or_else(|| context.unwrap_or(upstream.context_tokens)),
            stored: context.unwrap_or(upstream.context_tokens),
        }
    }

    /// The tokens a bound of some input is held at: a fetched or expanded input at `fetched`.
    pub(crate) fn held(&self, bound: Bound) -> u64 {
        match bound.expands {
            true => bound.tokens.max(self.fetched),
            false => bound.tokens,
        }
    }

    /// The held input tokens of a whole body.
    pub(crate) fn body(&self, body: &Map<String, Value>) -> u64 {
        self.held(tokens::bound_object(self.counter, body))
    }

    /// The held input tokens of one value of a body.
    pub(crate) fn value(&self, value: &Value) -> u64 {
        self.held(tokens::bound(self.counter, value))
    }
}

/// A count the body may name: a whole number from 1, or absent.
pub(crate) fn positive(body: &Map<String, Value>, field: &str) -> Result<Option<u64>, BodyError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(Some(n)),
            _ => Err(wrong(field, "must be a whole number from 1")),
        },
    }
}

/// A field the operation cannot do without.
pub(crate) fn required<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a Value, BodyError> {
    body.get(field).ok_or_else(|| wrong(field, "is required"))
}

impl Call {
    /// Reads the call from its body (an upload's text fields, with what its audio's header said),
    /// in its upstream's wire format. A body naming an input the provider fetches or expands is
    /// held at the model's context window (else the upstream's `contextTokens`): no count of the
    /// body bounds it, and no input exceeds it.
    pub(crate) fn from_body(
        target: &Target,
        body: &Map<String, Value>,
        audio: Option<&Audio>,
        model_limits: impl FnOnce(&str) -> Option<ModelLimits>,
    ) -> Result<Call, BodyError> {
        let (wire, upstream, route) = (target.wire, &*target.upstream, &target.route);
        let operation = route.operation;
        let named = match (&route.model, body.get("model")) {
            (Some(m), _) => m.clone(),
            (None, Some(Value::String(m))) if !m.is_empty() && m.len() <= 256 => m.clone(),
            _ => return Err(wrong("model", "must be the model's name, 1 to 256 bytes")),
        };
        // (An Azure deployment is held as the model it serves.)
        let model = upstream.model_of(named);
        let stream = match (route.stream, body.get("stream")) {
            (Some(stream), _) => stream,
            (None, None | Some(Value::Null)) => false,
            (None, Some(Value::Bool(b))) => *b,
            (None, Some(_)) => return Err(wrong("stream", "must be true or false")),
        };
        let limits = Limits::of(wire.counter(&model), upstream, model_limits(&model));
        let asked = match audio {
            Some(audio) => wire.asked_of_upload(operation, body, audio, &limits)?,
            None => wire.asked(operation, body, &limits)?,
        };
        let count_after = wire
            .count_request(operation, &model, body)
            .map(|(path, sent)| (path, bytes::Bytes::from(sent.to_string())));
        Ok(Call {
            operation,
            model,
            stream: asked.stream.unwrap_or(stream),
            caller_wants_usage: asked.caller_wants_usage,
            // Parts of a whole are held at the whole: no weight of a plan can make the hold short.
            worst: asked.worst.held(operation),
            measured: asked.measured,
            choices: asked.choices.max(1),
            max_field: asked.max_field,
            counter: limits.counter,
            extra: Map::new(),
            ttl_ms: None,
            referenced: wire
                .referenced(operation, body)
                .filter(|_| asked.unseen > 0)
                .map(|path| (path, asked.unseen)),
            count_after,
            named: wire.named_objects(operation, body, upstream),
        })
    }

    /// The call with its referenced input held at `tokens`, its size as the provider read it
    /// (at most what was held for it: no input passes the model's context window).
    pub(crate) fn referenced_is(&mut self, tokens: u64) {
        if let Some((_, unseen)) = self.referenced.take() {
            let input = self.worst.input_tokens.unwrap_or(0).saturating_sub(unseen);
            self.worst.input_tokens = Some(input.saturating_add(tokens.min(unseen)));
            self.worst = self.worst.held(self.operation);
        }
    }

    /// The maximum output to forward for a call that named none, so the provider cannot produce
    /// more than was held: the one it was held at (a choice's share of it), under the format's
    /// own field. None for a call that named one, or an operation with no maximum.
    pub(crate) fn held_max_output(&self, wire: &dyn Wire) -> Option<(&'static str, u64)> {
        if self.max_field.is_some() || !self.operation.has_maximum() {
            return None;
        }
        let field = wire.max_output_field(self.operation)?;
        let per_choice = (self.worst.output_tokens? / self.choices.max(1)).max(1);
        Some((field, per_choice))
    }

    /// The maximum output to forward for a clamped reserve's grant (`granted` output tokens in
    /// all, shared by chat's `n` choices), so the provider bills no more than was held: the
    /// field the caller used, else the format's own for the operation, and its value; the
    /// hold's worst case follows. None for an operation whose output has no maximum to lower.
    pub(crate) fn lower_max_output(&mut self, granted: u64, wire: &dyn Wire) -> Option<(&'static str, u64)> {
        // At least a token a choice: a provider refuses a maximum of 0.
        let per_choice = (granted / self.choices).max(1);
        let field = self.max_field.or_else(|| wire.max_output_field(self.operation))?;
        self.worst.output_tokens = Some(per_choice.saturating_mul(self.choices));
        self.worst.reasoning_tokens = self.worst.output_tokens;
        if self.worst.audio_output_tokens.is_some() {
            self.worst.audio_output_tokens = self.worst.output_tokens;
        }
        Some((field, per_choice))
    }
}
