//! The usage ledger: every change of usage (a commit, a track, an adjustment) as a record of
//! what, when and why, beside the counters it changed.

use serde_json::{Map, Value};

use super::amount::Milli;
use super::credit::Category;
use super::ids::UserId;
use super::plan_kinds::Unit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageKind {
    Commit,
    /// A commit after the reservation had expired: counted all the same.
    LateCommit,
    Track,
    Adjustment,
    /// Credits granted to a balance.
    Grant,
    /// Credits voided (a grant's remaining when voided, what it held when given back).
    GrantVoid,
    /// Credits a grant had left when it expired: breakage.
    GrantExpired,
    /// Debt a grant paid first.
    DebtSettled,
    /// A run's close: no usage of its own (its steps' entries counted it), the credits its
    /// balance groups burned.
    RunClose,
    /// A reserve that was denied: what it asked and which groups denied it (the first 100 of a
    /// user's day; the rollups count them all). No usage.
    Denied,
    /// A reservation released: the end of its hold, with no usage.
    Release,
    /// A reservation that expired uncommitted: the end of its hold, with no usage.
    Expiry,
    /// What a committed call's output came to, said after its commit (`outcome`, and the
    /// `previous` it replaced). No usage: its groups' amounts are 0.
    Outcome,
}

impl UsageKind {
    pub const ALL: [UsageKind; 13] = [
        UsageKind::Commit,
        UsageKind::LateCommit,
        UsageKind::Track,
        UsageKind::Adjustment,
        UsageKind::Grant,
        UsageKind::GrantVoid,
        UsageKind::GrantExpired,
        UsageKind::DebtSettled,
        UsageKind::RunClose,
        UsageKind::Denied,
        UsageKind::Release,
        UsageKind::Expiry,
        UsageKind::Outcome,
    ];

    pub fn parse(text: &str) -> Option<UsageKind> {
        match text {
            "commit" => Some(UsageKind::Commit),
            "late_commit" => Some(UsageKind::LateCommit),
            "track" => Some(UsageKind::Track),
            "adjustment" => Some(UsageKind::Adjustment),
            "grant" => Some(UsageKind::Grant),
            "grant_void" => Some(UsageKind::GrantVoid),
            "grant_expired" => Some(UsageKind::GrantExpired),
            "debt_settled" => Some(UsageKind::DebtSettled),
            "run_close" => Some(UsageKind::RunClose),
            "denied" => Some(UsageKind::Denied),
            "release" => Some(UsageKind::Release),
            "expiry" => Some(UsageKind::Expiry),
            "outcome" => Some(UsageKind::Outcome),
            _ => None,
        }
    }

    /// Whether an entry of this kind changed usage: commit, late_commit, track and
    /// adjustment, whose groups' amounts are what the counters counted. The others record
    /// credits (grant, grant_void, grant_expired, debt_settled), a run's close (its steps'
    /// entries counted its usage), and a reserve's fate (denied, release, expiry), whose
    /// `quantity` is what was asked or held, never used. Invoicing sums only the first.
    pub fn changes_usage(self) -> bool {
        match self {
            UsageKind::Commit | UsageKind::LateCommit | UsageKind::Track | UsageKind::Adjustment => true,
            UsageKind::Grant
            | UsageKind::GrantVoid
            | UsageKind::GrantExpired
            | UsageKind::DebtSettled
            | UsageKind::RunClose
            | UsageKind::Denied
            | UsageKind::Release
            | UsageKind::Expiry
            | UsageKind::Outcome => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Commit => "commit",
            UsageKind::LateCommit => "late_commit",
            UsageKind::Track => "track",
            UsageKind::Adjustment => "adjustment",
            UsageKind::Grant => "grant",
            UsageKind::GrantVoid => "grant_void",
            UsageKind::GrantExpired => "grant_expired",
            UsageKind::DebtSettled => "debt_settled",
            UsageKind::RunClose => "run_close",
            UsageKind::Denied => "denied",
            UsageKind::Release => "release",
            UsageKind::Expiry => "expiry",
            UsageKind::Outcome => "outcome",
        }
    }
}

/// One group's part of a usage change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGroup {
    pub group_id: String,
    /// A per-value group's value.
    pub value: Option<String>,
    pub unit: Unit,
    /// None for lifetime groups.
    pub period_start_ms: Option<i64>,
    /// Signed milli-units: adjustments may take usage back.
    pub amount_milli: i64,
    /// A priced group's: where its price came from.
    pub price: Option<PriceNote>,
}

/// Where a priced group's amount came from: the project's own price (`override`), the catalog
/// of a version (`catalog`), the provider's reported cost (`provider`), or none at all
/// (`unpriced`, counted at zero because the group allows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceNote {
    pub source: &'static str,
    /// The catalog's version, for a catalog price.
    pub version: Option<String>,
    pub model: String,
}

impl PriceNote {
    pub fn of(priced: &super::measure::Priced, by_provider: bool) -> PriceNote {
        PriceNote {
            source: if by_provider {
                "provider"
            } else {
                priced.origin.as_str()
            },
            version: match &priced.origin {
                super::price::PriceOrigin::Catalog(v) if !by_provider => Some(v.clone()),
                _ => None,
            },
            model: priced.model.clone(),
        }
    }
}

/// Credits an entry moved on one grant: granted, burned (by a commit, a track, or paying
/// debt), voided or expired; or, without a grant, debt a commit or track left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditMove {
    /// The balance group that burned (commits and tracks).
    pub group_id: Option<String>,
    pub balance: String,
    /// None for debt.
    pub grant_id: Option<String>,
    pub amount: Milli,
    /// None for an allowance's credits and for debt.
    pub category: Option<Category>,
    /// What the customer paid per credit, in cents.
    pub cost_basis: Option<Milli>,
}

/// One entry of a user's ledger.
#[derive(Debug, Clone)]
pub struct UsageEvent {
    /// Stable across reads and exports, so a billing system can deduplicate.
    pub id: String,
    /// Where the entry stands in its user's ledger (a Redis stream id), for paging.
    pub position: String,
    pub kind: UsageKind,
    pub time_ms: i64,
    pub user: UserId,
    pub event: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub quantity: Option<Milli>,
    pub groups: Vec<UsageGroup>,
    /// Adjustments: why.
    pub reason: Option<String>,
    /// The id of the key that made the call (entries written before it was kept have none).
    pub key_id: Option<String>,
    /// At a parent's level, the member whose event it was; the entry then has the member's
    /// entry's id.
    pub member: Option<String>,
    /// Credits the entry moved (balance groups' burns and debt, and the grant kinds).
    pub credits: Vec<CreditMove>,
    /// A step's run (a run's close: its parent run, for a child run), action and kind.
    pub step: Option<crate::quota::reservation::StepOf>,
    /// A denial's groups that denied it.
    pub denied_by: Vec<String>,
    /// The instant the node decided at, which chose the windows (a commit's, release's or
    /// expiry's: its reserve's); None on entries written before it was kept, and on others.
    pub decided_ms: Option<i64>,
    /// The hold an entry ends (a commit, release or expiry): when it was made, the quantity
    /// reserved, and, for an expiry, when it expired (the others ended at their own time).
    pub hold: Option<HeldSpan>,
    /// What the call's output came to (a commit's, a track's, a run close's, or an outcome
    /// entry's), and on an outcome entry the one it replaced.
    pub outcome: Option<String>,
    pub previous_outcome: Option<String>,
    /// The alternatives a reserve was held among (a commit's, release's or expiry's), or a
    /// denial of them all asked for (a denied entry's), with the chosen one and the denials.
    pub alternatives: Option<super::alternatives::Alternatives>,
}

/// What a reservation held, from its reserve to its end, as the entry ending it tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSpan {
    /// Redis's time of the reserve, which orders it among entries.
    pub since_ms: i64,
    pub reserved: Milli,
    /// An expiry's instant; None when the hold ended at the entry's time.
    pub until_ms: Option<i64>,
    /// A commit's reservation's own metadata, when the commit's differed (the entry's is the
    /// commit's): what the hold was measured and matched on.
    pub metadata: Option<Map<String, Value>>,
}

/// One user's activity in one group on one UTC day, from the rollups the scripts keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayActivity {
    /// Signed milli-units: adjustments may take usage back.
    pub used_milli: i64,
    pub admitted: i64,
    /// Counted only in the groups that denied.
    pub denied: i64,
    pub releases: i64,
    /// Counted on the day the hold expired.
    pub expiries: i64,
    /// What the day's usage's outputs came to (counted on the day the usage was).
    pub outcomes: super::outcomes::Outcomes,
    /// Per model the events named: milli-units used and outputs accepted.
    pub models: std::collections::BTreeMap<String, (i64, u64)>,
}

/// One UTC day (days since 1970-01-01) of a user's rollups, by group id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageDay {
    pub day: i64,
    pub groups: Vec<(String, DayActivity)>,
}

/// A UTC day in ms.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The UTC day of a Unix time in ms.
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

#[cfg(test)]
mod kind_tests {
    use super::UsageKind;

    #[test]
    fn every_kind_is_listed_once_in_its_place_and_reads_back() {
        // A new kind fails to compile here until it has a place in `ALL` (the dashboard's
        // ledger filter offers that list).
        let place = |k: UsageKind| match k {
            UsageKind::Commit => 0,
            UsageKind::LateCommit => 1,
            UsageKind::Track => 2,
            UsageKind::Adjustment => 3,
            UsageKind::Grant => 4,
            UsageKind::GrantVoid => 5,
            UsageKind::GrantExpired => 6,
            UsageKind::DebtSettled => 7,
            UsageKind::RunClose => 8,
            UsageKind::Denied => 9,
            UsageKind::Release => 10,
            UsageKind::Expiry => 11,
            UsageKind::Outcome => 12,
        };
        for (i, kind) in UsageKind::ALL.into_iter().enumerate() {
            assert_eq!(place(kind), i);
            assert_eq!(UsageKind::parse(kind.as_str()), Some(kind));
        }
    }
}
