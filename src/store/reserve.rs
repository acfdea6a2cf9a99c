//! Reserve: resolve the user's plan, compute the matched groups' windows, and let
//! `reserve.lua` decide and hold atomically.

use serde_json::{Map, Value};

use super::keys::{counter_field, reservation_id};
use super::scripts::{self, HoldArg, Reply, ReserveArgs};
use super::subscriptions::UserState;
use super::{QuotaStore, StoreError, MAX_ATTEMPTS};
use crate::quota::decision::Granted;
use crate::quota::{Counter, Decision, Milli, Plan, Reason, Status, Unmatched};
use crate::secrets::random_bytes;

/// A validated reserve request.
#[derive(Debug, Clone)]
pub struct ReserveInput {
    pub user: String,
    pub event: String,
    pub quantity: Milli,
    pub metadata: Map<String, Value>,
    pub ttl_ms: i64,
}

/// The plan a user is metered by, with the period anchor and the version scripts check.
pub(super) struct Resolved {
    pub state: UserState,
    pub plan: Option<Plan>,
    pub started_ms: i64,
}

impl QuotaStore {
    /// The user's subscription and plan, or the project's default plan; `plan` is None when
    /// the user has neither.
    pub(super) async fn resolve(&self, project: &str, user: &str) -> Result<Resolved, StoreError> {
        let state = self.user_state(project, user).await?;
        let (plan_id, started_ms) = match &state.subscription {
            Some(sub) => (Some(sub.plan_id.clone()), sub.started_at_ms),
            // Without a subscription, subscription-anchored periods count from the epoch,
            // which makes them calendar-aligned.
            None => (
                self.project_settings(project)
                    .await?
                    .and_then(|s| s.default_plan),
                0,
            ),
        };
        let plan = match plan_id {
            Some(id) => Some(
                self.plan(project, &id)
                    .await?
                    .ok_or(StoreError::PlanMissing(id))?,
            ),
            None => None,
        };
        Ok(Resolved {
            state,
            plan,
            started_ms,
        })
    }

    pub async fn reserve(
        &self,
        project: &str,
        input: &ReserveInput,
    ) -> Result<Decision, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let resolved = self.resolve(project, &input.user).await?;
            if resolved
                .state
                .subscription
                .as_ref()
                .is_some_and(|s| s.status == Status::Blocked)
            {
                return Ok(Decision::denied(Reason::UserBlocked));
            }
            let Some(plan) = &resolved.plan else {
                return Ok(Decision::denied(Reason::NoSubscription));
            };
            let now_ms = self.clock.now_ms();
            let matched: Vec<_> = plan.matched_groups(&input.event, &input.metadata).collect();
            if matched.is_empty() && plan.unmatched == Unmatched::Deny {
                return Ok(Decision::denied(Reason::UnmatchedEvent));
            }
            let windows: Vec<_> = matched
                .iter()
                .map(|g| g.period.window(now_ms, resolved.started_ms))
                .collect();
            let holds: Vec<HoldArg> = matched
                .iter()
                .zip(&windows)
                .map(|(g, w)| HoldArg {
                    group: &g.id,
                    field: counter_field(&g.id, w),
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    amount: input.quantity,
                    quota: g.quota,
                    mode: g.mode,
                })
                .collect();
            let id = reservation_id(&input.user, &random_bytes::<16>());
            let args = ReserveArgs {
                version: resolved.state.version,
                retention_ms: self.retention_ms,
                reservation_id: &id,
                ttl_ms: input.ttl_ms,
                event: &input.event,
                holds: &holds,
            };
            let keys = self.keys.user(project, &input.user);
            let reply = self
                .run(|mut conn| async move { scripts::reserve(&mut conn, &keys, &args).await })
                .await?;
            let done = match reply {
                Reply::Done(done) => done,
                Reply::More => continue,
                Reply::Stale => {
                    self.sync_clock().await?;
                    continue;
                }
            };
            let counters = matched
                .iter()
                .zip(&windows)
                .zip(&done.holds)
                .map(|((g, w), (values, _))| Counter::of(g, *w, values.used, values.held))
                .collect();
            let denied_by = matched
                .iter()
                .zip(&done.holds)
                .filter(|(_, (_, denied))| *denied)
                .map(|(g, _)| g.id.clone())
                .collect();
            return Ok(Decision {
                granted: done.allowed.then_some(Granted {
                    reservation_id: id,
                    expires_at_ms: done.expires_ms,
                }),
                reasons: if done.allowed {
                    Vec::new()
                } else {
                    vec![Reason::LimitReached]
                },
                denied_by,
                counters,
            });
        }
        Err(StoreError::Unsettled(MAX_ATTEMPTS))
    }
}
