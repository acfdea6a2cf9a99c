//! Plans in Redis: stored as their validated JSON with a version that `put_plan.lua` bumps on
//! change, listed in the project's plan set, deleted only while no user is on them.

use redis::AsyncCommands;

use super::scripts::{self, DeletePlanReply, PlanKeys};
use super::{corrupt, AccountsStore, Store, StoreError};
use crate::quota::{Plan, PlanDeletion, PlanDoc, UserId};

/// How long a claim on a plan keeps it from being deleted: far longer than a subscribe takes
/// (a few command timeouts), so only a node that died between the claim and the users index
/// leaves one behind, and it lapses.
pub(crate) const CLAIM_TTL_MS: i64 = 60_000;

impl AccountsStore {
    /// Stores a validated plan; returns its version (unchanged when the document is).
    pub(crate) async fn put_plan(&self, project: &str, plan: &Plan) -> Result<u64, StoreError> {
        let mut doc = plan.doc.clone();
        doc.version = None;
        let json = serde_json::to_string(&doc).map_err(|e| corrupt("plan", e))?;
        let (plan_key, plans_key) = (self.keys.plan(project, &plan.id), self.keys.plans(project));
        self.run(|mut conn| async move { scripts::put_plan(&mut conn, &plan_key, &plans_key, &plan.id, &json).await })
            .await
    }

    /// Deletes a plan that no user is on and none is being put on.
    pub(crate) async fn delete_plan(&self, project: &str, id: &str) -> Result<PlanDeletion, StoreError> {
        let (plan, plans, plan_users, claims) = (
            self.keys.plan(project, id),
            self.keys.plans(project),
            self.keys.plan_users(project),
            self.keys.plan_claims(project, id),
        );
        let keys = &PlanKeys {
            plan: &plan,
            plans: &plans,
            plan_users: &plan_users,
            claims: &claims,
        };
        let reply = self
            .run(|mut conn| async move { scripts::delete_plan(&mut conn, keys, id, CLAIM_TTL_MS).await })
            .await?;
        Ok(match reply {
            DeletePlanReply::Deleted => PlanDeletion::Deleted,
            DeletePlanReply::NotFound => PlanDeletion::NotFound,
            DeletePlanReply::InUse(users) => PlanDeletion::InUse(users),
        })
    }

    /// Notes that `user` is about to be put on plan `id`, so the plan cannot be deleted meanwhile;
    /// false when there is no such plan. The users index drops the claim once it counts the user.
    pub(crate) async fn claim_plan(&self, project: &str, id: &str, user: &UserId) -> Result<bool, StoreError> {
        let (plan, claims) = (self.keys.plan(project, id), self.keys.plan_claims(project, id));
        self.run(|mut conn| async move { scripts::claim_plan(&mut conn, &plan, &claims, user.as_str()).await })
            .await
    }

    /// Drops a claim whose subscribe did not happen (the claim would lapse anyway).
    pub(crate) async fn drop_claim(&self, project: &str, id: &str, user: &UserId) -> Result<(), StoreError> {
        let claims = self.keys.plan_claims(project, id);
        self.run(|mut conn| async move { Ok(conn.zrem(&claims, user.as_str()).await?) })
            .await
    }

    /// The ids of every plan of a project, sorted.
    pub(crate) async fn plan_ids(&self, project: &str) -> Result<Vec<String>, StoreError> {
        let key = self.keys.plans(project);
        let mut ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.smembers(&key).await?) })
            .await?;
        ids.sort();
        Ok(ids)
    }
}

impl Store {
    /// One plan as stored, validated again on the way in.
    pub(crate) async fn load_plan(&self, project: &str, id: &str) -> Result<Option<Plan>, StoreError> {
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
            .map_err(|problems| StoreError::Protocol(format!("stored plan {id} is invalid: {problems:?}").into()))
    }
}
