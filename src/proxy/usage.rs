//! The provider's usage in the gateway's names, read from an answer or a stream's events.
//! A part is inside its whole: `input_tokens` counts every input token the provider billed,
//! cached and cache-written ones included (`cached_input_tokens`, `cache_write_tokens` say how
//! many of them were), and `output_tokens` includes `reasoning_tokens`. A count the provider
//! sent as 0 is 0; one it did not send is None.

use serde_json::{Map, Value};

use super::call::Operation;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub images: Option<u64>,
    /// The provider's own cost of the call in nano-dollars (OpenRouter's `usage.cost`), which
    /// a group priced by the provider commits at (metadata `cost`, in dollars).
    pub cost_nano: Option<u64>,
}

/// The metadata names of the counts, in `Usage`'s order.
pub const NAMES: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "images",
];

impl Usage {
    fn counts(&self) -> [Option<u64>; 6] {
        [
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.images,
        ]
    }

    /// Whether the provider reported the counts that make its bill (tokens, or images).
    pub fn reported(&self) -> bool {
        (self.input_tokens.is_some() && self.output_tokens.is_some()) || self.images.is_some()
    }

    /// Every count, each one missing taken from `hold`.
    pub fn or(&self, hold: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.or(hold.input_tokens),
            output_tokens: self.output_tokens.or(hold.output_tokens),
            cached_input_tokens: self.cached_input_tokens.or(hold.cached_input_tokens),
            cache_write_tokens: self.cache_write_tokens.or(hold.cache_write_tokens),
            reasoning_tokens: self.reasoning_tokens.or(hold.reasoning_tokens),
            images: self.images.or(hold.images),
            // A cost is the provider's or none: a hold has no cost to fall back on.
            cost_nano: self.cost_nano,
        }
    }

    /// Where a report leaves a count out that the call cannot have (an answer without images,
    /// a chat without a cache), 0.
    pub fn zeros(&self) -> Usage {
        let z = |v: Option<u64>| Some(v.unwrap_or(0));
        Usage {
            input_tokens: z(self.input_tokens),
            output_tokens: z(self.output_tokens),
            cached_input_tokens: z(self.cached_input_tokens),
            cache_write_tokens: z(self.cache_write_tokens),
            reasoning_tokens: z(self.reasoning_tokens),
            images: z(self.images),
            cost_nano: self.cost_nano,
        }
    }

    /// The call's quantity: images for an image call, tokens in and out for any other.
    pub fn quantity(&self, operation: Operation) -> u64 {
        match operation {
            Operation::Images => self.images.unwrap_or(0),
            _ => self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(self.output_tokens.unwrap_or(0)),
        }
    }

    /// Writes every known count into `metadata`.
    pub fn write(&self, metadata: &mut Map<String, Value>) {
        for (name, count) in NAMES.iter().zip(self.counts()) {
            if let Some(count) = count {
                metadata.insert((*name).to_string(), Value::from(count));
            }
        }
        if let Some(nano) = self.cost_nano {
            // Dollars with their nine decimals, exactly (serde_json keeps a number's text).
            let text = format!("{}.{:09}", nano / 1_000_000_000, nano % 1_000_000_000);
            if let Ok(cost) = serde_json::from_str::<Value>(&text) {
                metadata.insert("cost".into(), cost);
            }
        }
    }

    /// Takes every count `other` has (a later, cumulative report wins).
    fn update(&mut self, other: Usage) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, other.input_tokens);
        take(&mut self.output_tokens, other.output_tokens);
        take(&mut self.cached_input_tokens, other.cached_input_tokens);
        take(&mut self.cache_write_tokens, other.cache_write_tokens);
        take(&mut self.reasoning_tokens, other.reasoning_tokens);
        take(&mut self.images, other.images);
        take(&mut self.cost_nano, other.cost_nano);
    }
}

fn count(value: &Value, path: &[&str]) -> Option<u64> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_u64()
}

/// OpenAI's usage object (chat's prompt/completion names, or Responses' and images' input/output).
fn openai(usage: &Value) -> Usage {
    let first = |a: &[&str], b: &[&str]| count(usage, a).or_else(|| count(usage, b));
    Usage {
        input_tokens: first(&["prompt_tokens"], &["input_tokens"]),
        output_tokens: first(&["completion_tokens"], &["output_tokens"]),
        cached_input_tokens: first(
            &["prompt_tokens_details", "cached_tokens"],
            &["input_tokens_details", "cached_tokens"],
        ),
        cache_write_tokens: None,
        reasoning_tokens: first(
            &["completion_tokens_details", "reasoning_tokens"],
            &["output_tokens_details", "reasoning_tokens"],
        ),
        images: None,
        cost_nano: usage.get("cost").and_then(nano_dollars),
    }
}

/// A cost in dollars (at most 9 decimals, as OpenRouter reports it) as nano-dollars.
fn nano_dollars(cost: &Value) -> Option<u64> {
    match cost {
        Value::Number(n) => crate::quota::amount::parse_scaled(&n.to_string(), 9, u64::MAX / 2).ok(),
        _ => None,
    }
}

/// Anthropic's usage object: its `input_tokens` leaves cache reads and writes out; here they
/// are in.
fn anthropic(usage: &Value) -> Usage {
    let plain = count(usage, &["input_tokens"]);
    let read = count(usage, &["cache_read_input_tokens"]);
    let written = count(usage, &["cache_creation_input_tokens"]);
    let input = plain.map(|p| p + read.unwrap_or(0) + written.unwrap_or(0));
    Usage {
        input_tokens: input,
        output_tokens: count(usage, &["output_tokens"]),
        cached_input_tokens: read.or(input.map(|_| 0)),
        cache_write_tokens: written.or(input.map(|_| 0)),
        reasoning_tokens: None,
        images: None,
        cost_nano: None,
    }
}

/// The usage of a whole (non-streamed) answer.
pub fn of_answer(operation: Operation, body: &Value) -> Usage {
    let usage = body.get("usage").filter(|u| u.is_object());
    match operation {
        Operation::Messages => usage.map(anthropic).unwrap_or_default(),
        Operation::Embeddings => {
            let mut u = usage.map(openai).unwrap_or_default();
            u.output_tokens = u.input_tokens.map(|_| 0);
            u
        }
        Operation::Images => {
            let mut u = usage.map(openai).unwrap_or_default();
            u.images = body.get("data").and_then(Value::as_array).map(|d| d.len() as u64);
            u
        }
        Operation::Chat | Operation::Responses => usage.map(openai).unwrap_or_default(),
        Operation::Uncounted => Usage::default(),
    }
}

/// What one stream event says of usage, folded into `seen`. Answers whether the event is
/// OpenAI chat's usage chunk (no choices, a usage), which a caller that did not ask for it
/// must not see.
pub fn of_event(operation: Operation, event: Option<&str>, data: &Value, seen: &mut Usage) -> bool {
    match operation {
        Operation::Chat => {
            let Some(usage) = data.get("usage").filter(|u| u.is_object()) else {
                return false;
            };
            seen.update(openai(usage));
            data.get("choices").and_then(Value::as_array).is_some_and(Vec::is_empty)
        }
        Operation::Responses => {
            let kind = event.or_else(|| data.get("type").and_then(Value::as_str));
            if matches!(
                kind,
                Some("response.completed" | "response.incomplete" | "response.failed")
            ) {
                if let Some(usage) = data
                    .get("response")
                    .and_then(|r| r.get("usage"))
                    .filter(|u| u.is_object())
                {
                    seen.update(openai(usage));
                }
            }
            false
        }
        Operation::Messages => {
            let usage = match data.get("type").and_then(Value::as_str) {
                Some("message_start") => data.get("message").and_then(|m| m.get("usage")),
                Some("message_delta") => data.get("usage"),
                _ => None,
            };
            if let Some(usage) = usage.filter(|u| u.is_object()) {
                // Each delta is cumulative; a count it leaves out keeps its earlier value.
                let mut update = anthropic(usage);
                if usage.get("input_tokens").is_none() {
                    update.input_tokens = None;
                    update.cached_input_tokens = None;
                    update.cache_write_tokens = None;
                }
                seen.update(update);
            }
            false
        }
        Operation::Images => {
            if data.get("type").and_then(Value::as_str) == Some("image_generation.completed") {
                if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
                    seen.update(openai(usage));
                }
                seen.images = Some(seen.images.unwrap_or(0) + 1);
            }
            false
        }
        Operation::Embeddings | Operation::Uncounted => false,
    }
}

/// The output text an event of a stream carries (text, a refusal, a tool call's arguments, a
/// reasoning text), for a stream its caller left before its usage: what was streamed so far is
/// then what it is charged for. Each piece is counted apart, a little above its share.
pub fn streamed_text<'a>(operation: Operation, data: &'a Value, mut each: impl FnMut(&'a str)) {
    let mut text = |value: Option<&'a Value>| {
        if let Some(t) = value.and_then(Value::as_str) {
            each(t);
        }
    };
    match operation {
        Operation::Chat => {
            for choice in data.get("choices").and_then(Value::as_array).into_iter().flatten() {
                let Some(delta) = choice.get("delta") else { continue };
                for field in ["content", "refusal", "reasoning_content", "reasoning"] {
                    text(delta.get(field));
                }
                for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    text(call.get("function").and_then(|f| f.get("arguments")));
                }
            }
        }
        Operation::Responses => {
            let delta = data
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with(".delta"));
            if delta {
                text(data.get("delta"));
            }
        }
        Operation::Messages => {
            if data.get("type").and_then(Value::as_str) == Some("content_block_delta") {
                let delta = data.get("delta");
                for field in ["text", "partial_json", "thinking"] {
                    text(delta.and_then(|d| d.get(field)));
                }
            }
        }
        Operation::Embeddings | Operation::Images | Operation::Uncounted => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_text_streamed_is_read_from_each_kind_of_delta() {
        let read = |operation, data: Value| {
            let mut all = Vec::new();
            streamed_text(operation, &data, |t| all.push(t.to_string()));
            all
        };
        assert_eq!(
            read(
                Operation::Chat,
                json!({"choices": [{"delta": {"content": "a", "tool_calls": [{"function": {"arguments": "{\"x\""}}]}}]})
            ),
            ["a", "{\"x\""]
        );
        assert_eq!(
            read(
                Operation::Responses,
                json!({"type": "response.output_text.delta", "delta": "b"})
            ),
            ["b"]
        );
        assert_eq!(
            read(
                Operation::Messages,
                json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "c"}})
            ),
            ["c"]
        );
        assert!(read(Operation::Chat, json!({"choices": [], "usage": {}})).is_empty());
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn anthropic_counts_cache_reads_and_writes_as_input() {
        let u = of_answer(
            Operation::Messages,
            &json!({"usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}}),
        );
        assert_eq!(u.input_tokens, Some(115));
        assert_eq!(u.cached_input_tokens, Some(100));
        assert_eq!(u.cache_write_tokens, Some(5));
    }

    #[test]
    fn anthropic_deltas_are_cumulative_and_an_explicit_zero_is_zero() {
        let mut seen = Usage::default();
        let start = json!({"type": "message_start", "message": {"usage": {"input_tokens": 20, "output_tokens": 1}}});
        of_event(Operation::Messages, Some("message_start"), &start, &mut seen);
        of_event(
            Operation::Messages,
            None,
            &json!({"type": "message_delta", "usage": {"output_tokens": 7}}),
            &mut seen,
        );
        of_event(
            Operation::Messages,
            None,
            &json!({"type": "message_delta", "usage": {"output_tokens": 12}}),
            &mut seen,
        );
        assert_eq!((seen.input_tokens, seen.output_tokens), (Some(20), Some(12)));
        let mut zero = Usage::default();
        of_event(
            Operation::Chat,
            None,
            &json!({"choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0}}),
            &mut zero,
        );
        assert_eq!((zero.input_tokens, zero.output_tokens), (Some(0), Some(0)));
        assert!(zero.reported());
    }

    #[test]
    fn only_chats_usage_chunk_is_the_one_to_remove() {
        let mut seen = Usage::default();
        let content = json!({"choices": [{"delta": {"content": "hi"}}], "usage": null});
        assert!(!of_event(Operation::Chat, None, &content, &mut seen));
        let usage = json!({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}});
        assert!(of_event(Operation::Chat, None, &usage, &mut seen));
        assert_eq!(seen.quantity(Operation::Chat), 6);
    }
}
