//! Per-value counters: a group with `"per": "<metadata key>"` keeps one counter per distinct
//! value of that key ("100 premium renders a month per model" without listing the models), each
//! with the group's quota, period and mode. At most `MAX_VALUES` values per subject, group and
//! period; a reserve of one more is denied with `too_many_values`.

use serde_json::{Map, Value};

use super::event_numbers::MeasureError;
use super::ids::escape;
use super::plan_check::GroupCheck;

/// Distinct values per subject, group and period.
pub(crate) const MAX_VALUES: usize = 64;
/// The longest value, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 128;

/// A group's `per`: a metadata key of 1 to 64 bytes; never on a balance group, whose grants
/// are the subject's whatever the call.
pub(super) fn per_key(check: &mut GroupCheck) -> Option<String> {
    let g = check.doc;
    match &g.per {
        Some(_) if g.balance.is_some() => {
            check.problem("per", "must not be on a balance group");
            None
        }
        Some(key) if key.is_empty() || key.len() > 64 || key.chars().any(char::is_control) => {
            check.problem("per", "must name a metadata key of 1 to 64 bytes");
            None
        }
        other => other.clone(),
    }
}

/// The key of an override of one value of per-value group `group` (the user's override of
/// the group applies to the values without one): the group, `~` and the value escaped as the
/// value's counter field has it, so the scripts find it from the field.
pub(crate) fn value_key(group: &str, value: &str) -> String {
    format!("{group}~{}", escape(value))
}

/// An override's key read back: its group, and the value it is of when it is one value's.
/// None for a key `value_key` did not write.
pub(crate) fn parse_value_key(key: &str) -> Option<(&str, Option<String>)> {
    match key.split_once('~') {
        None => Some((key, None)),
        Some((group, escaped)) => Some((group, Some(super::ids::unescape(escaped)?))),
    }
}

/// The value an event gives a per-value group keyed by `key`: a string (1 to 128 bytes without
/// control characters) or a number (as written); anything else, or none, is the event's error,
/// named by its JSON path.
pub(crate) fn value_of(key: &str, group: &str, metadata: &Map<String, Value>) -> Result<String, MeasureError> {
    let bad = |detail: String| MeasureError {
        field: format!("metadata.{key}"),
        detail,
    };
    let text = match metadata.get(key) {
        None => return Err(bad(format!("is required: group {group} counts per {key}"))),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(bad(format!(
                "must be a string or a number: group {group} counts per {key}"
            )))
        }
    };
    check_value(&text).map_err(|detail| bad(detail.into()))?;
    Ok(text)
}

/// A value: 1 to 128 bytes without control characters.
pub(crate) fn check_value(text: &str) -> Result<(), &'static str> {
    if text.is_empty() || text.len() > MAX_VALUE_BYTES || text.chars().any(char::is_control) {
        return Err("must be 1 to 128 bytes without control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_override_key_reads_back_as_its_group_and_value() {
        for value in ["premium", "a b:{c}%", "Ünïcode ~ tilde"] {
            let key = value_key("renders", value);
            assert_eq!(parse_value_key(&key), Some(("renders", Some(value.to_string()))));
        }
        assert_eq!(parse_value_key("renders"), Some(("renders", None)));
    }

    fn metadata(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn strings_and_numbers_are_values_and_anything_else_names_the_key() {
        let of = |v: Value| value_of("model", "renders", &metadata(v));
        assert_eq!(of(json!({ "model": "flux-pro" })).unwrap(), "flux-pro");
        assert_eq!(of(json!({ "model": 7 })).unwrap(), "7");
        for bad in [
            json!({}),
            json!({ "model": "" }),
            json!({ "model": true }),
            json!({ "model": "a\nb" }),
        ] {
            assert_eq!(of(bad).unwrap_err().field, "metadata.model");
        }
        assert!(of(json!({ "model": "x".repeat(129) })).is_err());
    }
}
