//! A user's ledger entries as a replay takes them: the decisions and changes they record, each
//! at the instant it happened, in time order. A hold is a reserve at the instant it was made
//! (the entry that ended it says when) and its end at its commit, release or expiry.

use serde_json::{Map, Value};

use crate::quota::{Milli, UsageEvent, UsageKind};

/// What one event asked: the inputs a plan's groups are matched and measured on.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The instant whose windows it counts in: the node's decision instant, which the ledger
    /// keeps beside its entries' Redis times (the entry's own time when it does not).
    pub at_ms: i64,
    pub event: String,
    pub metadata: Map<String, Value>,
    pub quantity: Milli,
}

/// A reserve of alternatives as its entry recorded it: each alternative's ask, in the order
/// asked, and the one the gateway held (None: it denied them all).
#[derive(Debug, Clone)]
pub struct Choice {
    pub asks: Vec<Ask>,
    pub chosen: Option<usize>,
}

/// One thing that happened to the user's quota.
#[derive(Debug, Clone)]
pub enum Act {
    /// A reserve the gateway admitted: hold `hold` (an index into the timeline's holds); a
    /// reserve of alternatives (`choice`) holds the first a plan admits.
    Reserve {
        hold: usize,
        ask: Ask,
        choice: Option<Choice>,
    },
    /// A reserve the gateway denied (a `denied` entry): replayed as a reserve of its quantity
    /// (of the first of its alternatives a plan admits), counted at once when a plan admits it.
    Denied { ask: Ask, choice: Option<Choice> },
    /// Hold `hold` committed with `ask`'s quantity and metadata (a late commit: after its end).
    Commit { hold: usize, ask: Ask },
    /// Hold `hold` went back: released, or expired.
    End { hold: usize },
    /// Usage counted without a hold; never denied.
    Track { ask: Ask },
    /// Usage set right by an operator: per group id, a per-value group's value, the start of
    /// the window it was counted in (None: lifetime) and signed milli-units.
    Adjust {
        groups: Vec<(String, Option<String>, Option<i64>, i64)>,
    },
}

/// An act at its instant; `order` keeps the ledger's order among acts of one millisecond.
#[derive(Debug, Clone)]
pub struct Timed {
    pub at_ms: i64,
    pub order: usize,
    pub act: Act,
}

/// A user's acts in time order, and how many holds they name.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub acts: Vec<Timed>,
    pub holds: usize,
}

fn ask(e: &UsageEvent, quantity: Option<Milli>) -> Ask {
    Ask {
        at_ms: e.decided_ms.unwrap_or(e.time_ms),
        event: e.event.clone().unwrap_or_default(),
        metadata: e.metadata.clone().unwrap_or_default(),
        quantity: quantity.or(e.quantity).unwrap_or(Milli::ZERO),
    }
}

/// The alternatives `e` names, each asked at the instant of `held` (the ask of the reserve it
/// recorded), the chosen one as that ask (its metadata the hold's).
fn choice(e: &UsageEvent, held: &Ask) -> Option<Choice> {
    let all = e.alternatives.as_ref()?;
    let asks = all
        .list
        .iter()
        .enumerate()
        .map(|(i, a)| match all.chosen {
            Some(chosen) if chosen == i => held.clone(),
            _ => Ask {
                at_ms: held.at_ms,
                event: a.event.clone(),
                metadata: a.metadata.clone(),
                quantity: a.quantity,
            },
        })
        .collect();
    Some(Choice {
        asks,
        chosen: all.chosen,
    })
}

impl Timeline {
    /// The acts of one user's `entries` (in ledger order). Entries that record no demand
    /// (grants, run closes) are left out. A hold whose reserve the ledger does not tell (an
    /// entry written before it was kept) is made at its end.
    pub fn of(entries: &[UsageEvent]) -> Timeline {
        let mut timeline = Timeline::default();
        // A reservation's hold by its reference: a late commit follows its expiry's entry.
        let mut by_ref: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (order, e) in entries.iter().enumerate() {
            let mut push = |at_ms: i64, act: Act| timeline.acts.push(Timed { at_ms, order, act });
            match e.kind {
                UsageKind::Commit | UsageKind::LateCommit | UsageKind::Release | UsageKind::Expiry => {
                    let reference = e.id.split_once(':').map_or(e.id.as_str(), |(_, r)| r);
                    let hold = match by_ref.get(reference) {
                        Some(&hold) => hold,
                        None => {
                            let hold = timeline.holds;
                            timeline.holds += 1;
                            by_ref.insert(reference, hold);
                            let (at_ms, act) = reserve_of(e, hold);
                            push(at_ms, act);
                            hold
                        }
                    };
                    match e.kind {
                        UsageKind::Release => push(e.time_ms, Act::End { hold }),
                        UsageKind::Expiry => push(
                            e.hold.as_ref().and_then(|h| h.until_ms).unwrap_or(e.time_ms),
                            Act::End { hold },
                        ),
                        _ => push(
                            e.time_ms,
                            Act::Commit {
                                hold,
                                ask: ask(e, None),
                            },
                        ),
                    }
                }
                // A step its run refused whole (its entry says why) would be refused by its run
                // under any plan: no demand a plan could admit.
                UsageKind::Denied if e.reason.is_some() => {}
                UsageKind::Denied => {
                    let denied = ask(e, None);
                    let choice = choice(e, &denied);
                    push(e.time_ms, Act::Denied { ask: denied, choice });
                }
                UsageKind::Track => push(e.time_ms, Act::Track { ask: ask(e, None) }),
                UsageKind::Adjustment => push(
                    e.time_ms,
                    Act::Adjust {
                        groups: e
                            .groups
                            .iter()
                            .map(|g| (g.group_id.clone(), g.value.clone(), g.period_start_ms, g.amount_milli))
                            .collect(),
                    },
                ),
                UsageKind::Grant
                | UsageKind::GrantVoid
                | UsageKind::GrantExpired
                | UsageKind::DebtSettled
                | UsageKind::RunClose
                | UsageKind::Outcome => {}
            }
        }
        // Stable: acts of one millisecond keep the ledger's order, a hold's reserve (pushed
        // with the entry that ends it) before that end.
        timeline.acts.sort_by_key(|t| (t.at_ms, t.order));
        timeline
    }
}

/// The reserve of a hold the ledger tells only by its end `e`: at its reserve's time (never
/// after its end: the ledger's clock is Redis's either way, but an old entry without the
/// reserve's time is stamped at its end), measured on the reservation's metadata, which a
/// commit's may change.
fn reserve_of(e: &UsageEvent, hold: usize) -> (i64, Act) {
    let held = e.hold.as_ref();
    let (since, reserved) = held.map_or((e.time_ms, e.quantity), |h| (h.since_ms, Some(h.reserved)));
    let end = held.and_then(|h| h.until_ms).unwrap_or(e.time_ms);
    let mut reserve = ask(e, reserved);
    if let Some(metadata) = held.and_then(|h| h.metadata.clone()) {
        reserve.metadata = metadata;
    }
    let choice = choice(e, &reserve);
    let act = Act::Reserve {
        hold,
        ask: reserve,
        choice,
    };
    (since.min(end), act)
}
