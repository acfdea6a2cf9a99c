//! A project's webhook endpoints: made (with a secret shown once, at most `MAX_ENDPOINTS`, once
//! per Idempotency-Key), listed, deleted, enabled and disabled, their secret rotated (a
//! replaced one signs too for 24 hours), tested, and their deliveries listed and retried.
//! Delivering is `deliver.rs`'s.

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{reason_detail, Action, Actor, Change};
use crate::gateway::{GatewayError, Idempotency};
use crate::quota::alerts::AlertKind;
use crate::quota::{DeliveryRecord, EndpointRecord, ReasonText};
use crate::store::{EndpointMade, Redelivered, SecretRotated};
use crate::webhooks::{event, guard, sign};

/// After a rotation, the replaced secret signs too for this long.
const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
/// Replaced secrets that may sign beside the current one at once: a third rotation within 24
/// hours is refused until the oldest overlap ends (decision 0039).
pub(crate) const MAX_RETIRED_SECRETS: usize = 2;
/// Endpoints a project may have (decision 0039).
pub(crate) const MAX_ENDPOINTS: usize = 20;
pub(crate) const TEST_EVENT: &str = "webhook.test";

/// The event types an endpoint may ask for.
pub(crate) fn event_type_known(kind: &str) -> bool {
    AlertKind::ALL.iter().any(|k| k.event_type() == kind)
}

/// Every event type an endpoint may ask for, as a refusal names them.
pub(crate) fn event_types() -> String {
    let kinds: Vec<&str> = AlertKind::ALL.iter().map(|k| k.event_type()).collect();
    kinds.join(", ")
}

/// A new endpoint, or the one an Idempotency-Key made before.
#[derive(Debug)]
pub struct CreatedWebhook {
    pub id: String,
    /// As it stands now (the secret included: it is shown to the call that made it, and to
    /// its repeats).
    pub record: EndpointRecord,
    /// Made by an earlier call with the same Idempotency-Key and body.
    pub repeated: bool,
}

impl Accounts<'_> {
    /// Checks `url` as a delivery would (no control characters, scheme, then every address it
    /// resolves to, DNS bounded by the delivery timeout); answers its normalised form.
    async fn check_webhook_url(&self, url: &str) -> Result<String, GatewayError> {
        let invalid = |e: guard::Refused| GatewayError::Invalid {
            field: "url",
            detail: e.to_string(),
        };
        let parsed = guard::check_url(url, &self.workers.webhooks).map_err(invalid)?;
        let deadline = tokio::time::Instant::now() + self.workers.webhooks.timeout;
        match guard::resolve(&parsed, &self.workers.webhooks, deadline).await {
            // A name that does not resolve (yet, or in time) may later; every attempt checks again.
            Ok(_) | Err(guard::Refused::Unresolved(_)) => Ok(parsed.into()),
            Err(refused) => Err(invalid(refused)),
        }
    }

    /// Makes an endpoint, at most `MAX_ENDPOINTS` per project; with an Idempotency-Key, a
    /// repeat of the same request answers the endpoint the first one made and makes none.
    pub(crate) async fn create_webhook(
        &self,
        project: &str,
        url: &str,
        events: Vec<String>,
        description: String,
        idempotency: Option<&Idempotency>,
        by: &Actor,
    ) -> Result<CreatedWebhook, GatewayError> {
        let url = self.check_webhook_url(url).await?;
        let id = format!("wh_{}", crate::secrets::random_token(16));
        let record = EndpointRecord {
            url,
            events,
            description,
            secret: sign::new_secret(),
            retired: Vec::new(),
            previous_secret: None,
            previous_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: Some(self.data.node.clock.now_ms()),
        };
        let made = self
            .store
            .create_endpoint(
                project,
                &id,
                &record,
                MAX_ENDPOINTS,
                idempotency.map(Idempotency::stored),
            )
            .await?;
        match made {
            EndpointMade::Made => {}
            EndpointMade::Repeat(first) => {
                // The endpoint the key made, as it stands; deleted since, it is not found.
                let record = self
                    .webhook(project, &first)
                    .await?
                    .ok_or_else(|| GatewayError::WebhookNotFound(first.clone()))?;
                return Ok(CreatedWebhook {
                    id: first,
                    record,
                    repeated: true,
                });
            }
            EndpointMade::Reused => return Err(GatewayError::IdempotencyReused),
            EndpointMade::Full(_) => return Err(GatewayError::WebhookLimit(MAX_ENDPOINTS)),
        }
        self.data.node.cache.clear_config();
        let detail = json!({ "url": record.url, "events": record.events });
        self.data
            .node
            .record(
                project,
                by,
                Change {
                    action: Action::WebhookCreate,
                    target: &id,
                    user: None,
                    detail,
                },
            )
            .await;
        Ok(CreatedWebhook {
            id,
            record,
            repeated: false,
        })
    }

    pub(crate) async fn webhooks(&self, project: &str) -> Result<Vec<(String, EndpointRecord)>, GatewayError> {
        Ok(self.store.endpoints(project).await?)
    }

    pub(crate) async fn webhook(&self, project: &str, id: &str) -> Result<Option<EndpointRecord>, GatewayError> {
        Ok(self
            .webhooks(project)
            .await?
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, e)| e))
    }

    /// `reason`, when the operator gave one, goes into the audit log.
    pub(crate) async fn delete_webhook(
        &self,
        project: &str,
        id: &str,
        reason: Option<&ReasonText>,
        by: &Actor,
    ) -> Result<bool, GatewayError> {
        let deleted = self.store.delete_endpoint(project, id).await?;
        self.data.node.cache.clear_config();
        if deleted {
            let detail = reason_detail(reason);
            self.data
                .node
                .record(
                    project,
                    by,
                    Change {
                        action: Action::WebhookDelete,
                        target: id,
                        user: None,
                        detail,
                    },
                )
                .await;
        }
        Ok(deleted)
    }

    /// A new secret, in one step on Redis: the replaced one keeps signing for 24 hours, as does
    /// each one replaced before it until its own 24 hours end; a rotation while
    /// `MAX_RETIRED_SECRETS` replaced secrets still sign is refused.
    pub(crate) async fn rotate_webhook_secret(
        &self,
        project: &str,
        id: &str,
        by: &Actor,
    ) -> Result<String, GatewayError> {
        let secret = sign::new_secret();
        let now = self.data.node.clock.now_ms();
        let rotated = self
            .store
            .rotate_secret(project, id, &secret, now, ROTATION_OVERLAP_MS, MAX_RETIRED_SECRETS)
            .await?;
        match rotated {
            SecretRotated::Done => {}
            SecretRotated::Missing => return Err(GatewayError::WebhookNotFound(id.to_string())),
            SecretRotated::Limit(until_ms) => return Err(GatewayError::RotationLimit { until_ms }),
        }
        let detail = json!({});
        self.data
            .node
            .record(
                project,
                by,
                Change {
                    action: Action::WebhookRotate,
                    target: id,
                    user: None,
                    detail,
                },
            )
            .await;
        Ok(secret)
    }

    /// Enables an endpoint again (its health starts afresh) or disables it (its pending
    /// deliveries end as failed); recorded in the audit log when it changed.
    pub(crate) async fn set_webhook_enabled(
        &self,
        project: &str,
        id: &str,
        enabled: bool,
        by: &Actor,
    ) -> Result<EndpointRecord, GatewayError> {
        let reason = format!("disabled by {}", by.name());
        let changed = self.store.set_endpoint_enabled(project, id, enabled, &reason).await?;
        let not_found = || GatewayError::WebhookNotFound(id.to_string());
        let changed = changed.ok_or_else(not_found)?;
        if changed {
            self.data.node.cache.clear_config();
            let action = if enabled {
                Action::WebhookEnable
            } else {
                Action::WebhookDisable
            };
            self.data
                .node
                .record(
                    project,
                    by,
                    Change {
                        action,
                        target: id,
                        user: None,
                        detail: json!({}),
                    },
                )
                .await;
        }
        self.webhook(project, id).await?.ok_or_else(not_found)
    }

    /// Sends a `webhook.test` event to this endpoint only; answers its delivery's id. A
    /// disabled endpoint is refused: nothing would ever deliver it.
    pub(crate) async fn test_webhook(&self, project: &str, id: &str) -> Result<String, GatewayError> {
        let endpoint = self.webhook(project, id).await?;
        let endpoint = endpoint.ok_or_else(|| GatewayError::WebhookNotFound(id.to_string()))?;
        if !endpoint.enabled {
            return Err(disabled(id, &endpoint));
        }
        let now = self.data.node.clock.now_ms();
        let event_id = format!("msg_test_{}", crate::secrets::random_token(16));
        let body = event::body(
            TEST_EVENT,
            now,
            serde_json::json!({ "projectId": project, "webhookId": id }),
        )
        .map_err(GatewayError::encode("a test event's body"))?;
        let made = self
            .store
            .enqueue(project, &event_id, TEST_EVENT, &body, now, Some(id))
            .await?;
        // enqueue.lua makes nothing for an endpoint disabled or deleted since it was read.
        made.into_iter().next().ok_or_else(|| GatewayError::WebhookDisabled {
            id: id.to_string(),
            reason: "it was disabled or deleted meanwhile".to_string(),
        })
    }

    pub(crate) async fn webhook_deliveries(
        &self,
        project: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRecord)>, GatewayError> {
        Ok(self.store.deliveries(project, id, limit).await?)
    }

    /// Makes one delivery of this endpoint due now; false when there is none. A disabled
    /// endpoint's delivery is refused.
    pub(crate) async fn retry_delivery(&self, project: &str, id: &str, delivery: &str) -> Result<bool, GatewayError> {
        if !delivery.starts_with(&format!("{id}.")) {
            return Ok(false);
        }
        match self
            .store
            .redeliver(project, delivery, self.data.node.clock.now_ms())
            .await?
        {
            Redelivered::Due => Ok(true),
            Redelivered::NoDelivery => Ok(false),
            Redelivered::NoEndpoint => Err(GatewayError::WebhookNotFound(id.to_string())),
            Redelivered::Disabled => {
                let endpoint = self.webhook(project, id).await?;
                Err(match endpoint {
                    Some(endpoint) => disabled(id, &endpoint),
                    None => GatewayError::WebhookNotFound(id.to_string()),
                })
            }
        }
    }
}

/// The refusal of a disabled endpoint, with why it was disabled.
fn disabled(id: &str, endpoint: &EndpointRecord) -> GatewayError {
    GatewayError::WebhookDisabled {
        id: id.to_string(),
        reason: endpoint
            .disabled_reason
            .clone()
            .unwrap_or_else(|| "it was disabled".to_string()),
    }
}
