//! API keys and the root token: minting (the key is shown once, only its digest stored),
//! listing, revocation, and recognising a presented key in constant time.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::audit::{reason_detail, Action, Actor, Change};
use super::outcome::Verb;
use super::{Gateway, GatewayError};
use crate::quota::{KeyRecord, ReasonText};
use crate::secrets::{self, digest, digests_equal};

impl Gateway {
    /// Mints a key of `kind` ("secret" or "publishable") for `project`; returns its record and
    /// the key, which is never stored.
    pub async fn mint_key(
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
        self.record(project, by, change).await;
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
            created_at_ms: self.clock.now_ms(),
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
        self.report(Verb::MintKey, project, None, started, &stored);
        stored?;
        Ok((record, key))
    }

    /// A project's keys, without their secret part, oldest first.
    pub async fn keys(&self, project: &str) -> Result<Vec<KeyRecord>, GatewayError> {
        Ok(self.store.keys(project).await?)
    }

    /// Revokes a key: every node refuses it once it sees the new config epoch. False when
    /// the project has no such key.
    /// `reason`, when the operator gave one, goes into the audit log.
    pub async fn revoke_key(
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
                self.bump_epoch().await?;
            }
            Ok(revoked)
        }
        .await;
        self.report(Verb::RevokeKey, project, None, started, &answer);
        if let Ok(true) = answer {
            let detail = reason_detail(reason);
            self.record(
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

    /// The record of a presented API key, or None for an unknown or revoked one.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Arc<KeyRecord>>, GatewayError> {
        let token_digest = secrets::digest_hex(token);
        let Some(record) = self.find_key(&token_digest).await? else {
            return Ok(None);
        };
        // The lookup already matched the digest; the record's own copy is checked again in
        // constant time so a corrupted or crafted record can never grant access.
        let matches = secrets::bytes_equal(record.digest_hex.as_bytes(), token_digest.as_bytes());
        // A key past its expiry is no key: 401 on every route, as an unknown or revoked one.
        let expired = record.expires_at_ms.is_some_and(|at| at <= self.clock.now_ms());
        Ok((matches && !expired).then_some(record))
    }

    /// Whether `token` is the root token. Before the node has reached Redis only a configured
    /// root token is known: a token that could be a generated one is answered "starting"
    /// (503), any other is not the root token (401), without waiting for Redis.
    pub fn is_root(&self, token: &str) -> Result<bool, GatewayError> {
        match self.secrets.root_digest.get() {
            Some(root) => Ok(digests_equal(&digest(token), root)),
            None if token.starts_with(secrets::ROOT_PREFIX) => Err(GatewayError::Starting),
            None => Ok(false),
        }
    }

    /// Whether `digest_hex` is the root token's digest.
    pub fn root_digest_is(&self, digest_hex: &str) -> bool {
        let given = hex::decode(digest_hex).ok().and_then(|d| <[u8; 32]>::try_from(d).ok());
        match (self.secrets.root_digest.get(), given) {
            (Some(root), Some(given)) => digests_equal(root, &given),
            _ => false,
        }
    }

    /// Knows a configured root token from the start, before Redis is reached; warns when it
    /// is short, since it opens every project.
    pub fn set_root_token(&self, token: &str) {
        let chars = token.chars().count();
        if chars < secrets::MIN_ROOT_TOKEN_CHARS {
            tracing::warn!(
                chars,
                "the configured root token (QG_ROOT_TOKEN) is shorter than {} characters; it opens \
                 every project: use a long random one, or leave it unset to have one generated",
                secrets::MIN_ROOT_TOKEN_CHARS
            );
        }
        let _ = self.secrets.root_digest.set(digest(token));
    }

    /// Whether the node has reached Redis and learnt its secrets.
    pub fn started(&self) -> bool {
        self.secrets.root_digest.get().is_some() && self.secrets.signing_key.get().is_some()
    }
}
