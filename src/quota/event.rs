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
}
