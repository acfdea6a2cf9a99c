//! API keys in Redis: only SHA-256 digests are stored, once under the digest (for lookups) and
//! once in the project's list (for listing and revocation).

use super::{corrupt, AccountsStore, Store, StoreError};
use crate::quota::KeyRecord;
use redis::AsyncCommands;

impl AccountsStore {
    /// Stores a new key's record under its digest and in its project's list.
    pub(crate) async fn put_key(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| corrupt("key", e))?;
        let (digest_key, list) = (
            self.keys.api_key(&record.digest_hex),
            self.keys.project_keys(&record.project),
        );
        let key_id = &record.key_id;
        self.run(|mut conn| async move {
            let _: () = conn.set(&digest_key, &json).await?;
            let _: () = conn.hset(&list, key_id, &json).await?;
            Ok(())
        })
        .await
    }

    /// A project's keys, without their secret part, oldest first.
    pub(crate) async fn keys(&self, project: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let list = self.keys.project_keys(project);
        let raw: Vec<String> = self.run(|mut conn| async move { Ok(conn.hvals(&list).await?) }).await?;
        let mut records = raw
            .iter()
            .map(|json| serde_json::from_str(json).map_err(|e| corrupt("key", e)))
            .collect::<Result<Vec<KeyRecord>, _>>()?;
        records.sort_by(|a, b| (a.created_at_ms, &a.key_id).cmp(&(b.created_at_ms, &b.key_id)));
        Ok(records)
    }

    /// Deletes a key: its digest first, so no node can load it again, then its list entry.
    /// False when the project has no such key.
    pub(crate) async fn delete_key(&self, project: &str, key_id: &str) -> Result<bool, StoreError> {
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
            let _: () = conn.del(&digest_key).await?;
            let _: () = conn.hdel(&list, key_id).await?;
            Ok(())
        })
        .await?;
        Ok(true)
    }
}

impl Store {
    /// The key with this digest, as stored.
    pub(crate) async fn load_key(&self, digest_hex: &str) -> Result<Option<KeyRecord>, StoreError> {
        let key = self.keys.api_key(digest_hex);
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await?;
        raw.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("key", e)))
            .transpose()
    }
}
