//! The numbers an event's metadata carries, as a measure reads them, and the error that names
//! the one missing or misstated. Below the measures (`measure.rs`) and the priced ones
//! (`priced.rs`), which both read them.

use serde_json::{Map, Value};

use super::amount::Milli;

/// The event lacks or misstates a number a measure needs; `field` is its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct MeasureError {
    pub field: String,
    pub detail: String,
}

/// The number `key` of an event's metadata, in milli-units.
pub(super) fn metadata_number(metadata: &Map<String, Value>, key: &str) -> Result<Milli, MeasureError> {
    let field = || format!("metadata.{key}");
    match metadata.get(key) {
        None => Err(MeasureError {
            field: field(),
            detail: "is required: a limit group of the plan measures it".into(),
        }),
        Some(Value::Number(n)) => Milli::of_number(n).map_err(|e| MeasureError {
            field: field(),
            detail: e.to_string(),
        }),
        Some(_) => Err(MeasureError {
            field: field(),
            detail: "must be a number: a limit group of the plan measures it".into(),
        }),
    }
}
