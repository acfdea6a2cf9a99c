//! Plans: stored, listed and deleted; every change moves the config epoch so every node
//! forgets its cached copy.

use super::{Gateway, GatewayError};
use crate::quota::Plan;
use crate::store::PlanDeletion;

impl Gateway {
    /// Stores a validated plan; returns its version (unchanged when the document is).
    pub async fn put_plan(&self, project: &str, plan: &Plan) -> Result<u64, GatewayError> {
        let version = self.store.put_plan(project, plan).await?;
        self.bump_epoch().await?;
        Ok(version)
    }

    /// Deletes a plan that no user is on.
    pub async fn delete_plan(&self, project: &str, id: &str) -> Result<PlanDeletion, GatewayError> {
        let deletion = self.store.delete_plan(project, id).await?;
        if deletion == PlanDeletion::Deleted {
            self.bump_epoch().await?;
        }
        Ok(deletion)
    }

    /// Every plan of a project, ordered by id, read from Redis.
    pub async fn plans(&self, project: &str) -> Result<Vec<Plan>, GatewayError> {
        let mut plans = Vec::new();
        for id in self.store.plan_ids(project).await? {
            if let Some(plan) = self.store.load_plan(project, &id).await? {
                plans.push(plan);
            }
        }
        Ok(plans)
    }
}
