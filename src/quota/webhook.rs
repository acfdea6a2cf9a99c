//! A project's webhook endpoints and their deliveries, as the gateway keeps and lists them.
//! Stored as JSON written by the gateway and by the delivery scripts, whose cjson writes an
//! empty list as `{}` and numbers either way: reading tolerates both.

use serde::{Deserialize, Deserializer, Serialize};

/// A list, or an empty one for anything else (cjson writes an empty list as `{}`).
fn list_or_empty<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Array(_) => serde_json::from_value(value).map_err(serde::de::Error::custom),
        _ => Ok(Vec::new()),
    }
}

/// Numbers the scripts may write as numbers or strings.
fn loose_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// A webhook endpoint as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointRecord {
    pub url: String,
    /// Event types it wants; empty for all.
    #[serde(default, deserialize_with = "list_or_empty")]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub secret: String,
    /// The secret before the last rotation, signing too until `previous_until` (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    #[serde(default, deserialize_with = "loose_int", skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<i64>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed (ms), while they do.
    #[serde(default, deserialize_with = "loose_int", skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
    #[serde(deserialize_with = "loose_int")]
    pub created_at: Option<i64>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Try {
    #[serde(deserialize_with = "loose_int")]
    pub at: Option<i64>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub error: String,
}

/// One event for one endpoint, as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryRecord {
    pub endpoint: String,
    pub event: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub body: String,
    /// pending, succeeded or failed.
    pub state: String,
    #[serde(deserialize_with = "loose_int")]
    pub attempts: Option<i64>,
    #[serde(deserialize_with = "loose_int")]
    pub created: Option<i64>,
    #[serde(default, deserialize_with = "list_or_empty")]
    pub tries: Vec<Try>,
    #[serde(default)]
    pub error: Option<String>,
}
