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
    pub async fn create_project(&self, id: &str, settings: &ProjectSettings) -> Result<bool, StoreError> {
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

    /// Replaces a project's settings; false when there is no such project.
    pub async fn update_project(&self, id: &str, settings: &ProjectSettings) -> Result<bool, StoreError> {
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
        if updated.is_some() {
            self.bump_epoch().await?;
        }
        Ok(updated.is_some())
    }

    /// Every project with its settings, ordered by id.
    pub async fn projects(&self) -> Result<Vec<(String, ProjectSettings)>, StoreError> {
        let key = self.keys.projects();
        let mut ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.smembers(&key).await?) })
            .await?;
        ids.sort();
        let mut projects = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(settings) = self.project_settings(&id).await? {
                projects.push((id, settings));
            }
        }
        Ok(projects)
    }

    /// Whether any project lets browsers from `origin` read usage (for CORS preflights, which
    /// carry no key and so name no project).
    pub async fn origin_allowed_anywhere(&self, origin: &str) -> Result<bool, StoreError> {
        Ok(self
            .projects()
            .await?
            .iter()
            .any(|(_, s)| s.allowed_origins.iter().any(|o| o == origin)))
    }

    /// A project's settings, from the node's cache while the config epoch stands.
    pub async fn project_settings(&self, id: &str) -> Result<Option<ProjectSettings>, StoreError> {
        if let Some(settings) = self.cache.settings(id) {
            self.metrics
                .count("qg_cache_total", &[("cache", "settings"), ("result", "hit")]);
            return Ok(settings);
        }
        self.metrics
            .count("qg_cache_total", &[("cache", "settings"), ("result", "miss")]);
        let key = self.keys.settings(id);
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await?;
        let settings = raw
            .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("settings", e)))
            .transpose()?;
        self.cache.put_settings(id, settings.clone());
        Ok(settings)
    }
}
