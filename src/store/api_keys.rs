//! API keys and the root token: only SHA-256 digests are stored.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{corrupt, QuotaStore, StoreError};
use crate::secrets;

/// What a key's digest resolves to; the key itself is never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub key_id: String,
    /// SHA-256 of the key, hex.
    pub digest_hex: String,
    pub project: String,
    pub kind: String,
    pub label: String,
    pub created_at_ms: i64,
}

impl QuotaStore {
    /// Mints a secret key for `project`; returns its record and the key, which is never stored.
    pub async fn mint_key(
        &self,
        project: &str,
        label: &str,
    ) -> Result<(KeyRecord, String), StoreError> {
        let key = secrets::new_secret_key();
        let record = KeyRecord {
            key_id: format!("key_{}", hex::encode(secrets::random_bytes::<8>())),
            digest_hex: secrets::digest_hex(&key),
            project: project.to_string(),
            kind: "secret".to_string(),
            label: label.to_string(),
            created_at_ms: self.clock.now_ms(),
        };
        let json = serde_json::to_string(&record).map_err(|e| corrupt("key", e))?;
        let (digest_key, list) = (
            self.keys.api_key(&record.digest_hex),
            self.keys.project_keys(project),
        );
        let key_id = &record.key_id;
        self.run(|mut conn| async move {
            let _: () = conn.set(&digest_key, &json).await?;
            let _: () = conn.hset(&list, key_id, &json).await?;
            Ok(())
        })
        .await?;
        Ok((record, key))
    }

    /// The key with this digest, from the node's cache while the config epoch stands.
    /// Unknown digests are not cached, so guessing keys cannot fill a node's memory.
    pub async fn find_key(&self, digest_hex: &str) -> Result<Option<KeyRecord>, StoreError> {
        if let Some(record) = self.cache.key(digest_hex) {
            return Ok(Some(record));
        }
        let key = self.keys.api_key(digest_hex);
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.get(&key).await?) })
            .await?;
        let record: Option<KeyRecord> = raw
            .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("key", e)))
            .transpose()?;
        if let Some(record) = &record {
            self.cache.put_key(digest_hex, record.clone());
        }
        Ok(record)
    }

    /// The stored root token digest, written once at first start when none is configured.
    pub async fn root_digest(&self) -> Result<Option<String>, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) })
            .await
    }

    /// Stores the root token digest unless one exists; true when this call stored it.
    pub async fn init_root_digest(&self, digest_hex: &str) -> Result<bool, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.set_nx(&key, digest_hex).await?) })
            .await
    }
}
