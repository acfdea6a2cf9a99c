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

/// A secret a rotation replaced, signing beside the current one until `until` (ms).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub secret: String,
    #[serde(deserialize_with = "loose_int")]
    pub until: Option<i64>,
}

/// A webhook endpoint as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointRecord {
    /// Normalised (`webhooks::guard::check_url`).
    pub url: String,
    /// Event types it wants; empty for all.
    #[serde(default, deserialize_with = "list_or_empty")]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub secret: String,
    /// Secrets replaced by rotations, each signing until its own time (rotate_secret.lua).
    #[serde(default, deserialize_with = "list_or_empty", skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredSecret>,
    /// The first encoding's one replaced secret, signing until `previous_until` (ms); read so a
    /// record written before `retired` keeps its overlap, moved into `retired` by a rotation.
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

impl EndpointRecord {
    /// Every secret that signs at `now_ms`: the current one first, then each replaced one whose
    /// overlap has not ended.
    pub fn signing_secrets(&self, now_ms: i64) -> Vec<&str> {
        let retired = self.retired.iter().map(|r| (r.secret.as_str(), r.until));
        let first = self.previous_secret.as_deref().map(|s| (s, self.previous_until));
        let live = first
            .into_iter()
            .chain(retired)
            .filter(|(_, until)| until.is_some_and(|u| u > now_ms))
            .map(|(secret, _)| secret);
        std::iter::once(self.secret.as_str()).chain(live).collect()
    }
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
    /// When the next attempt is due (ms), while one is scheduled; read from the due set, not
    /// the record.
    #[serde(skip)]
    pub next_attempt_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_secrets_sign_until_their_own_overlap_ends() {
        // As rotate_secret.lua writes it (numbers as strings) beside a record of the first
        // encoding's one previous secret.
        let json = r#"{"url":"https://example.com/","events":{},"secret":"c","enabled":true,"createdAt":1,
            "retired":[{"secret":"r1","until":"100"},{"secret":"r2","until":200}],
            "previousSecret":"p","previousUntil":"150"}"#;
        let record: EndpointRecord = serde_json::from_str(json).unwrap();
        assert_eq!(record.signing_secrets(99), ["c", "p", "r1", "r2"]);
        assert_eq!(record.signing_secrets(100), ["c", "p", "r2"]);
        assert_eq!(record.signing_secrets(150), ["c", "r2"]);
        assert_eq!(record.signing_secrets(200), ["c"]);
    }
}
