//! Alerts after the script: the events a script put in its slot's outbox are moved to their
//! project's deliveries (one per endpoint that wants them), then removed from the outbox. A
//! node that dies in between leaves them there; the sweeper of any node (the workers'
//! `sweep.rs`) moves what has waited longer than a grace period, and enqueueing twice makes no
//! second delivery.

use std::collections::BTreeMap;

use super::resolve::Freshness;
use super::{Alerts, DataPlane};
use crate::gateway::GatewayError;
use crate::json::rfc3339;
use crate::quota::Review;
use crate::quota::{Approval, Prepared, UserId};
use crate::store::{Fired, OutboxEntry};
use crate::webhooks::event::{self, ApprovalData, CreditData, Policy, QuotaData, Scope};

/// What an event says of its group beyond the counter: the plan, the label, the owner.
pub(super) struct GroupPolicy {
    pub plan_id: Option<String>,
    pub label: String,
    pub owner: Option<String>,
    pub review_every: Option<&'static str>,
}

impl GroupPolicy {
    /// The owner and scope as events carry them.
    fn policy<'a>(
        &'a self,
        subject: &'a str,
        group_id: &'a str,
        value: Option<&'a str>,
        period_start: &Option<String>,
        resets_at: &Option<String>,
    ) -> Policy<'a> {
        Policy {
            owner: self.owner.as_deref(),
            review_every: self.review_every,
            scope: Scope {
                subject,
                plan_id: self.plan_id.as_deref(),
                group_id,
                value,
                period_start: period_start.clone(),
                resets_at: resets_at.clone(),
            },
        }
    }
}

impl Alerts<'_> {
    /// Whether the project has an enabled webhook endpoint: alerts are decided only then, so
    /// a project without webhooks pays nothing for them.
    pub(crate) async fn alerting(&self, project: &str) -> Result<bool, GatewayError> {
        if let Some(on) = self.node.cache.alerting(project) {
            return Ok(on);
        }
        let on = self.store.endpoints(project).await?.iter().any(|(_, e)| e.enabled);
        self.node.cache.put_alerting(project, on);
        Ok(on)
    }

    /// Leaves the thresholds out of the holds when the project has no endpoint to tell.
    pub(super) async fn alerts_for(&self, project: &str, prepared: &mut Prepared<'_>) -> Result<(), GatewayError> {
        if !self.alerting(project).await? {
            prepared.mute_alerts();
        }
        Ok(())
    }

    /// After a script that fired alerts: moves them in the background, so an answer never
    /// waits for it; what fails stays in the outbox for the sweeper.
    pub(super) fn alerts_fired(&self, fired: Fired) {
        if fired.ids.is_empty() || self.skip_moves() {
            return;
        }
        let gateway = DataPlane::clone(self);
        tokio::spawn(async move { gateway.alerts().alerts_moved(fired).await });
    }

    /// Moves what a script fired now (an answer that names an approval request waits for it);
    /// what fails stays in the outbox for the sweeper.
    pub(super) async fn alerts_moved(&self, fired: Fired) {
        if fired.ids.is_empty() || self.skip_moves() {
            return;
        }
        let moved = async {
            let entries = self.store.outbox_entries(&fired.outbox, &fired.ids).await?;
            // A script that ended or closed slices wrote their statements there too (slices.rs).
            self.leases().settle_notes(entries.leases).await?;
            self.move_alerts(entries.alerts).await
        };
        if let Err(err) = moved.await {
            tracing::warn!(%err, "alerts stay in the outbox for the sweeper");
        }
    }

    /// Enqueues each entry's event for its project's endpoints, then removes the entries. An
    /// approval request's event first brings the project's list of requests up to it.
    pub(crate) async fn move_alerts(&self, entries: Vec<OutboxEntry>) -> Result<(), GatewayError> {
        let mut done: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in entries {
            let body = match entry.kind.of_approvals() {
                true => match self.approval_of_event(&entry).await? {
                    Some(approval) => self.approval_body(&entry, &approval).await?,
                    // A decision of a request the list never had: nothing to tell.
                    None => {
                        done.entry(entry.outbox).or_default().push(entry.position);
                        continue;
                    }
                },
                false => self.alert_body(&entry).await?,
            };
            let kind = entry.kind.event_type();
            self.store
                .enqueue(
                    &entry.project,
                    &entry.event_id,
                    kind,
                    &body,
                    self.node.clock.now_ms(),
                    None,
                )
                .await?;
            done.entry(entry.outbox).or_default().push(entry.position);
        }
        for (outbox, positions) in done {
            self.store.outbox_done(&outbox, &positions).await?;
        }
        Ok(())
    }

    /// An approval request's event as receivers get it: the request as the list has it.
    async fn approval_body(&self, entry: &OutboxEntry, a: &Approval) -> Result<String, GatewayError> {
        let group = self.group_policy(entry).await?;
        let (period_start, resets_at) = event::period(a.period_start_ms, a.period_end_ms);
        let data = ApprovalData {
            approval_id: &a.id,
            project_id: &entry.project,
            user_id: &a.user_id,
            plan_id: group.plan_id.as_deref(),
            group_id: &a.group_id,
            value: a.value.as_deref(),
            label: &group.label,
            status: a.status.as_str(),
            event: &a.event,
            amount: a.amount,
            used: a.used,
            reserved: a.held,
            quota: a.quota,
            policy: group.policy(&a.user_id, &a.group_id, a.value.as_deref(), &period_start, &resets_at),
            period_start,
            resets_at,
            requested_at: rfc3339(a.requested_at_ms),
            decided_at: a.decided_at_ms.map(rfc3339),
            approved_quota: a.approved_quota,
            expires_at: a.expires_at_ms.map(rfc3339),
            reason: a.reason.as_deref(),
            decided_by: a.decided_by.as_deref(),
        };
        event::body(entry.kind.event_type(), entry.at_ms, data).map_err(GatewayError::encode("an approval's event"))
    }

    /// The plan of an event's user (as it fired, else as it is now), its group's label, and
    /// who owns the group (as the plan is now).
    pub(super) async fn group_policy(&self, entry: &OutboxEntry) -> Result<GroupPolicy, GatewayError> {
        let plan_id = match &entry.plan {
            Some(plan) => Some(plan.clone()),
            None => match UserId::parse(&entry.user) {
                Ok(user) => self
                    .resolve(&entry.project, &user, Freshness::Cached)
                    .await?
                    .plan
                    .map(|p| p.id.clone()),
                Err(_) => None,
            },
        };
        let plan = match &plan_id {
            Some(id) => self.node.plan(&entry.project, id).await?,
            None => None,
        };
        let group = plan
            .as_ref()
            .and_then(|p| p.groups.iter().find(|g| g.id == entry.group));
        Ok(GroupPolicy {
            plan_id,
            label: group.map_or(entry.group.as_str(), |g| g.label.as_str()).to_string(),
            owner: group.and_then(|g| g.owner.clone()),
            review_every: group.and_then(|g| g.review_every).map(Review::as_str),
        })
    }

    /// The event as receivers get it; plan labels from the user's plan as it is now.
    async fn alert_body(&self, entry: &OutboxEntry) -> Result<String, GatewayError> {
        let group = self.group_policy(entry).await?;
        let (label, plan_id) = (group.label.as_str(), group.plan_id.as_deref());
        if let Some((balance, threshold)) = &entry.credit {
            let data = CreditData {
                project_id: &entry.project,
                user_id: &entry.user,
                plan_id,
                group_id: &entry.group,
                balance,
                threshold: *threshold,
                available: entry.level,
                // A balance has no period: its grants run until they expire.
                policy: group.policy(&entry.user, &entry.group, None, &None, &None),
            };
            return event::body(entry.kind.event_type(), entry.at_ms, data)
                .map_err(GatewayError::encode("an alert's body"));
        }
        let (period_start, resets_at) = event::period(entry.period_start_ms, entry.period_end_ms);
        event::body(
            entry.kind.event_type(),
            entry.at_ms,
            QuotaData {
                policy: group.policy(
                    &entry.user,
                    &entry.group,
                    entry.value.as_deref(),
                    &period_start,
                    &resets_at,
                ),
                project_id: &entry.project,
                user_id: &entry.user,
                plan_id,
                group_id: &entry.group,
                value: entry.value.as_deref(),
                label,
                unit: entry.unit.as_str(),
                threshold: entry.threshold,
                quota: entry.quota,
                used: entry.level,
                period_start,
                resets_at,
            },
        )
        .map_err(GatewayError::encode("an alert's body"))
    }
}
