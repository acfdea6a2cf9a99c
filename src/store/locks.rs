//! Short leases in Redis for the few changes that read one subject and write another, so that
//! two nodes cannot interleave them: taken with SET NX PX and a random token, given up by
//! `unlock.lua` only while still the taker's, and lapsing by themselves when a node dies.

use super::scripts::UNLOCK;
use super::{Store, StoreError};

impl Store {
    /// Takes the project's lease on parent changes for `ttl_ms` under `token`; false when
    /// another taker holds it.
    pub async fn lock_parents(&self, project: &str, token: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let key = self.keys.parents_lock(project);
        let taken: Option<String> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("SET")
                    .arg(&key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(taken.is_some())
    }

    /// Gives the lease up if `token` still holds it.
    pub async fn unlock_parents(&self, project: &str, token: &str) -> Result<(), StoreError> {
        let key = self.keys.parents_lock(project);
        let _: i64 = self
            .run(|mut conn| async move { Ok(UNLOCK.key(&key).arg(token).invoke_async(&mut conn).await?) })
            .await?;
        Ok(())
    }
}
