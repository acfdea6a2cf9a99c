//! The closed choices of a plan: units, modes, plan-change rules, what unmatched events do,
//! each read from its document's word here (a wrong word is a problem, and the default stands);
//! and what a plan's groups inherit from it (`Inherited`).

use super::period::Period;
use super::plan_check::{GroupCheck, Problems};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Tokens,
    Seconds,
    Cents,
    /// In-flight work: only open reservations count; commit and release both give the slot back.
    Concurrent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Hard,
    Soft,
    /// Denies as hard; its first denial in a period opens an approval request (approval.rs).
    Approval,
}

/// What happens to a group's current period when a user who had another plan moves to this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanChange {
    /// Keep counting in the same counter (same group id, same period).
    Carry,
    /// The current period's usage starts from zero; open holds stay.
    Reset,
    /// The current period is filled to the quota: no fresh quota for plan cycling.
    Block,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmatched {
    Allow,
    Deny,
}

impl Unit {
    pub fn parse(text: &str) -> Option<Unit> {
        [Unit::Count, Unit::Tokens, Unit::Seconds, Unit::Cents, Unit::Concurrent]
            .into_iter()
            .find(|u| u.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Tokens => "tokens",
            Unit::Seconds => "seconds",
            Unit::Cents => "cents",
            Unit::Concurrent => "concurrent",
        }
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hard => "hard",
            Mode::Soft => "soft",
            Mode::Approval => "approval",
        }
    }
}

/// How often a budget's owner reviews it (`reviewEvery`): said on alerts and approval
/// requests, so a receiver knows when the limit will next be looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    Day,
    Week,
    Month,
}

impl Review {
    pub fn parse(text: &str) -> Option<Review> {
        [Review::Day, Review::Week, Review::Month]
            .into_iter()
            .find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Review::Day => "day",
            Review::Week => "week",
            Review::Month => "month",
        }
    }
}

impl Unmatched {
    /// The plan's `unmatched`: allow, by default.
    pub(super) fn of_plan(text: Option<&str>, problems: &mut Problems) -> Unmatched {
        match text {
            None | Some("allow") => Unmatched::Allow,
            Some("deny") => Unmatched::Deny,
            Some(_) => {
                problems.add("unmatched", "must be \"allow\" or \"deny\"");
                Unmatched::Allow
            }
        }
    }
}

impl Unit {
    /// A group's `unit`, `count` when absent (which only a balance group may leave it:
    /// `Balance::of_group`); a balance's credits are never in-flight work.
    pub(super) fn of_group(check: &mut GroupCheck, balance: bool) -> Unit {
        match check.doc.unit.as_deref().map(Unit::parse) {
            None => Unit::Count,
            Some(Some(Unit::Concurrent)) if balance => {
                check.problem("unit", "must not be concurrent on a balance group");
                Unit::Count
            }
            Some(Some(unit)) => unit,
            Some(None) => {
                check.problem("unit", "must be one of count, tokens, seconds, cents, concurrent");
                Unit::Count
            }
        }
    }
}

impl Mode {
    /// A group's `mode`: hard by default; never an approval on a balance group.
    pub(super) fn of_group(check: &mut GroupCheck, balance: bool) -> Mode {
        match check.doc.mode.as_deref() {
            None | Some("hard") => Mode::Hard,
            Some("soft") => Mode::Soft,
            // A balance's grants are raised by granting, not by an approval.
            Some("approval") if balance => {
                check.problem("mode", "must not be \"approval\" on a balance group");
                Mode::Hard
            }
            Some("approval") => Mode::Approval,
            Some(_) => {
                check.problem("mode", "must be \"hard\", \"soft\" or \"approval\"");
                Mode::Hard
            }
        }
    }
}

impl PlanChange {
    /// A group's `onPlanChange`: carry, by default.
    pub(super) fn of_group(check: &mut GroupCheck) -> PlanChange {
        match check.doc.on_plan_change.as_deref() {
            None | Some("carry") => PlanChange::Carry,
            Some("reset") => PlanChange::Reset,
            Some("block") => PlanChange::Block,
            Some(_) => {
                check.problem("onPlanChange", "must be one of carry, reset, block");
                PlanChange::Carry
            }
        }
    }
}

/// What a plan's groups take from the plan when they say nothing of their own.
pub(super) struct Inherited {
    /// The plan's default period.
    pub(super) period: Period,
    /// Whether the plan names a `periodType` (a wrong one too; a rolling one is refused and
    /// counts as none): without one, each group must name its own.
    pub(super) period_named: bool,
    pub(super) alerts: Vec<u16>,
    pub(super) owner: Option<String>,
    pub(super) review: Option<Review>,
}
