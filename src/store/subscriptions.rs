//! Subscriptions: which plan a user is on. Written by `subscribe.lua`, read with one HGETALL.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::scripts;
use super::{QuotaStore, StoreError};
use crate::quota::{Status, Subscription};

/// A user's subscription (if any) and the version the scripts will check.
#[derive(Debug, Clone)]
pub struct UserState {
    pub subscription: Option<Subscription>,
    pub version: u64,
}

impl QuotaStore {
    /// Puts a user on a plan; without `started_ms` an existing anchor is kept.
    pub async fn subscribe(
        &self,
        project: &str,
        user: &str,
        plan: &str,
        started_ms: Option<i64>,
    ) -> Result<Subscription, StoreError> {
        let keys = self.keys.user(project, user);
        let reply =
            self.run(|mut conn| async move {
                scripts::subscribe(&mut conn, &keys, plan, started_ms).await
            })
            .await?;
        let subscription = Subscription {
            user_id: user.to_string(),
            plan_id: reply.plan,
            started_at_ms: reply.started_ms,
            status: parse_status(&reply.status),
            reason: Some(reply.reason).filter(|r| !r.is_empty()),
            version: reply.version,
        };
        let state = UserState {
            subscription: Some(subscription.clone()),
            version: reply.version,
        };
        self.cache.put_user(project, user, state);
        Ok(subscription)
    }

    pub async fn user_state(&self, project: &str, user: &str) -> Result<UserState, StoreError> {
        let key = self.keys.user(project, user).sub;
        let fields: HashMap<String, String> = self
            .run(|mut conn| async move { Ok(conn.hgetall(&key).await?) })
            .await?;
        let version = fields.get("ver").and_then(|v| v.parse().ok()).unwrap_or(0);
        let subscription = fields.get("plan").map(|plan| Subscription {
            user_id: user.to_string(),
            plan_id: plan.clone(),
            started_at_ms: fields
                .get("startedAt")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            status: parse_status(fields.get("status").map_or("active", String::as_str)),
            reason: fields.get("reason").filter(|r| !r.is_empty()).cloned(),
            version,
        });
        Ok(UserState {
            subscription,
            version,
        })
    }
}

fn parse_status(text: &str) -> Status {
    match text {
        "blocked" => Status::Blocked,
        _ => Status::Active,
    }
}
