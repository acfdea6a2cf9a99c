//! Subscriptions: which plan a user is on, overrides, blocking. Every change is one script that
//! bumps the version; the node then caches the new state and brings the users index up to it.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{Action, Actor};
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::json::rfc3339;
use crate::quota::ids::check_id;
use crate::quota::value::{check_value, value_key};
use crate::quota::{Override, Plan, PlanChange, ReasonText, Status, Subscription, UserId, MAX_OVERRIDES};
use crate::store::{self, PlanChangeRule, Reply, SubscribeArgs};

/// Clocks of callers and Redis differ a little; a start this far ahead is taken (what is
/// decided before it counts in its first period: Period::window).
const FUTURE_TOLERANCE_MS: i64 = 5_000;

/// What a subscribe does to the subscription's parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentChange<'a> {
    Keep,
    Remove,
    Set(&'a str),
}

impl<'a> ParentChange<'a> {
    /// As the subscribe script takes it.
    fn stored(self) -> store::ParentChange<'a> {
        match self {
            ParentChange::Keep => store::ParentChange::Keep,
            ParentChange::Remove => store::ParentChange::Remove,
            ParentChange::Set(parent) => store::ParentChange::Set(parent),
        }
    }
}

impl Observed for Subscription {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

impl Accounts<'_> {
    /// The user's subscription as Redis has it now (the empty one when there is none).
    pub(crate) async fn subscription(&self, project: &str, user: &UserId) -> Result<Subscription, GatewayError> {
        Ok(self.store.subscription(project, user).await?)
    }

    /// Refuses a subscription start in the future (beyond the callers' clock differences),
    /// judged by the node's Redis-synced clock.
    pub(crate) fn check_started_at(&self, started_ms: i64) -> Result<(), GatewayError> {
        if started_ms > self.data.node.clock.now_ms() + FUTURE_TOLERANCE_MS {
            return Err(GatewayError::Invalid {
                field: "startedAt",
                detail: "must not be in the future".into(),
            });
        }
        Ok(())
    }

    /// Puts a user on `plan`, anchored at `started_ms` (an existing subscription keeps its
    /// anchor, a new one starts now), replacing the overrides when given, and applying the
    /// plan's onPlanChange rules when the user had another plan before; a new parent is
    /// checked first (it must have a plan, close no cycle, and keep chains within 3 levels),
    /// and every override must name a group of `plan` and expire from 1970 to 9999.
    #[allow(clippy::too_many_arguments)]
    pub async fn subscribe(
        &self,
        project: &str,
        user: &UserId,
        plan: &Plan,
        started_ms: Option<i64>,
        overrides: Option<&BTreeMap<String, Override>>,
        parent: ParentChange<'_>,
        by: &Actor,
    ) -> Result<Subscription, GatewayError> {
        for (group, o) in overrides.into_iter().flatten() {
            check_override(plan, group, o, &format!("overrides.{group}"))?;
        }
        let started = Instant::now();
        // A member that leaves its team ends its slices of the team's (slices.rs).
        let before = match (self.data.leases.enabled, parent) {
            (true, ParentChange::Set(_) | ParentChange::Remove) => {
                self.store.subscription(project, user).await?.parent_id
            }
            _ => None,
        };
        let put = async || {
            if let ParentChange::Set(parent) = parent {
                self.data.parents().check_parent(project, user, parent).await?;
            }
            // The claim and a plan deletion meet in the project's slot: one of them loses.
            if !self.store.claim_plan(project, &plan.id, user).await? {
                return Err(GatewayError::PlanNotFound(plan.id.clone()));
            }
            let subscribed = self
                .put_subscription(project, user, plan, started_ms, overrides, parent)
                .await;
            match subscribed {
                Ok(sub) => self.data.changed(project, sub).await,
                Err(err) => {
                    // A claim left behind only delays a deletion until it lapses.
                    let _ = self.store.drop_claim(project, &plan.id, user).await;
                    Err(err)
                }
            }
        };
        // A new parent is checked and written under the project's lease (the members index
        // that the next check reads included), so racing parent changes cannot close a cycle.
        let answer = match parent {
            ParentChange::Set(_) => self.data.parents().holding_parents_lease(project, put).await,
            ParentChange::Keep | ParentChange::Remove => put().await,
        };
        self.data
            .node
            .report(Verb::Subscribe, project, Some(user), started, &answer);
        let sub = answer?;
        if let Some(left) = before.filter(|b| sub.parent_id.as_ref() != Some(b)) {
            self.data.leases().end_slices_soon(project, &left, Some(user.as_str()));
        }
        let parent_id = match parent {
            ParentChange::Set(parent) => Some(parent),
            ParentChange::Keep | ParentChange::Remove => None,
        };
        let detail = json!({ "planId": plan.id, "startedAt": started_ms.map(rfc3339), "parentId": parent_id });
        self.data
            .node
            .record_user_change(project, by, Action::SubscriptionPut, user, detail)
            .await;
        Ok(sub)
    }

    /// Writes the subscription by the script, retried as every call is: a user's existing
    /// start is kept, a new one starts at the current whole second.
    async fn put_subscription(
        &self,
        project: &str,
        user: &UserId,
        plan: &Plan,
        started_ms: Option<i64>,
        overrides: Option<&BTreeMap<String, Override>>,
        parent: ParentChange<'_>,
    ) -> Result<Subscription, GatewayError> {
        self.data
            .node
            .drive(project, user, async || {
                let current = self.store.subscription(project, user).await?;
                let now_ms = self.data.node.clock.now_ms();
                // A new subscription starts at the current whole second: a start a few
                // milliseconds ahead of Redis time would make every period look stale.
                let started_ms = started_ms
                    .or(current.plan_id.as_ref().and(current.started_at_ms))
                    .unwrap_or(now_ms - now_ms.rem_euclid(1000));
                let args = SubscribeArgs {
                    version: current.version,
                    plan: &plan.id,
                    started_ms,
                    overrides,
                    rules: plan_change_rules(plan, now_ms, started_ms),
                    parent: parent.stored(),
                };
                Ok(self.store.subscribe(project, user, &args).await?)
            })
            .await
    }

    /// Ends the subscription; the plan is remembered for plan-change rules.
    pub(crate) async fn unsubscribe(
        &self,
        project: &str,
        user: &UserId,
        by: &Actor,
    ) -> Result<Subscription, GatewayError> {
        let sub = self
            .change(Verb::Unsubscribe, project, user, async || {
                Ok(self.store.unsubscribe(project, user).await?)
            })
            .await?;
        let detail = json!({ "planId": sub.last_plan });
        self.data
            .node
            .record_user_change(project, by, Action::SubscriptionDelete, user, detail)
            .await;
        Ok(sub)
    }

    /// Blocks the user (with a reason), or unblocks them with `None`.
    pub(crate) async fn set_blocked(
        &self,
        project: &str,
        user: &UserId,
        reason: Option<&ReasonText>,
        by: &Actor,
    ) -> Result<Subscription, GatewayError> {
        let (status, text, verb) = match reason {
            Some(reason) => (Status::Blocked, reason.as_str(), Verb::Block),
            None => (Status::Active, "", Verb::Unblock),
        };
        let sub = self
            .change(verb, project, user, async || {
                Ok(self.store.set_status(project, user, status, text).await?)
            })
            .await?;
        let (action, detail) = match reason {
            Some(reason) => (Action::UserBlock, json!({ "reason": reason.as_str() })),
            None => (Action::UserUnblock, json!({})),
        };
        self.data
            .node
            .record_user_change(project, by, action, user, detail)
            .await;
        Ok(sub)
    }

    /// Sets or (with `None`) removes one group's override. The user must have a plan of their
    /// own (an override on nothing would wait there for a plan) and, to set one, the group
    /// must be a group of that plan. The plan is read before the script: a plan change racing
    /// this call can leave an override on a group the new plan lacks, which counts nothing.
    pub async fn set_override(
        &self,
        project: &str,
        user: &UserId,
        group: &str,
        value: Option<&Override>,
        by: &Actor,
    ) -> Result<Subscription, GatewayError> {
        self.set_value_override(project, user, group, None, value, by).await
    }

    /// As `set_override`, of one value of a per-value group when `of_value` names one: that
    /// value's counter takes it before the group's override.
    pub(crate) async fn set_value_override(
        &self,
        project: &str,
        user: &UserId,
        group: &str,
        of_value: Option<&str>,
        value: Option<&Override>,
        by: &Actor,
    ) -> Result<Subscription, GatewayError> {
        check_id(group).map_err(|detail| GatewayError::Invalid {
            field: "groupId",
            detail: detail.into(),
        })?;
        if let Some(v) = of_value {
            check_value(v).map_err(|detail| GatewayError::Invalid {
                field: "value",
                detail: detail.into(),
            })?;
        }
        let current = self.store.subscription(project, user).await?;
        match (value, &current.plan_id) {
            (Some(_), None) => return Err(GatewayError::NoSubscription(user.to_string())),
            (None, _) if !current.exists() => return Err(GatewayError::NoSubscription(user.to_string())),
            (Some(o), Some(plan_id)) => {
                let plan = self
                    .data
                    .node
                    .plan(project, plan_id)
                    .await?
                    .ok_or_else(|| GatewayError::PlanMissing(plan_id.clone()))?;
                check_override(&plan, group, o, "groupId")?;
                if of_value.is_some() && plan.groups.iter().any(|g| g.id == group && g.per.is_none()) {
                    return Err(GatewayError::Invalid {
                        field: "value",
                        detail: format!("names a value, but group {group} does not count per value"),
                    });
                }
            }
            (None, _) => {}
        }
        // The subscription keeps a value's override under "<group>~<value>" (`value_key`).
        let key = match of_value {
            Some(v) => value_key(group, v),
            None => group.to_string(),
        };
        let verb = if value.is_some() {
            Verb::SetOverride
        } else {
            Verb::RemoveOverride
        };
        let sub = self
            .change(verb, project, user, async || {
                // None: the override would be one more than a subject may keep.
                self.store
                    .set_override(project, user, &key, value)
                    .await?
                    .ok_or_else(|| GatewayError::OverrideLimit(MAX_OVERRIDES))
            })
            .await?;
        let (action, detail) = match value {
            Some(o) => (
                Action::OverrideSet,
                json!({ "groupId": group, "value": of_value, "quota": o.quota, "expiresAt": o.expires_at_ms.map(rfc3339) }),
            ),
            None => (Action::OverrideDelete, json!({ "groupId": group, "value": of_value })),
        };
        self.data
            .node
            .record_user_change(project, by, action, user, detail)
            .await;
        Ok(sub)
    }

    /// One script that changes the subscription, through the retry driver; then the cache
    /// and the users index follow, and the outcome is reported.
    async fn change(
        &self,
        verb: Verb,
        project: &str,
        user: &UserId,
        script: impl AsyncFnMut() -> Result<Reply<Subscription>, GatewayError>,
    ) -> Result<Subscription, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let sub = self.data.node.drive(project, user, script).await?;
            self.data.changed(project, sub).await
        }
        .await;
        self.data.node.report(verb, project, Some(user), started, &answer);
        answer
    }
}

/// An override of `group` on `plan`, named by `field` in errors: a group of the plan, with an
/// expiry from 1970 to 9999.
fn check_override(plan: &Plan, group: &str, o: &Override, field: &str) -> Result<(), GatewayError> {
    if !plan.groups.iter().any(|g| g.id == group) {
        return Err(GatewayError::NotAGroup {
            field: field.to_string(),
            plan: plan.id.clone(),
        });
    }
    Override::checked(o.quota, o.expires_at_ms).map_err(|detail| GatewayError::Invalid {
        field: "expiresAt",
        detail: detail.into(),
    })?;
    Ok(())
}

/// The reset and block rules of `plan`, each for its group's current window.
fn plan_change_rules(plan: &Plan, now_ms: i64, started_ms: i64) -> Vec<PlanChangeRule<'_>> {
    plan.groups
        .iter()
        .filter(|g| g.on_plan_change != PlanChange::Carry)
        .map(|g| PlanChangeRule {
            rule: g.on_plan_change,
            group: &g.id,
            window: g.window(now_ms, started_ms),
            quota: g.quota,
            balance: g.balance.as_ref().map(|b| b.name.as_str()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::FUTURE_TOLERANCE_MS;

    /// A start this far ahead counts in its first period, which the data plane takes only
    /// from a period beginning at most its START_LEAD_MS after the decision's instant.
    #[test]
    fn the_data_plane_takes_a_first_period_as_far_ahead_as_a_start_may_be() {
        let head = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/library/head.lua"));
        assert!(head.contains(&format!("local START_LEAD_MS = {FUTURE_TOLERANCE_MS}\n")));
    }
}
