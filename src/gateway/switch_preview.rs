//! What a plan switch would do to a user's counters, before it is made: each group of the new
//! plan with its counter now (the same group of the current plan, in its window) and after
//! (the new plan's window, anchored as the switch anchors it, with its onPlanChange rule
//! applied as the subscribe script applies it). Read only; the dashboard shows it to confirm.

use super::resolve::Freshness;
use super::{Gateway, GatewayError};
use crate::quota::{Counter, Milli, Plan, PlanChange, UserId};

/// One group of the plan switched to.
#[derive(Debug, Clone)]
pub struct SwitchRow {
    /// The group's counter under the new plan, `used` as it will be after the switch.
    pub after: Counter,
    /// The same group's counter under the current plan, when it has that group.
    pub before: Option<Counter>,
    pub rule: PlanChange,
    /// Whether the rule applies: only when the user moves from another plan.
    pub ruled: bool,
}

impl Gateway {
    pub async fn switch_preview(
        &self,
        project: &str,
        user: &UserId,
        plan: &Plan,
    ) -> Result<Vec<SwitchRow>, GatewayError> {
        let before = self.usage(project, user).await?;
        let sub = self.resolve(project, user, Freshness::Fresh).await?.sub;
        let now_ms = self.clock.now_ms();
        // As `subscribe` anchors it: a plan of the user's own keeps its start, else now.
        let started_ms = sub
            .plan_id
            .as_ref()
            .and(sub.started_at_ms)
            .unwrap_or(now_ms - now_ms.rem_euclid(1000));
        let under = self
            .drive(project, user, async || {
                self.counters_under(project, user, plan, started_ms).await
            })
            .await?;
        // The subscribe script applies the rules against the plan before (now or before a
        // cancel), when it is another.
        let previous = sub.plan_id.as_ref().or(sub.last_plan.as_ref());
        let ruled = previous.is_some_and(|p| *p != plan.id);
        let rows = plan
            .groups
            .iter()
            .filter_map(|g| {
                let mut after = under.iter().find(|c| c.group_id == g.id && c.value.is_none())?.clone();
                let was = before
                    .counters
                    .iter()
                    .find(|c| c.group_id == g.id && c.value.is_none())
                    .cloned();
                if ruled {
                    after.used = match g.on_plan_change {
                        PlanChange::Carry => after.used,
                        PlanChange::Reset => Milli::ZERO,
                        PlanChange::Block => after.used.max(g.quota),
                    };
                }
                Some(SwitchRow {
                    after,
                    before: was,
                    rule: g.on_plan_change,
                    ruled,
                })
            })
            .collect();
        Ok(rows)
    }
}
