//! Wire types of webhook endpoints and their deliveries.

use serde::{Deserialize, Serialize};

use crate::json::rfc3339;
use crate::quota::{DeliveryRecord, EndpointRecord};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// `https://…` (plain http only when the gateway allows it).
    pub url: String,
    /// quota.threshold_crossed, quota.limit_reached, credits.low_balance, credits.depleted,
    /// quota.approval_requested, quota.approval_decided; all when absent or empty.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// An endpoint; `secret` only in the answers that made or rotated it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAnswer {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Why it was disabled (410 Gone, or 5 days of failures).
    pub disabled_reason: Option<String>,
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookAnswer {
    pub fn new(id: String, e: EndpointRecord, show_secret: bool) -> WebhookAnswer {
        WebhookAnswer {
            id,
            url: e.url,
            events: e.events,
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at.map(rfc3339),
            secret: show_secret.then_some(e.secret),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    pub data: Vec<WebhookAnswer>,
    /// Always null: listed whole.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretAnswer {
    /// The new secret; the previous one signs too for 24 hours.
    pub secret: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryIdAnswer {
    pub delivery_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TryAnswer {
    pub at: Option<String>,
    /// The receiver's HTTP status; null when there was none (timeout, refused).
    pub status: Option<u16>,
    pub error: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAnswer {
    pub id: String,
    /// The `webhook-id` every attempt carries.
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// pending, succeeded or failed.
    pub state: String,
    pub attempts: i64,
    pub created_at: Option<String>,
    /// The last attempts, oldest first.
    pub tries: Vec<TryAnswer>,
    /// When the next attempt is due, while one is scheduled (a pending delivery); null once
    /// it succeeded or failed for good.
    pub next_attempt_at: Option<String>,
    /// The body as sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl DeliveryAnswer {
    pub fn new(id: String, d: DeliveryRecord) -> DeliveryAnswer {
        DeliveryAnswer {
            id,
            event_id: d.event,
            kind: d.kind,
            state: d.state,
            attempts: d.attempts.unwrap_or(0),
            created_at: d.created.map(rfc3339),
            tries: d
                .tries
                .into_iter()
                .map(|t| TryAnswer {
                    at: t.at.map(rfc3339),
                    status: t.status.parse().ok(),
                    error: t.error,
                })
                .collect(),
            next_attempt_at: d.next_attempt_ms.map(rfc3339),
            payload: serde_json::from_str(&d.body).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub data: Vec<DeliveryAnswer>,
    /// Always null: listed whole.
    pub next_cursor: Option<String>,
}
