//! Credits: a subject's balances of pre-paid credits, granted, held before a call and burned
//! after it (the scripts keep every wallet: `lua/library/modules/wallet.lua`). Here are what a plan says of a
//! balance group, a balance as an answer shows it, grants as they are asked for and listed, and
//! the burn order as one string per grant.

use super::amount::Milli;
use super::ids::check_id;
use super::plan_check::GroupCheck;

/// What a balance group of a plan says: the balance it counts against, and how far below
/// zero its reserves may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub name: String,
    pub overdraft: Milli,
    /// With an allowance: the most of a period's allowance left unburned that carries into
    /// the next period (None: nothing carries).
    pub rollover: Option<Milli>,
}

impl Balance {
    /// A group's `balance`, with what a balance group must not have (a quota: its grants are
    /// its limit), or else what a quota group must have and may not (what only a balance has).
    pub(super) fn of_group(check: &mut GroupCheck) -> Option<Balance> {
        let g = check.doc;
        let Some(name) = &g.balance else {
            if g.quota.is_none() {
                check.problem("quota", "is required");
            }
            if g.unit.is_none() {
                check.problem("unit", "is required");
            }
            for (field, given) in [
                ("overdraft", g.overdraft.is_some()),
                ("allowance", g.allowance.is_some()),
                ("lowBalance", g.low_balance.is_some()),
            ] {
                if given {
                    check.problem(field, "is only for a balance group");
                }
            }
            return None;
        };
        if check_id(name).is_err() {
            check.problem("balance", "must match [A-Za-z0-9_.-]{1,64}");
        }
        if g.quota.is_some() {
            check.problem("quota", "must be absent on a balance group: its grants are its limit");
        }
        if g.mode.as_deref().is_some_and(|m| m != "hard") {
            check.problem("mode", "must be \"hard\" on a balance group");
        }
        Some(Balance {
            name: name.clone(),
            overdraft: g.overdraft.unwrap_or(Milli::ZERO),
            rollover: g.allowance.as_ref().and_then(|a| a.rollover.as_ref()).map(|r| r.max),
        })
    }
}

/// The most live grants (anything remaining or held) one subject may have in one balance.
pub(crate) const MAX_LIVE_GRANTS: usize = 100;

/// A balance as a script answered it beside a balance group's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credit {
    /// What can be spent now: remaining on effective, unexpired grants, less debt.
    pub available: Milli,
    /// Held by open reservations, on grants and overdrawn.
    pub held: Milli,
    /// What commits and tracks burned that no grant covered; the next grant pays it first.
    pub debt: Milli,
    /// The grants that expire soonest: what they have remaining, and when (None: no grant
    /// with anything remaining expires).
    pub soonest: Option<(Milli, i64)>,
}

/// A grant's amounts, milli-units: amount = remaining + held + consumed + expired + voided,
/// for every grant at every moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrantAmounts {
    pub amount: Milli,
    pub remaining: Milli,
    pub held: Milli,
    pub consumed: Milli,
    pub expired: Milli,
    pub voided: Milli,
}

/// A grant as it is asked for (the node adds its id and when it was made).
#[derive(Debug, Clone, PartialEq)]
pub struct GrantInput {
    pub balance: String,
    pub amount: Milli,
    /// 0 to 100, lower burns first.
    pub priority: u8,
    pub category: Category,
    pub effective_ms: Option<i64>,
    pub expires_ms: Option<i64>,
    /// What the customer paid per credit, in cents (for revenue recognition).
    pub cost_basis: Option<Milli>,
    pub source: Option<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A grant as listed: what was asked for, when, and its amounts now.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: String,
    pub input: GrantInput,
    pub created_ms: i64,
    /// When it starts to count (its effective time, or its creation).
    pub effective_ms: i64,
    pub amounts: GrantAmounts,
    /// Voided by an operator: what it held goes to `voided` when given back.
    pub void: bool,
    /// Where it stands in the burn order (`burn_key`).
    pub burn_key: String,
}

impl Grant {
    /// `scheduled` before its effective time, `active` while anything is remaining or held,
    /// else how it ended: `voided`, `expired` or `depleted`.
    pub fn status(&self, now_ms: i64) -> &'static str {
        let a = &self.amounts;
        // Only a time asked for schedules: one taken from the node's clock at creation may be
        // a moment ahead of the clock that reads it.
        if self.input.effective_ms.is_some_and(|at| at > now_ms) && a.remaining > Milli::ZERO {
            "scheduled"
        } else if a.remaining > Milli::ZERO || a.held > Milli::ZERO {
            "active"
        } else if self.void {
            "voided"
        } else if a.expired > Milli::ZERO {
            "expired"
        } else {
            "depleted"
        }
    }
}

/// One balance of a subject, with its grants in burn order.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceView {
    pub name: String,
    pub credit: Credit,
    pub grants: Vec<Grant>,
}

/// Paid credits, or promotional ones (given away: they burn before paid ones of the same
/// priority and expiry, and are reported apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Paid,
    Promotional,
}

impl Category {
    pub fn parse(text: &str) -> Option<Category> {
        match text {
            "paid" => Some(Category::Paid),
            "promotional" => Some(Category::Promotional),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Paid => "paid",
            Category::Promotional => "promotional",
        }
    }
}

/// What burns first decides where a grant stands, as one string compared bytewise: priority
/// (lower first), then expiry (soonest first, none last), then promotional before paid, then
/// effective time, then grant id. Numbers are written with fixed widths so the string order is
/// their order; an allowance's key ("!", wallet.lua) sorts before every grant's.
pub(crate) fn burn_key(
    priority: u8,
    expires_ms: Option<i64>,
    category: Category,
    effective_ms: i64,
    id: &str,
) -> String {
    // 13 digits reach the year 2286; expiry and effective time are checked to fit.
    let expiry = expires_ms.map_or_else(|| "9".repeat(13), |ms| format!("{ms:013}"));
    let kind = match category {
        Category::Promotional => '0',
        Category::Paid => '1',
    };
    format!("{priority:03}:{expiry}:{kind}:{effective_ms:013}:{id}")
}

/// The latest instant a grant may name (expiry or effective time): the widest the burn key
/// writes, 13 digits of milliseconds.
pub(crate) const MAX_GRANT_MS: i64 = 9_999_999_999_998;

/// Credits of one category over a span of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CategoryTotals {
    pub granted: Milli,
    /// By commits and tracks, and paying debt.
    pub burned: Milli,
    pub voided: Milli,
    /// What grants had left when they expired: breakage.
    pub expired: Milli,
    /// What was burned times each grant's cost basis: recognised revenue, in millionths of a
    /// cent, the exact product of two milli-unit amounts, summed before any rounding.
    pub revenue_micro_cents: u128,
}

impl CategoryTotals {
    /// Recognised revenue in milli-cents: the exact sum, rounded once, half up.
    pub fn revenue_milli_cents(&self) -> u128 {
        (self.revenue_micro_cents + 500) / 1000
    }

    /// Granted and neither burned, voided nor expired: deferred revenue for paid credits.
    pub fn outstanding(&self) -> Milli {
        Milli(
            self.granted
                .0
                .saturating_sub(self.burned.0 + self.voided.0 + self.expired.0),
        )
    }
}

/// What the ledger says of credits: paid and promotional apart, what allowances covered, and
/// debt left and paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreditSummary {
    pub paid: CategoryTotals,
    pub promotional: CategoryTotals,
    pub allowance_burned: Milli,
    pub debt_added: Milli,
    pub debt_settled: Milli,
}

impl CreditSummary {
    /// Adds one entry's credits of `balance` (every balance when None).
    pub fn add(&mut self, entry: &super::UsageEvent, balance: Option<&str>) {
        use super::UsageKind::*;
        for m in entry.credits.iter().filter(|m| balance.is_none_or(|b| b == m.balance)) {
            let totals = match m.category {
                Some(Category::Paid) => Some(&mut self.paid),
                Some(Category::Promotional) => Some(&mut self.promotional),
                None => None,
            };
            let add = |slot: &mut Milli| slot.0 += m.amount.0;
            match (entry.kind, totals, &m.grant_id) {
                (Commit | LateCommit | Track | RunClose, _, None) => add(&mut self.debt_added),
                (Commit | LateCommit | Track | RunClose | DebtSettled, Some(t), Some(_)) => {
                    add(&mut t.burned);
                    t.revenue_micro_cents += u128::from(m.amount.0) * u128::from(m.cost_basis.unwrap_or(Milli::ZERO).0);
                    if entry.kind == DebtSettled {
                        add(&mut self.debt_settled);
                    }
                }
                (Commit | LateCommit | Track | RunClose | DebtSettled, None, Some(_)) => {
                    add(&mut self.allowance_burned);
                    if entry.kind == DebtSettled {
                        add(&mut self.debt_settled);
                    }
                }
                (Grant, Some(t), _) => add(&mut t.granted),
                (GrantVoid, Some(t), _) => add(&mut t.voided),
                (GrantExpired, Some(t), _) => add(&mut t.expired),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tie of the burn order, each broken by the next rule.
    #[test]
    fn the_burn_order_breaks_every_tie_in_turn() {
        use Category::*;
        let key = burn_key;
        // Priority first, whatever the rest says.
        assert!(key(10, None, Paid, 9, "z") < key(50, Some(1), Promotional, 0, "a"));
        // Then the soonest expiry, and none last.
        assert!(key(50, Some(1_000), Paid, 9, "z") < key(50, Some(2_000), Promotional, 0, "a"));
        assert!(key(50, Some(MAX_GRANT_MS), Paid, 9, "z") < key(50, None, Promotional, 0, "a"));
        // Then promotional before paid.
        assert!(key(50, Some(1_000), Promotional, 9, "z") < key(50, Some(1_000), Paid, 0, "a"));
        // Then the earlier effective time.
        assert!(key(50, None, Paid, 5, "z") < key(50, None, Paid, 6, "a"));
        assert!(key(50, None, Paid, 999, "z") < key(50, None, Paid, 1_000, "a"));
        // Then the grant id.
        assert!(key(50, None, Paid, 5, "g_a") < key(50, None, Paid, 5, "g_b"));
        // Priorities of different widths compare as numbers.
        assert!(key(9, None, Paid, 0, "a") < key(10, None, Paid, 0, "a"));
        assert!(key(99, None, Paid, 0, "a") < key(100, None, Paid, 0, "a"));
        // An allowance burns before everything.
        assert!("!" < key(0, Some(0), Promotional, 0, "").as_str());
    }

    /// A hundred burns of 0.001 credit at 2.5 cents are a quarter of a cent, not a hundred
    /// truncated thousandths: the revenue is summed exactly and rounded once.
    #[test]
    fn revenue_is_summed_exactly_and_rounded_once() {
        use crate::quota::ids::UserId;
        use crate::quota::ledger::{UsageEvent, UsageKind};
        let burn = UsageEvent {
            credits: vec![super::super::ledger::CreditMove {
                group_id: Some("credits".into()),
                balance: "credits".into(),
                grant_id: Some("g_1".into()),
                amount: Milli(1),
                category: Some(Category::Paid),
                cost_basis: Some(Milli(2_500)),
            }],
            id: "commit:r_1".into(),
            position: "1-0".into(),
            kind: UsageKind::Commit,
            time_ms: 1,
            user: UserId::parse("u").unwrap(),
            event: None,
            metadata: None,
            quantity: None,
            groups: Vec::new(),
            reason: None,
            key_id: None,
            member: None,
            step: None,
            denied_by: Vec::new(),
            decided_ms: None,
            hold: None,
            outcome: None,
            previous_outcome: None,
            alternatives: None,
        };
        let mut summary = CreditSummary::default();
        for _ in 0..100 {
            summary.add(&burn, None);
        }
        assert_eq!(summary.paid.revenue_milli_cents(), 250);
        assert_eq!(summary.paid.burned, Milli(100));
    }
}
