//! An upper bound of a request's input tokens, never below what the provider will count: with
//! OpenAI's own tokenizers where the model is one of theirs, else the text's UTF-8 bytes (a
//! byte-level tokenizer's token covers at least one byte). Structure is counted generously
//! (keys, a few tokens a message) rather than modelled, and parts the gateway cannot read
//! (images, audio, files) are held at a documented bound each.

use serde_json::{Map, Value};

/// What an image part is held for: above OpenAI's and Anthropic's largest count for one image
/// at any detail (about 1,600 and 2,500 tokens).
pub const IMAGE_TOKENS: u64 = 6_000;
/// Messages and the reply's priming: OpenAI documents 3 or 4 a message and 3 for the reply.
const PER_ITEM_TOKENS: u64 = 4;
const REPLY_TOKENS: u64 = 3;

/// How a model's text is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    O200k,
    Cl100k,
    /// One token a byte: for models whose tokenizer does not run here.
    Bytes,
}

/// OpenAI's tokenizer for their models by name; bytes for every other model.
pub fn counter_for(model: &str, openai: bool) -> Counter {
    if !openai {
        return Counter::Bytes;
    }
    let m = model.strip_prefix("openai/").unwrap_or(model);
    let o200k = [
        "gpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "o1",
        "o3",
        "o4",
        "chatgpt-4o",
        "gpt-oss",
        "codex",
        "gpt-image",
        "computer-use",
    ];
    if o200k.iter().any(|p| m.starts_with(p)) {
        Counter::O200k
    } else if m.starts_with("gpt-4") || m.starts_with("gpt-3.5") || m.starts_with("text-embedding-") {
        Counter::Cl100k
    } else {
        Counter::Bytes
    }
}

/// Counts one text.
fn count(counter: Counter, text: &str) -> u64 {
    match counter {
        Counter::O200k => bpe_openai::o200k_base().count(text) as u64,
        Counter::Cl100k => bpe_openai::cl100k_base().count(text) as u64,
        Counter::Bytes => text.len() as u64,
    }
}

/// Loads the tokenizers now rather than on the first call that needs one.
pub fn warm() {
    count(Counter::O200k, "warm");
    count(Counter::Cl100k, "warm");
}

/// The bound of everything in `value`: every string and key counted as text, each object and
/// list item a few tokens, image parts at `IMAGE_TOKENS`, other binary parts by their size.
pub fn bound(counter: Counter, value: &Value) -> u64 {
    let mut texts = String::new();
    let mut tokens = REPLY_TOKENS;
    walk(value, &mut texts, &mut tokens);
    tokens.saturating_add(count(counter, &texts))
}

/// As `bound`, of a whole request body.
pub fn bound_object(counter: Counter, body: &Map<String, Value>) -> u64 {
    let mut texts = String::new();
    let mut tokens = REPLY_TOKENS;
    walk_object(body, &mut texts, &mut tokens);
    tokens.saturating_add(count(counter, &texts))
}

/// Token ids given as numbers (an embeddings input) count one each.
fn walk(value: &Value, texts: &mut String, tokens: &mut u64) {
    match value {
        Value::String(s) => {
            texts.push_str(s);
            // A separator, so two texts never merge into fewer tokens than each alone.
            texts.push('\n');
        }
        Value::Number(_) | Value::Bool(_) => *tokens += 1,
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                *tokens += 1;
                walk(item, texts, tokens);
            }
        }
        Value::Object(map) => walk_object(map, texts, tokens),
    }
}

fn walk_object(map: &Map<String, Value>, texts: &mut String, tokens: &mut u64) {
    *tokens += PER_ITEM_TOKENS;
    match map.get("type").and_then(Value::as_str) {
        Some("image_url" | "input_image" | "image") => {
            *tokens += IMAGE_TOKENS;
            return;
        }
        Some("input_audio" | "file" | "input_file" | "document" | "audio") => {
            // Unreadable here: held at its encoded size, a generous bound.
            *tokens += serde_json::to_string(map).map_or(0, |s| s.len() as u64);
            return;
        }
        _ => {}
    }
    for (key, item) in map {
        texts.push_str(key);
        texts.push('\n');
        walk(item, texts, tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn models_pick_their_tokenizer() {
        assert_eq!(counter_for("gpt-4o-mini", true), Counter::O200k);
        assert_eq!(counter_for("gpt-5-nano-2025-08-07", true), Counter::O200k);
        assert_eq!(counter_for("gpt-4-turbo", true), Counter::Cl100k);
        assert_eq!(counter_for("llama3", true), Counter::Bytes);
        assert_eq!(counter_for("gpt-4o", false), Counter::Bytes);
    }

    #[test]
    fn the_bound_is_never_below_the_texts_own_count() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
        let body = json!({"messages": [{"role": "user", "content": text}]});
        for counter in [Counter::O200k, Counter::Cl100k, Counter::Bytes] {
            assert!(bound(counter, &body) >= count(counter, &text));
        }
        assert!(bound(Counter::O200k, &body) < bound(Counter::Bytes, &body));
    }

    #[test]
    fn images_are_held_at_their_bound_not_their_bytes() {
        let data = format!("data:image/png;base64,{}", "A".repeat(100_000));
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": data}},
        ]}]});
        let held = bound(Counter::O200k, &body);
        assert!((IMAGE_TOKENS..IMAGE_TOKENS + 100).contains(&held), "{held}");
    }
}
