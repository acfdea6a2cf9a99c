//! Deployment-wide values in Redis: the config epoch nodes poll, the user-token signing secret,
//! and the root token's digest.

use redis::AsyncCommands;

use super::{AccountsStore, Store, StoreError};

impl Store {
    /// Moves the config epoch: every node drops its cached plans, settings and keys.
    pub(crate) async fn bump_epoch(&self) -> Result<(), StoreError> {
        let key = self.keys.epoch();
        self.run(|mut conn| async move { Ok(conn.incr(&key, 1).await?) }).await
    }

    pub(crate) async fn epoch(&self) -> Result<Option<i64>, StoreError> {
        let key = self.keys.epoch();
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await
    }
}

impl AccountsStore {
    /// The deployment's secret for signing user tokens: `fresh` when this call stored it,
    /// else the one the first node stored.
    pub(crate) async fn signing_key(&self, fresh: &str) -> Result<String, StoreError> {
        let key = self.keys.signing();
        self.run(|mut conn| async move {
            let _: bool = conn.set_nx(&key, fresh).await?;
            Ok(conn.get(&key).await?)
        })
        .await
    }

    /// The stored root token digest, written once at first start when none is configured.
    pub(crate) async fn root_digest(&self) -> Result<Option<String>, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await
    }

    /// Stores the root token digest unless one exists; true when this call stored it.
    pub(crate) async fn init_root_digest(&self, digest_hex: &str) -> Result<bool, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.set_nx(&key, digest_hex).await?) })
            .await
    }
}
