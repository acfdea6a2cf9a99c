//! Adjustments: an operator's correction of one counter in its current period, never below
//! zero, each kept in the user's audit trail.

use std::time::Instant;

use serde_json::json;

use super::resolve::Freshness;
use super::DataPlane;
use super::Idempotency;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::hold::prepare_adjustment;
use crate::quota::ids::check_id;
use crate::quota::{AuditEntry, Counter, LimitGroup, Plan, ReasonText, SignedAmount, Unit, UserId};
use crate::store::{AdjustArgs, Reply};

/// Audit entries kept per user.
pub(crate) const AUDIT_LEN: usize = 1000;

#[derive(Debug, Clone)]
pub enum Adjusted {
    Done {
        counter: Box<Counter>,
        applied_milli: i64,
        /// The first answer to the call's Idempotency-Key, given again: nothing changed.
        repeated: bool,
    },
    /// The user is on no plan, so there is no counter to adjust.
    NoPlan,
    /// The user's plan (named) has no such group.
    UnknownGroup(String),
    /// The group counts in-flight work (open holds), which has no usage to adjust: a used
    /// amount there would hold the slots until someone took it back.
    InFlight,
    /// The group counts against a balance: credits are corrected by a grant (or by voiding
    /// one), not by a counter.
    Balance,
}

impl Observed for Adjusted {
    fn effect(&self) -> Effect<'_> {
        match self {
            Adjusted::Done { counter, .. } => Effect::Counted(std::slice::from_ref(&**counter)),
            Adjusted::NoPlan | Adjusted::UnknownGroup(_) | Adjusted::InFlight | Adjusted::Balance => Effect::Answered,
        }
    }
}

impl DataPlane {
    /// Adds `amount_milli` (negative to refund) to the group's current period; a repeat of
    /// `idempotency` answers the first adjustment again and changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn adjust(
        &self,
        project: &str,
        user: &UserId,
        group_id: &str,
        amount_milli: i64,
        reason: &ReasonText,
        by: &Actor,
        idempotency: Option<&Idempotency>,
    ) -> Result<Adjusted, GatewayError> {
        check_id(group_id).map_err(|detail| GatewayError::Invalid {
            field: "groupId",
            detail: detail.into(),
        })?;
        let started = Instant::now();
        let ledger = self.ledger_for(project, user).await?;
        let answer = self
            .node
            .drive(project, user, async || {
                let resolved = self.resolve(project, user, Freshness::Fresh).await?;
                let Some(plan) = &resolved.plan else {
                    return Ok(Reply::Done(Adjusted::NoPlan));
                };
                let group = match adjustable(plan, group_id)? {
                    Ok(group) => group,
                    Err(answer) => return Ok(Reply::Done(answer)),
                };
                let (started_ms, overrides) = (resolved.started_ms, &resolved.sub.overrides);
                let mut prepared = prepare_adjustment(group, started_ms, self.node.clock.now_ms(), overrides);
                self.alerts().alerts_for(project, &mut prepared).await?;
                // One group, so one hold.
                let hold = &prepared.holds[0];
                let args = AdjustArgs {
                    version: resolved.sub.version,
                    amount_milli,
                    reason: reason.to_string(),
                    audit_len: AUDIT_LEN,
                    key_id: by.id.clone(),
                };
                let reply = self
                    .store
                    .adjust(project, user, hold, &args, idempotency.map(Idempotency::stored), ledger)
                    .await?;
                Ok(reply.map(|made| {
                    self.alerts().alerts_fired(made.fired);
                    Adjusted::Done {
                        counter: Box::new(Counter::of(group, hold.window, &made.amounts)),
                        applied_milli: made.applied_milli,
                        repeated: made.repeated,
                    }
                }))
            })
            .await;
        self.node.report(Verb::Adjust, project, Some(user), started, &answer);
        // A repeat was audited when it was first made.
        if let Ok(Adjusted::Done {
            applied_milli,
            repeated: false,
            ..
        }) = &answer
        {
            let detail =
                json!({ "groupId": group_id, "applied": SignedAmount(*applied_milli), "reason": reason.as_str() });
            let change = Change {
                action: Action::UsageAdjust,
                target: user.as_str(),
                user: Some(user),
                detail,
            };
            self.node.record(project, by, change).await;
        }
        answer
    }

    /// The user's audit trail, newest first.
    pub(crate) async fn adjustments(&self, project: &str, user: &UserId) -> Result<Vec<AuditEntry>, GatewayError> {
        Ok(self.store.adjustments(project, user).await?)
    }
}

/// The group of `plan` an adjustment of `group_id` counts in, or the answer that it counts in
/// none: an unknown group, one of calls in flight, a balance's.
fn adjustable<'p>(plan: &'p Plan, group_id: &str) -> Result<Result<&'p LimitGroup, Adjusted>, GatewayError> {
    let Some(group) = plan.groups.iter().find(|g| g.id == group_id) else {
        return Ok(Err(Adjusted::UnknownGroup(plan.id.clone())));
    };
    if group.unit == Unit::Concurrent {
        return Ok(Err(Adjusted::InFlight));
    }
    if group.balance.is_some() {
        return Ok(Err(Adjusted::Balance));
    }
    // Its counters are its values', which an adjustment does not name (yet).
    if let Some(key) = &group.per {
        return Err(GatewayError::Invalid {
            field: "groupId",
            detail: format!("counts one counter per value of metadata.{key}, which an adjustment cannot name"),
        });
    }
    Ok(Ok(group))
}
