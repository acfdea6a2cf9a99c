//! Money and millionths as the API writes them: a price in micro-dollars read from a JSON
//! number and written back with its decimals exactly, and the error that names a price's
//! field. Below every price, measure and catalog, which all read and write them.

use serde_json::Value;

use super::amount::parse_scaled;

/// Prices have at most 6 decimals of a dollar: they are kept in micro-dollars.
pub(crate) const PRICE_DECIMALS: u32 = 6;
/// The dearest price taken: a million dollars per million tokens, or per image.
pub(super) const MAX_PRICE_MICRO: u64 = 1_000_000 * 1_000_000;
/// The decimals of a millionth.
const MICRO_DECIMALS: u32 = 6;

/// What is wrong with a price, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct PriceError {
    pub field: String,
    pub detail: String,
}

impl PriceError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> PriceError {
        PriceError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// A price in micro-dollars from a JSON number; the error names `field`. `null` is none.
pub(crate) fn micro_dollars(field: &str, value: &Value) -> Result<u64, PriceError> {
    match value {
        Value::Number(n) => parse_scaled(&n.to_string(), PRICE_DECIMALS, MAX_PRICE_MICRO)
            .map_err(|e| PriceError::new(field, format!("{e}"))),
        _ => Err(PriceError::new(field, "must be a number of US dollars")),
    }
}

pub(super) fn optional_micro(field: &str, value: &Option<Value>) -> Result<Option<u64>, PriceError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => micro_dollars(field, v).map(Some),
    }
}

/// Micro-dollars as a JSON number with its decimals, exactly (`2500000` is `2.5`): millionths,
/// as a measure writes its weights.
pub(crate) fn dollars(micro: u64) -> Value {
    decimal(micro)
}

/// Millionths as a JSON number with its decimals, exactly (`250` is `0.00025`).
pub(super) fn decimal(micro: u64) -> Value {
    let scale = 10u64.pow(MICRO_DECIMALS);
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
