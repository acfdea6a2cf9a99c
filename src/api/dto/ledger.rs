//! Wire types of the usage ledger and its daily rollups.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::json::{date, rfc3339};
use crate::quota::{Milli, SignedAmount, UsageDay};

/// One group's part of a usage change, in units (negative when an adjustment took usage back).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageGroupAnswer {
    pub group_id: String,
    /// A per-value group's value (absent on other groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// count, tokens, seconds or cents.
    pub unit: &'static str,
    /// Null for lifetime groups.
    pub period_start: Option<String>,
    pub amount: SignedAmount,
    /// A priced group's (`"measure": {"price": ...}`): where the price came from. Absent on
    /// other groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceSourceAnswer>,
}

/// Where a priced group's amount came from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceSourceAnswer {
    /// `override` (the project's own price), `catalog`, `provider` (the provider's reported
    /// cost) or `unpriced` (no price, counted at zero where the group allows it).
    pub source: &'static str,
    /// The catalog's version, for a catalog price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_version: Option<String>,
    pub model: String,
}

/// Credits an entry moved on one grant (or, with no grant, debt a commit or track left).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditMoveAnswer {
    /// The balance group that burned (commits and tracks); null for the grant kinds.
    pub group_id: Option<String>,
    pub balance: String,
    /// Null for debt; an allowance's credits name `~<group>@<period start>`.
    pub grant_id: Option<String>,
    pub amount: Milli,
    /// paid or promotional; null for an allowance's credits and for debt.
    pub category: Option<&'static str>,
    /// What the customer paid per credit, in cents.
    pub cost_basis: Option<Milli>,
}

/// One entry of the usage ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageEventAnswer {
    /// Stable: the same entry has the same id in every read and export.
    pub id: String,
    /// commit, late_commit, track, adjustment; for credits grant, grant_void, grant_expired
    /// (breakage) and debt_settled; run_close for a run's close (its steps' entries counted
    /// its usage; it carries the credits its balance groups burned); and, with no usage,
    /// denied (a reserve refused: the first 100 of a user's UTC day), release and expiry (a
    /// hold's end), which the pricing lab replays; outcome (what a committed call's output
    /// came to, said after its commit).
    pub kind: &'static str,
    /// True for the kinds that changed usage (commit, late_commit, track, adjustment): sum only
    /// these entries' groups or quantity to bill usage. The other kinds' `quantity` is what was
    /// asked for or held (denied, release, expiry) or none.
    pub changes_usage: bool,
    pub time: String,
    pub user_id: String,
    pub event: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub quantity: Option<Milli>,
    pub groups: Vec<UsageGroupAnswer>,
    /// Adjustments: the reason given.
    pub reason: Option<String>,
    /// The id of the key that made the call (null in entries written before it was kept).
    pub key_id: Option<String>,
    /// In a parent's ledger, the member whose event it was (the entry has the member's entry's
    /// id); null in a member's own.
    pub member_id: Option<String>,
    /// Credits it moved: what balance groups burned from which grants, and debt; what a grant
    /// entry granted, voided or expired. Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credits: Vec<CreditMoveAnswer>,
    /// A step's run (a child run's close: its parent run), the action it was an attempt of
    /// (null for none) and its kind (`primary`, `retry`, `fallback`); null for other entries.
    pub run_id: Option<String>,
    pub action_id: Option<String>,
    pub step_kind: Option<&'static str>,
    /// A denied entry's groups that denied it (absent on other entries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_by: Vec<String>,
    /// The hold an entry ends (commit, late_commit, release, expiry): when it was reserved
    /// (absent on other entries, and on entries written before it was kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_since: Option<String>,
    /// The instant the gateway decided the call at, which chose its windows (a commit's,
    /// release's or expiry's: its reserve's); absent on entries written before it was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The quantity that hold reserved (a commit's `quantity` is the actual one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<Milli>,
    /// An expiry's instant: when the hold went back (the entry's `time` is when the gateway
    /// noticed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_until: Option<String>,
    /// What the call's output came to, when it was said (`accepted`, `rejected`, `failed` or
    /// the app's word); on an `outcome` entry, said after the commit, with the `previousOutcome`
    /// it replaced. Absent when none was said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_outcome: Option<String>,
    /// A reserve of alternatives: every one it asked, in order, with why each weighed before the
    /// chosen one was denied (a commit's, release's or expiry's), or every one's denial (a
    /// denied entry's: none fit; its own event is the last weighed). Absent for a reserve of
    /// one event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<LedgerAlternativeAnswer>,
    /// The index of the alternative held (absent on a denial of them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
}

/// One alternative of a reserve, as its ledger entry keeps it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerAlternativeAnswer {
    pub event: String,
    pub quantity: Milli,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why it was denied (empty for the chosen one and those after it): each group that
    /// denied it (null for a denial of no group) and the reason, as a reserve's `denials` say.
    pub denials: Vec<LedgerDenialAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerDenialAnswer {
    pub group_id: Option<String>,
    pub reason: String,
}

impl From<&crate::quota::UsageEvent> for UsageEventAnswer {
    fn from(e: &crate::quota::UsageEvent) -> Self {
        UsageEventAnswer {
            id: e.id.clone(),
            kind: e.kind.as_str(),
            changes_usage: e.kind.changes_usage(),
            time: rfc3339(e.time_ms),
            user_id: e.user.to_string(),
            event: e.event.clone(),
            metadata: e.metadata.clone(),
            quantity: e.quantity,
            groups: e
                .groups
                .iter()
                .map(|g| UsageGroupAnswer {
                    group_id: g.group_id.clone(),
                    value: g.value.clone(),
                    unit: g.unit.as_str(),
                    period_start: g.period_start_ms.map(rfc3339),
                    amount: SignedAmount(g.amount_milli),
                    price: g.price.as_ref().map(|p| PriceSourceAnswer {
                        source: p.source,
                        catalog_version: p.version.clone(),
                        model: p.model.clone(),
                    }),
                })
                .collect(),
            reason: e.reason.clone(),
            key_id: e.key_id.clone(),
            member_id: e.member.clone(),
            credits: e
                .credits
                .iter()
                .map(|c| CreditMoveAnswer {
                    group_id: c.group_id.clone(),
                    balance: c.balance.clone(),
                    grant_id: c.grant_id.clone(),
                    amount: c.amount,
                    category: c.category.map(|k| k.as_str()),
                    cost_basis: c.cost_basis,
                })
                .collect(),
            run_id: e.step.as_ref().map(|s| s.run.clone()),
            action_id: e.step.as_ref().map(|s| s.action.clone()).filter(|a| !a.is_empty()),
            step_kind: e.step.as_ref().map(|s| s.kind.as_str()),
            denied_by: e.denied_by.clone(),
            held_since: e.hold.as_ref().map(|h| rfc3339(h.since_ms)),
            decided_at: e.decided_ms.map(rfc3339),
            reserved: e.hold.as_ref().map(|h| h.reserved),
            held_until: e.hold.as_ref().and_then(|h| h.until_ms).map(rfc3339),
            outcome: e.outcome.clone(),
            previous_outcome: e.previous_outcome.clone(),
            alternatives: e
                .alternatives
                .iter()
                .flat_map(|all| &all.list)
                .map(|a| LedgerAlternativeAnswer {
                    event: a.event.clone(),
                    quantity: a.quantity,
                    metadata: (!a.metadata.is_empty()).then(|| a.metadata.clone()),
                    denials: a
                        .denials
                        .iter()
                        .map(|(group, reason)| LedgerDenialAnswer {
                            group_id: (!group.is_empty()).then(|| group.clone()),
                            reason: reason.clone(),
                        })
                        .collect(),
                })
                .collect(),
            chosen: e.alternatives.as_ref().and_then(|all| all.chosen),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageEventPageAnswer {
    pub data: Vec<UsageEventAnswer>,
    pub next_cursor: Option<String>,
}

/// One group's activity on one day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayGroupAnswer {
    pub group_id: String,
    /// Usage counted that day, in units: commits, tracks and adjustments (negative when
    /// refunds outweighed them).
    pub used: SignedAmount,
    /// Reserves admitted (every group of an admitted reserve counts one).
    pub reserves_admitted: i64,
    /// Reserves this group denied.
    pub reserves_denied: i64,
    pub releases: i64,
    /// Holds that expired that day without a commit or release.
    pub expiries: i64,
    /// What the outputs of the day's usage came to, per outcome said; absent when none was.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, u64>,
    /// `used` divided by accepted outcomes, once one was accepted that day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_accepted: Option<Milli>,
    /// The same per model the events named in their metadata (`model`), at most 16 a day
    /// and group (then `other`); absent when none named one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelDayAnswer>,
}

/// One model's part of a group's day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelDayAnswer {
    pub model: String,
    pub used: SignedAmount,
    pub accepted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_accepted: Option<Milli>,
}

/// One UTC day of a user's activity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayAnswer {
    /// `2026-11-22`.
    pub date: String,
    /// The groups with any activity that day (none on a quiet day).
    pub groups: Vec<DayGroupAnswer>,
}

/// A user's daily rollups, every day of the range in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyUsageAnswer {
    pub user_id: String,
    pub days: Vec<DayAnswer>,
}

impl From<&UsageDay> for DayAnswer {
    fn from(d: &UsageDay) -> Self {
        DayAnswer {
            date: date(d.day),
            groups: d
                .groups
                .iter()
                .map(|(group, a)| DayGroupAnswer {
                    group_id: group.clone(),
                    used: SignedAmount(a.used_milli),
                    reserves_admitted: a.admitted,
                    reserves_denied: a.denied,
                    releases: a.releases,
                    expiries: a.expiries,
                    outcomes: a.outcomes.0.iter().cloned().collect(),
                    cost_per_accepted: a.outcomes.cost_per_accepted(Milli(a.used_milli.max(0) as u64)),
                    models: a
                        .models
                        .iter()
                        .map(|(model, (used, accepted))| ModelDayAnswer {
                            model: model.clone(),
                            used: SignedAmount(*used),
                            accepted: *accepted,
                            cost_per_accepted: (*accepted > 0).then(|| Milli(used.max(&0).unsigned_abs() / accepted)),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
