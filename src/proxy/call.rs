//! A proxied call as the gateway sees it: which operation the path names, and from the body,
//! the model, whether it streams, and its worst case in every count the commit will report.

use serde_json::{Map, Value};

use super::tokens::{self, IMAGE_TOKENS};
use super::upstreams::{Kind, Upstream};
use super::usage::Usage;

/// What a path under `/proxy/{upstream}/` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Responses,
    Embeddings,
    Images,
    Messages,
    /// Forwarded uncounted: model lists and Anthropic's token counting.
    Uncounted,
}

impl Operation {
    /// The operation `method` and `path` (after `/proxy/{upstream}/`) name for an upstream
    /// of `kind`; None for anything else, which is never forwarded.
    pub fn of(kind: Kind, method: &str, path: &str) -> Option<Operation> {
        let path = path.trim_end_matches('/');
        let models = method == "GET" && (path == "v1/models" || path.strip_prefix("v1/models/").is_some_and(plain));
        if models {
            return Some(Operation::Uncounted);
        }
        if method != "POST" {
            return None;
        }
        match (kind.openai(), path) {
            (true, "v1/chat/completions") => Some(Operation::Chat),
            (true, "v1/responses") => Some(Operation::Responses),
            (true, "v1/embeddings") => Some(Operation::Embeddings),
            (true, "v1/images/generations") => Some(Operation::Images),
            (false, "v1/messages") => Some(Operation::Messages),
            (false, "v1/messages/count_tokens") => Some(Operation::Uncounted),
            _ => None,
        }
    }

    /// Its name in the event `<upstream>.<operation>` and in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Responses => "responses",
            Operation::Embeddings => "embeddings",
            Operation::Images => "images",
            Operation::Messages => "messages",
            Operation::Uncounted => "uncounted",
        }
    }
}

/// One path segment of plain characters (a model id).
fn plain(segment: &str) -> bool {
    !segment.is_empty()
        && segment.bytes().any(|b| b != b'.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// What the gateway holds for a call, and what it needs to relay it.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: Operation,
    pub model: String,
    pub stream: bool,
    /// OpenAI chat streams: whether the caller asked for the usage chunk itself.
    pub caller_wants_usage: bool,
    /// The worst case, in the counts the commit reports.
    pub worst: Usage,
    /// Chat's `n`: choices, each up to the maximum output.
    pub choices: u64,
    /// The field that names the maximum output in the caller's body, if any.
    pub max_field: Option<&'static str>,
    /// How the model's text is counted.
    pub counter: tokens::Counter,
}

/// What is wrong with a body; `field` is its JSON path.
#[derive(Debug, PartialEq, Eq)]
pub struct BodyError {
    pub field: String,
    pub detail: String,
}

fn wrong(field: &str, detail: &str) -> BodyError {
    BodyError {
        field: field.to_string(),
        detail: detail.to_string(),
    }
}

/// The most any one count of a request may ask for.
const MAX_COUNT: u64 = 100_000_000;

/// A model's limits as the catalog knows them: its output limit and context window, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLimits {
    pub output: u64,
    pub context: u64,
}

/// Reads the call from its body. A call that names no maximum output is held at the model's
/// output limit (`model_limits`, the catalog's) capped by the upstream's. A body naming an
/// input the provider fetches or expands is held at the model's context window (else the
/// upstream's `contextTokens`): no count of the body bounds it, and no input exceeds it.
pub fn understand(
    upstream: &Upstream,
    operation: Operation,
    body: &Map<String, Value>,
    model_limits: impl FnOnce(&str) -> Option<ModelLimits>,
) -> Result<Call, BodyError> {
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() && m.len() <= 256 => m.clone(),
        _ => return Err(wrong("model", "must be the model's name, 1 to 256 bytes")),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong("stream", "must be true or false")),
    };
    let counter = tokens::counter_for(&model, upstream.kind != Kind::Anthropic);
    let limits = model_limits(&model);
    let default_max = limits
        .map(|l| l.output)
        .filter(|limit| *limit > 0)
        .map_or(upstream.max_output_tokens, |limit| {
            limit.min(upstream.max_output_tokens)
        });
    // What an input the provider fetches or expands is held at: the upstream's own bound when
    // its configuration names one, else the model's context window (no input exceeds it).
    let context = upstream.fetched_input_tokens.unwrap_or_else(|| {
        limits
            .map(|l| l.context)
            .filter(|c| *c > 0)
            .unwrap_or(upstream.context_tokens)
    });
    let held = |bound: tokens::Bound| match bound.expands {
        true => bound.tokens.max(context),
        false => bound.tokens,
    };
    let (mut choices, mut max_field) = (1, None);
    let named = |field: &'static str, max: Option<u64>| max.map(|_| field);
    let positive = |field: &str| -> Result<Option<u64>, BodyError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(Some(n)),
                _ => Err(wrong(field, "must be a whole number from 1")),
            },
        }
    };
    let mut worst = Usage::default();
    let mut caller_wants_usage = false;
    match operation {
        Operation::Chat => {
            let n = positive("n")?.unwrap_or(1);
            choices = n;
            let max = match positive("max_completion_tokens")? {
                Some(max) => {
                    max_field = Some("max_completion_tokens");
                    Some(max)
                }
                None => {
                    let max = positive("max_tokens")?;
                    max_field = named("max_tokens", max);
                    max
                }
            };
            caller_wants_usage = body
                .get("stream_options")
                .and_then(|o| o.get("include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            worst.input_tokens = Some(held(tokens::bound_object(counter, body)));
            worst.output_tokens = Some(max.unwrap_or(default_max).saturating_mul(n));
        }
        Operation::Responses => {
            let max = positive("max_output_tokens")?;
            max_field = named("max_output_tokens", max);
            // A stored conversation's input is the provider's, unseen here: held at the
            // upstream's context size on top of what is sent.
            let stored = ["previous_response_id", "conversation", "prompt"]
                .iter()
                .any(|k| body.get(*k).is_some_and(|v| !v.is_null()));
            let seen = held(tokens::bound_object(counter, body));
            worst.input_tokens = Some(seen.saturating_add(if stored { upstream.context_tokens } else { 0 }));
            worst.output_tokens = Some(max.unwrap_or(default_max));
        }
        Operation::Messages => {
            let max = positive("max_tokens")?;
            max_field = named("max_tokens", max);
            worst.input_tokens = Some(held(tokens::bound_object(counter, body)));
            worst.output_tokens = Some(max.unwrap_or(default_max));
        }
        Operation::Embeddings => {
            let input = body.get("input").ok_or_else(|| wrong("input", "is required"))?;
            worst.input_tokens = Some(held(tokens::bound(counter, input)));
            worst.output_tokens = Some(0);
        }
        Operation::Images => {
            let n = positive("n")?.unwrap_or(1);
            let prompt = body.get("prompt").ok_or_else(|| wrong("prompt", "is required"))?;
            worst.input_tokens = Some(held(tokens::bound(counter, prompt)));
            // gpt-image-1's largest image is 6,240 output tokens.
            worst.output_tokens = Some(n.saturating_mul(IMAGE_TOKENS + 240));
            worst.images = Some(n);
        }
        Operation::Uncounted => {}
    }
    // Parts of a whole are held at the whole: no weight of a plan can make the hold short.
    worst.cached_input_tokens = worst.input_tokens;
    worst.cache_write_tokens = worst.input_tokens;
    worst.reasoning_tokens = worst.output_tokens;
    worst.images.get_or_insert(0);
    Ok(Call {
        operation,
        model,
        stream,
        caller_wants_usage,
        worst,
        choices,
        max_field,
        counter,
    })
}

impl Call {
    /// The maximum output to forward for a clamped reserve's grant (`granted` output tokens in
    /// all, shared by chat's `n` choices), so the provider bills no more than was held: the
    /// field the caller used, else the operation's own, and its value; the hold's worst case
    /// follows. None for an operation whose output has no maximum to lower (embeddings, images).
    pub fn lower_max_output(&mut self, granted: u64, kind: Kind) -> Option<(&'static str, u64)> {
        // At least a token a choice: a provider refuses a maximum of 0.
        let per_choice = (granted / self.choices.max(1)).max(1);
        let field = match (self.operation, self.max_field) {
            (_, Some(field)) => field,
            (Operation::Chat, None) if kind == Kind::OpenAi => "max_completion_tokens",
            (Operation::Chat | Operation::Messages, None) => "max_tokens",
            (Operation::Responses, None) => "max_output_tokens",
            _ => return None,
        };
        self.worst.output_tokens = Some(per_choice.saturating_mul(self.choices.max(1)));
        self.worst.reasoning_tokens = self.worst.output_tokens;
        Some((field, per_choice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_operations_and_nothing_else_is_forwarded() {
        assert_eq!(
            Operation::of(Kind::OpenAi, "POST", "v1/chat/completions"),
            Some(Operation::Chat)
        );
        assert_eq!(
            Operation::of(Kind::OpenAiCompatible, "POST", "v1/responses"),
            Some(Operation::Responses)
        );
        assert_eq!(
            Operation::of(Kind::OpenAi, "GET", "v1/models/gpt-4o"),
            Some(Operation::Uncounted)
        );
        assert_eq!(
            Operation::of(Kind::Anthropic, "POST", "v1/messages"),
            Some(Operation::Messages)
        );
        assert_eq!(Operation::of(Kind::Anthropic, "POST", "v1/chat/completions"), None);
        assert_eq!(Operation::of(Kind::OpenAi, "POST", "v1/audio/speech"), None);
        assert_eq!(Operation::of(Kind::OpenAi, "GET", "v1/chat/completions"), None);
        assert_eq!(Operation::of(Kind::OpenAi, "GET", "v1/models/../files"), None);
        assert_eq!(Operation::of(Kind::OpenAi, "GET", "v1/models/.."), None);
        assert_eq!(Operation::of(Kind::OpenAi, "GET", "v1/models/."), None);
    }
}
