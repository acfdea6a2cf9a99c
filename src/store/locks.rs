//! Short leases in Redis for the few changes that read one subject and write another, so that
//! two nodes cannot interleave them: taken with SET NX PX and a random token, given up by
//! `unlock.lua` only while still the taker's, and lapsing by themselves when a node dies.

use super::contract::UNLOCK;
use super::{AccountsStore, DataStore, Store, StoreError};

impl DataStore {
    /// Takes the project's lease on parent changes for `ttl_ms` under `token`; false when
    /// another taker holds it.
    pub(crate) async fn lock_parents(&self, project: &str, token: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        self.lock(self.keys.parents_lock(project), token, ttl_ms).await
    }

    /// Gives the lease up if `token` still holds it.
    pub(crate) async fn unlock_parents(&self, project: &str, token: &str) -> Result<(), StoreError> {
        self.unlock(self.keys.parents_lock(project), token).await
    }
}

impl AccountsStore {
    /// Takes the project's lease on computing its overview (one node at a time).
    pub(crate) async fn lock_overview(&self, project: &str, token: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let [_, lock] = self.keys.overview(project);
        self.lock(lock, token, ttl_ms).await
    }

    /// Keeps the overview's lease `ttl_ms` longer, while its taker is still counting (were
    /// it lapsed and taken by another, that one's is kept: both are counting the same).
    pub(crate) async fn renew_overview(&self, project: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let [_, lock] = self.keys.overview(project);
        self.run(|mut conn| async move {
            let _: i64 = redis::cmd("PEXPIRE")
                .arg(&lock)
                .arg(ttl_ms)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn unlock_overview(&self, project: &str, token: &str) -> Result<(), StoreError> {
        let [_, lock] = self.keys.overview(project);
        self.unlock(lock, token).await
    }
}

impl Store {
    async fn lock(&self, key: String, token: &str, ttl_ms: u64) -> Result<bool, StoreError> {
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

    pub(super) async fn unlock(&self, key: String, token: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .run(|mut conn| async move { Ok(UNLOCK.script().key(&key).arg(token).invoke_async(&mut conn).await?) })
            .await?;
        Ok(())
    }
}
