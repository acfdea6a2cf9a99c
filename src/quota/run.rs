//! Runs: a budget an agent holds before it starts, from which every step draws, with its
//! limits on steps, attempts per action and fallbacks (lua/runs.lua keeps and decides them).
//! A run is a reservation whose record keeps a run object; its id says it is one.

use std::collections::BTreeMap;

use super::amount::Milli;
use super::decision::Reason;
use super::ids::ReservationId;

/// Runs within runs: a run, its child and the child's child.
pub const MAX_RUN_DEPTH: usize = 3;

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
}

impl RunLimits {
    /// As a run's record and line keep them (lua/runs.lua): "<steps>|<attempts per action>|
    /// <fallbacks>|<fallback share in millionths>", each "" for none.
    pub fn encode(&self) -> String {
        let part = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{}|{}|{}|{}",
            part(self.steps),
            part(self.attempts_per_action),
            part(self.fallbacks),
            part(self.fallback_share_ppm)
        )
    }

    /// What `encode` wrote; None when it is not that.
    pub fn decode(text: &str) -> Option<RunLimits> {
        let mut parts = text.split('|').map(|p| match p {
            "" => Some(None),
            digits => digits.parse().ok().map(Some),
        });
        let mut next = || parts.next().flatten();
        let limits = RunLimits {
            steps: next()?,
            attempts_per_action: next()?,
            fallbacks: next()?,
            fallback_share_ppm: next()?,
        };
        parts.next().is_none().then_some(limits)
    }
}

/// A run's line as lua/runs.lua keeps it while the run is open: counts, limits and depth, then
/// a line per group, per action attempted and per child. None when it is not one.
pub fn parse_line(line: &str) -> Option<RunRecord> {
    let mut lines = line.split('\n');
    let head: Vec<&str> = lines.next()?.split('|').collect();
    let [steps, fallbacks, ls, la, lf, lfs, _depth] = head.as_slice() else {
        return None;
    };
    let mut run = RunRecord {
        limits: RunLimits::decode(&format!("{ls}|{la}|{lf}|{lfs}"))?,
        steps: steps.parse().ok()?,
        fallbacks: fallbacks.parse().ok()?,
        ..RunRecord::default()
    };
    for entry in lines {
        let (kind, rest) = entry.split_at_checked(1)?;
        match kind {
            "=" => {
                let mut fields = rest.rsplitn(5, '|');
                let fu = Milli(fields.next()?.parse().ok()?);
                let open = Milli(fields.next()?.parse().ok()?);
                let used = Milli(fields.next()?.parse().ok()?);
                let _budget = fields.next()?;
                let group = fields.next()?.to_string();
                run.used.insert(group.clone(), used);
                run.open.insert(group.clone(), open);
                run.fallback_spent.insert(group, fu);
            }
            "~" => {
                let (action, n) = rest.rsplit_once('|')?;
                run.attempts.insert(action.to_string(), n.parse().ok()?);
            }
            "^" => run.children.push(rest.to_string()),
            _ => return None,
        }
    }
    Some(run)
}

/// A step's whole-step denial as runs.lua codes it (R.step), 0 for none.
pub fn step_denial(code: i64) -> Option<Reason> {
    match code {
        1 => Some(Reason::RunEnded),
        2 => Some(Reason::RunStepsExhausted),
        3 => Some(Reason::ActionAttemptsExhausted),
        4 => Some(Reason::FallbackBudgetExhausted),
        5 => Some(Reason::RunTooDeep),
        _ => None,
    }
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
