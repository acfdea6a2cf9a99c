//! Request bodies: read up to 64 KiB, parse as JSON, and name the field on any error.

use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::HttpRequest;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::http::ApiError;

pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole body, refusing more than 64 KiB with 413 and a body declared as anything but
/// JSON with 415 (a form or text body is never read as JSON by accident).
pub(crate) async fn read(req: &HttpRequest, payload: Payload) -> Result<Bytes, ApiError> {
    read_up_to(req, payload, MAX_BODY_BYTES).await
}

/// As `read`, up to `limit` bytes: a simulation's cohort may name 10,000 users.
pub(crate) async fn read_up_to(req: &HttpRequest, mut payload: Payload, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(declared) = req.headers().get(actix_web::http::header::CONTENT_TYPE) {
        if !is_json(declared.to_str().unwrap_or("")) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid("body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// `application/json`, or a `+json` type such as `application/merge-patch+json`, with any
/// parameters (`; charset=utf-8`).
pub(crate) fn is_json(content_type: &str) -> bool {
    // Compared ignoring case in place: every request with a body asks this, and a lower-cased
    // copy was one allocation of each.
    let essence = content_type.split(';').next().unwrap_or("").trim().as_bytes();
    let starts = |prefix: &[u8]| essence.len() >= prefix.len() && essence[..prefix.len()].eq_ignore_ascii_case(prefix);
    let ends = |suffix: &[u8]| {
        essence.len() >= suffix.len() && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    essence.eq_ignore_ascii_case(b"application/json") || (starts(b"application/") && ends(b"+json"))
}

/// Parses a JSON body: exactly one document, nothing after it. An error names the field by
/// its path (`groups[0].quota`) and says what is wrong in the API's terms.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Every body is an object; serde would also take a struct from an array of its fields.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::invalid("body", "must be a JSON object, not an array"));
    }
    // Most bodies are fine: parsed plainly first, as tracking the path costs a reserve about
    // 4,000 instructions. Only a body that fails is parsed again, to name the field.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if matches!(inner.classify(), Category::Syntax | Category::Eof | Category::Io) {
            return not_json(&inner);
        }
        let detail = inner.to_string();
        let field = match named_field(&detail) {
            // The path of an unknown field ends with it; that of a missing one does not.
            Some(name) if path == name || path.ends_with(&format!(".{name}")) => path,
            Some(name) if path == "." => name.to_string(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." || path.contains('?') => "body".to_string(),
            None => path,
        };
        ApiError::invalid(field, humane(&strip_position(&detail)))
    })?;
    // Two documents, or a document and then anything but space, are not one body.
    de.end()
        .map_err(|_| ApiError::invalid("body", "must be one JSON document with nothing after it"))?;
    Ok(value)
}

fn not_json(err: &serde_json::Error) -> ApiError {
    let what = match err.classify() {
        Category::Eof => "ends before the JSON document does",
        _ => "is not valid JSON",
    };
    ApiError::invalid("body", format!("{what} (line {}, column {})", err.line(), err.column()))
}

/// serde's wording in the API's: "invalid type: floating point `1.5`, expected i64" becomes
/// "must be a whole number, not 1.5"; unknown and missing fields say so plainly.
fn humane(detail: &str) -> String {
    if detail.starts_with("unknown field") {
        return "is not a field of this body".to_string();
    }
    if detail.starts_with("missing field") {
        return "is required".to_string();
    }
    if detail.starts_with("invalid length") && detail.contains("expected struct") {
        return "must be a JSON object, not an array".to_string();
    }
    let Some(rest) = detail
        .strip_prefix("invalid type: ")
        .or_else(|| detail.strip_prefix("invalid value: "))
    else {
        return detail.to_string();
    };
    let Some((got, expected)) = rest.split_once(", expected ") else {
        return detail.to_string();
    };
    format!("must be {}, not {}", expected_in_words(expected), got_in_words(got))
}

fn expected_in_words(expected: &str) -> &'static str {
    let expected = expected.trim();
    if ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize"].contains(&expected) {
        "a whole number"
    } else if expected.starts_with("struct") || expected.starts_with("a map") || expected.starts_with("a JSON object") {
        "a JSON object"
    } else if expected.starts_with("a sequence") {
        "an array"
    } else if expected.contains("string") {
        "a string"
    } else if expected.contains("bool") {
        "true or false"
    } else if expected.contains("number") || expected.starts_with('f') {
        "a number"
    } else {
        "a value of another type"
    }
}

/// "floating point `1.5`" -> "1.5", "sequence" -> "an array", "string \"x\"" -> "a string".
fn got_in_words(got: &str) -> String {
    if let Some(value) = got.split('`').nth(1) {
        return value.to_string();
    }
    match got.split_whitespace().next().unwrap_or(got) {
        "sequence" => "an array".to_string(),
        "map" => "an object".to_string(),
        "string" => "a string".to_string(),
        "boolean" => "true or false".to_string(),
        "null" => "null".to_string(),
        other => other.to_string(),
    }
}

/// Parses a body that may be empty (commit, release); empty means the default.
pub(crate) fn parse_optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(body)
}

/// The field an "unknown field" or "missing field" message names.
fn named_field(detail: &str) -> Option<&str> {
    let rest = detail
        .strip_prefix("unknown field `")
        .or_else(|| detail.strip_prefix("missing field `"))?;
    rest.split('`').next()
}

/// serde_json appends "at line 1 column 7"; the field path says more to a person.
fn strip_position(detail: &str) -> String {
    match detail.rfind(" at line ") {
        Some(at) => detail[..at].to_string(),
        None => detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn json_is_any_case_of_application_json_or_a_plus_json_type_whatever_its_parameters() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/problem+json ",
            "APPLICATION/VND.A+JSON",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "",
            "text/json",
            "application/jsonx",
            "application/+jso",
            "json",
            "application/x-www-form-urlencoded",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn field_of(json: &str) -> String {
        match parse::<Outer>(json.as_bytes()) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"inner": [{"n": 1}, {"n": "x"}]}"#), "inner[1].n");
        assert_eq!(field_of(r#"{"inner": [{"n": 1, "typo": 2}]}"#), "inner[0].typo");
        assert_eq!(field_of(r#"{"inner": [], "extra": 1}"#), "extra");
        assert_eq!(field_of(r#"{}"#), "inner");
        assert_eq!(field_of(r#"not json"#), "body");
        assert_eq!(field_of(r#"{"#), "body");
        assert_eq!(field_of(r#"{"inner": []} {"inner": []}"#), "body");
        assert_eq!(field_of(r#"{"inner": []}xyz"#), "body");
        assert_eq!(field_of(r#"[]"#), "body");
    }

    fn detail_of(json: &str) -> String {
        match parse::<Outer>(json.as_bytes()) {
            Err(ApiError::Invalid { detail, .. }) => detail,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn errors_speak_the_api_not_serde() {
        assert_eq!(
            detail_of(r#"{"inner": [{"n": 1.5}]}"#),
            "must be a whole number, not 1.5"
        );
        assert_eq!(
            detail_of(r#"{"inner": [{"n": "x"}]}"#),
            "must be a whole number, not a string"
        );
        assert_eq!(detail_of(r#"[]"#), "must be a JSON object, not an array");
        assert_eq!(detail_of(r#"{"inner": {}}"#), "must be an array, not an object");
        assert_eq!(detail_of(r#"{}"#), "is required");
        assert_eq!(detail_of(r#"{"inner": [], "x": 1}"#), "is not a field of this body");
        assert!(detail_of(r#"{"#).starts_with("ends before the JSON document does"));
        for json in [r#"{"inner": [{"n": 1.5}]}"#, r#"[]"#, r#"{"#, r#"{"inner": []}x"#] {
            let detail = detail_of(json);
            for word in ["i64", "u32", "struct", "Outer", "serde", "expected"] {
                assert!(!detail.contains(word), "{detail}");
            }
        }
    }
}
