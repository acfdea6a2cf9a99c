//! Request bodies: read up to 64 KiB, parse as JSON, and name the field on any error.

use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::HttpRequest;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole body, refusing more than 64 KiB with 413.
pub async fn read(req: &HttpRequest, mut payload: Payload) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid("body", e.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body; an error names the field by its path (`groups[0].quota`).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let detail = inner.to_string();
        let field = match unknown_field(&detail) {
            // The path of an unknown field ends with it; that of a missing one does not.
            Some(name) if path == name || path.ends_with(&format!(".{name}")) => path,
            Some(name) if path == "." => name.to_string(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." => "body".to_string(),
            None => path,
        };
        ApiError::invalid(field, strip_position(&detail))
    })
}

/// Parses a body that may be empty (commit, release); empty means the default.
pub fn parse_optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(body)
}

/// The field an "unknown field" or "missing field" message names.
fn unknown_field(detail: &str) -> Option<&str> {
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
    }
}
