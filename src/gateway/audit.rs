//! The audit log: who (a key's id and label, or the root token) changed what, when, through
//! the API or the dashboard. Recorded after the change succeeded; a record that cannot be
//! written is logged and does not undo or fail the change.

use super::{Gateway, GatewayError};
use crate::quota::ChangeEntry;
use crate::quota::UserId;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub label: String,
}

impl Actor {
    pub fn root() -> Actor {
        Actor {
            id: "root".into(),
            label: "root token".into(),
        }
    }
}

impl Gateway {
    /// Records one change of `project`: `action` (`user.block`, `plan.put`, ...) on `target`,
    /// concerning `user` when it does, with `detail` (JSON).
    pub async fn record_change(
        &self,
        project: &str,
        actor: &Actor,
        action: &str,
        target: &str,
        user: Option<&UserId>,
        detail: serde_json::Value,
    ) {
        let change = ChangeEntry {
            actor_id: actor.id.clone(),
            actor_label: actor.label.clone(),
            action: action.to_string(),
            target: target.to_string(),
            user: user.map(UserId::to_string),
            detail: detail.to_string(),
            ..ChangeEntry::default()
        };
        if let Err(err) = self.store.append_change(project, &change).await {
            tracing::warn!(%err, project, action, target, "a change could not be written to the audit log");
        }
    }

    /// A page of the audit log, newest first (see `Store::changes`).
    pub async fn changes(
        &self,
        project: &str,
        before: Option<&str>,
        user: Option<&UserId>,
        limit: usize,
    ) -> Result<(Vec<ChangeEntry>, Option<String>), GatewayError> {
        Ok(self
            .store
            .changes(project, before, user.map(UserId::as_str), limit)
            .await?)
    }
}
