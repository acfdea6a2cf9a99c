//! A subscription: which plan a user is on, since when, their overrides, and whether they are
//! blocked. Every user has one, if only the empty one: a user without a plan of their own is on
//! the project's default plan, and any user can be blocked.

use std::collections::BTreeMap;

use super::amount::Milli;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Blocked => "blocked",
        }
    }
}

/// A per-user quota for one group, in force until `expires_at_ms` (Redis time) when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Override {
    pub quota: Milli,
    pub expires_at_ms: Option<i64>,
}

impl Override {
    pub fn live_at(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_none_or(|at| at > now_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub user_id: String,
    /// None: no plan of the user's own (the project's default plan applies).
    pub plan_id: Option<String>,
    /// The period anchor of subscription-anchored groups.
    pub started_at_ms: Option<i64>,
    pub status: Status,
    pub reason: Option<String>,
    pub overrides: BTreeMap<String, Override>,
    /// The plan before the current one, or before a cancel: plan-change rules apply against it.
    pub last_plan: Option<String>,
    /// The subject whose budget this one draws from as well.
    pub parent_id: Option<String>,
    /// Bumped by every change; scripts refuse to decide on another version.
    pub version: u64,
}

impl Subscription {
    /// The state of a user nobody subscribed, blocked or overrode.
    pub fn none(user_id: &str) -> Subscription {
        Subscription {
            user_id: user_id.to_string(),
            plan_id: None,
            started_at_ms: None,
            status: Status::Active,
            reason: None,
            overrides: BTreeMap::new(),
            last_plan: None,
            parent_id: None,
            version: 0,
        }
    }

    /// Whether there is anything to show as "the subscription": a plan, or a block.
    pub fn exists(&self) -> bool {
        self.plan_id.is_some() || self.status == Status::Blocked
    }
}
