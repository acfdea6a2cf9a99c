//! What a whole JSON answer reports, read without building the rest of it. A wire format reads
//! an answer's usage, id and count of images at its top level (`usage`, `usageMetadata`,
//! `responseId`, `data`); parsed whole, an answer's every choice, message and string would be
//! built into maps and freed again, on every call. Here only those keys are kept, the rest of
//! the answer skipped as it is read, and the wire formats read the same object they always
//! did. An answer this cannot read (a key given twice among them) is parsed whole instead.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The top-level keys any wire format reads in a whole answer.
#[derive(Deserialize)]
struct Reported<'a> {
    usage: Option<Value>,
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<Value>,
    #[serde(rename = "responseId")]
    response_id: Option<Value>,
    /// Only its length is read (the images an answer carries).
    data: Option<Counted>,
    /// What names an object the answer made for later calls to name (`Wire::kept`): a stored
    /// response's (`object` "response", its `id`, whether `store`d) and a cache's `name`. Read
    /// as they lie in the body (an escaped one reads the answer whole), and kept only where the
    /// answer is such an object.
    #[serde(borrow)]
    id: Option<&'a str>,
    #[serde(borrow)]
    object: Option<&'a str>,
    #[serde(borrow)]
    name: Option<&'a str>,
    store: Option<bool>,
}

/// An array's length, its elements skipped; any other value, as it is.
enum Counted {
    Items(usize),
    Other(Value),
}

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Counted, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Counted;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Counted, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Counted::Items(n))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Counted, A::Error> {
                let value = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Counted::Other(value))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Counted, E> {
                Ok(Counted::Other(Value::from(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Counted, E> {
                Ok(Counted::Other(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<Counted, E> {
                Ok(Counted::Other(Value::Null))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// The answer's top-level keys a wire format reads, as an object of those alone (an array under
/// `data` kept as that many nulls); an error where the body is not one JSON object.
pub(crate) fn reported(body: &[u8]) -> serde_json::Result<Value> {
    let Ok(top) = serde_json::from_slice::<Reported>(body) else {
        return serde_json::from_slice(body);
    };
    let mut kept = Map::new();
    let keys = [
        ("usage", top.usage),
        ("usageMetadata", top.usage_metadata),
        ("responseId", top.response_id),
    ];
    for (key, value) in keys {
        if let Some(value) = value {
            kept.insert(key.to_string(), value);
        }
    }
    if top.object == Some("response") {
        kept.insert("object".to_string(), Value::from("response"));
        let made = [("id", top.id.map(Value::from)), ("store", top.store.map(Value::from))];
        kept.extend(made.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))));
    }
    if let Some(name) = top.name.filter(|n| n.starts_with("cachedContents/")) {
        kept.insert("name".to_string(), Value::from(name));
    }
    match top.data {
        Some(Counted::Items(n)) => {
            kept.insert("data".to_string(), Value::Array(vec![Value::Null; n]));
        }
        Some(Counted::Other(value)) => {
            kept.insert("data".to_string(), value);
        }
        None => {}
    }
    Ok(Value::Object(kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each wire format's keys come back as parsing the whole answer gives them, the rest left
    /// out, an array under `data` as its length.
    #[test]
    fn an_answer_reads_as_its_reported_keys_alone() {
        let answer = json!({ "id": "chatcmpl-1", "choices": [ { "message": { "content": "hi" } } ],
            "usage": { "prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": { "cached_tokens": 0 } },
            "usageMetadata": { "promptTokenCount": 7 }, "responseId": "r-1", "data": [ { "b64_json": "x" }, {} ] });
        let kept = reported(answer.to_string().as_bytes()).unwrap();
        assert_eq!(kept["usage"], answer["usage"]);
        assert_eq!(kept["usageMetadata"], answer["usageMetadata"]);
        assert_eq!(kept["responseId"], "r-1");
        assert_eq!(kept["data"].as_array().map(Vec::len), Some(2));
        assert!(kept.get("choices").is_none() && kept.get("id").is_none());
        // A stored response's id and a cache's name: the objects later calls may name.
        let response = json!({ "id": "resp_1", "object": "response", "store": true, "output": [], "usage": {} });
        let kept = reported(response.to_string().as_bytes()).unwrap();
        assert_eq!(
            kept,
            json!({ "id": "resp_1", "object": "response", "store": true, "usage": {} })
        );
        let cache = reported(br#"{"name": "cachedContents/c1", "usageMetadata": {"totalTokenCount": 9}}"#).unwrap();
        assert_eq!(cache["name"], "cachedContents/c1");
        // Big numbers stay exact, as in a whole parse.
        let big = r#"{"usage": {"total_tokens": 123456789012345678901234567890}}"#;
        assert_eq!(
            reported(big.as_bytes()).unwrap()["usage"],
            serde_json::from_str::<Value>(big).unwrap()["usage"]
        );
    }

    /// A key given twice, or a body that is not an object, reads as a whole parse reads it.
    #[test]
    fn what_it_cannot_read_is_parsed_whole() {
        let twice = br#"{"usage": {"prompt_tokens": 1}, "usage": {"prompt_tokens": 9}}"#;
        assert_eq!(reported(twice).unwrap()["usage"]["prompt_tokens"], 9);
        assert_eq!(reported(b"[1, 2]").unwrap(), json!([1, 2]));
        assert!(reported(b"{not json").is_err());
        assert_eq!(reported(br#"{"data": null}"#).unwrap()["data"], Value::Null);
    }
}
