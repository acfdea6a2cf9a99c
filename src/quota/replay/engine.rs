//! One user's timeline decided under a plan, act by act, with the functions the gateway
//! prepares holds with (`hold::prepare`: matching, measures, windows with the user's anchor,
//! overrides, per-value keys) and the rule the scripts weigh holds by (`hold::denies`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::timeline::{Act, Ask, Choice, Timeline};
use crate::quota::admission::admit;
use crate::quota::hold::{denies, prepare, Hold};
use crate::quota::price::PriceBook;
use crate::quota::subscription::{Status, Subscription};
use crate::quota::value::MAX_VALUES;
use crate::quota::{EventInput, Measure, Milli, Override, Plan, PlanChange, Unit, UserId};

/// The plan a user was on from an instant on, and the instant their anchored periods count
/// from.
#[derive(Debug, Clone, Copy)]
pub struct PlanSpan<'p> {
    pub from_ms: i64,
    pub plan: &'p Plan,
    pub started_ms: i64,
}

/// Who a replay decides for: their plans over time (oldest first; the first holds from the
/// beginning) and their overrides.
#[derive(Debug, Clone)]
pub struct Subject<'p> {
    pub user: UserId,
    pub spans: Vec<PlanSpan<'p>>,
    pub overrides: BTreeMap<String, Override>,
    /// What priced groups price calls by (empty when no plan prices).
    pub prices: std::sync::Arc<PriceBook>,
}

/// A counter: its group, its window's start (0 for lifetime and in-flight groups) and a
/// per-value group's value.
pub(crate) type CounterKey = (String, i64, Option<String>);

/// Milli-units a counter counted and holds open.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub used: u64,
    pub held: u64,
}

/// What a replay decided and counted for one user, in its range.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Per decision the ledger recorded in the range, in time order: admitted or denied.
    pub recorded: Vec<bool>,
    /// Per recorded decision, in the same order: whether this replay admitted it.
    pub decisions: Vec<bool>,
    pub admitted: u64,
    pub denied: u64,
    /// Denials this replay admitted, counted at their quantity: an estimate of their usage.
    pub estimated: u64,
    /// Per group, the highest share of its quota in force the user reached, in millionths
    /// (usage; open holds for in-flight groups), as alerts judge thresholds.
    pub peak_ppm: BTreeMap<String, u64>,
    /// Milli-credits that balance groups counted, and milli-cents that groups of unit cents did.
    pub credits: u64,
    pub cents: u64,
    pub counters: BTreeMap<CounterKey, Count>,
}

/// A hold's part in one group: its counter, amount and how it counts.
#[derive(Debug, Clone)]
struct Part {
    key: CounterKey,
    /// Its window: a rolling one counts its sub-windows before this one too.
    window: crate::quota::Window,
    quota: Milli,
    amount: u64,
    measure: Measure,
    unit: Unit,
    balance: bool,
}

impl Part {
    /// `hold`'s part at `at_ms`: its quota is the user's override while it lasts, else the
    /// plan's (lua/library/modules/overrides.lua's in_force).
    fn of(hold: &Hold<'_>, at_ms: i64) -> Part {
        Part {
            key: (hold.group.to_string(), hold.window.start_ms, hold.value.clone()),
            window: hold.window,
            quota: hold
                .user_override
                .filter(|o| o.live_at(at_ms))
                .map_or(hold.quota, |o| o.quota),
            amount: hold.amount.0,
            measure: hold.measure.as_deref().cloned().unwrap_or(Measure::Quantity),
            unit: hold.unit,
            balance: hold.balance.is_some(),
        }
    }
}

struct Replay<'s, 'p> {
    subject: &'s Subject<'p>,
    span: usize,
    /// Open holds by index, and holds that went back (a late commit counts in their windows).
    holds: Vec<Option<Vec<Part>>>,
    ended: BTreeMap<usize, Vec<Part>>,
    /// Holds of alternatives this replay chose otherwise than the gateway did: what the
    /// alternative it held asked, which its commit counts (an estimate).
    swapped: BTreeMap<usize, Ask>,
    values: BTreeMap<(String, i64), BTreeSet<String>>,
    /// Whether the act replayed now is in the range: before it, acts only make the state the
    /// range starts from (decided, counted, but not reported).
    counting: bool,
    out: Outcome,
}

/// Decides `timeline` for `subject`, reporting the acts within `range` (ms). Acts before it
/// are replayed as the state the range starts from (a window's earlier usage, holds made
/// before it); acts from its end on are left out.
pub fn replay(subject: &Subject<'_>, timeline: &Timeline, range: Range<i64>) -> Outcome {
    let mut r = Replay {
        subject,
        span: 0,
        holds: vec![None; timeline.holds],
        ended: BTreeMap::new(),
        swapped: BTreeMap::new(),
        values: BTreeMap::new(),
        counting: false,
        out: Outcome::default(),
    };
    for t in &timeline.acts {
        if t.at_ms >= range.end {
            break;
        }
        r.counting = t.at_ms >= range.start;
        r.follow_plans(t.at_ms);
        match &t.act {
            Act::Reserve { hold, ask, choice } => {
                let (parts, picked) = r.reserve_first(ask, choice.as_ref());
                r.decided(true, parts.is_some());
                r.holds[*hold] = parts;
                if let (Some(choice), Some(picked)) = (choice, picked) {
                    if choice.chosen != Some(picked) {
                        r.swapped.insert(*hold, choice.asks[picked].clone());
                    }
                }
            }
            Act::Denied { ask, choice } => {
                let (parts, picked) = r.reserve_first(ask, choice.as_ref());
                r.decided(false, parts.is_some());
                if let Some(parts) = parts {
                    if r.counting {
                        r.out.estimated += 1;
                    }
                    let asked = choice.as_ref().zip(picked).map_or(ask, |(c, p)| &c.asks[p]);
                    r.commit(&parts, asked, true);
                }
            }
            Act::Commit { hold, ask } => {
                // Another alternative than the gateway's counts at what it asked.
                let ask = match r.swapped.remove(hold) {
                    Some(asked) => {
                        if r.counting {
                            r.out.estimated += 1;
                        }
                        asked
                    }
                    None => ask.clone(),
                };
                // A late commit's hold went back at its expiry; it counts all the same.
                if let Some(parts) = r.holds[*hold].take() {
                    r.commit(&parts, &ask, true);
                } else if let Some(parts) = r.ended(*hold) {
                    r.commit(&parts, &ask, false);
                }
            }
            Act::End { hold } => {
                if let Some(parts) = r.holds[*hold].take() {
                    r.give_back(&parts);
                    r.keep_ended(*hold, parts);
                }
            }
            Act::Track { ask } => r.track(ask),
            Act::Adjust { groups } => r.adjust(groups, t.at_ms),
        }
    }
    // Plan changes after the last act change counters too.
    r.follow_plans(i64::MAX);
    r.out
}

impl<'p> Replay<'_, 'p> {
    fn span(&self) -> PlanSpan<'p> {
        self.subject.spans[self.span]
    }

    fn counter(&mut self, key: &CounterKey) -> &mut Count {
        self.out.counters.entry(key.clone()).or_default()
    }

    /// Notes a decision in the range: what the ledger recorded and what this replay decided.
    fn decided(&mut self, recorded: bool, admitted: bool) {
        if !self.counting {
            return;
        }
        self.out.recorded.push(recorded);
        self.out.decisions.push(admitted);
        if admitted {
            self.out.admitted += 1;
        } else {
            self.out.denied += 1;
        }
    }

    /// Moves to the plan in force at `at_ms`, applying each new plan's plan-change rules as
    /// subscribe.lua does: reset empties its group's current period, block fills it to the quota.
    fn follow_plans(&mut self, at_ms: i64) {
        while self.span + 1 < self.subject.spans.len() && self.subject.spans[self.span + 1].from_ms <= at_ms {
            let before = self.span().plan.id.clone();
            self.span += 1;
            let span = self.span();
            if span.plan.id == before {
                continue;
            }
            for g in span
                .plan
                .groups
                .iter()
                .filter(|g| g.on_plan_change != PlanChange::Carry)
            {
                let start = g.window(span.from_ms, span.started_ms).start_ms;
                let keys: Vec<CounterKey> = match &g.per {
                    Some(_) => self
                        .values
                        .get(&(g.id.clone(), start))
                        .into_iter()
                        .flatten()
                        .map(|v| (g.id.clone(), start, Some(v.clone())))
                        .collect(),
                    None => vec![(g.id.clone(), start, None)],
                };
                for key in keys {
                    let quota = g.quota.0;
                    let count = self.counter(&key);
                    match g.on_plan_change {
                        PlanChange::Reset => count.used = 0,
                        PlanChange::Block => count.used = count.used.max(quota),
                        PlanChange::Carry => {}
                    }
                }
            }
        }
    }

    /// A reserve of `ask`, or of the first of `choice`'s alternatives every group admits (as
    /// reserve.lua weighs them, in order): its parts and which alternative, else None.
    fn reserve_first(&mut self, ask: &Ask, choice: Option<&Choice>) -> (Option<Vec<Part>>, Option<usize>) {
        let Some(choice) = choice else {
            return (self.reserve(ask), None);
        };
        for (i, asked) in choice.asks.iter().enumerate() {
            if let Some(parts) = self.reserve(asked) {
                return (Some(parts), Some(i));
            }
        }
        (None, None)
    }

    /// A reserve of `ask`: its parts when every group admits it, as the gateway
    /// would (admission, then the scripts' weighing), else None.
    fn reserve(&mut self, ask: &Ask) -> Option<Vec<Part>> {
        let (span, at_ms) = (self.span(), ask.at_ms);
        let input = self.input(ask);
        let sub = Subscription {
            status: Status::Active,
            ..Subscription::none(self.subject.user.as_str())
        };
        let plan = admit(&sub, Some(span.plan), &input).ok()?;
        // An event a measure cannot measure is refused before any decision, and one a priced
        // group has no price for is denied.
        let price = self.price(plan, &input);
        let prepared = prepare(
            plan,
            &input,
            price.as_ref(),
            span.started_ms,
            at_ms,
            &self.subject.overrides,
            true,
        )
        .ok()?;
        if prepared.unpriced.is_some() {
            return None;
        }
        let mut parts = Vec::with_capacity(prepared.holds.len());
        for hold in &prepared.holds {
            let mut part = Part::of(hold, at_ms);
            let count = self.window_count(&part);
            if denies(hold, part.quota, count.used, count.held) {
                return None;
            }
            // A hold that may clamp and does not fit whole holds what is left (holds.lua).
            let room = part.quota.0.saturating_sub(count.used + count.held);
            if hold.fit.is_some() && part.amount > room && hold.mode == crate::quota::Mode::Hard {
                part.amount = room;
            }
            if self.one_value_too_many(&part.key) {
                return None;
            }
            parts.push(part);
        }
        for part in &parts {
            self.counter(&part.key).held += part.amount;
            self.list_value(&part.key);
            self.peak(part);
        }
        Some(parts)
    }

    /// The price of an event's model, for a plan that prices (as the gateway looks it up).
    fn price(&self, plan: &Plan, input: &EventInput) -> Option<crate::quota::price::EventPrice> {
        plan.prices().then(|| self.subject.prices.of(&input.metadata)).flatten()
    }

    /// The event an act asks about.
    fn input(&self, ask: &Ask) -> EventInput {
        EventInput {
            user: self.subject.user.clone(),
            event: ask.event.clone(),
            quantity: ask.quantity,
            metadata: ask.metadata.clone(),
            step: None,
            fit: Default::default(),
            fallback: None,
        }
    }

    /// Whether `key`'s value is new to its period's list, which holds MAX_VALUES already.
    fn one_value_too_many(&self, key: &CounterKey) -> bool {
        key.2.as_ref().is_some_and(|value| {
            let listed = self.values.get(&(key.0.clone(), key.1));
            !listed.is_some_and(|l| l.contains(value)) && listed.map_or(0, BTreeSet::len) >= MAX_VALUES
        })
    }

    /// A per-value counter's value joins its group's list for the period (holds.lua's).
    fn list_value(&mut self, key: &CounterKey) {
        if let Some(value) = &key.2 {
            self.values
                .entry((key.0.clone(), key.1))
                .or_default()
                .insert(value.clone());
        }
    }

    /// Counts a hold's parts at what `ask` commits (the gateway's `Measure::committed`), giving
    /// its holds back first when they are still open.
    fn commit(&mut self, parts: &[Part], ask: &Ask, open: bool) {
        if open {
            self.give_back(parts);
        }
        for part in parts {
            if part.unit == Unit::Concurrent {
                continue;
            }
            let amount = part
                .measure
                .committed(Some(ask.quantity), Some(&ask.metadata), Milli(part.amount))
                .map_or(part.amount, |m| m.0);
            self.count(part, amount);
        }
    }

    fn count(&mut self, part: &Part, amount: u64) {
        self.counter(&part.key).used += amount;
        if !self.counting {
            return;
        }
        if part.balance {
            self.out.credits += amount;
        } else if part.unit == Unit::Cents {
            self.out.cents += amount;
        }
        self.peak(part);
    }

    fn give_back(&mut self, parts: &[Part]) {
        for part in parts {
            let count = self.counter(&part.key);
            count.held = count.held.saturating_sub(part.amount);
        }
    }

    /// Ended holds are kept apart: a late commit still counts in their windows.
    fn keep_ended(&mut self, hold: usize, parts: Vec<Part>) {
        self.ended.insert(hold, parts);
    }

    fn ended(&mut self, hold: usize) -> Option<Vec<Part>> {
        self.ended.remove(&hold)
    }

    /// A track: counted in every matched group but in-flight ones, never denied.
    fn track(&mut self, ask: &Ask) {
        let (span, at_ms) = (self.span(), ask.at_ms);
        let input = self.input(ask);
        let price = self.price(span.plan, &input);
        let Ok(prepared) = prepare(
            span.plan,
            &input,
            price.as_ref(),
            span.started_ms,
            at_ms,
            &self.subject.overrides,
            false,
        ) else {
            return;
        };
        for hold in &prepared.holds {
            let mut part = Part::of(hold, at_ms);
            // A value past the period's MAX_VALUES counts in the group's own counter, "other
            // values" (lua/library/functions/track.lua), and joins no list.
            if self.one_value_too_many(&part.key) {
                part.key.2 = None;
            }
            self.list_value(&part.key);
            self.count(&part, part.amount);
        }
    }

    /// An adjustment of groups the plan has. The gateway counted it in the window of its
    /// node's instant, which the entry does not keep but the window's start it names tells: that
    /// window when it is one of the group's and the entry's time is at most a node's accepted
    /// skew (2 s) from it, else the group's window at the entry's time.
    fn adjust(&mut self, groups: &[(String, Option<String>, Option<i64>, i64)], at_ms: i64) {
        const SKEW_MS: i64 = 2_000;
        let span = self.span();
        for (id, value, start, amount) in groups {
            let Some(g) = span.plan.groups.iter().find(|g| &g.id == id) else {
                continue;
            };
            let window = |ms: i64| g.window(ms, span.started_ms).start_ms;
            let start = match start {
                Some(s) if [window(at_ms - SKEW_MS), window(at_ms + SKEW_MS)].contains(s) => *s,
                _ => window(at_ms),
            };
            let count = self.counter(&(id.clone(), start, value.clone()));
            count.used = count.used.saturating_add_signed(*amount);
        }
    }

    /// What a part's window counts: its counter's, or a rolling window's sub-windows' added up
    /// (lua/library/modules/rolling.lua).
    fn window_count(&self, part: &Part) -> Count {
        let (group, _, value) = &part.key;
        match part.window.buckets {
            0 => self.out.counters.get(&part.key).copied().unwrap_or_default(),
            _ => part
                .window
                .counted()
                .iter()
                .filter_map(|(sub, _)| self.out.counters.get(&(group.clone(), sub.start_ms, value.clone())))
                .fold(Count::default(), |sum, c| Count {
                    used: sum.used + c.used,
                    held: sum.held + c.held,
                }),
        }
    }

    /// Notes a part's counter's share of its quota (a rolling window's, its window's).
    fn peak(&mut self, part: &Part) {
        if !self.counting || part.quota.0 == 0 || part.balance {
            return;
        }
        let count = self.window_count(part);
        let level = if part.unit == Unit::Concurrent {
            count.held
        } else {
            count.used
        };
        let ppm = (u128::from(level) * 1_000_000 / u128::from(part.quota.0)) as u64;
        let peak = self.out.peak_ppm.entry(part.key.0.clone()).or_default();
        *peak = (*peak).max(ppm);
    }
}
