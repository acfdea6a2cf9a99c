//! Subscriptions in Redis: the subscription hash read and decoded, the scripts that change it
//! (each bumps the version), and the users index brought up to a change.

use redis::AsyncCommands;

use super::scripts::{self, IndexKeys, Reply, SubscribeArgs, SubscriptionHash};
use super::{AccountsStore, DataStore, Store, StoreError};
use crate::quota::{Milli, Override, Status, Subscription, UserId};

impl Store {
    /// The user's subscription as Redis has it now (the empty one when there is none).
    pub(crate) async fn subscription(&self, project: &str, user: &UserId) -> Result<Subscription, StoreError> {
        let key = self.keys.user(project, user.as_str()).sub().to_string();
        let pairs: Vec<(String, String)> = self
            .run(|mut conn| async move { Ok(conn.hgetall(&key).await?) })
            .await?;
        Ok(from_hash(user, pairs))
    }
}

impl AccountsStore {
    pub(crate) async fn subscribe(
        &self,
        project: &str,
        user: &UserId,
        args: &SubscribeArgs<'_>,
    ) -> Result<Reply<Subscription>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let reply = self
            .run(|mut conn| async move { scripts::subscribe(&mut conn, keys, args).await })
            .await?;
        Ok(reply.map(|hash| from_hash(user, hash)))
    }

    /// Ends the subscription; the plan is remembered for plan-change rules.
    pub(crate) async fn unsubscribe(&self, project: &str, user: &UserId) -> Result<Reply<Subscription>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let reply = self
            .run(|mut conn| async move { scripts::unsubscribe(&mut conn, keys).await })
            .await?;
        Ok(reply.map(|hash| from_hash(user, hash)))
    }

    /// Blocks (with a reason) or unblocks the user.
    pub(crate) async fn set_status(
        &self,
        project: &str,
        user: &UserId,
        status: Status,
        reason: &str,
    ) -> Result<Reply<Subscription>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let reply = self
            .run(|mut conn| async move { scripts::set_status(&mut conn, keys, status.as_str(), reason).await })
            .await?;
        Ok(reply.map(|hash| from_hash(user, hash)))
    }

    /// Sets or (with `None`) removes one group's override.
    pub(crate) async fn set_override(
        &self,
        project: &str,
        user: &UserId,
        group: &str,
        value: Option<&Override>,
    ) -> Result<Reply<Option<Subscription>>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let value = &value.map(encode_override).unwrap_or_default();
        let reply = self
            .run(|mut conn| async move { scripts::set_override(&mut conn, keys, group, value).await })
            .await?;
        Ok(reply.map(|hash| hash.map(|h| from_hash(user, h))))
    }
}

impl DataStore {
    /// Brings the users index up to `sub`'s version.
    pub(crate) async fn index_user(&self, project: &str, sub: &Subscription) -> Result<(), StoreError> {
        let (users, info, plan_users, members) = (
            self.keys.users(project),
            self.keys.user_info(project),
            self.keys.plan_users(project),
            self.keys.members(project),
        );
        let claims = self
            .keys
            .plan_claims(project, sub.plan_id.as_deref().unwrap_or_default());
        let index = &IndexKeys {
            users: &users,
            info: &info,
            plan_users: &plan_users,
            claims: &claims,
            members: &members,
        };
        self.run(|mut conn| async move {
            let plan = sub.plan_id.as_deref().unwrap_or("");
            let parent = sub.parent_id.as_deref().unwrap_or("");
            scripts::index_user(
                &mut conn,
                index,
                &sub.user_id,
                sub.version,
                sub.status.as_str(),
                plan,
                parent,
            )
            .await
        })
        .await
    }
}

/// An override as the subscription hash keeps it: "<quota milli>|<expires ms or empty>".
pub(crate) fn encode_override(o: &Override) -> String {
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
pub(super) fn from_hash(user: &UserId, pairs: SubscriptionHash) -> Subscription {
    let mut sub = Subscription::none(user.as_str());
    for (field, value) in pairs {
        match field.as_str() {
            "plan" => sub.plan_id = Some(value),
            "lastPlan" => sub.last_plan = Some(value),
            "parent" => sub.parent_id = Some(value),
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
