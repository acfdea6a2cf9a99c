//! Values of a project's accounts as every layer speaks of them: API keys, the users index, a
//! user's adjustments trail, the audit log of changes, and how a plan deletion went.

use serde::{Deserialize, Serialize};

use super::plan_check::Problem;
use super::subscription::Status;

/// The longest label a key may have, in bytes.
pub(crate) const MAX_KEY_LABEL_BYTES: usize = 128;

/// A key's label: at most 128 bytes, without control characters (`label`).
pub(crate) fn check_key_label(label: &str) -> Result<(), Problem> {
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

/// Which changes a reading of the audit log keeps: those of one user, of one action
/// (`user.block`) or resource (`user`, every `user.…`), by one actor; each unset keeps all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChangeFilter {
    pub user: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
}

impl ChangeFilter {
    /// Of one user only.
    pub(crate) fn of_user(user: &str) -> ChangeFilter {
        ChangeFilter {
            user: Some(user.to_string()),
            ..ChangeFilter::default()
        }
    }

    /// Keeps every change.
    pub(crate) fn is_empty(&self) -> bool {
        self.user.is_none() && self.action.is_none() && self.actor.is_none()
    }

    pub(crate) fn keeps(&self, e: &ChangeEntry) -> bool {
        let action = self.action.as_deref().is_none_or(|a| match e.action.strip_prefix(a) {
            Some(rest) => rest.is_empty() || (!a.contains('.') && rest.starts_with('.')),
            None => false,
        });
        action
            && self.user.as_deref().is_none_or(|u| e.user.as_deref() == Some(u))
            && self.actor.as_deref().is_none_or(|a| e.actor_id == a)
    }
}

/// An audit-log filter's action: `<resource>` or `<resource>.<verb>`, lowercase words.
pub(crate) fn check_action(text: &str) -> Result<(), &'static str> {
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let ok = text.len() <= 64 && text.split('.').count() <= 2 && text.split('.').all(word);
    ok.then_some(())
        .ok_or("must be an action like user.block, or a resource like user")
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
pub(crate) enum PlanDeletion {
    Deleted,
    NotFound,
    /// Users are on the plan: how many.
    InUse(u64),
}

/// Which users of the index a page lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserFilter {
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

#[cfg(test)]
mod change_filter_tests {
    use super::*;

    fn change(action: &str, user: Option<&str>, actor: &str) -> ChangeEntry {
        ChangeEntry {
            action: action.into(),
            user: user.map(String::from),
            actor_id: actor.into(),
            ..ChangeEntry::default()
        }
    }

    #[test]
    fn a_filter_keeps_an_action_its_resource_a_user_and_an_actor() {
        let block = change("user.block", Some("alice"), "op_1");
        let key = change("user_key.mint", Some("alice"), "key_1");
        let by = |action: Option<&str>, user: Option<&str>, actor: Option<&str>| ChangeFilter {
            action: action.map(String::from),
            user: user.map(String::from),
            actor: actor.map(String::from),
        };
        assert!(by(None, None, None).keeps(&block));
        assert!(by(Some("user"), None, None).keeps(&block));
        assert!(!by(Some("user"), None, None).keeps(&key), "user is not user_key");
        assert!(by(Some("user.block"), Some("alice"), Some("op_1")).keeps(&block));
        assert!(!by(Some("user.blo"), None, None).keeps(&block));
        assert!(!by(None, Some("bob"), None).keeps(&block));
        assert!(!by(None, None, Some("op_2")).keeps(&block));
        assert!(check_action("user_key.mint").is_ok() && check_action("user").is_ok());
        for bad in ["", "User", "a.b.c", "user.", "x y"] {
            assert!(check_action(bad).is_err(), "{bad}");
        }
    }
}
