//! Holds: what one event asks of each limit group it matches, in the group's current window,
//! and the decision read back from the counters. Pure: the caller brings the time.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::amount::Milli;
use super::approval::approval_id;
use super::counter::{Amounts, Counter};
use super::credit::Balance;
use super::decision::{Decision, Denial, Granted, Reason};
use super::event::EventInput;
use super::fit::{self, Fit, Fitted};
use super::measure::{Measure, MeasureError};
use super::period::Window;
use super::plan::{LimitGroup, Mode, Plan, Unit};
use super::price::EventPrice;
use super::run::RunProgress;
use super::subscription::Override;
use super::value::{value_key, value_of};

/// One group's part of an event: its window, the amount its measure gives, its quota.
#[derive(Debug, Clone)]
pub(crate) struct Hold<'p> {
    pub group: &'p str,
    pub window: Window,
    pub amount: Milli,
    pub quota: Milli,
    pub mode: Mode,
    /// A balance group's balance: the hold is decided by the subject's grants.
    pub balance: Option<&'p Balance>,
    /// In-flight (concurrent) holds count no usage: commit and release both give them back.
    pub unit: Unit,
    /// None for the default measure (the quantity), which records leave out; a priced
    /// group's the price it was resolved to for this event.
    pub measure: Option<Cow<'p, Measure>>,
    /// Alert thresholds as the scripts take them ("80,100").
    pub alerts: &'p str,
    /// The user's override of `quota`, from the subscription whose version the script checks,
    /// which judges its expiry by Redis time.
    pub user_override: Option<Override>,
    /// An approval group's request id for this subject and window (`Prepared::name_approvals`):
    /// reserve opens it on the first denial, and a denial while it is pending names it.
    pub approval: Option<String>,
    /// A per-value group's value of the event (`value.rs`): the hold's counter is that value's.
    pub value: Option<String>,
    /// A hold that may clamp (`fit.rs`): the least amount it may take, the least of the
    /// event's elastic part that amount stands for, and what any amount it holds covers.
    pub fit: Option<Fit>,
    /// An ancestor's group held on the member's slice of it (leases), in the member's reserve.
    pub slice: Option<SliceHold<'p>>,
}

/// A hold of an ancestor's group on the member's slice of it (lua/library/modules/slices.lua):
/// whose group, the subscription version it decided with, and the lease this reserve hands
/// over to be placed, if any.
#[derive(Debug, Clone)]
pub(crate) struct SliceHold<'p> {
    pub ancestor: &'p super::UserId,
    pub version: u64,
    pub place: Option<&'p Placement>,
}

/// A lease a reserve places on its slice: what its ancestor leased (take_slice) and the intent
/// the short reserve wrote for it.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub lease: String,
    pub amount: Milli,
    pub ends_ms: i64,
    pub intent: String,
    /// The ancestor's counter after the take, which decisions on the slice show.
    pub seen: super::Amounts,
    /// The outbox entry of the statement the take applied ("" for none): settled, so the
    /// reserve removes it.
    pub stated: String,
}

impl<'p> Hold<'p> {
    /// A hold of `amount` on `group` in `window`, measured by the group's own measure.
    pub(crate) fn new(group: &'p LimitGroup, window: Window, amount: Milli) -> Hold<'p> {
        Hold::measured(group, Cow::Borrowed(&group.measure), window, amount)
    }

    /// A hold of `amount` on `group` in `window`, measured by `measure` (the group's, or its
    /// matching rule's), which the record keeps for the commit.
    pub(crate) fn measured(
        group: &'p LimitGroup,
        measure: Cow<'p, Measure>,
        window: Window,
        amount: Milli,
    ) -> Hold<'p> {
        Hold {
            group: &group.id,
            window,
            amount,
            quota: group.quota,
            mode: group.mode,
            balance: group.balance.as_ref(),
            unit: group.unit,
            alerts: &group.alerts_arg,
            measure: match measure.as_ref() {
                Measure::Quantity => None,
                _ => Some(measure),
            },
            user_override: None,
            approval: None,
            value: None,
            fit: None,
            slice: None,
        }
    }
}

/// Whether `hold` is denied on a counter that has `used` and `held` with `quota` in force, as
/// the scripts weigh it (lua/library/modules/holds.lua's weigh): a hard group (or an approval group) denies
/// when its quota is 0 or used, held and the amount pass it; a soft group never. A balance
/// group is its wallet's to decide, which a replay does not keep: never denied here.
pub(crate) fn denies(hold: &Hold<'_>, quota: Milli, used: u64, held: u64) -> bool {
    if hold.mode == Mode::Soft || hold.balance.is_some() {
        return false;
    }
    let count = u128::from(used) + u128::from(held);
    let fits = count + u128::from(hold.amount.0) <= u128::from(quota.0);
    // A hold that may clamp takes what is left when that is at least its least.
    let clamps = hold
        .fit
        .as_ref()
        .is_some_and(|fit| u128::from(quota.0).saturating_sub(count) >= u128::from(fit.least.0));
    quota.0 == 0 || !(fits || clamps)
}

/// The matched groups of one event, in plan order, with their holds.
pub(crate) struct Prepared<'p> {
    pub groups: Vec<&'p LimitGroup>,
    pub holds: Vec<Hold<'p>>,
    /// A priced group the event's model has no price for, which denies it before any script.
    pub unpriced: Option<&'p str>,
}

/// What reserve or check read back: allowed or not, and per hold its counter after the
/// decision and whether it would pass its quota.
pub(crate) struct Verdict {
    pub allowed: bool,
    pub holds: Vec<(Amounts, bool)>,
    // The per-hold lists below end at their last hold with something to say (a hold past the
    // end: false or None), so an answer with nothing to say makes none of them.
    /// Per hold, whether it denied as an approval group whose request is pending.
    pub pending: Vec<bool>,
    /// Per hold, whether it denied as a per-value group with no room for one more value.
    pub full: Vec<bool>,
    /// Per hold, the reason its verdict code names when the code alone tells it: a step's hold
    /// drawn from its run (what its run denied it with), or a group whose capacity leased to
    /// members' slices is what it lacks.
    pub coded: Vec<Option<Reason>>,
    /// A step's answer of its run.
    pub step: Option<StepAnswer>,
    /// Per hold, what it holds when it clamped (did not fit whole and took what was left).
    pub clamped: Vec<Option<Milli>>,
}

impl Verdict {
    /// The verdict of the holds from `at` on, which this one no longer has; a step's answer
    /// stays with the holds before.
    pub(crate) fn split_off(&mut self, at: usize) -> Verdict {
        let at = at.min(self.holds.len());
        Verdict {
            allowed: self.allowed,
            holds: self.holds.split_off(at),
            pending: self.pending.split_off(at.min(self.pending.len())),
            full: self.full.split_off(at.min(self.full.len())),
            coded: self.coded.split_off(at.min(self.coded.len())),
            step: None,
            clamped: self.clamped.split_off(at.min(self.clamped.len())),
        }
    }
}

/// What a step's script answered of its run: a denial of the whole step, the run's steps and
/// fallbacks so far, and per hold what the run has left of its group (None: not the run's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepAnswer {
    pub denial: Option<Reason>,
    pub steps: u64,
    pub fallbacks: u64,
    pub remaining: Vec<Option<Milli>>,
}

/// The matched groups' holds at `now_ms`, with the user's `overrides` and the price of the
/// event's model (looked up only for a plan that prices); `in_flight` false leaves out
/// concurrent groups (track ignores them).
pub(crate) fn prepare<'p>(
    plan: &'p Plan,
    input: &EventInput,
    price: Option<&EventPrice>,
    started_ms: i64,
    now_ms: i64,
    overrides: &BTreeMap<String, Override>,
    in_flight: bool,
) -> Result<Prepared<'p>, MeasureError> {
    let groups: Vec<&LimitGroup> = plan
        .matched_groups(&input.event, &input.metadata)
        .filter(|g| in_flight || g.unit != Unit::Concurrent)
        .collect();
    let mut holds = Vec::with_capacity(groups.len());
    let mut unpriced = None;
    for g in groups.iter().copied() {
        let Some(measure) = g.measure_for(&input.event, &input.metadata).resolve(price)? else {
            unpriced.get_or_insert(g.id.as_str());
            continue;
        };
        let amount = measure.amount(input.quantity, &input.metadata)?;
        let fit = fit_of(g, &measure, input, amount);
        let mut hold = Hold::measured(g, measure, g.window(now_ms, started_ms), amount);
        hold.fit = fit;
        hold.user_override = overrides.get(&g.id).copied();
        if let Some(key) = &g.per {
            let value = value_of(key, &g.id, &input.metadata)?;
            // An override of this value comes before the group's.
            if let Some(o) = overrides.get(&value_key(&g.id, &value)) {
                hold.user_override = Some(*o);
            }
            hold.value = Some(value);
        }
        holds.push(hold);
    }
    if unpriced.is_some() {
        // Denied before any counter: no hold is asked of a script.
        return Ok(Prepared {
            groups: Vec::new(),
            holds: Vec::new(),
            unpriced,
        });
    }
    Ok(Prepared {
        groups,
        holds,
        unpriced: None,
    })
}

/// Whether `group`'s hold of `amount` may clamp for this event, and how far: the reserve's
/// `fit` wins over the group's, and only a hard group that counts usage clamps.
fn fit_of(group: &LimitGroup, measure: &Measure, input: &EventInput, amount: Milli) -> Option<Fit> {
    if group.mode != Mode::Hard || group.balance.is_some() || group.unit == Unit::Concurrent {
        return None;
    }
    let min = match input.fit.clamp {
        Some(false) => return None,
        Some(true) => input.fit.min.or(group.fit).unwrap_or(Milli::from_units(1)),
        None => input.fit.min.or(Some(group.fit?))?,
    };
    fit::fit(measure, input, min, amount)
}

/// The hold of an adjustment of `group` in its current window at `now_ms`, with the user's
/// `overrides` as an event's holds have them. The amount is the adjustment's, given rather
/// than measured, so the hold carries no measure and holds nothing itself.
pub(crate) fn prepare_adjustment<'p>(
    group: &'p LimitGroup,
    started_ms: i64,
    now_ms: i64,
    overrides: &BTreeMap<String, Override>,
) -> Prepared<'p> {
    let mut hold = Hold::new(group, group.window(now_ms, started_ms), Milli::ZERO);
    hold.measure = None;
    hold.user_override = overrides.get(&group.id).copied();
    Prepared {
        groups: vec![group],
        holds: vec![hold],
        unpriced: None,
    }
}

impl Prepared<'_> {
    /// Names the approval request of each approval group's hold: `subject`'s, in `project`.
    pub(crate) fn name_approvals(&mut self, project: &str, subject: &str) {
        for hold in &mut self.holds {
            if hold.mode == Mode::Approval {
                hold.approval = Some(approval_id(
                    project,
                    subject,
                    hold.group,
                    hold.value.as_deref(),
                    hold.window.start_ms,
                ));
            }
        }
    }

    /// Leaves every threshold out: the scripts then decide no alert.
    pub(crate) fn mute_alerts(&mut self) {
        for hold in &mut self.holds {
            hold.alerts = "";
        }
    }

    /// The counters of the matched groups from the amounts a script read.
    pub(crate) fn counters<'v>(&self, amounts: impl IntoIterator<Item = &'v Amounts>) -> Vec<Counter> {
        self.groups
            .iter()
            .zip(&self.holds)
            .zip(amounts)
            .map(|((g, h), a)| Counter::of(g, h.window, a).of_value(h.value.as_deref()))
            .collect()
    }

    /// The decision of reserve or check, made at `now_ms`.
    pub(crate) fn decision(&self, verdict: &Verdict, granted: Option<Granted>, now_ms: i64) -> Decision {
        let denied_by: Vec<Denial> = self
            .groups
            .iter()
            .zip(&self.holds)
            .zip(&verdict.holds)
            .enumerate()
            .filter(|(_, (_, (_, denied)))| *denied)
            .map(|(i, ((g, h), _))| {
                let pending = verdict.pending.get(i).copied().unwrap_or(false);
                Denial {
                    subject: None,
                    group: Some(g.id.clone()),
                    reason: if let Some(Some(coded)) = verdict.coded.get(i) {
                        *coded
                    } else if g.balance.is_some() {
                        Reason::InsufficientBalance
                    } else if verdict.full.get(i).copied().unwrap_or(false) {
                        Reason::TooManyValues
                    } else if pending {
                        Reason::ApprovalPending
                    } else {
                        Reason::LimitReached
                    },
                    approval_id: h.approval.clone().filter(|_| pending),
                    model: None,
                    retry_at_ms: None,
                    asked: Some(h.amount),
                }
            })
            .collect();
        let mut denied_by = denied_by;
        // A step denied whole by its run (its steps, attempts, fallbacks, or its end).
        if let Some(reason) = verdict.step.as_ref().and_then(|s| s.denial) {
            denied_by.insert(
                0,
                Denial {
                    subject: None,
                    group: None,
                    reason,
                    approval_id: None,
                    model: None,
                    retry_at_ms: None,
                    asked: None,
                },
            );
        }
        let mut reasons: Vec<Reason> = Vec::new();
        for d in &denied_by {
            if !reasons.contains(&d.reason) {
                reasons.push(d.reason);
            }
        }
        let granted = granted.filter(|_| verdict.allowed).map(|g| Granted {
            held: self
                .holds
                .iter()
                .zip(verdict.clamped.iter().chain(std::iter::repeat(&None)))
                .map(|(h, clamped)| clamped.unwrap_or(h.amount))
                .collect(),
            ..g
        });
        Decision {
            allowed: verdict.allowed,
            granted,
            reasons: match verdict.allowed {
                true => Vec::new(),
                false if reasons.is_empty() => vec![Reason::LimitReached],
                false => reasons,
            },
            denied_by,
            counters: self.counters(verdict.holds.iter().map(|(a, _)| a)),
            decided_at_ms: now_ms,
            run: None,
            fitted: None,
        }
    }

    /// What `input` was granted when some of its holds clamped (`verdict.clamped`), else None.
    pub(crate) fn fitted(&self, input: &EventInput, verdict: &Verdict) -> Option<Fitted> {
        let clamped: Vec<(&Fit, Milli)> = self
            .holds
            .iter()
            .zip(&verdict.clamped)
            .filter_map(|(h, c)| Some((h.fit.as_ref()?, (*c)?)))
            .collect();
        if clamped.is_empty() || !verdict.allowed {
            return None;
        }
        let min = clamped
            .iter()
            .map(|(fit, _)| fit.min)
            .max()
            .unwrap_or(Milli::from_units(1));
        Some(fit::fitted(
            input,
            min,
            clamped.iter().map(|(fit, held)| (&fit.curve, *held)),
        ))
    }

    /// What a step's answer says of run `run_id`: per group the run holds, what it has left.
    pub(crate) fn run_progress(&self, answer: &StepAnswer, run_id: &str) -> RunProgress {
        RunProgress {
            run_id: run_id.to_string(),
            remaining: self
                .groups
                .iter()
                .zip(&answer.remaining)
                .filter_map(|(g, left)| left.map(|left| (g.id.clone(), left)))
                .collect(),
            steps: answer.steps,
            fallbacks: answer.fallbacks,
        }
    }
}
