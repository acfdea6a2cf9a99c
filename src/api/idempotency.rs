//! The `Idempotency-Key` header: scoped to the project, the user and the route, compared with
//! the request body as canonical JSON. The scripts store and answer it; this only names it.

use actix_web::HttpRequest;
use serde_json::Value;

use super::error::ApiError;
use crate::secrets::digest_hex;
use crate::store::Idempotency;

pub const HEADER: &str = "Idempotency-Key";

/// The call's Idempotency-Key for `route`, if it has one. `scope` is what else makes two calls
/// the same request (the reservation id of a commit); the body is compared as canonical JSON,
/// so key order and spacing do not make a repeat look different.
pub fn idempotency(req: &HttpRequest, route: &str, scope: &str, body: &[u8]) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| ApiError::invalid(HEADER, "must be 1 to 255 visible ASCII characters"))?;
    let canonical = match serde_json::from_slice::<Value>(body) {
        Ok(value) => canonical_json(&value),
        // An empty body (a commit as reserved) is its own canonical form.
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    Ok(Some(Idempotency {
        field: format!("{route}:{}", digest_hex(key)),
        body_digest: digest_hex(&format!("{scope}\n{canonical}")),
    }))
}

/// JSON with object keys sorted at every level and no insignificant space.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_ignores_key_order_and_spacing() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": "s"}}"#).unwrap();
        let b = json!({"a": {"x": "s", "y": [1, 2]}, "b": 1});
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&b), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
    }
}
