//! An upper bound of a request's input tokens, never below what the provider will count: with
//! OpenAI's own tokenizers where the model is one of theirs, else the text's UTF-8 bytes (a
//! byte-level tokenizer's token covers at least one byte). Structure is counted generously
//! (keys, a few tokens a message) rather than modelled. Only a content part is an image (held
//! at a documented bound, its payload only); audio parts are held at their encoded size; an
//! input the provider fetches or expands (files, documents, stored items, search tools) is
//! flagged, for the caller to hold at the model's context window.

use serde_json::{Map, Value};

/// What an image part is held for: above OpenAI's and Anthropic's largest count for one image
/// at any detail (about 1,600 and 2,500 tokens).
pub(crate) const IMAGE_TOKENS: u64 = 6_000;
/// Messages and the reply's priming: OpenAI documents 3 or 4 a message and 3 for the reply.
const PER_ITEM_TOKENS: u64 = 4;
const REPLY_TOKENS: u64 = 3;

/// How a model's text is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    O200k,
    Cl100k,
    /// One token a byte: for models whose tokenizer does not run here.
    Bytes,
}

/// OpenAI's tokenizer for their models by name, as OpenAI or Azure names them (`gpt-4o`,
/// `openai/gpt-4o`, `azure/gpt-4o`: a catalog's entry an Azure deployment may map to); bytes for
/// every other model.
pub(crate) fn counter_for(model: &str, openai: bool) -> Counter {
    if !openai {
        return Counter::Bytes;
    }
    let m = ["openai/", "azure/"]
        .iter()
        .find_map(|p| model.strip_prefix(p))
        .unwrap_or(model);
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
pub(crate) fn count(counter: Counter, text: &str) -> u64 {
    match counter {
        Counter::O200k => bpe_openai::o200k_base().count(text) as u64,
        Counter::Cl100k => bpe_openai::cl100k_base().count(text) as u64,
        Counter::Bytes => text.len() as u64,
    }
}

/// Loads the tokenizers now rather than on the first call that needs one.
pub(crate) fn warm() {
    count(Counter::O200k, "warm");
    count(Counter::Cl100k, "warm");
}

/// What a body's walk found: its bound, and whether it names an input the provider fetches or
/// expands itself (a file by id or URL, a document, a stored item, a search tool), which no
/// count of the body can bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    pub tokens: u64,
    pub expands: bool,
}

/// The bound of everything in `value`: every string and key counted as text, each object and
/// list item a few tokens, image parts at `IMAGE_TOKENS` (their payload only; any other
/// string in them is counted), other binary parts by their size.
pub(crate) fn bound(counter: Counter, value: &Value) -> Bound {
    let mut walk = Walk::default();
    walk.value(value, false);
    walk.finish(counter)
}

/// As `bound`, of a whole request body.
pub(crate) fn bound_object(counter: Counter, body: &Map<String, Value>) -> Bound {
    let mut walk = Walk::default();
    walk.object(body, false);
    walk.finish(counter)
}

/// One walk over a body: its texts joined, the tokens counted beside them, and whether it
/// names an input the provider expands.
struct Walk {
    texts: String,
    tokens: u64,
    expands: bool,
}

impl Default for Walk {
    fn default() -> Walk {
        Walk {
            texts: String::new(),
            tokens: REPLY_TOKENS,
            expands: false,
        }
    }
}

/// Content parts the provider expands from a reference or a document (a file by id or URL, a
/// PDF, a stored item), and tools that fetch (file and web search, web fetch, remote MCP):
/// what they cost is known only to the provider.
const EXPANDED_PARTS: [&str; 5] = ["file", "input_file", "document", "item_reference", "container_upload"];
const FETCHING_TOOLS: [&str; 5] = ["file_search", "web_search", "web_search_preview", "web_fetch", "mcp"];
/// Gemini's: a part naming a file by URI, and tools that search or fetch (members by name).
const FETCHING_MEMBERS: [&str; 6] = [
    "fileData",
    "googleSearch",
    "googleSearchRetrieval",
    "urlContext",
    "fileSearch",
    "googleMaps",
];

impl Walk {
    fn finish(self, counter: Counter) -> Bound {
        Bound {
            tokens: self.tokens.saturating_add(count(counter, &self.texts)),
            expands: self.expands,
        }
    }

    fn text(&mut self, text: &str) {
        self.texts.push_str(text);
        // A separator, so two texts never merge into fewer tokens than each alone.
        self.texts.push('\n');
    }

    /// `part`: the value is a `content` list or an item of one, where an image part can be.
    /// Token ids given as numbers (an embeddings input) count one each.
    fn value(&mut self, value: &Value, part: bool) {
        match value {
            Value::String(s) => self.text(s),
            Value::Number(_) | Value::Bool(_) => self.tokens += 1,
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    self.tokens += 1;
                    self.value(item, part);
                }
            }
            Value::Object(map) => self.object(map, part),
        }
    }

    fn object(&mut self, map: &Map<String, Value>, part: bool) {
        self.tokens += PER_ITEM_TOKENS;
        let kind = map.get("type").and_then(Value::as_str).unwrap_or("");
        // Only a content part is an image: a `type` of "image" anywhere else (a message, a
        // tool's schema, the body) is text like any other.
        let payload: &[&str] = match kind {
            "image_url" | "input_image" | "image" if part => {
                self.tokens += IMAGE_TOKENS;
                &["image_url", "source", "file_id"]
            }
            "input_audio" | "audio" if part => {
                // Unreadable here: held at its encoded size, a generous bound.
                self.tokens += serde_json::to_string(map).map_or(0, |s| s.len() as u64);
                return;
            }
            _ => &[],
        };
        if (part && EXPANDED_PARTS.contains(&kind))
            || kind == "item_reference"
            || FETCHING_TOOLS.iter().any(|t| kind.starts_with(t))
            || FETCHING_MEMBERS.iter().any(|m| map.contains_key(*m))
        {
            self.expands = true;
        }
        for (key, item) in map {
            self.text(key);
            if payload.contains(&key.as_str()) {
                self.payload(item);
                continue;
            }
            // Gemini's inline data in a part: an image at its bound, other media (audio,
            // video) unreadable here and held at their encoded size.
            if part && key == "inlineData" {
                self.inline_data(item);
                continue;
            }
            // (OpenAI's and Anthropic's parts are a `content` list, Gemini's a `parts` list.)
            self.value(item, (key == "content" || key == "parts") && item.is_array());
        }
    }

    /// Gemini's `inlineData {mimeType, data}`.
    fn inline_data(&mut self, item: &Value) {
        let image = item
            .get("mimeType")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("image/"));
        if image {
            self.tokens += IMAGE_TOKENS;
            self.payload(item);
        } else {
            self.tokens += serde_json::to_string(item).map_or(0, |s| s.len() as u64);
        }
    }

    /// An image part's payload (its URL, data or file id): covered by the image's bound, but
    /// any other member of an object there is counted.
    fn payload(&mut self, item: &Value) {
        if let Value::Object(inner) = item {
            for (key, value) in inner {
                if !matches!(key.as_str(), "url" | "data" | "file_id" | "mimeType") {
                    self.text(key);
                    self.value(value, false);
                }
            }
        }
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
        assert_eq!(
            counter_for("azure/gpt-4o-mini", true),
            Counter::O200k,
            "an Azure catalog entry's model"
        );
        assert_eq!(counter_for("gpt-4o", false), Counter::Bytes);
    }

    #[test]
    fn the_bound_is_never_below_the_texts_own_count() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
        let body = json!({"messages": [{"role": "user", "content": text}]});
        for counter in [Counter::O200k, Counter::Cl100k, Counter::Bytes] {
            assert!(bound(counter, &body).tokens >= count(counter, &text));
        }
        assert!(bound(Counter::O200k, &body).tokens < bound(Counter::Bytes, &body).tokens);
    }

    #[test]
    fn images_are_held_at_their_bound_not_their_bytes() {
        let data = format!("data:image/png;base64,{}", "A".repeat(100_000));
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": data}},
        ]}]});
        let held = bound(Counter::Bytes, &body);
        assert!((IMAGE_TOKENS..IMAGE_TOKENS + 200).contains(&held.tokens), "{held:?}");
        assert!(!held.expands);
    }

    #[test]
    fn geminis_inline_images_are_held_at_their_bound_and_other_media_at_their_size() {
        let data = "A".repeat(100_000);
        let image = json!({"contents": [{"role": "user", "parts": [
            {"text": "what is this"}, {"inlineData": {"mimeType": "image/png", "data": data}}]}]});
        let held = bound(Counter::Bytes, &image);
        assert!((IMAGE_TOKENS..IMAGE_TOKENS + 200).contains(&held.tokens), "{held:?}");
        let audio = json!({"contents": [{"role": "user", "parts": [
            {"inlineData": {"mimeType": "audio/wav", "data": data}}]}]});
        assert!(bound(Counter::Bytes, &audio).tokens >= 100_000);
        // Not a part: text like any other.
        let disguised = json!({"inlineData": {"mimeType": "image/png", "data": data}});
        assert!(bound(Counter::Bytes, &disguised).tokens >= 100_000);
    }

    #[test]
    fn only_a_content_part_is_an_image_and_text_beside_an_image_is_counted() {
        let text = "word ".repeat(20_000);
        // A message, a tool's schema and the body itself that call themselves images.
        let disguised = [
            json!({"messages": [{"role": "user", "type": "image_url", "content": text}]}),
            json!({"tools": [{"type": "image", "function": {"name": "f", "description": text}}]}),
            json!({"type": "input_image", "input": text}),
            // A real image part with text in its other members, and in its payload's.
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "note": text}}]}]}),
            json!({"messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "data": "AAAA"}, "text": text}]}]}),
        ];
        for body in disguised {
            let held = bound(Counter::Bytes, &body);
            assert!(
                held.tokens >= text.len() as u64,
                "{}: {held:?}",
                &body.to_string()[..80]
            );
        }
    }

    #[test]
    fn inputs_the_provider_fetches_or_expands_are_flagged() {
        let expanding = [
            json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]}),
            json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}]}),
            json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}]}),
            json!({"input": [{"type": "item_reference", "id": "msg_1"}]}),
            json!({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}),
            json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
        ];
        for body in expanding {
            assert!(bound(Counter::Bytes, &body).expands, "{body}");
        }
        let gemini = [
            json!({"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "application/pdf", "fileUri": "https://x/a.pdf"}}]}]}),
            json!({"contents": [], "tools": [{"googleSearch": {}}]}),
        ];
        for body in gemini {
            assert!(bound(Counter::Bytes, &body).expands, "{body}");
        }
        let plain = json!({"messages": [{"role": "user", "content": "a file named document"}]});
        assert!(!bound(Counter::Bytes, &plain).expands);
    }
}
