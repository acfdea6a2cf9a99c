//! An event as the data plane decides on it: who, what, how much, with which metadata.
//! Built from a request only after every field was checked.

use serde_json::{Map, Value};

use super::amount::Milli;
use super::ids::UserId;

/// A validated event: who, what, how much.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub user: UserId,
    pub event: String,
    pub quantity: Milli,
    pub metadata: Map<String, Value>,
}
