//! What a plan switch would do to a user's counters, before it is made: each group of the new
//! plan with its counter now (the same group of the current plan, in its window) and after
//! (the new plan's window, anchored as the switch anchors it, with its onPlanChange rule
//! applied as the subscribe script applies it). Read only; the dashboard shows it to confirm.

use super::Accounts;
use crate::gateway::data::Freshness;
use crate::gateway::GatewayError;
use crate::quota::{Counter, Milli, Plan, PlanChange, UserId};

/// One group of the plan switched to.
#[derive(Debug, Clone)]
pub struct SwitchRow {
    /// The group's counter under the new plan, `used` as it will be after the switch.
    pub after: Counter,
    /// The same group's counter under the current plan, when it has that group.
    pub before: Option<Counter>,
    pub rule: PlanChange,
    /// Whether the rule applied to this counter: only when the user moves from another plan
    /// (and, for a per-value group that counted values, to each value's counter).
    pub ruled: bool,
}

impl Accounts<'_> {
    pub(crate) async fn switch_preview(
        &self,
        project: &str,
        user: &UserId,
        plan: &Plan,
    ) -> Result<Vec<SwitchRow>, GatewayError> {
        let current = self.data.usage(project, user).await?;
        let sub = self.data.resolve(project, user, Freshness::Fresh).await?.sub;
        let now_ms = self.data.node.clock.now_ms();
        // As `subscribe` anchors it: a plan of the user's own keeps its start, else now.
        let started_ms = sub
            .plan_id
            .as_ref()
            .and(sub.started_at_ms)
            .unwrap_or(now_ms - now_ms.rem_euclid(1000));
        let under = self
            .data
            .node
            .drive(project, user, async || {
                self.data
                    .counters_under(project, user, plan, started_ms, self.data.node.clock.now_ms())
                    .await
            })
            .await?;
        // The subscribe script applies the rules against the plan before (now or before a
        // cancel), when it is another.
        let previous = sub.plan_id.as_ref().or(sub.last_plan.as_ref());
        let ruled = previous.is_some_and(|p| *p != plan.id);
        let mut rows = Vec::new();
        for g in &plan.groups {
            // As the script applies a rule: to each value's counter of a per-value group that
            // counted values this period, else to the group's own counter.
            let values: Vec<&Counter> = under
                .iter()
                .filter(|c| c.group_id == g.id && c.value.is_some())
                .collect();
            let own = under.iter().find(|c| c.group_id == g.id && c.value.is_none());
            for counter in values.iter().copied().chain(own) {
                let mut after = counter.clone();
                let applies = ruled && (counter.value.is_some() || values.is_empty());
                if applies {
                    after.used = match g.on_plan_change {
                        PlanChange::Carry => after.used,
                        PlanChange::Reset => Milli::ZERO,
                        PlanChange::Block => after.used.max(g.quota),
                    };
                }
                let before = current
                    .counters
                    .iter()
                    .find(|c| c.group_id == g.id && c.value == counter.value)
                    .cloned();
                rows.push(SwitchRow {
                    after,
                    before,
                    rule: g.on_plan_change,
                    ruled: applies,
                });
            }
        }
        Ok(rows)
    }
}
