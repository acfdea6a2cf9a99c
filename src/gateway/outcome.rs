//! One outcome per call: what a verb did (its decision or result, with the counters and how long
//! it took), handed to every subscriber as it happens. The node's metrics are the first
//! subscriber; alerts and the dashboard's live figures subscribe the same way.
//! Subscribers run inline on the request's task, so they must be quick and must not block.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::GatewayError;
use crate::metrics::Metrics;
use crate::quota::{Counter, Decision, ReservationState, UserId};

/// The verbs of the service layer that report an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Reserve,
    Check,
    Track,
    Commit,
    Release,
    Extend,
    Usage,
    Adjust,
    Subscribe,
    Unsubscribe,
    Block,
    Unblock,
    SetOverride,
    RemoveOverride,
    PutPlan,
    DeletePlan,
    CreateProject,
    UpdateProject,
    MintKey,
    RevokeKey,
    MintUserKey,
    RevokeUserKey,
}

/// What came of a call.
#[derive(Debug)]
pub enum Effect<'a> {
    /// Reserve or check decided (allowed or denied).
    Decided(&'a Decision),
    /// Track or an adjustment changed these counters.
    Counted(&'a [Counter]),
    /// Commit or release ended a reservation (or found it ended after expiry).
    Settled {
        state: ReservationState,
        late: bool,
        counters: &'a [Counter],
    },
    /// The call was answered without a counter changing: a read, an extend, a change of a
    /// subscription, plan, project or key, or a reservation that was not found or had ended.
    Answered,
    /// The call could not decide.
    Failed(&'a GatewayError),
}

/// One call, as subscribers see it.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub verb: Verb,
    pub project: &'a str,
    /// The end user the call was about; None for plans, projects and keys.
    pub user: Option<&'a UserId>,
    pub effect: Effect<'a>,
    pub took: Duration,
}

/// Something that wants to know every outcome.
pub trait Subscriber: Send + Sync {
    fn on_outcome(&self, outcome: &Outcome<'_>);
}

/// The metrics are the first subscriber of the gateway's outcomes: decisions by result and
/// reason, reservations ended by outcome.
impl Subscriber for Metrics {
    fn on_outcome(&self, outcome: &Outcome<'_>) {
        match (&outcome.verb, &outcome.effect) {
            (Verb::Reserve | Verb::Check, Effect::Decided(decision)) => {
                let result = if decision.allowed { "allowed" } else { "denied" };
                let reason = decision.reasons.first().map_or("", |r| r.code());
                self.count("qg_decisions_total", &[("result", result), ("reason", reason)]);
            }
            (Verb::Commit | Verb::Release, Effect::Settled { state, late, .. }) => {
                let ended = match (state, late) {
                    (ReservationState::Committed, true) => "late",
                    (ReservationState::Committed, false) => "committed",
                    (ReservationState::Expired, _) => "expired",
                    (ReservationState::Released | ReservationState::Held, _) => "released",
                };
                self.count("qg_reservations_total", &[("outcome", ended)]);
            }
            _ => {}
        }
    }
}

#[derive(Default)]
pub(super) struct Outcomes {
    subscribers: RwLock<Vec<Arc<dyn Subscriber>>>,
}

impl Outcomes {
    pub(crate) fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        if let Ok(mut subscribers) = self.subscribers.write() {
            subscribers.push(subscriber);
        }
    }

    pub(crate) fn publish(&self, outcome: &Outcome<'_>) {
        if let Ok(subscribers) = self.subscribers.read() {
            for s in subscribers.iter() {
                s.on_outcome(outcome);
            }
        }
    }
}

/// How an answer of a verb shows as an effect.
pub(super) trait Observed {
    fn effect(&self) -> Effect<'_>;
}

/// Changes of plans, projects and keys answer with what they changed; none moves a counter.
impl Observed for u64 {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

impl Observed for bool {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

impl<T: Observed> Observed for Result<T, GatewayError> {
    fn effect(&self) -> Effect<'_> {
        match self {
            Ok(answer) => answer.effect(),
            Err(err) => Effect::Failed(err),
        }
    }
}
