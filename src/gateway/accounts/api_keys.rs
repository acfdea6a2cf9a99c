//! API keys and the root token: minting (the key is shown once, only its digest stored),
//! listing, revocation, and recognising a presented key in constant time.

use std::time::Instant;

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{reason_detail, Action, Actor, Change};
use crate::gateway::outcome::Verb;
use crate::gateway::GatewayError;
use crate::quota::{KeyRecord, ReasonText};
use crate::secrets;

impl Accounts<'_> {
    /// Mints a key of `kind` ("secret" or "publishable") for `project`; returns its record and
    /// the key, which is never stored.
    pub(crate) async fn mint_key(
        &self,
        project: &str,
        kind: &str,
        label: &str,
        by: &Actor,
    ) -> Result<(KeyRecord, String), GatewayError> {
        let (record, key) = self.new_key(project, kind, label).await?;
        let detail = json!({ "kind": record.kind, "label": record.label });
        let change = Change {
            action: Action::KeyMint,
            target: &record.key_id,
            user: None,
            detail,
        };
        self.data.node.record(project, by, change).await;
        Ok((record, key))
    }

    /// Mints a key without recording who did: the first start's, which no one asked for.
    pub(super) async fn new_key(
        &self,
        project: &str,
        kind: &str,
        label: &str,
    ) -> Result<(KeyRecord, String), GatewayError> {
        let prefix = if kind == "publishable" {
            secrets::PUBLISHABLE_PREFIX
        } else {
            secrets::SECRET_PREFIX
        };
        let key = secrets::new_api_key(prefix);
        let record = KeyRecord {
            key_id: format!("key_{}", hex::encode(secrets::random_bytes::<8>())),
            digest_hex: secrets::digest_hex(&key),
            project: project.to_string(),
            kind: kind.to_string(),
            label: label.to_string(),
            hint: format!("{prefix}…{}", &key[key.len() - 4..]),
            created_at_ms: self.data.node.clock.now_ms(),
            user_id: None,
            expires_at_ms: None,
        };
        let started = Instant::now();
        let stored = self
            .store
            .put_key(&record)
            .await
            .map(|()| true)
            .map_err(GatewayError::from);
        self.data.node.report(Verb::MintKey, project, None, started, &stored);
        stored?;
        Ok((record, key))
    }

    /// A project's keys, without their secret part, oldest first.
    pub(crate) async fn keys(&self, project: &str) -> Result<Vec<KeyRecord>, GatewayError> {
        Ok(self.store.keys(project).await?)
    }

    /// Revokes a key: every node refuses it once it sees the new config epoch. False when
    /// the project has no such key.
    /// `reason`, when the operator gave one, goes into the audit log.
    pub(crate) async fn revoke_key(
        &self,
        project: &str,
        key_id: &str,
        reason: Option<&ReasonText>,
        by: &Actor,
    ) -> Result<bool, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let revoked = self.store.delete_key(project, key_id).await?;
            if revoked {
                self.data.node.bump_epoch().await?;
            }
            Ok(revoked)
        }
        .await;
        self.data.node.report(Verb::RevokeKey, project, None, started, &answer);
        if let Ok(true) = answer {
            let detail = reason_detail(reason);
            self.data
                .node
                .record(
                    project,
                    by,
                    Change {
                        action: Action::KeyRevoke,
                        target: key_id,
                        user: None,
                        detail,
                    },
                )
                .await;
        }
        answer
    }
}
