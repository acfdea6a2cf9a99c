//! A counter: one limit group's usage in its current window, as every data-plane answer shows it.

use super::amount::Milli;
use super::credit::Credit;
use super::outcomes::Outcomes;
use super::period::Window;
use super::plan::LimitGroup;
use super::plan_kinds::{Mode, Unit};

/// A counter as a script read it, in milli-units: used, held, and the quota in force; and a
/// balance group's balance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    pub used: Milli,
    /// Open holds, and on a team's group what it has leased to members' slices.
    pub held: Milli,
    pub quota: Milli,
    /// Of `held`, what is leased to members' slices (read by usage only; zero elsewhere).
    pub leased: Milli,
    pub credit: Option<Credit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Whose counter it is: None for the subject the call was about, else the parent's id.
    pub subject: Option<String>,
    pub group_id: String,
    pub label: String,
    pub unit: Unit,
    pub mode: Mode,
    pub quota: Milli,
    pub used: Milli,
    pub reserved: Milli,
    /// A team's group: capacity leased to its members' slices that they have neither used nor
    /// hold (usage's; zero in every other answer, whose `reserved` counts it).
    pub leased: Milli,
    pub period_start_ms: Option<i64>,
    /// `None` for lifetime groups, which never reset.
    pub resets_at_ms: Option<i64>,
    /// A balance group's balance: its name and state (its `used` and `reserved` are what the
    /// group's period burned and holds).
    pub credit: Option<(String, Credit)>,
    /// A per-value group's counter: the value it counts.
    pub value: Option<String>,
    /// What its period's outputs came to (usage's; empty in every other answer).
    pub outcomes: Outcomes,
    /// What attempts after the first of an original action (a routed proxy call's next
    /// targets) committed in it this period (usage's; zero in every other answer).
    pub fallback_used: Milli,
    /// A rolling window's length, ms (its `period_start_ms` is its oldest sub-window's start and
    /// `resets_at_ms` when all it counts now has rolled out); None for calendar periods.
    pub rolling_ms: Option<i64>,
}

impl Counter {
    /// The same counter as the one of `value` of a per-value group.
    pub fn of_value(mut self, value: Option<&str>) -> Counter {
        self.value = value.map(str::to_owned);
        self
    }

    /// The same counter as a parent's: it names `subject`.
    pub fn of_subject(mut self, subject: &str) -> Counter {
        self.subject = Some(subject.to_string());
        self
    }

    /// Committed usage plus open holds, and what is leased to members' slices.
    pub fn count(&self) -> Milli {
        Milli(self.used.0 + self.reserved.0 + self.leased.0)
    }

    /// What is left: of the quota, or of a balance group's balance.
    pub fn remaining(&self) -> Milli {
        match &self.credit {
            Some((_, credit)) => credit.available,
            None => self.quota.saturating_sub(self.count()),
        }
    }

    /// Past the quota, or a balance in debt.
    pub fn exceeded(&self) -> bool {
        match &self.credit {
            Some((_, credit)) => credit.debt > Milli::ZERO,
            None => self.count() > self.quota,
        }
    }

    /// The counter of `group` in `window`, from the amounts the store read: used, held, and
    /// the quota in force (a live override, else the group's).
    pub fn of(group: &LimitGroup, window: Window, amounts: &Amounts) -> Counter {
        Counter {
            subject: None,
            group_id: group.id.clone(),
            label: group.label.clone(),
            unit: group.unit,
            mode: group.mode,
            quota: amounts.quota,
            used: amounts.used,
            // A balance group's reserved is what its balance holds, whatever the period; a
            // team's group's, what is held but for what is leased to members' slices.
            reserved: amounts
                .credit
                .filter(|_| group.balance.is_some())
                .map_or(amounts.held.saturating_sub(amounts.leased), |c| c.held),
            leased: amounts.leased,
            // A rolling window's: from its oldest sub-window counted, until all it counts now
            // has rolled out.
            period_start_ms: window.end_ms.map(|_| window.counted_from()),
            resets_at_ms: window.end_ms.map(|end| window.rolled_out_at().unwrap_or(end)),
            credit: group
                .balance
                .as_ref()
                .zip(amounts.credit)
                .map(|(b, c)| (b.name.clone(), c)),
            value: None,
            outcomes: Outcomes::default(),
            rolling_ms: window.bucket_ms().map(|g| g * i64::from(window.buckets)),
            fallback_used: Milli::ZERO,
        }
    }

    /// The same counter with its period's outcomes.
    pub fn with_outcomes(mut self, outcomes: Outcomes) -> Counter {
        self.outcomes = outcomes;
        self
    }

    /// The same counter with what fallbacks committed in its period (usage's).
    pub fn with_fallback(mut self, used: Milli) -> Counter {
        self.fallback_used = used;
        self
    }
}
