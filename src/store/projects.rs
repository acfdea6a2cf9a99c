//! Projects and their settings (default plan, allowed origins) in Redis.

use super::{corrupt, AccountsStore, Store, StoreError};
use crate::quota::ProjectSettings;
use redis::AsyncCommands;

impl AccountsStore {
    /// Creates a project; false when the id is taken.
    pub(crate) async fn create_project(&self, id: &str, settings: &ProjectSettings) -> Result<bool, StoreError> {
        let json = serde_json::to_string(settings).map_err(|e| corrupt("settings", e))?;
        let (settings_key, projects_key) = (self.keys.settings(id), self.keys.projects());
        self.run(|mut conn| async move {
            let created: Option<String> = redis::cmd("SET")
                .arg(&settings_key)
                .arg(json)
                .arg("NX")
                .query_async(&mut conn)
                .await?;
            // The index is written second: a project is its settings key; the set only lists it.
            let _: i64 = conn.sadd(&projects_key, id).await?;
            Ok(created.is_some())
        })
        .await
    }

    /// Replaces a project's settings; false when there is no such project.
    pub(crate) async fn update_project(&self, id: &str, settings: &ProjectSettings) -> Result<bool, StoreError> {
        let json = serde_json::to_string(settings).map_err(|e| corrupt("settings", e))?;
        let key = self.keys.settings(id);
        let updated: Option<String> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("SET")
                    .arg(&key)
                    .arg(json)
                    .arg("XX")
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(updated.is_some())
    }
}

impl Store {
    /// The ids of every project, sorted.
    pub(crate) async fn project_ids(&self) -> Result<Vec<String>, StoreError> {
        let key = self.keys.projects();
        let mut ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.smembers(&key).await?) })
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// A project's settings as stored; None when there is no such project.
    pub(crate) async fn load_settings(&self, id: &str) -> Result<Option<ProjectSettings>, StoreError> {
        let key = self.keys.settings(id);
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await?;
        raw.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("settings", e)))
            .transpose()
    }
}
