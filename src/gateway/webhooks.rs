//! A project's webhook endpoints: made (with a secret shown once), listed, deleted, their
//! secret rotated (the old one signs too for 24 hours), tested, and their deliveries listed and
//! retried. Delivering is `deliver.rs`'s.

use serde_json::json;

use super::audit::{Action, Actor, Change};
use super::{Gateway, GatewayError};
use crate::quota::alerts::AlertKind;
use crate::quota::{DeliveryRecord, EndpointRecord};
use crate::webhooks::{event, guard, sign};

/// After a rotation, the old secret signs too for this long.
const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
pub const TEST_EVENT: &str = "webhook.test";

/// The event types an endpoint may ask for.
pub fn event_type_known(kind: &str) -> bool {
    [AlertKind::ThresholdCrossed, AlertKind::LimitReached]
        .iter()
        .any(|k| k.event_type() == kind)
}

impl Gateway {
    /// Checks `url` as a delivery would (scheme, then every address it resolves to).
    async fn check_webhook_url(&self, url: &str) -> Result<(), GatewayError> {
        let invalid = |e: guard::Refused| GatewayError::Invalid {
            field: "url",
            detail: e.to_string(),
        };
        let parsed = guard::check_url(url, &self.webhooks).map_err(invalid)?;
        match guard::resolve(&parsed, &self.webhooks).await {
            // A name that does not resolve yet may later; every attempt checks again.
            Ok(_) | Err(guard::Refused::Unresolved(_)) => Ok(()),
            Err(refused) => Err(invalid(refused)),
        }
    }

    /// Makes an endpoint; answers its id and record, whose secret is shown only now.
    pub async fn create_webhook(
        &self,
        project: &str,
        url: &str,
        events: Vec<String>,
        description: String,
        by: &Actor,
    ) -> Result<(String, EndpointRecord), GatewayError> {
        self.check_webhook_url(url).await?;
        let id = format!("wh_{}", crate::secrets::random_token(16));
        let record = EndpointRecord {
            url: url.to_string(),
            events,
            description,
            secret: sign::new_secret(),
            previous_secret: None,
            previous_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: Some(self.clock.now_ms()),
        };
        self.store.put_endpoint(project, &id, &record).await?;
        self.cache.clear_config();
        let detail = json!({ "url": record.url, "events": record.events });
        self.record(
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
        Ok((id, record))
    }

    pub async fn webhooks(&self, project: &str) -> Result<Vec<(String, EndpointRecord)>, GatewayError> {
        Ok(self.store.endpoints(project).await?)
    }

    pub async fn webhook(&self, project: &str, id: &str) -> Result<Option<EndpointRecord>, GatewayError> {
        Ok(self
            .webhooks(project)
            .await?
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, e)| e))
    }

    pub async fn delete_webhook(&self, project: &str, id: &str, by: &Actor) -> Result<bool, GatewayError> {
        let deleted = self.store.delete_endpoint(project, id).await?;
        self.cache.clear_config();
        if deleted {
            let detail = json!({});
            self.record(
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

    /// A new secret; the old one keeps signing for 24 hours. None when there is no such endpoint.
    pub async fn rotate_webhook_secret(
        &self,
        project: &str,
        id: &str,
        by: &Actor,
    ) -> Result<Option<String>, GatewayError> {
        let Some(mut record) = self.webhook(project, id).await? else {
            return Ok(None);
        };
        let secret = sign::new_secret();
        record.previous_secret = Some(std::mem::replace(&mut record.secret, secret.clone()));
        record.previous_until = Some(self.clock.now_ms() + ROTATION_OVERLAP_MS);
        self.store.put_endpoint(project, id, &record).await?;
        let detail = json!({});
        self.record(
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
        Ok(Some(secret))
    }

    /// Sends a `webhook.test` event to this endpoint only; answers its delivery's id.
    pub async fn test_webhook(&self, project: &str, id: &str) -> Result<Option<String>, GatewayError> {
        if self.webhook(project, id).await?.is_none() {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        let event_id = format!("msg_test_{}", crate::secrets::random_token(16));
        let body = event::body(
            TEST_EVENT,
            now,
            serde_json::json!({ "projectId": project, "webhookId": id }),
        );
        let made = self
            .store
            .enqueue(project, &event_id, TEST_EVENT, &body, now, Some(id))
            .await?;
        Ok(made.into_iter().next())
    }

    pub async fn webhook_deliveries(
        &self,
        project: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRecord)>, GatewayError> {
        Ok(self.store.deliveries(project, id, limit).await?)
    }

    /// Makes one delivery of this endpoint due now; false when there is none.
    pub async fn retry_delivery(&self, project: &str, id: &str, delivery: &str) -> Result<bool, GatewayError> {
        if !delivery.starts_with(&format!("{id}.")) {
            return Ok(false);
        }
        Ok(self.store.redeliver(project, delivery, self.clock.now_ms()).await?)
    }
}
