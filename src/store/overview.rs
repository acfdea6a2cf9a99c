//! The overview's activity, as the last node to compute it left it (`gateway::activity`):
//! one string under the project, kept two days, and the lease (`locks.rs`) that lets one node
//! at a time compute it.

use std::time::Duration;

use super::{Store, StoreError};

impl Store {
    pub async fn overview(&self, project: &str) -> Result<Option<String>, StoreError> {
        let [key, _] = self.keys.overview(project);
        self.run(|mut conn| async move { Ok(redis::cmd("GET").arg(&key).query_async(&mut conn).await?) })
            .await
    }

    pub async fn put_overview(&self, project: &str, text: String, keep: Duration) -> Result<(), StoreError> {
        let [key, _] = self.keys.overview(project);
        let ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        self.run(|mut conn| async move {
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(text)
                .arg("PX")
                .arg(ms)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}
