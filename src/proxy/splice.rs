//! Edits of a JSON body as the caller wrote it: one member of its top-level object set (or one
//! level down) by splicing bytes, every other byte left as it came. The provider then reads the
//! caller's key order (a JSON Schema's `properties` order is what strict structured outputs
//! follow), escapes and spacing, and its prompt cache sees the caller's bytes.
//!
//! The body has already been parsed whole by serde: these only find spans in valid JSON.

use std::ops::Range;

/// `raw` with the member `path` (one or two keys deep) set to `value` (JSON text): a member
/// there is replaced in place; one missing is appended at the end of its object; an object
/// on the way that is not an object is replaced by one holding the rest of the path. None
/// when `raw` is not an object.
pub(crate) fn set(raw: &[u8], path: &[&str], value: &str) -> Option<Vec<u8>> {
    let start = skip_space(raw, 0);
    let object = value_span(raw, start)?;
    if raw.get(object.start) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + value.len() + 32);
    out.extend_from_slice(&raw[..object.start]);
    out.extend_from_slice(&edited(raw, object.clone(), path, value));
    out.extend_from_slice(&raw[object.end..]);
    Some(out)
}

/// The object spanning `object` in `raw`, as new bytes, with `path` set in it.
fn edited(raw: &[u8], object: Range<usize>, path: &[&str], value: &str) -> Vec<u8> {
    let Some((key, rest)) = path.split_first() else {
        return value.as_bytes().to_vec();
    };
    let members = members(raw, object.clone());
    // The last member of that name is the one a parser keeps.
    let (span, text) = match members.iter().rev().find(|m| m.key == *key) {
        Some(m) if !rest.is_empty() && raw.get(m.value.start) == Some(&b'{') => {
            (m.value.clone(), edited(raw, m.value.clone(), rest, value))
        }
        Some(m) => (m.value.clone(), nested(rest, value).into_bytes()),
        None => {
            // Appended before the closing brace, after any space the caller left there.
            let close = object.end - 1;
            let comma = if members.is_empty() { "" } else { "," };
            let member = format!("{comma}{}:{}", serde_json::Value::from(*key), nested(rest, value));
            (close..close, member.into_bytes())
        }
    };
    let mut out = Vec::with_capacity(object.len() + text.len());
    out.extend_from_slice(&raw[object.start..span.start]);
    out.extend_from_slice(&text);
    out.extend_from_slice(&raw[span.end..object.end]);
    out
}

/// `{"a":{"b":value}}` for the path `[a, b]`; `value` itself for an empty path.
fn nested(path: &[&str], value: &str) -> String {
    path.iter().rev().fold(value.to_string(), |inner, key| {
        format!("{{{}:{inner}}}", serde_json::Value::from(*key))
    })
}

/// One member of an object: its key (unescaped) and its value's bytes.
struct Member {
    key: String,
    value: Range<usize>,
}

/// The members of the object spanning `object`, in order.
fn members(raw: &[u8], object: Range<usize>) -> Vec<Member> {
    let mut found = Vec::new();
    let mut at = object.start + 1;
    loop {
        at = skip_space(raw, at);
        if at >= object.end - 1 || raw[at] != b'"' {
            return found;
        }
        let Some(key_span) = value_span(raw, at) else {
            return found;
        };
        let key = serde_json::from_slice::<String>(&raw[key_span.clone()]).unwrap_or_default();
        at = skip_space(raw, key_span.end);
        if raw.get(at) != Some(&b':') {
            return found;
        }
        let start = skip_space(raw, at + 1);
        let Some(value) = value_span(raw, start) else {
            return found;
        };
        at = skip_space(raw, value.end);
        found.push(Member { key, value });
        if raw.get(at) == Some(&b',') {
            at += 1;
        }
    }
}

fn skip_space(raw: &[u8], mut at: usize) -> usize {
    while raw.get(at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The span of the JSON value starting at `start`.
fn value_span(raw: &[u8], start: usize) -> Option<Range<usize>> {
    let first = *raw.get(start)?;
    let mut at = start;
    match first {
        b'"' => {
            at += 1;
            loop {
                match raw.get(at)? {
                    b'\\' => at += 2,
                    b'"' => return Some(start..at + 1),
                    _ => at += 1,
                }
            }
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match raw.get(at)? {
                    b'"' => {
                        at = value_span(raw, at)?.end;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(start..at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            while raw
                .get(at)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                at += 1;
            }
            (at > start).then_some(start..at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn set_text(raw: &str, path: &[&str], value: &str) -> String {
        String::from_utf8(set(raw.as_bytes(), path, value).unwrap()).unwrap()
    }

    #[test]
    fn a_missing_member_is_appended_and_every_other_byte_kept() {
        let raw = "{\"model\": \"m\",\n \"z\": {\"b\": 1, \"a\": \"\\u00e9\"}, \"stream\": true }";
        let out = set_text(raw, &["stream_options", "include_usage"], "true");
        assert_eq!(
            out,
            "{\"model\": \"m\",\n \"z\": {\"b\": 1, \"a\": \"\\u00e9\"}, \"stream\": true ,\"stream_options\":{\"include_usage\":true}}"
        );
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn a_member_present_is_replaced_in_place_one_level_down_too() {
        let raw = r#"{"stream_options": {"include_usage": false, "x": [1, "}"]}, "max_tokens": 900}"#;
        assert_eq!(
            set_text(raw, &["stream_options", "include_usage"], "true"),
            r#"{"stream_options": {"include_usage": true, "x": [1, "}"]}, "max_tokens": 900}"#
        );
        assert_eq!(
            set_text(raw, &["max_tokens"], "12"),
            r#"{"stream_options": {"include_usage": false, "x": [1, "}"]}, "max_tokens": 12}"#
        );
        let empty = r#"{"stream_options": {}}"#;
        assert_eq!(
            set_text(empty, &["stream_options", "include_usage"], "true"),
            r#"{"stream_options": {"include_usage":true}}"#
        );
        let not_object = r#"{"stream_options": null}"#;
        assert_eq!(
            set_text(not_object, &["stream_options", "include_usage"], "true"),
            r#"{"stream_options": {"include_usage":true}}"#
        );
    }

    #[test]
    fn the_last_of_a_repeated_member_is_the_one_set_and_escaped_keys_are_read() {
        let raw = r#"{"max_tokens": 1, "a\"b": "x\\", "max_tokens": 2}"#;
        assert_eq!(
            set_text(raw, &["max_tokens"], "5"),
            r#"{"max_tokens": 1, "a\"b": "x\\", "max_tokens": 5}"#
        );
        let escaped = r#"{"max\u005ftokens": 7}"#;
        assert_eq!(set_text(escaped, &["max_tokens"], "3"), r#"{"max\u005ftokens": 3}"#);
        assert_eq!(set_text("{}", &["n"], "1"), r#"{"n":1}"#);
        assert!(set(b"[1]", &["n"], "1").is_none());
    }
}
