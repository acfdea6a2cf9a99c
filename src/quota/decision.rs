//! The answer to reserve: allowed with a reservation, or denied with reasons. Being denied is not an error.

use super::amount::Milli;
use super::counter::Counter;
use super::fit::Fitted;
use super::ids::ReservationId;
use super::run::RunProgress;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    LimitReached,
    /// A balance group's grants cannot cover the amount.
    InsufficientBalance,
    /// An approval group would pass its quota and its approval request waits for a person.
    ApprovalPending,
    /// A per-value group has counted as many distinct values in the period as it may.
    TooManyValues,
    UserBlocked,
    NoSubscription,
    UnmatchedEvent,
    /// A step's run has no room left in a group it holds.
    RunBudgetExhausted,
    /// A step's run has taken as many steps as its limits allow.
    RunStepsExhausted,
    /// A step's action has been attempted as often as its run allows.
    ActionAttemptsExhausted,
    /// A fallback step would pass its run's count of fallbacks or their share of a group.
    FallbackBudgetExhausted,
    /// A step's run was closed, expired, or is no run.
    RunEnded,
    /// A child run would be a fourth level of runs.
    RunTooDeep,
    /// A priced group has no price for the call's model (`Denial::model` names it).
    UnpricedModel,
    /// A team's group would have room but for what it has leased to its members' slices,
    /// which comes back when they end (`Denial::retry_at_ms`).
    ParentCapacityLeased,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::LimitReached => "limit_reached",
            Reason::InsufficientBalance => "insufficient_balance",
            Reason::ApprovalPending => "approval_pending",
            Reason::TooManyValues => "too_many_values",
            Reason::UserBlocked => "user_blocked",
            Reason::NoSubscription => "no_subscription",
            Reason::UnmatchedEvent => "unmatched_event",
            Reason::RunBudgetExhausted => "run_budget_exhausted",
            Reason::RunStepsExhausted => "run_steps_exhausted",
            Reason::ActionAttemptsExhausted => "action_attempts_exhausted",
            Reason::FallbackBudgetExhausted => "fallback_budget_exhausted",
            Reason::RunEnded => "run_ended",
            Reason::RunTooDeep => "run_too_deep",
            Reason::UnpricedModel => "unpriced_model",
            Reason::ParentCapacityLeased => "parent_capacity_leased",
        }
    }
}

/// What denied, with its subject (None for the subject the call was about, else the parent's
/// id): a group that would pass its quota, or a level that denied before any counter (a
/// blocked parent), which has no group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub subject: Option<String>,
    pub group: Option<String>,
    pub reason: Reason,
    /// An approval group's pending request.
    pub approval_id: Option<String>,
    /// The model an unpriced denial found no price for.
    pub model: Option<String>,
    /// When what denied may have room again, where that is no counter's reset: capacity
    /// leased to members' slices comes back by the time they end.
    pub retry_at_ms: Option<i64>,
    /// What the call asked of the group that denied (its whole hold, before any clamp), so an
    /// answer can say "this call may use up to …" when the call, not the usage, is the cause.
    pub asked: Option<Milli>,
}

/// A granted hold on quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub reservation_id: ReservationId,
    pub expires_at_ms: i64,
    /// What it holds in each of the decision's counters, in their order (filled by the
    /// decision), so a level above that denies can show these counters as they were before.
    pub held: Vec<Milli>,
    /// The first answer of the call's Idempotency-Key, answered again: no hold was made now
    /// (the first call's may still be open).
    pub repeat: bool,
    /// The record the reserve wrote, as the node encoded it, where that is provably the one
    /// Redis keeps and the caller asked for it (a proxied call, committed by the node that
    /// held it): its commit needs no read of it. None otherwise.
    pub record: Option<std::sync::Arc<super::reservation::Reservation>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The hold reserve made; check decides without one.
    pub granted: Option<Granted>,
    pub reasons: Vec<Reason>,
    /// The hard groups that would pass their quota.
    pub denied_by: Vec<Denial>,
    pub counters: Vec<Counter>,
    /// When it was decided (Redis time as the node estimates it), for the reset headers.
    pub decided_at_ms: i64,
    /// A step's: its run as the step left it (the user's level's).
    pub run: Option<RunProgress>,
    /// What a call whose holds clamped was granted (None: all it asked).
    pub fitted: Option<Fitted>,
}

impl Decision {
    /// A denial decided before any counter was looked at.
    pub fn denied(reason: Reason, decided_at_ms: i64) -> Decision {
        Decision {
            allowed: false,
            granted: None,
            reasons: vec![reason],
            denied_by: Vec::new(),
            counters: Vec::new(),
            decided_at_ms,
            run: None,
            fitted: None,
        }
    }

    /// The denial of an event whose model `model` a priced `group` has no price for.
    pub fn unpriced(group: &str, model: &str, decided_at_ms: i64) -> Decision {
        Decision {
            denied_by: vec![Denial {
                subject: None,
                group: Some(group.to_string()),
                reason: Reason::UnpricedModel,
                approval_id: None,
                model: Some(model.to_string()),
                retry_at_ms: None,
                asked: None,
            }],
            ..Decision::denied(Reason::UnpricedModel, decided_at_ms)
        }
    }

    /// The subjects whose groups denied it for capacity leased to members' slices (`user` for
    /// the call's own level), each once.
    pub fn leased_by(&self, user: &str) -> Vec<String> {
        let mut teams: Vec<String> = Vec::new();
        for d in self
            .denied_by
            .iter()
            .filter(|d| d.reason == Reason::ParentCapacityLeased)
        {
            let team = d.subject.as_deref().unwrap_or(user);
            if !teams.iter().any(|t| t == team) {
                teams.push(team.to_string());
            }
        }
        teams
    }

    /// The same decision as one level of a chain: its counters and denials name `subject`. A
    /// level that denied before any counter is named too, so a member's denial says whose
    /// block it was.
    pub fn of_subject(mut self, subject: &str) -> Decision {
        self.counters = self.counters.into_iter().map(|c| c.of_subject(subject)).collect();
        if !self.allowed && self.denied_by.is_empty() {
            self.denied_by = self
                .reasons
                .iter()
                .map(|&reason| Denial {
                    subject: None,
                    group: None,
                    reason,
                    approval_id: None,
                    model: None,
                    retry_at_ms: None,
                    asked: None,
                })
                .collect();
        }
        for d in &mut self.denied_by {
            d.subject = Some(subject.to_string());
        }
        self
    }
}

/// A step's whole-step denial as runs.lua codes it (R.step), 0 for none.
pub(crate) fn step_denial(code: i64) -> Option<Reason> {
    match code {
        1 => Some(Reason::RunEnded),
        2 => Some(Reason::RunStepsExhausted),
        3 => Some(Reason::ActionAttemptsExhausted),
        4 => Some(Reason::FallbackBudgetExhausted),
        5 => Some(Reason::RunTooDeep),
        _ => None,
    }
}
