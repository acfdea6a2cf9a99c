//! A reservation as it was recorded: its state and, per hold, the group, window, amount and
//! measure it was made under, so commit and release never depend on the plan as it is now.

use std::collections::BTreeMap;

use super::amount::Milli;
use super::counter::{Amounts, Counter};
use super::measure::Measure;
use super::period::Window;
use super::plan::Plan;
use super::plan_kinds::{Mode, Unit};
use super::run::{RunGroup, RunRecord, StepKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationState {
    Held,
    Committed,
    Released,
    Expired,
}

impl ReservationState {
    /// The state as records and answers spell it; None for anything else.
    pub fn parse(text: &str) -> Option<ReservationState> {
        match text {
            "held" => Some(ReservationState::Held),
            "committed" => Some(ReservationState::Committed),
            "released" => Some(ReservationState::Released),
            "expired" => Some(ReservationState::Expired),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Committed => "committed",
            ReservationState::Released => "released",
            ReservationState::Expired => "expired",
        }
    }
}

/// A state equals its spelling, so answers and tests can compare it with the wire text.
impl PartialEq<&str> for ReservationState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub state: ReservationState,
    pub event: String,
    pub expires_ms: i64,
    /// What it was reserved for: the event's quantity and metadata (None in records written
    /// before they were kept).
    pub quantity: Option<Milli>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub holds: Vec<ReservationHold>,
    /// The next level up whose record holds this reservation's holds there (same id), if any.
    pub parent: Option<String>,
    /// Created and ended ms (records keep both; None in hand-made ones).
    pub created_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    /// A step's (or child run's) run, action and kind.
    pub step: Option<StepOf>,
    /// A run's own part: what its steps used and hold, and its counts.
    pub run: Option<RunRecord>,
}

/// The run a step's record names, with its action ("" for none) and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOf {
    pub run: String,
    pub action: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationHold {
    pub group: String,
    pub amount: Milli,
    /// The group's quota when reserved.
    pub quota: Milli,
    pub mode: Mode,
    /// A balance group's balance: the hold held credits too.
    pub balance: Option<String>,
    pub unit: Unit,
    pub measure: Measure,
    pub window: Window,
    /// What the commit counted, once committed.
    pub committed: Option<Milli>,
    /// A per-value group's hold: the value whose counter it holds.
    pub value: Option<String>,
    /// A hold of an ancestor's group on the member's slice of it (leases): the ancestor.
    pub ancestor: Option<String>,
}

impl Reservation {
    /// A copy of it but for its metadata (None), for readers of its holds: the metadata is the
    /// largest part of a record, and the holds' readers never read it.
    pub fn holds_copy(&self) -> Reservation {
        Reservation {
            state: self.state,
            event: self.event.clone(),
            expires_ms: self.expires_ms,
            quantity: self.quantity,
            metadata: None,
            holds: self.holds.clone(),
            parent: self.parent.clone(),
            created_ms: self.created_ms,
            ended_ms: self.ended_ms,
            step: self.step.clone(),
            run: self.run.clone(),
        }
    }

    /// The state as a reader sees it at `now_ms`: a held reservation past its expiry is
    /// expired, whether or not a script reclaimed it yet.
    pub fn state_at(&self, now_ms: i64) -> ReservationState {
        match self.state {
            ReservationState::Held if self.expires_ms <= now_ms => ReservationState::Expired,
            state => state,
        }
    }

    /// The counters of its holds from the amounts a script read; labels, units and modes come
    /// from `plan` when it still has the group, from the record otherwise.
    pub fn counters(&self, plan: Option<&Plan>, amounts: &[Amounts]) -> Vec<Counter> {
        self.holds
            .iter()
            .zip(amounts)
            .map(|(hold, a)| {
                // (An ancestor's group is labelled by the record: `plan` is the member's.)
                let group = plan
                    .filter(|_| hold.ancestor.is_none())
                    .and_then(|p| p.groups.iter().find(|g| g.id == hold.group));
                Counter {
                    subject: hold.ancestor.clone(),
                    group_id: hold.group.clone(),
                    label: group.map_or_else(|| hold.group.clone(), |g| g.label.clone()),
                    unit: group.map_or(hold.unit, |g| g.unit),
                    mode: hold.mode,
                    quota: a.quota,
                    used: a.used,
                    reserved: a.credit.filter(|_| hold.balance.is_some()).map_or(a.held, |c| c.held),
                    leased: Milli::ZERO,
                    period_start_ms: hold.window.end_ms.map(|_| hold.window.start_ms),
                    resets_at_ms: hold.window.end_ms,
                    credit: hold.balance.clone().zip(a.credit),
                    value: hold.value.clone(),
                    outcomes: Default::default(),
                    rolling_ms: None,
                    fallback_used: Milli::ZERO,
                }
            })
            .collect()
    }
}

impl RunRecord {
    /// Per group the run holds (`holds`, its record's, in their order): its budget and what
    /// became of it.
    pub fn groups(&self, holds: &[ReservationHold]) -> Vec<RunGroup> {
        let get = |map: &BTreeMap<String, Milli>, g: &str| map.get(g).copied().unwrap_or(Milli::ZERO);
        holds
            .iter()
            .map(|h| RunGroup {
                group: h.group.clone(),
                unit: h.unit,
                budget: h.amount,
                used: get(&self.used, &h.group),
                open: get(&self.open, &h.group),
                fallback_spent: get(&self.fallback_spent, &h.group),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_groups_follow_its_holds_and_what_is_left_never_goes_below_zero() {
        let hold = |group: &str, milli: u64| ReservationHold {
            group: group.to_string(),
            amount: Milli(milli),
            quota: Milli(100_000),
            mode: Mode::Hard,
            balance: None,
            unit: Unit::Count,
            measure: Measure::Quantity,
            window: Window::fixed(0, None),
            committed: None,
            value: None,
            ancestor: None,
        };
        let run = RunRecord {
            used: BTreeMap::from([
                ("calls".to_string(), Milli(6_000)),
                ("tokens".to_string(), Milli(9_000)),
            ]),
            open: BTreeMap::from([("tokens".to_string(), Milli(2_000))]),
            fallback_spent: BTreeMap::from([("calls".to_string(), Milli(3_000))]),
            ..RunRecord::default()
        };
        let groups = run.groups(&[hold("tokens", 10_000), hold("calls", 10_000), hold("idle", 5_000)]);
        let shown: Vec<(&str, u64, u64, u64, u64, u64)> = groups
            .iter()
            .map(|g| {
                let remaining = g.remaining().0;
                (
                    g.group.as_str(),
                    g.budget.0,
                    g.used.0,
                    g.open.0,
                    remaining,
                    g.fallback_spent.0,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                // A commit above its hold can take a group past its budget: nothing is left.
                ("tokens", 10_000, 9_000, 2_000, 0, 0),
                ("calls", 10_000, 6_000, 0, 4_000, 3_000),
                ("idle", 5_000, 0, 0, 5_000, 0),
            ]
        );
    }
}
