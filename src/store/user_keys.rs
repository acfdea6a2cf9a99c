//! User keys in Redis: the record under the key's digest (so the proxy finds it as any key),
//! in the project's hash by id (for revocation), and its id in its user's set (for listing).

use redis::AsyncCommands;

use super::contract::ADD_CAPPED;
use super::{corrupt, AccountsStore, StoreError};
use crate::quota::KeyRecord;

impl AccountsStore {
    /// Stores a new user key, unless its user has `cap` keys already (false then, nothing
    /// written): the count and the listing are one step, so parallel mints never pass the cap.
    pub(crate) async fn put_user_key(&self, record: &KeyRecord, cap: usize) -> Result<bool, StoreError> {
        let json = serde_json::to_string(record).map_err(|e| corrupt("user key", e))?;
        let user = record.user_id.as_deref().unwrap_or_default();
        let (digest_key, by_id, of_user) = (
            self.keys.api_key(&record.digest_hex),
            self.keys.user_keys(&record.project),
            self.keys.user_keys_of(&record.project, user),
        );
        let id = &record.key_id;
        // Counted against the cap first (one step with the count), listed, usable last: a node
        // stopped in between leaves a key that can be seen and revoked but never used (or an id
        // counted that no listing shows), never one that works and cannot be revoked.
        let added: i64 = self
            .run(|mut conn| async move {
                Ok(ADD_CAPPED
                    .script()
                    .key(&of_user)
                    .arg(id)
                    .arg(cap)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        if added == 0 {
            return Ok(false);
        }
        self.run(|mut conn| async move {
            let _: () = conn.hset(&by_id, id, &json).await?;
            let _: () = conn.set(&digest_key, &json).await?;
            Ok(())
        })
        .await?;
        Ok(true)
    }

    /// How many keys `user` has.
    pub(crate) async fn user_key_count(&self, project: &str, user: &str) -> Result<usize, StoreError> {
        let of_user = self.keys.user_keys_of(project, user);
        self.run(|mut conn| async move { Ok(conn.scard(&of_user).await?) })
            .await
    }

    /// One user's keys, oldest first.
    pub(crate) async fn user_keys(&self, project: &str, user: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let (by_id, of_user) = (self.keys.user_keys(project), self.keys.user_keys_of(project, user));
        let ids: Vec<String> = {
            let of_user = &of_user;
            self.run(|mut conn| async move { Ok(conn.smembers(of_user).await?) })
                .await?
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let raw: Vec<Option<String>> = {
            let (by_id, ids) = (&by_id, &ids);
            self.run(
                |mut conn| async move { Ok(redis::cmd("HMGET").arg(by_id).arg(ids).query_async(&mut conn).await?) },
            )
            .await?
        };
        let mut records = raw
            .iter()
            .flatten()
            .map(|json| serde_json::from_str(json).map_err(|e| corrupt("user key", e)))
            .collect::<Result<Vec<KeyRecord>, _>>()?;
        records.sort_by(|a, b| (a.created_at_ms, &a.key_id).cmp(&(b.created_at_ms, &b.key_id)));
        Ok(records)
    }

    /// Deletes a user key: its digest first, so no node can load it again. None when the
    /// project has no such key, else the record it was.
    pub(crate) async fn delete_user_key(&self, project: &str, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let by_id = self.keys.user_keys(project);
        let raw: Option<String> = {
            let by_id = &by_id;
            self.run(|mut conn| async move { Ok(conn.hget(by_id, id).await?) })
                .await?
        };
        let Some(json) = raw else { return Ok(None) };
        let record: KeyRecord = serde_json::from_str(&json).map_err(|e| corrupt("user key", e))?;
        let digest_key = self.keys.api_key(&record.digest_hex);
        let of_user = self
            .keys
            .user_keys_of(project, record.user_id.as_deref().unwrap_or_default());
        self.run(|mut conn| async move {
            let _: () = conn.del(&digest_key).await?;
            let _: () = conn.hdel(&by_id, id).await?;
            let _: () = conn.srem(&of_user, id).await?;
            Ok(())
        })
        .await?;
        Ok(Some(record))
    }
}
