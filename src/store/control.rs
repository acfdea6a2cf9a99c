//! The control plane's state: projects, API keys, the root token digest and plans.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::scripts;
use super::{QuotaStore, StoreError};
use crate::quota::{Plan, PlanDoc};
use crate::secrets;

/// A project's settings, stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    #[serde(default)]
    pub default_plan: Option<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// What a key's digest resolves to; the key itself is never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub key_id: String,
    /// SHA-256 of the key, hex; the key itself is never stored.
    pub digest_hex: String,
    pub project: String,
    pub kind: String,
    pub label: String,
    pub created_at_ms: i64,
}

fn corrupt(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Protocol(format!("stored {what} is not valid: {err}"))
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
        self.run(|mut conn| async move {
            let created: bool = redis::cmd("SET")
                .arg(&settings_key)
                .arg(json)
                .arg("NX")
                .query_async::<Option<String>>(&mut conn)
                .await?
                .is_some();
            // The index is written second: a project is its settings key; the set only lists it.
            let _: i64 = conn.sadd(&projects_key, id).await?;
            Ok(created)
        })
        .await
    }

    pub async fn project_settings(&self, id: &str) -> Result<Option<ProjectSettings>, StoreError> {
        let key = self.keys.settings(id);
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.get(&key).await?) })
            .await?;
        raw.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("settings", e)))
            .transpose()
    }

    /// Mints a secret key for `project`; returns its record and the key, which is never stored.
    pub async fn mint_key(
        &self,
        project: &str,
        label: &str,
    ) -> Result<(KeyRecord, String), StoreError> {
        let key = secrets::new_secret_key();
        let record = KeyRecord {
            key_id: format!("key_{}", hex::encode(secrets::random_bytes::<8>())),
            digest_hex: secrets::digest_hex(&key),
            project: project.to_string(),
            kind: "secret".to_string(),
            label: label.to_string(),
            created_at_ms: self.clock.now_ms(),
        };
        self.create_key(&record).await?;
        Ok((record, key))
    }

    /// Stores a key under its digest and lists it in its project.
    async fn create_key(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| corrupt("key", e))?;
        let (key, list) = (
            self.keys.api_key(&record.digest_hex),
            self.keys.project_keys(&record.project),
        );
        self.run(|mut conn| async move {
            let _: () = conn.set(&key, &json).await?;
            let _: () = conn.hset(&list, &record.key_id, &json).await?;
            Ok(())
        })
        .await
    }

    pub async fn find_key(&self, digest_hex: &str) -> Result<Option<KeyRecord>, StoreError> {
        let key = self.keys.api_key(digest_hex);
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.get(&key).await?) })
            .await?;
        raw.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("key", e)))
            .transpose()
    }

    /// The stored root token digest, written once at first start when none is configured.
    pub async fn root_digest(&self) -> Result<Option<String>, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) })
            .await
    }

    /// Stores the root token digest unless one exists; true when this call stored it.
    pub async fn init_root_digest(&self, digest_hex: &str) -> Result<bool, StoreError> {
        let key = self.keys.root();
        self.run(|mut conn| async move { Ok(conn.set_nx(&key, digest_hex).await?) })
            .await
    }

    /// Stores a validated plan; returns its version (unchanged when the document is).
    pub async fn put_plan(&self, project: &str, plan: &Plan) -> Result<u64, StoreError> {
        let mut doc = plan.doc.clone();
        doc.version = None;
        let json = serde_json::to_string(&doc).map_err(|e| corrupt("plan", e))?;
        let (plan_key, plans_key) = (self.keys.plan(project, &plan.id), self.keys.plans(project));
        self.run(|mut conn| async move {
            scripts::put_plan(&mut conn, &plan_key, &plans_key, &plan.id, &json).await
        })
        .await
    }

    pub async fn plan(&self, project: &str, id: &str) -> Result<Option<Plan>, StoreError> {
        let key = self.keys.plan(project, id);
        let (doc, version): (Option<String>, Option<u64>) = self
            .run(|mut conn| async move {
                Ok(redis::cmd("HMGET")
                    .arg(&key)
                    .arg("doc")
                    .arg("ver")
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        let Some(doc) = doc else { return Ok(None) };
        let mut doc: PlanDoc = serde_json::from_str(&doc).map_err(|e| corrupt("plan", e))?;
        doc.version = version;
        Plan::from_doc(id, doc).map(Some).map_err(|problems| {
            StoreError::Protocol(format!("stored plan {id} is invalid: {problems:?}"))
        })
    }

    /// Every plan of a project, ordered by id.
    pub async fn plans(&self, project: &str) -> Result<Vec<Plan>, StoreError> {
        let key = self.keys.plans(project);
        let mut ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.smembers(&key).await?) })
            .await?;
        ids.sort();
        let mut plans = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(plan) = self.plan(project, &id).await? {
                plans.push(plan);
            }
        }
        Ok(plans)
    }
}
