//! User keys: minted by the app's server for one end user, so a browser or phone calls the
//! provider through the proxy as that user and no one else. Only digests are stored; a revoked
//! key stops on every node when it sees the new config epoch, on this node at once.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::{KeyRecord, UserId};
use crate::secrets;

/// The most keys one user may have at once: listing them stays one small read.
pub const MAX_USER_KEYS: usize = 100;

/// A minted key, or a revoked key's record: nothing to count.
impl Observed for (KeyRecord, String) {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

impl Observed for Option<KeyRecord> {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

/// Whom a presented user key spends as.
#[derive(Debug, Clone)]
pub struct KeyUser {
    pub project: String,
    pub user: UserId,
    pub key_id: String,
}

impl Accounts<'_> {
    /// Mints a key for `user`, ending at `expires_at_ms` when given; answers its record and
    /// the key, which is never stored.
    pub(crate) async fn mint_user_key(
        &self,
        project: &str,
        user: &UserId,
        label: &str,
        expires_at_ms: Option<i64>,
        by: &Actor,
    ) -> Result<(KeyRecord, String), GatewayError> {
        let now_ms = self.data.node.clock.now_ms();
        if expires_at_ms.is_some_and(|at| at <= now_ms) {
            return Err(GatewayError::Invalid {
                field: "expiresAt",
                detail: "must be in the future".into(),
            });
        }
        let started = Instant::now();
        let minted = async {
            if self.store.user_key_count(project, user.as_str()).await? >= MAX_USER_KEYS {
                return Err(GatewayError::UserKeyLimit(MAX_USER_KEYS));
            }
            let key = secrets::new_api_key(secrets::USER_KEY_PREFIX);
            let record = KeyRecord {
                key_id: format!("uk_{}", hex::encode(secrets::random_bytes::<8>())),
                digest_hex: secrets::digest_hex(&key),
                project: project.to_string(),
                kind: "user".to_string(),
                label: label.to_string(),
                hint: format!("{}…{}", secrets::USER_KEY_PREFIX, &key[key.len() - 4..]),
                created_at_ms: now_ms,
                user_id: Some(user.as_str().to_string()),
                expires_at_ms,
            };
            if !self.store.put_user_key(&record, MAX_USER_KEYS).await? {
                return Err(GatewayError::UserKeyLimit(MAX_USER_KEYS));
            }
            Ok((record, key))
        }
        .await;
        self.data
            .node
            .report(Verb::MintUserKey, project, Some(user), started, &minted);
        let (record, key) = minted?;
        let change = Change {
            action: Action::UserKeyMint,
            target: &record.key_id,
            user: Some(user),
            detail: json!({ "label": record.label, "expiresAtMs": record.expires_at_ms }),
        };
        self.data.node.record(project, by, change).await;
        Ok((record, key))
    }

    /// One user's keys, without their secret part, oldest first.
    pub(crate) async fn user_keys(&self, project: &str, user: &UserId) -> Result<Vec<KeyRecord>, GatewayError> {
        Ok(self.store.user_keys(project, user.as_str()).await?)
    }

    /// Revokes a user key; false when the project has no such key.
    pub(crate) async fn revoke_user_key(&self, project: &str, id: &str, by: &Actor) -> Result<bool, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let revoked = self.store.delete_user_key(project, id).await?;
            if revoked.is_some() {
                self.data.node.bump_epoch().await?;
            }
            Ok(revoked)
        }
        .await;
        self.data
            .node
            .report(Verb::RevokeUserKey, project, None, started, &answer);
        let revoked = answer?;
        if let Some(record) = &revoked {
            let user = record.user_id.as_deref().and_then(|u| UserId::parse(u).ok());
            let change = Change {
                action: Action::UserKeyRevoke,
                target: id,
                user: user.as_ref(),
                detail: json!({}),
            };
            self.data.node.record(project, by, change).await;
        }
        Ok(revoked.is_some())
    }

    /// The user a presented user key spends as: None for an unknown, revoked or expired key,
    /// or one that is not a user key.
    pub(crate) async fn key_user(&self, token: &str) -> Result<Option<KeyUser>, GatewayError> {
        let Some(record): Option<Arc<KeyRecord>> = self.data.node.authenticate(token).await? else {
            return Ok(None);
        };
        if record.kind != "user"
            || record
                .expires_at_ms
                .is_some_and(|at| at <= self.data.node.clock.now_ms())
        {
            return Ok(None);
        }
        let Some(user) = record.user_id.as_deref().and_then(|u| UserId::parse(u).ok()) else {
            return Ok(None);
        };
        Ok(Some(KeyUser {
            project: record.project.clone(),
            user,
            key_id: record.key_id.clone(),
        }))
    }
}
