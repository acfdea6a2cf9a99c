//! Plans in Redis: stored as their validated JSON with a version that `put_plan.lua` bumps on
//! change, listed in the project's plan set, deleted only while no user is on them.

use redis::AsyncCommands;

use super::scripts::{self, DeletePlanReply};
use super::{corrupt, Store, StoreError};
use crate::quota::{Plan, PlanDoc};

/// How a plan deletion went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanDeletion {
    Deleted,
    NotFound,
    /// Users are on the plan: how many.
    InUse(u64),
}

impl Store {
    /// Stores a validated plan; returns its version (unchanged when the document is).
    pub async fn put_plan(&self, project: &str, plan: &Plan) -> Result<u64, StoreError> {
        let mut doc = plan.doc.clone();
        doc.version = None;
        let json = serde_json::to_string(&doc).map_err(|e| corrupt("plan", e))?;
        let (plan_key, plans_key) = (self.keys.plan(project, &plan.id), self.keys.plans(project));
        self.run(|mut conn| async move { scripts::put_plan(&mut conn, &plan_key, &plans_key, &plan.id, &json).await })
            .await
    }

    /// Deletes a plan that no user is on.
    pub async fn delete_plan(&self, project: &str, id: &str) -> Result<PlanDeletion, StoreError> {
        let (plan_key, plans_key, users_key) = (
            self.keys.plan(project, id),
            self.keys.plans(project),
            self.keys.plan_users(project),
        );
        let reply = self
            .run(|mut conn| async move { scripts::delete_plan(&mut conn, &plan_key, &plans_key, &users_key, id).await })
            .await?;
        Ok(match reply {
            DeletePlanReply::Deleted => PlanDeletion::Deleted,
            DeletePlanReply::NotFound => PlanDeletion::NotFound,
            DeletePlanReply::InUse(users) => PlanDeletion::InUse(users),
        })
    }

    /// The ids of every plan of a project, sorted.
    pub async fn plan_ids(&self, project: &str) -> Result<Vec<String>, StoreError> {
        let key = self.keys.plans(project);
        let mut ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.smembers(&key).await?) })
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// One plan as stored, validated again on the way in.
    pub async fn load_plan(&self, project: &str, id: &str) -> Result<Option<Plan>, StoreError> {
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
        Plan::from_doc(id, doc)
            .map(Some)
            .map_err(|problems| StoreError::Protocol(format!("stored plan {id} is invalid: {problems:?}")))
    }
}
