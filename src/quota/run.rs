//! Runs: a budget an agent holds before it starts, from which every step draws, with its
//! limits on steps, attempts per action and fallbacks (lua/library/modules/runs.lua keeps and decides them).
//! A run is a reservation whose record keeps a run object; its id says it is one.

use std::collections::BTreeMap;

use super::amount::Milli;
use super::decision::Reason;
use super::ids::ReservationId;
use super::plan::Unit;
use super::reservation::ReservationHold;

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
    /// As a run's record and line keep them (lua/library/modules/runs.lua): "<steps>|<attempts per action>|
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

/// An open run's fields as lua/library/modules/runs.lua keeps them in the counters hash, by name: "r|<run>"
/// (steps, fallbacks, the four limits with -1 for none, depth, then per group its id, budget,
/// used, open and fallback spend), packed with cmsgpack; "r|<run>|~<action>" (attempts) and
/// "r|<run>|^" (children, a line each). None without its first field (the run has ended) or
/// when one is not as the scripts write it.
pub fn parse_fields(id: &str, fields: &[(String, Vec<u8>)]) -> Option<RunRecord> {
    let key = format!("r|{id}");
    let mut head = None;
    let mut run = RunRecord::default();
    for (name, value) in fields {
        let Some(rest) = name.strip_prefix(&key) else {
            continue;
        };
        if rest.is_empty() {
            let values = unpack(value)?;
            if values.len() < HEAD_NUMBERS || !(values.len() - HEAD_NUMBERS).is_multiple_of(GROUP_VALUES) {
                return None;
            }
            head = Some((values[0].count()?, values[1].count()?));
            for group in values[HEAD_NUMBERS..].chunks(GROUP_VALUES) {
                let Packed::Text(name) = &group[0] else {
                    return None;
                };
                run.used.insert(name.clone(), Milli(group[2].count()?));
                run.open.insert(name.clone(), Milli(group[3].count()?));
                run.fallback_spent.insert(name.clone(), Milli(group[4].count()?));
            }
        } else if let Some(action) = rest.strip_prefix("|~") {
            run.attempts
                .insert(action.to_string(), std::str::from_utf8(value).ok()?.parse().ok()?);
        } else if rest == "|^" {
            let text = std::str::from_utf8(value).ok()?;
            run.children = text.split('\n').filter(|c| !c.is_empty()).map(str::to_string).collect();
        }
    }
    let (steps, fallbacks) = head?;
    Some(RunRecord {
        steps,
        fallbacks,
        ..run
    })
}

/// A run's first field: steps, fallbacks, four limits and depth, then per group its id and
/// four amounts.
const HEAD_NUMBERS: usize = 7;
const GROUP_VALUES: usize = 5;

/// One value a cmsgpack.pack of numbers and strings wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Packed {
    Int(i64),
    Text(String),
}

impl Packed {
    /// A count or an amount: an integer, never below zero.
    fn count(&self) -> Option<u64> {
        match self {
            Packed::Int(n) => u64::try_from(*n).ok(),
            Packed::Text(_) => None,
        }
    }
}

/// The values a cmsgpack.pack of several numbers and strings wrote, one after the other
/// (MessagePack's integer forms, a whole number Lua keeps as a double being packed as one of
/// them, and its string forms). None for anything else.
fn unpack(mut bytes: &[u8]) -> Option<Vec<Packed>> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        let take = |n: usize, rest: &[u8]| -> Option<(u64, usize)> {
            let raw = rest.get(..n)?;
            Some((raw.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)), n))
        };
        let text = |len: usize, at: usize, rest: &[u8]| -> Option<(Packed, usize)> {
            let raw = rest.get(at..at + len)?;
            Some((Packed::Text(String::from_utf8(raw.to_vec()).ok()?), at + len))
        };
        let (value, used) = match tag {
            0x00..=0x7f => (Packed::Int(i64::from(tag)), 0),
            0xe0..=0xff => (Packed::Int(i64::from(tag as i8)), 0),
            0xcc..=0xcf => {
                let (v, n) = take(1 << (tag - 0xcc), rest)?;
                (Packed::Int(i64::try_from(v).ok()?), n)
            }
            0xd0..=0xd3 => {
                let n = 1 << (tag - 0xd0);
                let (v, n) = take(n, rest)?;
                // Sign-extend from n bytes.
                let shift = 64 - 8 * n as u32;
                (Packed::Int(((v << shift) as i64) >> shift), n)
            }
            0xcb => {
                let (v, n) = take(8, rest)?;
                let f = f64::from_bits(v);
                (Packed::Int(f.fract().eq(&0.0).then_some(f as i64)?), n)
            }
            0xa0..=0xbf => text(usize::from(tag & 0x1f), 0, rest)?,
            0xd9..=0xdb => {
                let (len, n) = take(1 << (tag - 0xd9), rest)?;
                text(usize::try_from(len).ok()?, n, rest)?
            }
            _ => return None,
        };
        out.push(value);
        bytes = &rest[used..];
    }
    Some(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_packed_as_cmsgpack_packs_them_read_back() {
        // 0, 127, -1, 200 (uint8), 70000 (uint32), -200 (int16), 2^40 (uint64), 5.0 (double),
        // "g" (fixstr), 40 x "a" (str8, as cmsgpack packs 32 to 255 bytes), 40 x "b" (str16).
        let mut bytes = vec![0x00, 0x7f, 0xff, 0xcc, 200, 0xce, 0, 1, 0x11, 0x70, 0xd1, 0xff, 0x38];
        bytes.extend([0xcf, 0, 0, 1, 0, 0, 0, 0, 0]);
        bytes.push(0xcb);
        bytes.extend(5.0f64.to_bits().to_be_bytes());
        bytes.extend([0xa1, b'g', 0xd9, 40]);
        bytes.extend([b'a'; 40]);
        bytes.extend([0xda, 0, 40]);
        bytes.extend([b'b'; 40]);
        let int = Packed::Int;
        assert_eq!(
            unpack(&bytes),
            Some(vec![
                int(0),
                int(127),
                int(-1),
                int(200),
                int(70_000),
                int(-200),
                int(1 << 40),
                int(5),
                Packed::Text("g".into()),
                Packed::Text("a".repeat(40)),
                Packed::Text("b".repeat(40)),
            ])
        );
        assert_eq!(unpack(&[0xcc]), None);
        assert_eq!(unpack(&[0xa2, b'x']), None);
        assert_eq!(unpack(&[0xc0]), None);
    }

    #[test]
    fn a_runs_groups_follow_its_holds_and_what_is_left_never_goes_below_zero() {
        use crate::quota::{Measure, Mode, Window};
        let hold = |group: &str, milli: u64| ReservationHold {
            group: group.to_string(),
            amount: Milli(milli),
            quota: Milli(100_000),
            mode: Mode::Hard,
            balance: None,
            unit: Unit::Count,
            measure: Measure::Quantity,
            window: Window {
                start_ms: 0,
                end_ms: None,
            },
            committed: None,
            value: None,
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

    #[test]
    fn limits_read_back_as_they_were_written() {
        let limits = RunLimits {
            steps: Some(5),
            attempts_per_action: None,
            fallbacks: Some(0),
            fallback_share_ppm: Some(250_000),
        };
        assert_eq!(limits.encode(), "5||0|250000");
        assert_eq!(RunLimits::decode(&limits.encode()), Some(limits));
        assert_eq!(RunLimits::decode("5||0"), None);
    }
}
