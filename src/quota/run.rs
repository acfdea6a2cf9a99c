//! Runs: a budget an agent holds before it starts, from which every step draws, with its
//! limits on steps, attempts per action and fallbacks (lua/library/modules/runs.lua keeps and decides them).
//! A run is a reservation whose record keeps a run object; its id says it is one.

use std::collections::BTreeMap;

use super::amount::Milli;
use super::ids::ReservationId;
use super::plan_kinds::Unit;

/// What a step is to its action: the first try, a retry, or a fallback to another provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepKind {
    #[default]
    Primary,
    Retry,
    Fallback,
}

impl StepKind {
    pub fn parse(text: &str) -> Option<StepKind> {
        match text {
            "primary" => Some(StepKind::Primary),
            "retry" => Some(StepKind::Retry),
            "fallback" => Some(StepKind::Fallback),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Primary => "primary",
            StepKind::Retry => "retry",
            StepKind::Fallback => "fallback",
        }
    }
}

/// A reserve or track that is a step of a run (a child run's start is one too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub run_id: ReservationId,
    /// The original action its attempts count against ("" for none).
    pub action: String,
    pub kind: StepKind,
}

/// A run's limits; None is no limit. The fallback share is in millionths of each group's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimits {
    pub steps: Option<u64>,
    pub attempts_per_action: Option<u64>,
    pub fallbacks: Option<u64>,
    pub fallback_share_ppm: Option<u64>,
    /// What the attempts after the first of one of its actions may hold and spend together,
    /// in each group it holds (lua/library/modules/fallbacks.lua).
    pub max_fallback_spend: Option<Milli>,
}

/// What a step's answer says of its run, so an agent can wrap up before it is cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunProgress {
    pub run_id: String,
    /// Per group the run holds, what it has left.
    pub remaining: Vec<(String, Milli)>,
    pub steps: u64,
    pub fallbacks: u64,
}

/// A run's own part of its record (the run object), as a reader sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRecord {
    pub limits: RunLimits,
    /// Per group: committed or tracked by steps, held by open steps, and spent by fallbacks.
    pub used: BTreeMap<String, Milli>,
    pub open: BTreeMap<String, Milli>,
    pub fallback_spent: BTreeMap<String, Milli>,
    pub steps: u64,
    pub fallbacks: u64,
    pub attempts: BTreeMap<String, u64>,
    pub children: Vec<String>,
    /// When its expiry settled it (None while open, and for a run that was closed).
    pub expired_ms: Option<i64>,
}

/// One group a run holds, as a reader sees it: its budget and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunGroup {
    pub group: String,
    pub unit: Unit,
    /// What the run holds in the group.
    pub budget: Milli,
    /// What its steps committed or tracked.
    pub used: Milli,
    /// What its open steps hold.
    pub open: Milli,
    /// What its fallback steps hold or spent.
    pub fallback_spent: Milli,
}

impl RunGroup {
    /// What the run has left: budget - used - open, never below 0.
    pub fn remaining(&self) -> Milli {
        Milli(self.budget.0.saturating_sub(self.used.0).saturating_sub(self.open.0))
    }
}

/// Where a run's state stands for a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Open,
    Closed,
    Expired,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Open => "open",
            RunState::Closed => "closed",
            RunState::Expired => "expired",
        }
    }
}
