//! Approval requests: listed for the people who decide them, approved (an override of the
//! group's quota for the rest of the period or until a time) or declined. Opening one is the
//! data plane's: reserve.lua opens it on an approval group's first denial in a period.

use serde_json::json;

use super::DataPlane;
use crate::gateway::audit::{Action, Actor};
use crate::gateway::GatewayError;
use crate::json::rfc3339;
use crate::quota::{Approval, ApprovalStatus, Milli, Override, UserId, MAX_OVERRIDES};
use crate::store::{ApprovalDecision, ApprovalPage, OutboxEntry};

/// A decision asked of a request.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// A new quota for the group, until `expires_ms` (the period's end when None).
    Approve {
        quota: Milli,
        expires_ms: Option<i64>,
    },
    Decline {
        reason: String,
    },
}

/// How a decision went.
#[derive(Debug)]
pub(crate) enum Deciding {
    Done(Box<Approval>),
    /// It was decided before (as the request shows).
    Already(Box<Approval>),
    NotFound,
}

impl DataPlane {
    /// The project's requests (of one status, of one user), oldest first, after `after`.
    pub(crate) async fn approvals(
        &self,
        project: &str,
        status: Option<ApprovalStatus>,
        user: Option<&UserId>,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<ApprovalPage, GatewayError> {
        let (mut page, next) = self
            .store
            .approvals(project, status, user.map(UserId::as_str), after, limit)
            .await?;
        // A pending request whose period has ended is moot: closed as it is read, so the queue
        // never keeps it (a request is only listed as pending while a decision can still help).
        let now_ms = self.node.clock.now_ms();
        for a in &mut page {
            if a.status == ApprovalStatus::Pending && period_ended(a, now_ms) {
                *a = self.close_ended(project, a.clone(), now_ms, None).await?;
            }
        }
        if status == Some(ApprovalStatus::Pending) {
            page.retain(|a| a.status == ApprovalStatus::Pending);
        }
        Ok((page, next))
    }

    /// Closes request `a`, whose period ended undecided, as declined: the project's copy moves
    /// out of the pending queue. The subject's slot keeps the old period's state until it is
    /// pruned with that period's counters, where nothing reads it.
    async fn close_ended(
        &self,
        project: &str,
        mut a: Approval,
        now_ms: i64,
        by: Option<&Actor>,
    ) -> Result<Approval, GatewayError> {
        a.status = ApprovalStatus::Declined;
        a.decided_at_ms = Some(now_ms);
        a.reason = Some("its period ended before a decision".into());
        a.decided_by = by.map(|b| b.name().to_string());
        self.store.index_approval(project, &a).await?;
        Ok(self.store.approval(project, &a.id).await?.unwrap_or(a))
    }

    pub(crate) async fn approval(&self, project: &str, id: &str) -> Result<Option<Approval>, GatewayError> {
        Ok(self.store.approval(project, id).await?)
    }

    /// How many requests wait for a decision (the dashboard's count).
    pub(crate) async fn pending_approvals(&self, project: &str) -> Result<u64, GatewayError> {
        Ok(self.store.pending_approvals(project).await?)
    }

    /// Approves or declines request `id`, once: the subject's slot decides it together with
    /// the override an approval writes, so two people deciding at once decide it once. The
    /// decision is audited, its event (`quota.approval_decided`) delivered, and the project's
    /// list brought up to it before the answer.
    pub(crate) async fn decide_approval(
        &self,
        project: &str,
        id: &str,
        verdict: &Verdict,
        by: &Actor,
    ) -> Result<Deciding, GatewayError> {
        let Some(request) = self.store.approval(project, id).await? else {
            return Ok(Deciding::NotFound);
        };
        if request.status != ApprovalStatus::Pending {
            return Ok(Deciding::Already(Box::new(request)));
        }
        let user = UserId::parse(&request.user_id).map_err(|_| GatewayError::Invalid {
            field: "approvalId",
            detail: "names no user".into(),
        })?;
        let now_ms = self.node.clock.now_ms();
        if period_ended(&request, now_ms) {
            // Too late for any decision to help: closed, whatever the verdict asked.
            let closed = self.close_ended(project, request, now_ms, Some(by)).await?;
            return Ok(Deciding::Done(Box::new(closed)));
        }
        let (decided, quota) = decided_by(&request, verdict, by, now_ms)?;
        let decision = self
            .node
            .drive(project, &user, async || {
                Ok(self
                    .store
                    .decide_approval(project, &user, &decided, quota.as_ref())
                    .await?)
            })
            .await?;
        let (event, sub) = match decision {
            ApprovalDecision::Done { event, sub } => (event, sub),
            // Decided meanwhile by someone else (or its state pruned with an ended period):
            // the project's copy catches up from that decision's event.
            ApprovalDecision::Already(_) | ApprovalDecision::NotFound => {
                let current = self.store.approval(project, id).await?.unwrap_or(request);
                return Ok(Deciding::Already(Box::new(current)));
            }
            ApprovalDecision::OverrideLimit => return Err(GatewayError::OverrideLimit(MAX_OVERRIDES)),
        };
        // An approval changed the subscription (its override): cached and indexed as any
        // change of it is.
        self.changed(project, sub).await?;
        // The decision's event is moved now, so the list and the webhooks have it before the
        // answer; a node that dies first leaves it to the sweeper.
        let outbox = self.store.outbox_of(project, user.as_str());
        let entries = self.store.outbox_entries(&outbox, std::slice::from_ref(&event)).await?;
        self.alerts().move_alerts(entries.alerts).await?;
        let approval = self.store.approval(project, id).await?.unwrap_or(decided);
        let (action, detail) = match verdict {
            Verdict::Approve { .. } => (
                Action::ApprovalApprove,
                json!({ "approvalId": id, "groupId": approval.group_id, "quota": approval.approved_quota,
                    "expiresAt": approval.expires_at_ms.map(rfc3339) }),
            ),
            Verdict::Decline { reason } => (
                Action::ApprovalDecline,
                json!({ "approvalId": id, "groupId": approval.group_id, "reason": reason }),
            ),
        };
        self.node.record_user_change(project, by, action, &user, detail).await;
        Ok(Deciding::Done(Box::new(approval)))
    }

    /// The request an approval event tells of, after bringing the project's copy up to it: a
    /// request's event writes it (once), a decision's applies the decision to it. Every path
    /// that moves an event (the node right after the script, the sweeper, the node that
    /// decided) runs this, so the copy is the same whichever moved it first.
    pub(super) async fn approval_of_event(&self, entry: &OutboxEntry) -> Result<Option<Approval>, GatewayError> {
        let Some(note) = &entry.approval else {
            return Ok(None);
        };
        let project = &entry.project;
        let approval = if note.status == ApprovalStatus::Pending {
            let group = self.alerts().group_policy(entry).await?;
            Approval {
                id: note.id.clone(),
                user_id: entry.user.clone(),
                group_id: entry.group.clone(),
                value: entry.value.clone(),
                period_start_ms: entry.period_start_ms,
                period_end_ms: entry.period_end_ms,
                status: ApprovalStatus::Pending,
                event: note.event.clone(),
                amount: note.amount,
                used: entry.level,
                held: note.held,
                quota: entry.quota,
                requested_at_ms: entry.at_ms,
                decided_at_ms: None,
                approved_quota: None,
                expires_at_ms: None,
                reason: None,
                decided_by: None,
                plan_id: group.plan_id,
                owner: group.owner,
                review_every: group.review_every.map(str::to_string),
            }
        } else {
            let Some(mut a) = self.store.approval(project, &note.id).await? else {
                return Ok(None);
            };
            a.status = note.status;
            a.decided_at_ms = Some(entry.at_ms);
            a.approved_quota = (note.status == ApprovalStatus::Approved).then_some(entry.quota);
            a.expires_at_ms = note.expires_at_ms;
            a.reason = Some(note.reason.clone()).filter(|r| !r.is_empty());
            a.decided_by = Some(note.by.clone()).filter(|b| !b.is_empty());
            a
        };
        self.store.index_approval(project, &approval).await?;
        // A repeat of a request's event finds it decided: the copy answers.
        Ok(self.store.approval(project, &note.id).await?)
    }
}

/// Whether request `a`'s period has ended (a lifetime group's never does).
fn period_ended(a: &Approval, now_ms: i64) -> bool {
    a.period_end_ms.is_some_and(|end| end <= now_ms)
}

/// The request as `verdict` decides it at `now_ms`, and the override an approval writes.
fn decided_by(
    request: &Approval,
    verdict: &Verdict,
    by: &Actor,
    now_ms: i64,
) -> Result<(Approval, Option<Override>), GatewayError> {
    let mut decided = request.clone();
    decided.decided_by = Some(by.name().to_string());
    let quota = match verdict {
        Verdict::Approve { quota, expires_ms } => {
            let expires_ms = expires_ms.or(request.period_end_ms);
            if expires_ms.is_some_and(|at| at <= now_ms) {
                return Err(GatewayError::Invalid {
                    field: "expiresAt",
                    detail: "must be in the future".into(),
                });
            }
            decided.status = ApprovalStatus::Approved;
            decided.approved_quota = Some(*quota);
            decided.expires_at_ms = expires_ms;
            Some(
                Override::checked(*quota, expires_ms).map_err(|detail| GatewayError::Invalid {
                    field: "expiresAt",
                    detail: detail.into(),
                })?,
            )
        }
        Verdict::Decline { reason } => {
            decided.status = ApprovalStatus::Declined;
            decided.reason = Some(reason.clone());
            None
        }
    };
    Ok((decided, quota))
}
