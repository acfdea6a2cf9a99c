//! The `Idempotency-Key` header: scoped to the project, the user and the route, compared with
//! the request body as canonical JSON. The scripts store and answer it; this only names it.

use actix_web::HttpRequest;
use serde_json::Value;

use crate::gateway::Idempotency;
use crate::http::ApiError;
use crate::secrets::digest_hex;

pub(crate) const HEADER: &str = "Idempotency-Key";

/// The call's Idempotency-Key for `route`, if it has one. `scope` is what else makes two calls
/// the same request (the reservation id of a commit); the body is compared as canonical JSON,
/// so key order and spacing do not make a repeat look different.
pub(crate) fn idempotency(
    req: &HttpRequest,
    route: &str,
    scope: &str,
    body: &[u8],
) -> Result<Option<Idempotency>, ApiError> {
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
    Ok(Some(Idempotency::new(
        format!("{route}:{}", digest_hex(key)),
        digest_hex(&format!("{scope}\n{canonical}")),
    )))
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
        Value::Number(n) => canonical_number(&n.to_string()),
        other => other.to_string(),
    }
}

/// A JSON number's text by value: `1`, `1.0`, `1.000` and `0.1e1` are all `1`; `100` and
/// `1e2` are both `1e2`. The digits are kept as written (no float), so large and precise
/// numbers compare exactly.
fn canonical_number(text: &str) -> String {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, mut exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    exponent -= frac_part.len() as i64;
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return "0".to_string();
    }
    exponent += (digits.len() - significant.len()) as i64;
    let sign = if negative { "-" } else { "" };
    match exponent {
        0 => format!("{sign}{significant}"),
        e => format!("{sign}{significant}e{e}"),
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

    #[test]
    fn numbers_compare_by_value() {
        for same in ["1", "1.0", "1.000", "0.1e1", "10e-1", "1E0"] {
            assert_eq!(canonical_number(same), "1", "{same}");
        }
        assert_eq!(canonical_number("100"), canonical_number("1e2"));
        assert_eq!(canonical_number("-0.0"), "0");
        assert_eq!(canonical_number("-2.50"), "-25e-1");
        assert_ne!(canonical_number("1"), canonical_number("1.001"));
        assert_ne!(
            canonical_number("12345678901234567890"),
            canonical_number("12345678901234567891")
        );
    }
}
