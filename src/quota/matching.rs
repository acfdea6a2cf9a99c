//! Match rules: whether a limit group counts an event, by name pattern and metadata.

use serde_json::{Map, Value};

use super::measure::{Measure, MeasureDoc};
use super::plan_check::GroupCheck;
use super::plan_doc::{check_pattern, metadata_pattern_ok, MatchRule};

impl MatchRule {
    /// True when the event name fits the pattern and every metadata key of the rule agrees.
    pub fn matches(&self, event: &str, metadata: &Map<String, Value>) -> bool {
        event_matches(&self.event, event)
            && self.metadata.iter().all(|(key, wanted)| {
                metadata.get(key).is_some_and(|actual| match wanted {
                    Value::Array(any_of) => any_of.iter().any(|w| json_equal(w, actual)),
                    scalar => json_equal(scalar, actual),
                })
            })
    }
}

/// The most match rules a group has.
pub(super) const MAX_RULES: usize = 16;

/// A group's match rules: 1 to `MAX_RULES`, each an event pattern, metadata values to match
/// (scalars, or arrays of them), and its own measure when it has one; answers each rule's.
pub(super) fn rule_measures(check: &mut GroupCheck) -> Vec<Option<Measure>> {
    let g = check.doc;
    if g.matches.is_empty() || g.matches.len() > MAX_RULES {
        check.problem("matches", "must have 1 to 16 rules");
    }
    let mut rule_measures = Vec::with_capacity(g.matches.len());
    for (j, rule) in g.matches.iter().enumerate() {
        let at = |field: &str| format!("matches[{j}].{field}");
        if let Err(detail) = check_pattern(&rule.event) {
            check.problem(&at("event"), detail);
        }
        rule_measures.push(match rule.measure.as_ref().map(MeasureDoc::to_measure) {
            None => None,
            Some(Ok(measure)) => Some(measure),
            Some(Err(detail)) => {
                check.problem(&at("measure"), &detail);
                None
            }
        });
        for (key, value) in &rule.metadata {
            if !metadata_pattern_ok(value) {
                check.problem(
                    &at(&format!("metadata.{key}")),
                    "must be a scalar or an array of scalars",
                );
            }
        }
    }
    rule_measures
}

fn event_matches(pattern: &str, event: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        // `image.*` matches `image.render` but not `image` itself nor `imagex.y`.
        Some(prefix) => event.len() > prefix.len() && event.starts_with(prefix),
        None => pattern == event,
    }
}

/// Equality strictly by JSON type: the string "1" never equals the number 1,
/// while the numbers 1 and 1.0 are the same number.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.to_string() == y.to_string() || x.as_f64().is_some_and(|fx| y.as_f64() == Some(fx))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> MatchRule {
        serde_json::from_value(value).unwrap()
    }

    fn meta(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn event_patterns() {
        let none = Map::new();
        assert!(rule(json!({"event": "*"})).matches("anything", &none));
        assert!(rule(json!({"event": "image.*"})).matches("image.model_a", &none));
        assert!(!rule(json!({"event": "image.*"})).matches("image", &none));
        assert!(!rule(json!({"event": "image.*"})).matches("imagex.a", &none));
        assert!(rule(json!({"event": "image.model_a"})).matches("image.model_a", &none));
        assert!(!rule(json!({"event": "image.model_a"})).matches("image.model_b", &none));
    }

    #[test]
    fn metadata_equal_by_type_or_any_of() {
        let r = rule(json!({"event": "*", "metadata": {"variant": "1k"}}));
        assert!(r.matches("e", &meta(json!({"variant": "1k", "other": 1}))));
        assert!(!r.matches("e", &meta(json!({"variant": "2k"}))));
        assert!(!r.matches("e", &meta(json!({}))));
        let any = rule(json!({"event": "*", "metadata": {"variant": ["1k", "2k"]}}));
        assert!(any.matches("e", &meta(json!({"variant": "2k"}))));
        let typed = rule(json!({"event": "*", "metadata": {"n": 1}}));
        assert!(!typed.matches("e", &meta(json!({"n": "1"}))));
        assert!(typed.matches("e", &meta(json!({"n": 1.0}))));
        let flag = rule(json!({"event": "*", "metadata": {"hd": true}}));
        assert!(!flag.matches("e", &meta(json!({"hd": "true"}))));
    }
}
