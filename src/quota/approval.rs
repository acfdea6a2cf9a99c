//! Approval gates, the third kind of policy after hard caps and soft alerts: a group in
//! "approval" mode denies like a hard one, and its first denial of a subject in a period opens
//! one approval request (decided in the script that denies, so parallel denials open exactly
//! one). Until a person decides it the group denies as pending; approving raises the quota
//! for the rest of the period or until a time (an override), declining leaves the group hard
//! for the rest of the period.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::amount::Milli;

/// Where an approval request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Declined,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 3] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Declined => "declined",
        }
    }

    pub fn parse(text: &str) -> Option<ApprovalStatus> {
        ApprovalStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The scripts' one-letter state (the counter's ":ap" field): p, a or d.
    pub fn code(self) -> &'static str {
        &self.as_str()[..1]
    }
}

/// One approval request: who was denied by which group in which period, what they asked for
/// and the counter at that moment; then the decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: String,
    pub user_id: String,
    pub group_id: String,
    /// A per-value group's value whose counter denied (each value has its own request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub period_start_ms: i64,
    /// None for a lifetime group.
    pub period_end_ms: Option<i64>,
    pub status: ApprovalStatus,
    /// The denied event and the amount it asked of the group.
    pub event: String,
    pub amount: Milli,
    /// The counter when it was denied: used, held by open reservations, the quota in force.
    pub used: Milli,
    pub held: Milli,
    pub quota: Milli,
    pub requested_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    /// An approval's new quota for the group and until when (the override it wrote).
    pub approved_quota: Option<Milli>,
    pub expires_at_ms: Option<i64>,
    /// A decline's reason.
    pub reason: Option<String>,
    /// Who decided (the key's or the operator's label in the audit log).
    pub decided_by: Option<String>,
    /// The subject's plan when it was requested, and who owns the group then (its `owner`,
    /// else the plan's) and how often they review it: the queue shows whom to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_every: Option<String>,
}

/// The id of the approval request of `subject` by `group` (of one `value` of a per-value
/// group) in the period starting at `period_start_ms`: one per subject, group, value and
/// period, the same on every node, so the node names it to the script that opens it and to the
/// answer that reports it pending.
pub(crate) fn approval_id(
    project: &str,
    subject: &str,
    group: &str,
    value: Option<&str>,
    period_start_ms: i64,
) -> String {
    let mut hash = Sha256::new();
    for part in [project, subject, group, &period_start_ms.to_string()] {
        hash.update(part.as_bytes());
        // (A separator no id contains, so two splits of one text never meet.)
        hash.update([0u8]);
    }
    // (A group's own request hashes as it did before values had requests of their own.)
    if let Some(value) = value {
        hash.update(b"value");
        hash.update([0u8]);
        hash.update(value.as_bytes());
    }
    format!("apr_{}", &hex::encode(hash.finalize())[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_subject_group_and_period() {
        let id = approval_id("p", "u", "renders", None, 1_700_000_000_000);
        assert_eq!(id, approval_id("p", "u", "renders", None, 1_700_000_000_000));
        assert!(id.starts_with("apr_") && id.len() == 28, "{id}");
        assert_ne!(id, approval_id("p", "u", "renders", None, 1_700_000_000_001));
        assert_ne!(id, approval_id("p", "u2", "renders", None, 1_700_000_000_000));
        assert_ne!(
            approval_id("p", "ab", "c", None, 0),
            approval_id("p", "a", "bc", None, 0)
        );
        // One per value of a per-value group.
        assert_ne!(id, approval_id("p", "u", "renders", Some("flux"), 1_700_000_000_000));
        assert_ne!(
            approval_id("p", "u", "renders", Some("flux"), 0),
            approval_id("p", "u", "renders", Some("sdxl"), 0)
        );
    }

    #[test]
    fn statuses_read_back() {
        for s in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ApprovalStatus::Declined.code(), "d");
    }
}
