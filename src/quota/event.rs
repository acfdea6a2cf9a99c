//! An event as the data plane decides on it: who, what, how much, with which metadata.
//! Built from a request only after every field was checked.

use serde_json::{Map, Value};

use super::amount::Milli;
use super::ids::UserId;
use super::run::Step;

/// A validated event: who, what, how much.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub user: UserId,
    pub event: String,
    pub quantity: Milli,
    pub metadata: Map<String, Value>,
    /// A reserve's or track's run, when it is a step of one.
    pub step: Option<Step>,
    /// What a reserve asks of a hold that does not fit whole (`fit.rs`).
    pub fit: FitAsk,
    /// A reserve that is an attempt after the first of one original action (a routed proxy
    /// call's next target): its attempts after the first are capped together.
    pub fallback: Option<FallbackOf>,
}

/// The original action an attempt after the first falls back for: `chain` names it
/// ("<run>~<action>" for an action of a run, whose every call shares it; else the call's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackOf {
    pub chain: String,
}

impl FallbackOf {
    /// The chain of an attempt of `call` (a call's own id), or of its run's action when it is
    /// a step of one naming an action.
    pub fn of(call: &str, step: Option<&Step>) -> FallbackOf {
        let chain = match step.filter(|s| !s.action.is_empty()) {
            Some(step) => format!("{}~{}", step.run_id.as_str(), step.action),
            None => call.to_string(),
        };
        FallbackOf { chain }
    }
}

/// A reserve's `fit` and `minFit`: `clamp` Some(true) lets every hard group clamp, Some(false)
/// none, None leaves it to each group's own `fit`; `min` overrides the groups' `minFit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FitAsk {
    pub clamp: Option<bool>,
    pub min: Option<Milli>,
}

const MAX_METADATA_KEYS: usize = 32;
const MAX_METADATA_KEY_BYTES: usize = 64;
const MAX_METADATA_STRING_BYTES: usize = 256;

/// The rules every metadata object follows (an event's, a commit's, a grant's): at most 32
/// keys of at most 64 bytes, each value a string of at most 256 bytes, a finite number, a
/// boolean or null. The error names the key at fault (`metadata.<key>`, or `metadata`).
pub(crate) fn check_metadata(metadata: &Map<String, Value>) -> Result<(), (String, &'static str)> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(("metadata".to_string(), "must have at most 32 keys"));
    }
    for (key, value) in metadata {
        let field = || format!("metadata.{key}");
        if key.len() > MAX_METADATA_KEY_BYTES {
            return Err((field(), "keys must be at most 64 bytes"));
        }
        match value {
            Value::Array(_) | Value::Object(_) => return Err((field(), "must be a string, number, boolean or null")),
            Value::String(s) if s.len() > MAX_METADATA_STRING_BYTES => {
                return Err((field(), "must be at most 256 bytes"))
            }
            // Numbers are kept as written; one no double can hold (1e400) is refused here as
            // it is everywhere else, rather than stored and matched as infinity.
            Value::Number(n) if !n.as_f64().is_some_and(f64::is_finite) => {
                return Err((field(), "must be a number within ±1.7e308"))
            }
            _ => {}
        }
    }
    Ok(())
}
