//! Subscriptions: which plan a user is on, overrides, blocking. Every change is one script that
//! bumps the version; the node then caches the new state and brings the users index up to it.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncCommands;

use super::keys::counter_field;
use super::scripts::{self, IndexKeys, PlanChangeRule, Reply, SubscribeArgs, SubscriptionHash};
use super::{Attempts, QuotaStore, StoreError};
use crate::quota::{Milli, Override, Plan, PlanChange, Status, Subscription};

impl QuotaStore {
    /// The user's subscription as Redis has it now (the empty one when there is none).
    pub async fn subscription(&self, project: &str, user: &str) -> Result<Subscription, StoreError> {
        let key = self.keys.user(project, user).sub;
        let pairs: Vec<(String, String)> = self
            .run(|mut conn| async move { Ok(conn.hgetall(&key).await?) })
            .await?;
        Ok(from_hash(user, pairs))
    }

    /// Puts a user on `plan`, anchored at `started_ms` (an existing subscription keeps its
    /// anchor, a new one starts now), replacing the overrides when given, and applying the
    /// plan's onPlanChange rules when the user had another plan before.
    pub async fn subscribe(
        &self,
        project: &str,
        user: &str,
        plan: &Plan,
        started_ms: Option<i64>,
        overrides: Option<&BTreeMap<String, Override>>,
    ) -> Result<Subscription, StoreError> {
        let keys = &self.keys.user(project, user);
        let mut attempts = Attempts::new();
        loop {
            let current = self.subscription(project, user).await?;
            let now_ms = self.clock.now_ms();
            // A new subscription starts at the current whole second: a start a few
            // milliseconds ahead of Redis time would make every period look stale.
            let started_ms = started_ms
                .or(current.plan_id.as_ref().and(current.started_at_ms))
                .unwrap_or(now_ms - now_ms.rem_euclid(1000));
            let args = SubscribeArgs {
                version: current.version,
                plan: &plan.id,
                started_ms,
                overrides: overrides.map(|o| o.iter().map(|(g, o)| (g.clone(), encode_override(o))).collect()),
                rules: plan_change_rules(plan, now_ms, started_ms),
            };
            let args = &args;
            let reply = self
                .run(|mut conn| async move { scripts::subscribe(&mut conn, keys, args).await })
                .await?;
            match reply {
                Reply::Done(hash) => return self.changed(project, user, hash).await,
                Reply::Stale | Reply::More | Reply::Reused => {
                    if !attempts.after_stale() {
                        break;
                    }
                    self.sync_clock().await?;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        Err(attempts.exhausted())
    }

    /// Ends the subscription; the plan is remembered for plan-change rules.
    pub async fn unsubscribe(&self, project: &str, user: &str) -> Result<Subscription, StoreError> {
        let keys = &self.keys.user(project, user);
        let reply = self
            .run(|mut conn| async move { scripts::unsubscribe(&mut conn, keys).await })
            .await?;
        self.settled_change(project, user, reply).await
    }

    /// Blocks the user (with a reason), or unblocks them with `None`.
    pub async fn set_blocked(
        &self,
        project: &str,
        user: &str,
        reason: Option<&str>,
    ) -> Result<Subscription, StoreError> {
        let keys = &self.keys.user(project, user);
        let (status, reason) = match reason {
            Some(reason) => (Status::Blocked, reason),
            None => (Status::Active, ""),
        };
        let reply = self
            .run(|mut conn| async move { scripts::set_status(&mut conn, keys, status.as_str(), reason).await })
            .await?;
        self.settled_change(project, user, reply).await
    }

    /// Sets or (with `None`) removes one group's override.
    pub async fn set_override(
        &self,
        project: &str,
        user: &str,
        group: &str,
        value: Option<&Override>,
    ) -> Result<Subscription, StoreError> {
        let keys = &self.keys.user(project, user);
        let value = value.map(encode_override).unwrap_or_default();
        let value = value.as_str();
        let reply = self
            .run(|mut conn| async move { scripts::set_override(&mut conn, keys, group, value).await })
            .await?;
        self.settled_change(project, user, reply).await
    }

    async fn settled_change(
        &self,
        project: &str,
        user: &str,
        reply: Reply<SubscriptionHash>,
    ) -> Result<Subscription, StoreError> {
        match reply {
            Reply::Done(hash) => self.changed(project, user, hash).await,
            Reply::Stale | Reply::More | Reply::Reused => Err(StoreError::Protocol("unexpected stale answer".into())),
        }
    }

    /// After a change: cache the new state and bring the users index up to it.
    async fn changed(&self, project: &str, user: &str, hash: SubscriptionHash) -> Result<Subscription, StoreError> {
        let sub = from_hash(user, hash);
        self.cache.put_user(project, user, sub.clone());
        let (users, info, plan_users) = (
            self.keys.users(project),
            self.keys.user_info(project),
            self.keys.plan_users(project),
        );
        let index = IndexKeys {
            users: &users,
            info: &info,
            plan_users: &plan_users,
        };
        let (index, sub_ref) = (&index, &sub);
        self.run(|mut conn| async move {
            let plan = sub_ref.plan_id.as_deref().unwrap_or("");
            scripts::index_user(&mut conn, index, user, sub_ref.version, sub_ref.status.as_str(), plan).await
        })
        .await?;
        Ok(sub)
    }
}

/// The reset and block rules of `plan`, each for its group's current window.
fn plan_change_rules(plan: &Plan, now_ms: i64, started_ms: i64) -> Vec<PlanChangeRule> {
    plan.groups
        .iter()
        .filter_map(|g| {
            let rule = match g.on_plan_change {
                PlanChange::Carry => return None,
                PlanChange::Reset => "reset",
                PlanChange::Block => "block",
            };
            let window = g.window(now_ms, started_ms);
            Some(PlanChangeRule {
                rule,
                field: counter_field(&g.id, &window),
                start_ms: window.start_ms,
                end_ms: window.end_ms,
                quota: g.quota,
            })
        })
        .collect()
}

/// An override as the subscription hash keeps it: "<quota milli>|<expires ms or empty>".
fn encode_override(o: &Override) -> String {
    format!(
        "{}|{}",
        o.quota.0,
        o.expires_at_ms.map(|ms| ms.to_string()).unwrap_or_default()
    )
}

fn decode_override(value: &str) -> Option<Override> {
    let (quota, expires) = value.split_once('|')?;
    Some(Override {
        quota: Milli(quota.parse().ok()?),
        expires_at_ms: if expires.is_empty() {
            None
        } else {
            Some(expires.parse().ok()?)
        },
    })
}

/// The subscription hash as a `Subscription`.
fn from_hash(user: &str, pairs: Vec<(String, String)>) -> Subscription {
    let mut sub = Subscription::none(user);
    for (field, value) in pairs {
        match field.as_str() {
            "plan" => sub.plan_id = Some(value),
            "lastPlan" => sub.last_plan = Some(value),
            "startedAt" => sub.started_at_ms = value.parse().ok(),
            "status" if value == "blocked" => sub.status = Status::Blocked,
            "reason" if !value.is_empty() => sub.reason = Some(value),
            "ver" => sub.version = value.parse().unwrap_or(0),
            _ => {
                if let (Some(group), Some(o)) = (field.strip_prefix("ov:"), decode_override(&value)) {
                    sub.overrides.insert(group.to_string(), o);
                }
            }
        }
    }
    sub
}
