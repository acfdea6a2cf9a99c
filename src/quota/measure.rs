//! Measures: what a limit group counts of an event. By default its quantity; or one metadata
//! number (`completion_tokens`); or a weighted sum of metadata numbers (a cents group priced
//! from token counts), computed exactly in integers and rounded up to a milli-unit.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::amount::{parse_scaled, AmountError, Milli, MAX_UNITS};

/// Weights have at most 6 decimals: they are kept in millionths.
const WEIGHT_DECIMALS: u32 = 6;
const MAX_WEIGHT_MICRO: u64 = 1_000_000 * 1_000_000;
pub const MAX_WEIGHTS: usize = 32;

/// The measure as written in a plan: exactly one of the two fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Map<String, Value>>,
}

/// A validated measure; it is also recorded in each hold, so a commit recomputes the
/// actual amount by the rule the reservation was made under. It is recorded as its document
/// (`to_doc`), never by its Rust names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    Quantity,
    Metadata(String),
    /// Metadata keys with their weights in millionths.
    Weights(Vec<(String, u64)>),
}

/// The event lacks or misstates a number a measure needs; `field` is its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct MeasureError {
    pub field: String,
    pub detail: String,
}

impl MeasureDoc {
    /// Validates the document; the error says what is wrong with it.
    pub fn to_measure(&self) -> Result<Measure, String> {
        match (&self.metadata, &self.weights) {
            (Some(key), None) if !key.is_empty() && key.len() <= 64 => Ok(Measure::Metadata(key.clone())),
            (Some(_), None) => Err("metadata must name a key of 1 to 64 bytes".into()),
            (None, Some(weights)) => {
                if weights.is_empty() || weights.len() > MAX_WEIGHTS {
                    return Err("weights must have 1 to 32 keys".into());
                }
                let mut parsed = Vec::with_capacity(weights.len());
                for (key, weight) in weights {
                    let text = match weight {
                        Value::Number(n) => n.to_string(),
                        _ => return Err(format!("weights.{key} must be a number")),
                    };
                    let micro = parse_scaled(&text, WEIGHT_DECIMALS, MAX_WEIGHT_MICRO)
                        .map_err(|e| format!("weights.{key} {e}"))?;
                    parsed.push((key.clone(), micro));
                }
                Ok(Measure::Weights(parsed))
            }
            _ => Err("must have exactly one of metadata or weights".into()),
        }
    }
}

impl Measure {
    /// The measure as a plan writes it, weights as exact decimals; None for the quantity.
    /// `to_measure` reads it back into the same measure.
    pub fn to_doc(&self) -> Option<MeasureDoc> {
        match self {
            Measure::Quantity => None,
            Measure::Metadata(key) => Some(MeasureDoc {
                metadata: Some(key.clone()),
                weights: None,
            }),
            Measure::Weights(weights) => Some(MeasureDoc {
                metadata: None,
                weights: Some(
                    weights
                        .iter()
                        .map(|(key, micro)| (key.clone(), decimal(*micro)))
                        .collect(),
                ),
            }),
        }
    }

    /// The amount this measure counts for an event.
    pub fn amount(&self, quantity: Milli, metadata: &Map<String, Value>) -> Result<Milli, MeasureError> {
        match self {
            Measure::Quantity => Ok(quantity),
            Measure::Metadata(key) => metadata_number(metadata, key),
            Measure::Weights(weights) => {
                let mut total: u128 = 0;
                for (key, micro) in weights {
                    total += u128::from(metadata_number(metadata, key)?.0) * u128::from(*micro);
                }
                // milli-units times millionths: divide by a million, rounding up.
                let milli = total.div_ceil(1_000_000);
                match u64::try_from(milli) {
                    Ok(m) if m <= Milli::MAX.0 => Ok(Milli(m)),
                    _ => Err(MeasureError {
                        field: "metadata".into(),
                        detail: format!("the weighted amount {}", AmountError::TooLarge { max: MAX_UNITS }),
                    }),
                }
            }
        }
    }

    /// The metadata keys this measure reads.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Measure::Quantity => Vec::new(),
            Measure::Metadata(key) => vec![key.as_str()],
            Measure::Weights(weights) => weights.iter().map(|(k, _)| k.as_str()).collect(),
        }
    }
}

/// Millionths as a JSON number with its decimals, exactly (`250` is `0.00025`).
fn decimal(micro: u64) -> Value {
    let scale = 10u64.pow(WEIGHT_DECIMALS);
    let mut text = format!("{}.{:06}", micro / scale, micro % scale);
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    // serde_json keeps a number's text as written (arbitrary precision), so this never rounds.
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn metadata_number(metadata: &Map<String, Value>, key: &str) -> Result<Milli, MeasureError> {
    let field = || format!("metadata.{key}");
    match metadata.get(key) {
        None => Err(MeasureError {
            field: field(),
            detail: "is required: a limit group of the plan measures it".into(),
        }),
        Some(Value::Number(n)) => Milli::parse(&n.to_string()).map_err(|e| MeasureError {
            field: field(),
            detail: e.to_string(),
        }),
        Some(_) => Err(MeasureError {
            field: field(),
            detail: "must be a number: a limit group of the plan measures it".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn measure(doc: Value) -> Measure {
        serde_json::from_value::<MeasureDoc>(doc).unwrap().to_measure().unwrap()
    }

    #[test]
    fn weighted_sums_are_exact_and_round_up() {
        let cents = measure(json!({"weights": {"prompt_tokens": 0.00025, "completion_tokens": 0.001}}));
        let m = meta(json!({"prompt_tokens": 1000, "completion_tokens": 333}));
        // 0.25 + 0.333 cents
        assert_eq!(cents.amount(Milli(0), &m), Ok(Milli(583)));
        let m = meta(json!({"prompt_tokens": 1, "completion_tokens": 0}));
        // 0.00025 cents rounds up to one milli-cent.
        assert_eq!(cents.amount(Milli(0), &m), Ok(Milli(1)));
    }

    #[test]
    fn a_missing_or_wrong_number_names_its_field() {
        let tokens = measure(json!({"metadata": "completion_tokens"}));
        let err = tokens.amount(Milli(0), &meta(json!({}))).unwrap_err();
        assert_eq!(err.field, "metadata.completion_tokens");
        let err = tokens
            .amount(Milli(0), &meta(json!({"completion_tokens": "12"})))
            .unwrap_err();
        assert_eq!(err.field, "metadata.completion_tokens");
        assert_eq!(
            tokens.amount(Milli(0), &meta(json!({"completion_tokens": 812}))),
            Ok(Milli(812_000))
        );
    }

    #[test]
    fn a_measure_reads_back_from_its_document() {
        for doc in [
            json!({"metadata": "completion_tokens"}),
            // As a plan's author writes it (json! would print the last weight as 1e-6).
            serde_json::from_str(
                r#"{"weights": {"completion_tokens": 1, "prompt_tokens": 0.00025, "x": 12.5, "y": 0.000001}}"#,
            )
            .unwrap(),
        ] {
            let m = measure(doc.clone());
            let back = m.to_doc().unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap().to_string(), doc.to_string());
            assert_eq!(back.to_measure(), Ok(m));
        }
        assert_eq!(Measure::Quantity.to_doc(), None);
    }

    #[test]
    fn documents_need_exactly_one_rule() {
        let both: MeasureDoc = serde_json::from_value(json!({"metadata": "a", "weights": {"a": 1}})).unwrap();
        assert!(both.to_measure().is_err());
        let precise: MeasureDoc = serde_json::from_value(json!({"weights": {"a": 0.0000001}})).unwrap();
        assert!(precise.to_measure().unwrap_err().contains("6 decimal"));
    }
}
