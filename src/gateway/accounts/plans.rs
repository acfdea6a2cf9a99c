//! Plans: stored, listed and deleted; every change moves the config epoch so every node
//! forgets its cached copy.

use std::time::Instant;

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::Plan;
use crate::quota::PlanDeletion;

impl Observed for PlanDeletion {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

impl Accounts<'_> {
    /// Stores a validated plan; returns its version (unchanged when the document is).
    pub async fn put_plan(&self, project: &str, plan: &Plan, by: &Actor) -> Result<u64, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let version = self.store.put_plan(project, plan).await?;
            self.data.node.bump_epoch().await?;
            Ok(version)
        }
        .await;
        self.data.node.report(Verb::PutPlan, project, None, started, &answer);
        if let Ok(version) = answer {
            // Slices leased under the plan's old text are ended: a lowered quota holds at once.
            self.workers.end_plan_slices_soon(project, &plan.id).await;
            let detail = json!({ "version": version });
            self.data
                .node
                .record(
                    project,
                    by,
                    Change {
                        action: Action::PlanPut,
                        target: &plan.id,
                        user: None,
                        detail,
                    },
                )
                .await;
        }
        answer
    }

    /// Deletes a plan that no user is on.
    pub(crate) async fn delete_plan(&self, project: &str, id: &str, by: &Actor) -> Result<PlanDeletion, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let deletion = self.store.delete_plan(project, id).await?;
            if deletion == PlanDeletion::Deleted {
                self.data.node.bump_epoch().await?;
            }
            Ok(deletion)
        }
        .await;
        self.data.node.report(Verb::DeletePlan, project, None, started, &answer);
        if let Ok(PlanDeletion::Deleted) = answer {
            let detail = json!({});
            self.data
                .node
                .record(
                    project,
                    by,
                    Change {
                        action: Action::PlanDelete,
                        target: id,
                        user: None,
                        detail,
                    },
                )
                .await;
        }
        answer
    }

    /// Every plan of a project, ordered by id, read from Redis.
    pub(crate) async fn plans(&self, project: &str) -> Result<Vec<Plan>, GatewayError> {
        let mut plans = Vec::new();
        for id in self.store.plan_ids(project).await? {
            if let Some(plan) = self.store.load_plan(project, &id).await? {
                plans.push(plan);
            }
        }
        Ok(plans)
    }
}
