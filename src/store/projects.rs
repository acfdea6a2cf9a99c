//! Projects and their settings (default plan, allowed origins).

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{corrupt, QuotaStore, StoreError};

/// A project's settings, stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    #[serde(default)]
    pub default_plan: Option<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

impl QuotaStore {
    /// Creates a project; false when the id is taken.
    pub async fn create_project(
        &self,
        id: &str,
        settings: &ProjectSettings,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(settings).map_err(|e| corrupt("settings", e))?;
        let (settings_key, projects_key) = (self.keys.settings(id), self.keys.projects());
        let created = self
            .run(|mut conn| async move {
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
            .await?;
        if created {
            self.bump_epoch().await?;
        }
        Ok(created)
    }

    /// A project's settings, from the node's cache while the config epoch stands.
    pub async fn project_settings(&self, id: &str) -> Result<Option<ProjectSettings>, StoreError> {
        if let Some(settings) = self.cache.settings(id) {
            return Ok(settings);
        }
        let key = self.keys.settings(id);
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.get(&key).await?) })
            .await?;
        let settings = raw
            .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("settings", e)))
            .transpose()?;
        self.cache.put_settings(id, settings.clone());
        Ok(settings)
    }
}
