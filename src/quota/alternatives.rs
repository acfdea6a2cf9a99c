//! Alternatives: a reserve naming up to `MAX_ALTERNATIVES` events in the order an app prefers
//! them (Model A, then Model B), of which the first that every matched group admits is held.
//! What its answer says (the index chosen, why each alternative before it was denied) and what
//! the ledger keeps of it. Pure: the scripts decide, this only assembles.

use serde_json::{Map, Value};

use super::amount::Milli;
use super::counter::Counter;
use super::decision::{Decision, Reason};

/// The most alternatives one reserve may name.
pub(crate) const MAX_ALTERNATIVES: usize = 8;

/// What a reserve of alternatives decided.
#[derive(Debug, Clone)]
pub struct FirstFit {
    /// The held alternative's decision; when none fit, the denial of them all (`denied`).
    pub decision: Decision,
    /// The held alternative's index, as asked; None when every one was denied.
    pub chosen: Option<usize>,
    /// Each alternative denied before the chosen one (every one, when none was chosen), in the
    /// order asked: its index and its denial, as a reserve of it alone would have said it.
    pub passed: Vec<(usize, Decision)>,
}

impl FirstFit {
    /// Alternative `chosen` held, with `decision`, after those `passed`.
    pub fn held(decision: Decision, chosen: usize, passed: Vec<(usize, Decision)>) -> FirstFit {
        FirstFit {
            decision,
            chosen: Some(chosen),
            passed,
        }
    }

    /// No alternative fit: the denial says every alternative's reasons and groups, in the
    /// order asked, and their counters, each once (alternatives that match one group share its
    /// counter); it was decided when the last one was.
    pub fn denied(passed: Vec<(usize, Decision)>) -> FirstFit {
        let mut all = Decision::denied(Reason::LimitReached, 0);
        all.reasons.clear();
        for (_, d) in &passed {
            for reason in &d.reasons {
                if !all.reasons.contains(reason) {
                    all.reasons.push(*reason);
                }
            }
            all.denied_by.extend(d.denied_by.iter().cloned());
            for c in &d.counters {
                if !all.counters.iter().any(|seen| same_counter(seen, c)) {
                    all.counters.push(c.clone());
                }
            }
            all.decided_at_ms = all.decided_at_ms.max(d.decided_at_ms);
        }
        if all.reasons.is_empty() {
            all.reasons.push(Reason::LimitReached);
        }
        FirstFit {
            decision: all,
            chosen: None,
            passed,
        }
    }
}

/// Whether two counters are one: the same subject's group, and value of a per-value group.
fn same_counter(a: &Counter, b: &Counter) -> bool {
    a.subject == b.subject && a.group_id == b.group_id && a.value == b.value
}

/// The alternatives a ledger entry's reservation was held among (or a denied entry's call
/// asked for), as its record kept them.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternatives {
    /// Every alternative, in the order asked.
    pub list: Vec<Alternative>,
    /// The held one's index; None on a denial of them all.
    pub chosen: Option<usize>,
}

/// One alternative as the ledger keeps it: what it asked, and why it was denied when it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub event: String,
    pub quantity: Milli,
    pub metadata: Map<String, Value>,
    /// Its denial, by group ("" for a denial of no group: a blocked user, a step's run) and
    /// reason code as a reserve's answer names it; empty for the chosen one, and for those after
    /// it, which were not weighed.
    pub denials: Vec<(String, String)>,
}

impl Alternatives {
    /// Those the ledger entry's reservation was denied by before the chosen one, with reasons.
    pub fn denied(&self) -> impl Iterator<Item = (usize, &Alternative)> {
        self.list.iter().enumerate().filter(|(_, a)| !a.denials.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::decision::Denial;
    use crate::quota::plan_kinds::{Mode, Unit};

    fn denial(group: &str, reason: Reason, at: i64) -> Decision {
        let mut d = Decision::denied(reason, at);
        d.denied_by.push(Denial {
            subject: None,
            group: Some(group.to_string()),
            reason,
            approval_id: None,
            model: None,
            retry_at_ms: None,
            asked: None,
        });
        d.counters.push(Counter {
            subject: None,
            group_id: group.to_string(),
            label: String::new(),
            unit: Unit::Count,
            mode: Mode::Hard,
            quota: Milli::from_units(1),
            used: Milli::from_units(1),
            reserved: Milli::ZERO,
            leased: Milli::ZERO,
            period_start_ms: None,
            resets_at_ms: None,
            credit: None,
            value: None,
            outcomes: Default::default(),
            rolling_ms: None,
            fallback_used: Milli::ZERO,
        });
        d
    }

    #[test]
    fn a_denial_of_all_says_every_reason_and_group_in_order_and_each_counter_once() {
        let passed = vec![
            (0, denial("gpt-4o", Reason::LimitReached, 5)),
            (1, denial("credits", Reason::InsufficientBalance, 7)),
            (2, denial("gpt-4o", Reason::LimitReached, 6)),
        ];
        let all = FirstFit::denied(passed);
        assert_eq!(all.chosen, None);
        let d = &all.decision;
        assert!(!d.allowed && d.granted.is_none());
        assert_eq!(d.reasons, [Reason::LimitReached, Reason::InsufficientBalance]);
        let groups: Vec<_> = d.denied_by.iter().filter_map(|x| x.group.as_deref()).collect();
        assert_eq!(groups, ["gpt-4o", "credits", "gpt-4o"]);
        let counters: Vec<_> = d.counters.iter().map(|c| c.group_id.as_str()).collect();
        assert_eq!(counters, ["gpt-4o", "credits"]);
        assert_eq!(d.decided_at_ms, 7);
        assert_eq!(all.passed.len(), 3);
    }
}
