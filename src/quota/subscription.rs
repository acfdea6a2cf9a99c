//! A subscription: which plan a user is on, since when, and whether they are blocked.

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub user_id: String,
    pub plan_id: String,
    /// The period anchor of subscription-anchored groups.
    pub started_at_ms: i64,
    pub status: Status,
    pub reason: Option<String>,
    /// Bumped by every change; scripts refuse to decide on another version.
    pub version: u64,
}
