//! Values of a project's accounts as every layer speaks of them: API keys, the users index, a
//! user's adjustments trail, the audit log of changes, and how a plan deletion went.

use serde::{Deserialize, Serialize};

use super::plan::Problem;
use super::subscription::Status;

/// The longest label a key may have, in bytes.
pub const MAX_KEY_LABEL_BYTES: usize = 128;

/// A key's label: at most 128 bytes, without control characters (`label`).
pub fn check_key_label(label: &str) -> Result<(), Problem> {
    if label.len() > MAX_KEY_LABEL_BYTES || label.chars().any(char::is_control) {
        return Err(Problem {
            field: "label".into(),
            detail: "must be at most 128 bytes without control characters".into(),
        });
    }
    Ok(())
}

/// What a key's digest resolves to; the key itself is never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub key_id: String,
    /// SHA-256 of the key, hex.
    pub digest_hex: String,
    pub project: String,
    /// "secret", "publishable", or "user" (a user key: the proxy only, as one user).
    pub kind: String,
    pub label: String,
    /// The key's prefix and last four characters (part of its checksum), to tell keys apart.
    pub hint: String,
    pub created_at_ms: i64,
    /// A user key's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// A user key's end, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
}

/// One adjustment as the audit trail keeps it (every number a string, as adjust.lua writes it).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at: String,
    pub group_id: String,
    pub period_start: String,
    pub requested: String,
    pub applied: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}

/// One change, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeEntry {
    /// The stream id: when, and where a page continues.
    pub id: String,
    pub at_ms: i64,
    pub actor_id: String,
    pub actor_label: String,
    /// What was done, as `<resource>.<verb>` (`user.block`, `plan.put`, ...).
    pub action: String,
    /// What it was done to: a user, plan, key or webhook id, or the project.
    pub target: String,
    /// The user it concerns, when it concerns one.
    pub user: Option<String>,
    /// Details as JSON text.
    pub detail: String,
}

/// How a plan deletion went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanDeletion {
    Deleted,
    NotFound,
    /// Users are on the plan: how many.
    InUse(u64),
}

/// Which users of the index a page lists.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub plan_id: Option<String>,
    pub status: Option<Status>,
    /// Only ids that start with this.
    pub prefix: Option<String>,
    /// Only ids that contain this, lower-cased, in any letter case (the dashboard's search):
    /// read by scanning, so a page may answer fewer users than asked and a cursor to go on.
    pub contains: Option<String>,
    /// Only the members of this parent (read from the members index, not by scanning).
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserEntry {
    pub user_id: String,
    pub plan_id: Option<String>,
    pub status: Status,
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserPage {
    pub data: Vec<UserEntry>,
    /// The last user id looked at, when more may follow.
    pub next_after: Option<String>,
}
