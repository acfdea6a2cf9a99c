//! Wire types of subscriptions, adjustments, the users index, projects and keys.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::CounterAnswer;
use crate::json::rfc3339;
use crate::quota::{self, AuditEntry, ChangeEntry, KeyRecord, Milli, ProjectSettings, SignedAmount, Subscription};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverrideAnswer {
    pub quota: Milli,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionAnswer {
    pub user_id: String,
    /// Null when the user has no plan of their own (the default plan applies).
    pub plan_id: Option<String>,
    pub started_at: Option<String>,
    pub status: &'static str,
    pub reason: Option<String>,
    pub overrides: BTreeMap<String, OverrideAnswer>,
    /// The subject whose budget this one draws from as well; null for none.
    pub parent_id: Option<String>,
}

impl From<&Subscription> for SubscriptionAnswer {
    fn from(s: &Subscription) -> Self {
        SubscriptionAnswer {
            user_id: s.user_id.clone(),
            plan_id: s.plan_id.clone(),
            started_at: s.started_at_ms.map(rfc3339),
            status: s.status.as_str(),
            reason: s.reason.clone(),
            parent_id: s.parent_id.clone(),
            overrides: s
                .overrides
                .iter()
                .map(|(g, o)| {
                    (
                        g.clone(),
                        OverrideAnswer {
                            quota: o.quota,
                            expires_at: o.expires_at_ms.map(rfc3339),
                        },
                    )
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentAnswer {
    /// What the counter moved by: the request, or less where zero stopped it.
    pub applied: SignedAmount,
    pub counter: CounterAnswer,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentEntry {
    pub at: String,
    pub group_id: String,
    pub period_start: Option<String>,
    pub amount: SignedAmount,
    pub applied: SignedAmount,
    pub before: Milli,
    pub after: Milli,
    pub reason: String,
}

impl From<&AuditEntry> for AdjustmentEntry {
    fn from(e: &AuditEntry) -> Self {
        let int = |s: &str| s.parse::<i64>().unwrap_or(0);
        let start = int(&e.period_start);
        AdjustmentEntry {
            at: rfc3339(int(&e.at)),
            group_id: e.group_id.clone(),
            period_start: (start != 0).then(|| rfc3339(start)),
            amount: SignedAmount(int(&e.requested)),
            applied: SignedAmount(int(&e.applied)),
            before: Milli(int(&e.before).unsigned_abs()),
            after: Milli(int(&e.after).unsigned_abs()),
            reason: e.reason.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAnswer {
    pub user_id: String,
    pub plan_id: Option<String>,
    pub status: &'static str,
    pub parent_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub data: Vec<UserAnswer>,
    pub next_cursor: Option<String>,
}

impl From<quota::UserPage> for UserPage {
    fn from(page: quota::UserPage) -> Self {
        UserPage {
            data: page
                .data
                .into_iter()
                .map(|u| UserAnswer {
                    user_id: u.user_id,
                    plan_id: u.plan_id,
                    status: u.status.as_str(),
                    parent_id: u.parent_id,
                })
                .collect(),
            next_cursor: page.next_after.map(|after| URL_SAFE_NO_PAD.encode(after)),
        }
    }
}

/// The user id a cursor continues after.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectAnswer {
    pub id: String,
    pub default_plan: Option<String>,
    pub allowed_origins: Vec<String>,
    /// Whether the project keeps a usage ledger.
    pub ledger: bool,
    /// Whether a proxied call's trace names its end user (`enduser.id`).
    pub trace_users: bool,
}

impl ProjectAnswer {
    pub fn new(id: &str, settings: ProjectSettings) -> ProjectAnswer {
        ProjectAnswer {
            id: id.to_string(),
            default_plan: settings.default_plan,
            allowed_origins: settings.allowed_origins,
            ledger: settings.ledger,
            trace_users: settings.trace_users,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyAnswer {
    pub key_id: String,
    pub kind: String,
    pub label: String,
    /// Shown only in the answer that created it.
    pub key: String,
}

/// A key as listed: never its secret part.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub key_id: String,
    pub kind: String,
    pub label: String,
    pub hint: String,
    pub created_at: String,
}

/// One change of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeAnswer {
    pub id: String,
    pub time: String,
    /// The key's id, or "root".
    pub actor_id: String,
    pub actor_label: String,
    /// `<resource>.<verb>`: plan.put, plan.delete, subscription.put, subscription.delete,
    /// override.set, override.delete, user.block, user.unblock, usage.adjust, key.mint,
    /// key.revoke, webhook.create, webhook.delete, webhook.rotate, webhook.enable,
    /// webhook.disable, settings.patch.
    pub action: String,
    pub target: String,
    pub user_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<&ChangeEntry> for ChangeAnswer {
    fn from(c: &ChangeEntry) -> Self {
        ChangeAnswer {
            id: c.id.clone(),
            time: rfc3339(c.at_ms),
            actor_id: c.actor_id.clone(),
            actor_label: c.actor_label.clone(),
            action: c.action.clone(),
            target: c.target.clone(),
            user_id: c.user.clone(),
            detail: serde_json::from_str(&c.detail).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePage {
    pub data: Vec<ChangeAnswer>,
    pub next_cursor: Option<String>,
}

/// A user key as listed (and as minted, with `key`): proxy-only, one user's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserKeyAnswer {
    pub id: String,
    pub user_id: String,
    pub label: String,
    /// The key's prefix and last four characters.
    pub hint: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// Shown only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl UserKeyAnswer {
    pub fn of(record: KeyRecord, key: Option<String>) -> UserKeyAnswer {
        UserKeyAnswer {
            id: record.key_id,
            user_id: record.user_id.unwrap_or_default(),
            label: record.label,
            hint: record.hint,
            created_at: rfc3339(record.created_at_ms),
            expires_at: record.expires_at_ms.map(rfc3339),
            key,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserKeyList {
    pub data: Vec<UserKeyAnswer>,
    pub next_cursor: Option<String>,
}
