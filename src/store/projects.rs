//! Projects and their settings (default plan, allowed origins) in Redis.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{corrupt, Store, StoreError};

/// A project's settings, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    #[serde(default)]
    pub default_plan: Option<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether usage changes are also written to the usage ledger (projects stored before the
    /// ledger existed keep one).
    #[serde(default = "keeps_ledger")]
    pub ledger: bool,
}

fn keeps_ledger() -> bool {
    true
}

impl Default for ProjectSettings {
    fn default() -> ProjectSettings {
        ProjectSettings {
            default_plan: None,
            allowed_origins: Vec::new(),
            ledger: true,
        }
    }
}

impl ProjectSettings {
    /// Whether browsers from `origin` may read usage: an allowed origin equal to it, or a
    /// subdomain pattern (`https://*.example.com`) it is a subdomain of, at any depth.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| origin_matches(allowed, origin))
    }
}

fn origin_matches(allowed: &str, origin: &str) -> bool {
    let Some((scheme, suffix)) = allowed.split_once("://*") else {
        return allowed == origin;
    };
    let Some(host) = origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"))
        .and_then(|rest| rest.strip_suffix(suffix))
    else {
        return false;
    };
    // What the wildcard stands for: one or more whole labels, nothing else.
    !host.is_empty()
        && !host.starts_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

impl Store {
    /// Creates a project; false when the id is taken.
    pub async fn create_project(&self, id: &str, settings: &ProjectSettings) -> Result<bool, StoreError> {
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
        Ok(updated.is_some())
    }

    /// The ids of every project, sorted.
    pub async fn project_ids(&self) -> Result<Vec<String>, StoreError> {
        let key = self.keys.projects();
        let mut ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.smembers(&key).await?) })
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// A project's settings as stored; None when there is no such project.
    pub async fn load_settings(&self, id: &str) -> Result<Option<ProjectSettings>, StoreError> {
        let key = self.keys.settings(id);
        let raw: Option<String> = self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await?;
        raw.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("settings", e)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_patterns_match_subdomains_only() {
        let settings = ProjectSettings {
            allowed_origins: vec!["https://*.example.com".into(), "http://localhost:3000".into()],
            ..ProjectSettings::default()
        };
        assert!(settings.allows_origin("https://app.example.com"));
        assert!(settings.allows_origin("https://a.b.example.com"));
        assert!(settings.allows_origin("http://localhost:3000"));
        for refused in [
            "https://example.com",
            "http://app.example.com",
            "https://app.example.com.evil.io",
            "https://evilexample.com",
            "https://.example.com",
            "https://a:1@x.example.com",
            "https://app.example.com:8443",
            "http://localhost:3001",
        ] {
            assert!(!settings.allows_origin(refused), "{refused}");
        }
    }
}
