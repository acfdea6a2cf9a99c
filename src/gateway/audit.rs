//! The audit log: who (an operator, a key's id and label, or the root token) changed what, when, through
//! the API or the dashboard. Each verb that changes a project's state records its own change
//! after it succeeded, so no surface can forget it; a record that cannot be written is logged
//! and does not undo or fail the change.

use serde_json::Value;

use crate::quota::{ReasonText, UserId};

/// Who made a change, and why when they were asked (a confirmation's reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub label: String,
    /// The reason given for this change: its audit entry's detail carries it.
    pub reason: Option<String>,
}

impl Actor {
    /// A key, an operator or the root token by id and label, with no reason given.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Actor {
        Actor {
            id: id.into(),
            label: label.into(),
            reason: None,
        }
    }

    pub fn root() -> Actor {
        Actor::new("root", "root token")
    }

    /// The same actor, giving `reason` for the change they make.
    pub fn because(self, reason: &ReasonText) -> Actor {
        Actor {
            reason: Some(reason.as_str().to_string()),
            ..self
        }
    }

    /// Who it is, as an answer names them: its label, or its id when it has none (a key made
    /// without a label).
    pub fn name(&self) -> &str {
        if self.label.is_empty() {
            &self.id
        } else {
            &self.label
        }
    }
}

/// Every change the audit log records, one per verb that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    PlanPut,
    PlanDelete,
    SubscriptionPut,
    SubscriptionDelete,
    OverrideSet,
    OverrideDelete,
    UserBlock,
    UserUnblock,
    UsageAdjust,
    KeyMint,
    KeyRevoke,
    UserKeyMint,
    UserKeyRevoke,
    WebhookCreate,
    WebhookDelete,
    WebhookRotate,
    WebhookEnable,
    WebhookDisable,
    SettingsPatch,
    GrantCreate,
    GrantVoid,
    ApprovalApprove,
    ApprovalDecline,
    PricePut,
    PriceDelete,
    OperatorInvite,
    OperatorUpdate,
    OperatorRemove,
    /// An operator's close or extension of a run from the dashboard (an app's own, through
    /// the API, is the run's ledger's).
    RunClose,
    RunExtend,
}

impl Action {
    pub const ALL: [Action; 30] = [
        Action::PlanPut,
        Action::PlanDelete,
        Action::SubscriptionPut,
        Action::SubscriptionDelete,
        Action::OverrideSet,
        Action::OverrideDelete,
        Action::UserBlock,
        Action::UserUnblock,
        Action::UsageAdjust,
        Action::KeyMint,
        Action::KeyRevoke,
        Action::UserKeyMint,
        Action::UserKeyRevoke,
        Action::WebhookCreate,
        Action::WebhookDelete,
        Action::WebhookRotate,
        Action::WebhookEnable,
        Action::WebhookDisable,
        Action::SettingsPatch,
        Action::GrantCreate,
        Action::GrantVoid,
        Action::ApprovalApprove,
        Action::ApprovalDecline,
        Action::PricePut,
        Action::PriceDelete,
        Action::OperatorInvite,
        Action::OperatorUpdate,
        Action::OperatorRemove,
        Action::RunClose,
        Action::RunExtend,
    ];

    /// The action as the log keeps it: `<resource>.<verb>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PlanPut => "plan.put",
            Action::PlanDelete => "plan.delete",
            Action::SubscriptionPut => "subscription.put",
            Action::SubscriptionDelete => "subscription.delete",
            Action::OverrideSet => "override.set",
            Action::OverrideDelete => "override.delete",
            Action::UserBlock => "user.block",
            Action::UserUnblock => "user.unblock",
            Action::UsageAdjust => "usage.adjust",
            Action::KeyMint => "key.mint",
            Action::KeyRevoke => "key.revoke",
            Action::UserKeyMint => "user_key.mint",
            Action::UserKeyRevoke => "user_key.revoke",
            Action::WebhookCreate => "webhook.create",
            Action::WebhookDelete => "webhook.delete",
            Action::WebhookRotate => "webhook.rotate",
            Action::WebhookEnable => "webhook.enable",
            Action::WebhookDisable => "webhook.disable",
            Action::SettingsPatch => "settings.patch",
            Action::GrantCreate => "grant.create",
            Action::GrantVoid => "grant.void",
            Action::ApprovalApprove => "approval.approve",
            Action::ApprovalDecline => "approval.decline",
            Action::PricePut => "price.put",
            Action::PriceDelete => "price.delete",
            Action::OperatorInvite => "operator.invite",
            Action::OperatorUpdate => "operator.update",
            Action::OperatorRemove => "operator.remove",
            Action::RunClose => "run.close",
            Action::RunExtend => "run.extend",
        }
    }
}

/// The detail of a change whose only detail is the reason an operator gave, if any.
pub(super) fn reason_detail(reason: Option<&ReasonText>) -> Value {
    match reason {
        Some(reason) => serde_json::json!({ "reason": reason.as_str() }),
        None => serde_json::json!({}),
    }
}

/// One change to record: what was done, to what, about which user, with which details.
pub(super) struct Change<'a> {
    pub action: Action,
    pub target: &'a str,
    pub user: Option<&'a UserId>,
    pub detail: Value,
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn actions_keep_the_names_the_log_has_always_stored() {
        let all = [
            (Action::PlanPut, "plan.put"),
            (Action::PlanDelete, "plan.delete"),
            (Action::SubscriptionPut, "subscription.put"),
            (Action::SubscriptionDelete, "subscription.delete"),
            (Action::OverrideSet, "override.set"),
            (Action::OverrideDelete, "override.delete"),
            (Action::UserBlock, "user.block"),
            (Action::UserUnblock, "user.unblock"),
            (Action::UsageAdjust, "usage.adjust"),
            (Action::KeyMint, "key.mint"),
            (Action::KeyRevoke, "key.revoke"),
            (Action::UserKeyMint, "user_key.mint"),
            (Action::UserKeyRevoke, "user_key.revoke"),
            (Action::WebhookCreate, "webhook.create"),
            (Action::WebhookDelete, "webhook.delete"),
            (Action::WebhookRotate, "webhook.rotate"),
            (Action::WebhookEnable, "webhook.enable"),
            (Action::WebhookDisable, "webhook.disable"),
            (Action::SettingsPatch, "settings.patch"),
            (Action::GrantCreate, "grant.create"),
            (Action::GrantVoid, "grant.void"),
            (Action::ApprovalApprove, "approval.approve"),
            (Action::ApprovalDecline, "approval.decline"),
            (Action::PricePut, "price.put"),
            (Action::PriceDelete, "price.delete"),
            (Action::OperatorInvite, "operator.invite"),
            (Action::OperatorUpdate, "operator.update"),
            (Action::OperatorRemove, "operator.remove"),
            (Action::RunClose, "run.close"),
            (Action::RunExtend, "run.extend"),
        ];
        for (action, stored) in all {
            assert_eq!(action.as_str(), stored);
        }
        // Every action is in the list the dashboard's filter offers, in its place: a new
        // variant fails to compile here until it has one.
        let place = |a: Action| match a {
            Action::PlanPut => 0,
            Action::PlanDelete => 1,
            Action::SubscriptionPut => 2,
            Action::SubscriptionDelete => 3,
            Action::OverrideSet => 4,
            Action::OverrideDelete => 5,
            Action::UserBlock => 6,
            Action::UserUnblock => 7,
            Action::UsageAdjust => 8,
            Action::KeyMint => 9,
            Action::KeyRevoke => 10,
            Action::UserKeyMint => 11,
            Action::UserKeyRevoke => 12,
            Action::WebhookCreate => 13,
            Action::WebhookDelete => 14,
            Action::WebhookRotate => 15,
            Action::WebhookEnable => 16,
            Action::WebhookDisable => 17,
            Action::SettingsPatch => 18,
            Action::GrantCreate => 19,
            Action::GrantVoid => 20,
            Action::ApprovalApprove => 21,
            Action::ApprovalDecline => 22,
            Action::PricePut => 23,
            Action::PriceDelete => 24,
            Action::OperatorInvite => 25,
            Action::OperatorUpdate => 26,
            Action::OperatorRemove => 27,
            Action::RunClose => 28,
            Action::RunExtend => 29,
        };
        for (i, (action, _)) in all.iter().enumerate() {
            assert_eq!(place(*action), i);
            assert_eq!(Action::ALL[i], *action);
        }
        assert_eq!(Action::ALL.map(Action::as_str), all.map(|(_, stored)| stored));
    }
}
