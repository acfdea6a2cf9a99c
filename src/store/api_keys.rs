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
    /// "secret" or "publishable".
    pub kind: String,
    pub label: String,
    /// The key's prefix and last four characters (part of its checksum), to tell keys apart.
    pub hint: String,
    pub created_at_ms: i64,
}

impl QuotaStore {
    /// Mints a key of `kind` ("secret" or "publishable") for `project`; returns its record and
    /// the key, which is never stored.
    pub async fn mint_key(&self, project: &str, kind: &str, label: &str) -> Result<(KeyRecord, String), StoreError> {
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
        };
        let json = serde_json::to_string(&record).map_err(|e| corrupt("key", e))?;
        let (digest_key, list) = (self.keys.api_key(&record.digest_hex), self.keys.project_keys(project));
        let key_id = &record.key_id;
        self.run(|mut conn| async move {
            let _: () = conn.set(&digest_key, &json).await?;
            let _: () = conn.hset(&list, key_id, &json).await?;
            Ok(())
        })
        .await?;
        Ok((record, key))
    }

    /// A project's keys, without their secret part, oldest first.
    pub async fn keys(&self, project: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let list = self.keys.project_keys(project);
        let raw: Vec<String> = self.run(|mut conn| async move { Ok(conn.hvals(&list).await?) }).await?;
        let mut records = raw
            .iter()
            .map(|json| serde_json::from_str(json).map_err(|e| corrupt("key", e)))
            .collect::<Result<Vec<KeyRecord>, _>>()?;
        records.sort_by(|a, b| (a.created_at_ms, &a.key_id).cmp(&(b.created_at_ms, &b.key_id)));
        Ok(records)
    }

    /// Revokes a key: every node refuses it once it sees the new config epoch. False when
    /// the project has no such key.
    pub async fn revoke_key(&self, project: &str, key_id: &str) -> Result<bool, StoreError> {
        let list = self.keys.project_keys(project);
        let raw: Option<String> = {
            let list = &list;
            self.run(|mut conn| async move { Ok(conn.hget(list, key_id).await?) })
                .await?
        };
        let Some(json) = raw else { return Ok(false) };
        let record: KeyRecord = serde_json::from_str(&json).map_err(|e| corrupt("key", e))?;
        let digest_key = self.keys.api_key(&record.digest_hex);
        self.run(|mut conn| async move {
            // The digest goes first: from then on no node can load the key again.
            let _: () = conn.del(&digest_key).await?;
            let _: () = conn.hdel(&list, key_id).await?;
            Ok(())
        })
        .await?;
        self.bump_epoch().await?;
        Ok(true)
    }

    /// The deployment's secret for signing user tokens, made once by the first node to start.
    pub async fn signing_key(&self) -> Result<Vec<u8>, StoreError> {
        let key = self.keys.signing();
        let fresh = hex::encode(secrets::random_bytes::<32>());
        let stored: String = self
            .run(|mut conn| async move {
                let _: bool = conn.set_nx(&key, &fresh).await?;
                Ok(conn.get(&key).await?)
            })
            .await?;
        hex::decode(stored).map_err(|_| StoreError::Protocol("the stored signing key is malformed".into()))
    }

    /// The key with this digest, from the node's cache while the config epoch stands.
    /// Unknown digests are not cached, so guessing keys cannot fill a node's memory.
    pub async fn find_key(&self, digest_hex: &str) -> Result<Option<KeyRecord>, StoreError> {
        if let Some(record) = self.cache.key(digest_hex) {
            self.metrics
                .count("qg_cache_total", &[("cache", "key"), ("result", "hit")]);
            return Ok(Some(record));
        }
        self.metrics
            .count("qg_cache_total", &[("cache", "key"), ("result", "miss")]);
        let key = self.keys.api_key(digest_hex);
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await?;
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
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await
    }

    /// Stores the root token digest unless one exists; true when this call stored it.
    pub async fn init_root_digest(&self, digest_hex: &str) -> Result<bool, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.set_nx(&key, digest_hex).await?) })
            .await
    }
}
