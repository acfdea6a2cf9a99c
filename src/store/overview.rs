//! The overview's activity, as the last node to compute it left it (`gateway::activity`):
//! one string under the project, kept two days, and the lease (`locks.rs`) that lets one node
//! at a time compute it.

use std::time::Duration;

use super::{AccountsStore, StoreError};

impl AccountsStore {
    pub(crate) async fn overview(&self, project: &str) -> Result<Option<String>, StoreError> {
        let [key, _] = self.keys.overview(project);
        self.run(|mut conn| async move { Ok(redis::cmd("GET").arg(&key).query_async(&mut conn).await?) })
            .await
    }

    pub(crate) async fn put_overview(&self, project: &str, text: String, keep: Duration) -> Result<(), StoreError> {
        let [key, _] = self.keys.overview(project);
        self.put_expiring(key, text, keep).await
    }
}
