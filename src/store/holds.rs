//! What reserve, check and track share: the user's plan resolved, the matched groups with
//! their windows and amounts turned into script arguments, and the decision read back.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::keys::counter_field;
use super::scripts::{Decided, HoldArg, Values};
use super::{QuotaStore, StoreError};
use crate::metrics::{Cache as MetricCache, Fixed};
use crate::quota::decision::Granted;
use crate::quota::{
    Counter, Decision, LimitGroup, Measure, Milli, Plan, Reason, Status, Subscription, Unit, Unmatched, Window,
};

/// A validated event: who, what, how much.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub user: String,
    pub event: String,
    pub quantity: Milli,
    pub metadata: Map<String, Value>,
}

/// The plan a user is metered by, with the period anchor and the version scripts check.
pub(super) struct Resolved {
    pub sub: Subscription,
    pub plan: Option<Arc<Plan>>,
    pub started_ms: i64,
    /// The subscription came from the node's cache and may be out of date.
    pub cached: bool,
}

/// The matched groups of one event, in plan order, ready for a script.
pub(super) struct Prepared<'p> {
    pub groups: Vec<&'p LimitGroup>,
    pub windows: Vec<Window>,
    pub args: Vec<HoldArg<'p>>,
}

impl QuotaStore {
    /// The user's subscription and plan, or the project's default plan; `plan` is None when
    /// the user has neither. With `use_cache`, a subscription this node saw before is trusted:
    /// the script's version check catches it when it changed.
    pub(super) async fn resolve(&self, project: &str, user: &str, use_cache: bool) -> Result<Resolved, StoreError> {
        let remembered = if use_cache {
            self.cache.user(project, user)
        } else {
            None
        };
        let cached = remembered.is_some();
        if use_cache {
            self.metrics.bump(if cached {
                Fixed::CacheHit(MetricCache::Subscription)
            } else {
                Fixed::CacheMiss(MetricCache::Subscription)
            });
        }
        let sub = match remembered {
            Some(sub) => sub,
            None => {
                let sub = self.subscription(project, user).await?;
                self.cache.put_user(project, user, sub.clone());
                sub
            }
        };
        let (plan_id, started_ms) = match (&sub.plan_id, sub.started_at_ms) {
            (Some(plan), started) => (Some(plan.clone()), started.unwrap_or(0)),
            // Without a plan of their own, subscription-anchored periods count from the
            // epoch, which makes them calendar-aligned.
            (None, _) => (self.project_settings(project).await?.and_then(|s| s.default_plan), 0),
        };
        let plan = match plan_id {
            Some(id) => Some(self.plan(project, &id).await?.ok_or(StoreError::PlanMissing(id))?),
            None => None,
        };
        Ok(Resolved {
            sub,
            plan,
            started_ms,
            cached,
        })
    }

    /// The user's plan resolved for deciding on `input`, or the denial that needs no counter.
    /// No script sees such a denial, so one decided from a cached subscription is confirmed
    /// with a fresh read first.
    pub(super) async fn admitted(
        &self,
        project: &str,
        input: &EventInput,
    ) -> Result<Result<Resolved, Reason>, StoreError> {
        let resolved = self.resolve(project, &input.user, true).await?;
        let resolved = match resolved.admit(input) {
            Err(_) if resolved.cached => {
                self.cache.forget_user(project, &input.user);
                self.resolve(project, &input.user, true).await?
            }
            _ => resolved,
        };
        Ok(match resolved.admit(input) {
            Ok(_) => Ok(resolved),
            Err(reason) => Err(reason),
        })
    }

    /// After a "stale" answer: forget the user's subscription and measure the clock again.
    pub(super) async fn refresh_after_stale(&self, project: &str, user: &str) -> Result<(), StoreError> {
        self.metrics.bump(Fixed::StaleAnswers);
        self.cache.forget_user(project, user);
        self.sync_clock().await
    }
}

impl Resolved {
    /// The plan to decide by, or a denial that needs no counter: blocked, no plan, or an
    /// unmatched event the plan refuses.
    pub fn admit(&self, input: &EventInput) -> Result<&Plan, Reason> {
        if self.sub.status == Status::Blocked {
            return Err(Reason::UserBlocked);
        }
        let plan = self.plan.as_ref().ok_or(Reason::NoSubscription)?;
        let unmatched = plan.matched_groups(&input.event, &input.metadata).next().is_none();
        if unmatched && plan.unmatched == Unmatched::Deny {
            return Err(Reason::UnmatchedEvent);
        }
        Ok(plan)
    }
}

/// The matched groups' windows at `now_ms` and amounts; `in_flight` false leaves out
/// concurrent groups (track ignores them).
pub(super) fn prepare<'p>(
    plan: &'p Plan,
    input: &'p EventInput,
    started_ms: i64,
    now_ms: i64,
    in_flight: bool,
) -> Result<Prepared<'p>, StoreError> {
    let groups: Vec<&LimitGroup> = plan
        .matched_groups(&input.event, &input.metadata)
        .filter(|g| in_flight || g.unit != Unit::Concurrent)
        .collect();
    let windows: Vec<Window> = groups.iter().map(|g| g.window(now_ms, started_ms)).collect();
    let mut args = Vec::with_capacity(groups.len());
    for (g, w) in groups.iter().zip(&windows) {
        let amount = g
            .measure
            .amount(input.quantity, &input.metadata)
            .map_err(StoreError::Measure)?;
        args.push(HoldArg {
            group: &g.id,
            field: counter_field(&g.id, w),
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            amount,
            quota: g.quota,
            mode: g.mode,
            concurrent: g.unit == Unit::Concurrent,
            // The quantity is the default measure; records leave it out.
            measure: match g.measure {
                Measure::Quantity => String::new(),
                _ => serde_json::to_string(&g.measure).unwrap_or_default(),
            },
        });
    }
    Ok(Prepared { groups, windows, args })
}

impl Prepared<'_> {
    /// The counters of the matched groups from the values a script read.
    pub fn counters<'v>(&self, values: impl IntoIterator<Item = &'v Values>) -> Vec<Counter> {
        self.groups
            .iter()
            .zip(&self.windows)
            .zip(values)
            .map(|((g, w), v)| Counter::of(g, *w, v))
            .collect()
    }

    /// The decision of reserve or check.
    pub fn decision(&self, decided: &Decided, granted: Option<Granted>) -> Decision {
        let denied_by = self
            .groups
            .iter()
            .zip(&decided.holds)
            .filter(|(_, (_, denied))| *denied)
            .map(|(g, _)| g.id.clone())
            .collect();
        Decision {
            allowed: decided.allowed,
            granted: if decided.allowed { granted } else { None },
            reasons: if decided.allowed {
                Vec::new()
            } else {
                vec![Reason::LimitReached]
            },
            denied_by,
            counters: self.counters(decided.holds.iter().map(|(v, _)| v)),
        }
    }
}
