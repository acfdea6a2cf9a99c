//! Plan resolution: which plan a user is metered by (their own, or the project's default), with
//! the period anchor and the subscription version the scripts check. The subscription may come
//! from the node's cache; a script's version check catches one that changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::DataPlane;
use crate::gateway::GatewayError;
use crate::metrics::{CacheKind, Fixed};
use crate::quota::admission::admit;
use crate::quota::{EventInput, Override, Plan, Reason, Subscription, UserId};

/// The plan a user is metered by, with the period anchor and the version scripts check.
pub(crate) struct Resolved {
    pub sub: Arc<Subscription>,
    pub plan: Option<Arc<Plan>>,
    pub started_ms: i64,
    /// The subscription came from the node's cache and may be out of date.
    pub cached: bool,
}

/// Whether a call may decide from a cached subscription (reserve, check, track), or reads
/// it fresh (usage, adjust, and anything a person looks at).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    Cached,
    Fresh,
}

impl DataPlane {
    /// The user's subscription and plan, or the project's default plan; `plan` is None when
    /// the user has neither.
    pub(crate) async fn resolve(
        &self,
        project: &str,
        user: &UserId,
        freshness: Freshness,
    ) -> Result<Resolved, GatewayError> {
        let remembered = match freshness {
            Freshness::Cached => {
                let sub = self.node.cache.user(project, user.as_str());
                self.node.metrics.bump(if sub.is_some() {
                    Fixed::CacheHit(CacheKind::Subscription)
                } else {
                    Fixed::CacheMiss(CacheKind::Subscription)
                });
                sub
            }
            Freshness::Fresh => None,
        };
        let cached = remembered.is_some();
        let sub = match remembered {
            Some(sub) => sub,
            None => {
                let sub = Arc::new(self.store.subscription(project, user).await?);
                self.node.cache.put_user(project, user.as_str(), Arc::clone(&sub));
                sub
            }
        };
        let (plan_id, started_ms) = match (&sub.plan_id, sub.started_at_ms) {
            (Some(plan), started) => (Some(plan.clone()), started.unwrap_or(0)),
            // Without a plan of their own, subscription-anchored periods count from the
            // epoch, which makes them calendar-aligned.
            (None, _) => (
                self.node.project_settings(project).await?.and_then(|s| s.default_plan),
                0,
            ),
        };
        let plan = match plan_id {
            Some(id) => Some(
                self.node
                    .plan(project, &id)
                    .await?
                    .ok_or(GatewayError::PlanMissing(id))?,
            ),
            None => None,
        };
        Ok(Resolved {
            sub,
            plan,
            started_ms,
            cached,
        })
    }

    /// The plan of `subject` (the event's user, or a parent of theirs) resolved for deciding on
    /// `input`, or the denial that needs no counter. No script sees such a denial, so one
    /// decided from a cached subscription is confirmed with a fresh read first.
    pub(super) async fn admitted(
        &self,
        project: &str,
        subject: &UserId,
        input: &EventInput,
    ) -> Result<Result<Admitted, Reason>, GatewayError> {
        let mut resolved = self.resolve(project, subject, Freshness::Cached).await?;
        let mut admission = resolved.admit(input).map(|_| ());
        if admission.is_err() && resolved.cached {
            self.node.cache.forget_user(project, subject.as_str());
            resolved = self.resolve(project, subject, Freshness::Cached).await?;
            admission = resolved.admit(input).map(|_| ());
        }
        Ok(match (admission, resolved.plan) {
            (Ok(()), Some(plan)) => Ok(Admitted {
                plan,
                started_ms: resolved.started_ms,
                version: resolved.sub.version,
                parent: resolved.sub.parent_id.clone(),
                overrides: resolved.sub.overrides.clone(),
            }),
            (Err(reason), _) => Err(reason),
            (Ok(()), None) => Err(Reason::NoSubscription),
        })
    }
}

/// A user admitted to be decided by `plan`: the plan, the period anchor, and the subscription
/// version the script checks.
pub(super) struct Admitted {
    pub plan: Arc<Plan>,
    pub started_ms: i64,
    pub version: u64,
    /// The subject's parent as the checked version names it.
    pub parent: Option<String>,
    /// The subject's quota overrides as the checked version has them, by group.
    pub overrides: BTreeMap<String, Override>,
}

impl Resolved {
    /// The plan to decide by, or a denial that needs no counter.
    pub(crate) fn admit(&self, input: &EventInput) -> Result<&Plan, Reason> {
        admit(&self.sub, self.plan.as_deref(), input)
    }
}
