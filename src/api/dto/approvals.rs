//! Wire types of approval requests: listed, approved and declined.

use serde::{Deserialize, Serialize};

use crate::json::rfc3339;
use crate::quota::{Approval, Milli};

/// One approval request: an approval group's first denial of a user in a period, then its
/// decision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalAnswer {
    pub approval_id: String,
    pub user_id: String,
    pub group_id: String,
    /// A per-value group's value (each value of it has a request of its own); null otherwise.
    pub value: Option<String>,
    /// `pending`, `approved` or `declined`.
    pub status: &'static str,
    /// The period it was asked in (null for a lifetime group).
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
    /// The denied event and the amount it asked of the group.
    pub event: String,
    pub amount: Milli,
    /// The counter when it was denied: used, held by open reservations, the quota in force.
    pub used: Milli,
    pub reserved: Milli,
    pub quota: Milli,
    pub requested_at: String,
    pub decided_at: Option<String>,
    /// An approval's new quota for the group (the user's override) and until when.
    pub approved_quota: Option<Milli>,
    pub expires_at: Option<String>,
    /// A decline's reason.
    pub reason: Option<String>,
    /// The key or operator that decided, as the audit log names it.
    pub decided_by: Option<String>,
    /// The subject's plan when it asked, who owns the group (its `owner`, else the plan's)
    /// and how often they review it (`day`, `week`, `month`); null when not named.
    pub plan_id: Option<String>,
    pub owner: Option<String>,
    pub review_every: Option<String>,
}

impl ApprovalAnswer {
    pub fn of(a: &Approval) -> ApprovalAnswer {
        let lifetime = a.period_end_ms.is_none();
        ApprovalAnswer {
            approval_id: a.id.clone(),
            user_id: a.user_id.clone(),
            group_id: a.group_id.clone(),
            value: a.value.clone(),
            status: a.status.as_str(),
            period_start: (!lifetime).then(|| rfc3339(a.period_start_ms)),
            resets_at: a.period_end_ms.map(rfc3339),
            event: a.event.clone(),
            amount: a.amount,
            used: a.used,
            reserved: a.held,
            quota: a.quota,
            requested_at: rfc3339(a.requested_at_ms),
            decided_at: a.decided_at_ms.map(rfc3339),
            approved_quota: a.approved_quota,
            expires_at: a.expires_at_ms.map(rfc3339),
            reason: a.reason.clone(),
            decided_by: a.decided_by.clone(),
            plan_id: a.plan_id.clone(),
            owner: a.owner.clone(),
            review_every: a.review_every.clone(),
        }
    }
}

/// A page of approval requests, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalList {
    pub data: Vec<ApprovalAnswer>,
    /// Where the next page starts (`cursor=`); null on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/approvals/{approvalId}/approve`: the group's new quota for the user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApproveBody {
    /// The quota for the rest of the period (or until `expiresAt`), in the group's unit.
    pub quota: Milli,
    /// When the raised quota ends (RFC 3339; default the end of the request's period, never
    /// for a lifetime group).
    pub expires_at: Option<String>,
}

/// `POST /v1/approvals/{approvalId}/decline`: why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeclineBody {
    /// 1 to 256 bytes without control characters, kept with the request, in the audit log
    /// and the event.
    pub reason: String,
}
