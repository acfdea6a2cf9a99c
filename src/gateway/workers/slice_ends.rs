//! Slices ended after a plan's edit: a job in the background, so the edit's answer never waits
//! for the teams on the plan to give back what they leased (docs/decisions/0060-leased-slices.md).

use super::Workers;

impl Workers {
    /// Ends, in the background, every slice leased by a team on `plan`, after its text changed:
    /// a lowered quota is then decided at the team by the next take, not spent on slices sized
    /// under the old one. Done twice: now, and again once every node has seen the edit (two
    /// polls of the config epoch), for a take another node made meanwhile from its cached plan.
    pub(crate) async fn end_plan_slices_soon(&self, project: &str, plan: &str) {
        if !self.data.leases.enabled {
            return;
        }
        // The teams on the plan as it was edited, read before the edit is answered: a team that
        // joins it later has no slice of its old text to end.
        let teams = match self.store.teams_on_plan(project, plan).await {
            Ok(teams) if teams.is_empty() => return,
            Ok(teams) => teams,
            Err(err) => {
                tracing::warn!(%err, plan, "a plan's edit left its teams' slices to end with their time");
                return;
            }
        };
        let (gateway, project, plan) = (self.data.clone(), project.to_string(), plan.to_string());
        tokio::spawn(async move {
            for round in 0..2 {
                if round > 0 {
                    tokio::time::sleep(crate::gateway::epoch::EPOCH_POLL * 2).await;
                }
                for team in &teams {
                    if let Err(err) = gateway.leases().end_leased(&project, team, None).await {
                        tracing::warn!(%err, plan, "a plan's edit left a team's slices to end with their time");
                    }
                }
            }
        });
    }
}
