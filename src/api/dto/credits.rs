//! Wire types of credits: grants asked for and listed, and a subject's balances.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SoonestExpiry;
use crate::json::rfc3339;
use crate::quota::{BalanceView, CategoryTotals, CreditSummary, Grant, Milli};

/// `POST /v1/users/{userId}/grants`: credits added to a balance.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrantBody {
    /// The balance, `[A-Za-z0-9_.-]{1,64}` (a plan's balance groups name it).
    pub balance: String,
    /// Credits, up to 10^12 with 3 decimals; more than 0.
    pub amount: Milli,
    /// 0 to 100 (default 50): lower burns first.
    pub priority: Option<u8>,
    /// `paid` (default) or `promotional`.
    pub category: Option<String>,
    /// When it starts to count (RFC 3339; default now).
    pub effective_at: Option<String>,
    /// When what is left of it expires (RFC 3339; default never).
    pub expires_at: Option<String>,
    /// What the customer paid per credit, in cents (for revenue recognition).
    pub cost_basis: Option<Milli>,
    /// A label of where it came from (`purchase`, `manual`, ...), 1 to 64 bytes.
    pub source: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// A grant with its amounts: amount = remaining + held + consumed + expired + voided.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantAnswer {
    pub grant_id: String,
    pub balance: String,
    pub amount: Milli,
    pub remaining: Milli,
    pub held: Milli,
    pub consumed: Milli,
    pub expired: Milli,
    pub voided: Milli,
    pub priority: u8,
    pub category: &'static str,
    /// `scheduled`, `active`, `depleted`, `expired` or `voided`.
    pub status: &'static str,
    pub effective_at: String,
    pub expires_at: Option<String>,
    pub cost_basis: Option<Milli>,
    pub source: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub created_at: String,
}

impl GrantAnswer {
    pub fn of(g: &Grant, now_ms: i64) -> GrantAnswer {
        let a = &g.amounts;
        GrantAnswer {
            grant_id: g.id.clone(),
            balance: g.input.balance.clone(),
            amount: a.amount,
            remaining: a.remaining,
            held: a.held,
            consumed: a.consumed,
            expired: a.expired,
            voided: a.voided,
            priority: g.input.priority,
            category: g.input.category.as_str(),
            status: g.status(now_ms),
            effective_at: rfc3339(g.effective_ms),
            expires_at: g.input.expires_ms.map(rfc3339),
            cost_basis: g.input.cost_basis,
            source: g.input.source.clone(),
            metadata: g.input.metadata.clone(),
            created_at: rfc3339(g.created_ms),
        }
    }
}

/// A grant made (or, for a repeated Idempotency-Key, the one first made).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantMadeAnswer {
    #[serde(flatten)]
    pub grant: GrantAnswer,
    /// Debt the grant paid first, out of its amount.
    pub debt_paid: Milli,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantList {
    pub data: Vec<GrantAnswer>,
    /// Always null: a user has at most a few hundred grants, listed whole.
    pub next_cursor: Option<String>,
}

/// One balance: what can be spent now, what is held, the debt, the soonest expiry, and its
/// grants in burn order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceAnswer {
    pub balance: String,
    #[schema(value_type = crate::api::dto::Sum)]
    pub available: Milli,
    #[schema(value_type = crate::api::dto::Sum)]
    pub held: Milli,
    #[schema(value_type = crate::api::dto::Sum)]
    pub debt: Milli,
    pub soonest_expiry: Option<SoonestExpiry>,
    pub grants: Vec<GrantAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceList {
    pub data: Vec<BalanceAnswer>,
    /// Always null: every balance of the user in one page.
    pub next_cursor: Option<String>,
}

impl BalanceAnswer {
    pub fn of(b: &BalanceView, now_ms: i64) -> BalanceAnswer {
        BalanceAnswer {
            balance: b.name.clone(),
            available: b.credit.available,
            held: b.credit.held,
            debt: b.credit.debt,
            soonest_expiry: b.credit.soonest.map(|(amount, at)| SoonestExpiry {
                amount,
                at: rfc3339(at),
            }),
            grants: b.grants.iter().map(|g| GrantAnswer::of(g, now_ms)).collect(),
        }
    }
}

/// One category's credits over the summary's span.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryAnswer {
    #[schema(value_type = crate::api::dto::Sum)]
    pub granted: Milli,
    /// By commits and tracks, and paying debt.
    #[schema(value_type = crate::api::dto::Sum)]
    pub burned: Milli,
    #[schema(value_type = crate::api::dto::Sum)]
    pub voided: Milli,
    /// Breakage: what grants had left when they expired.
    #[schema(value_type = crate::api::dto::Sum)]
    pub expired: Milli,
    /// Granted less burned, voided and expired (deferred revenue for paid credits).
    #[schema(value_type = crate::api::dto::Sum)]
    pub outstanding: Milli,
    /// Burned times each grant's cost basis, in cents: recognised revenue.
    #[schema(value_type = crate::api::dto::Sum)]
    pub revenue_cents: Milli,
}

impl From<&CategoryTotals> for CategoryAnswer {
    fn from(t: &CategoryTotals) -> Self {
        CategoryAnswer {
            granted: t.granted,
            burned: t.burned,
            voided: t.voided,
            expired: t.expired,
            outstanding: t.outstanding(),
            revenue_cents: Milli(u64::try_from(t.revenue_milli_cents()).unwrap_or(u64::MAX)),
        }
    }
}

/// `GET /v1/balances/summary`: what the ledger says of credits over a span.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditSummaryAnswer {
    /// The balance summed; null for every balance.
    pub balance: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub paid: CategoryAnswer,
    pub promotional: CategoryAnswer,
    /// Credits the plans' allowances covered.
    #[schema(value_type = crate::api::dto::Sum)]
    pub allowance_burned: Milli,
    /// Burned beyond every grant, and what later grants paid of it.
    #[schema(value_type = crate::api::dto::Sum)]
    pub debt_added: Milli,
    #[schema(value_type = crate::api::dto::Sum)]
    pub debt_settled: Milli,
    /// The span held more entries than one summary reads (200,000): these are the first's.
    pub truncated: bool,
}

impl CreditSummaryAnswer {
    pub fn of(
        s: &CreditSummary,
        balance: Option<String>,
        from: Option<String>,
        to: Option<String>,
        truncated: bool,
    ) -> Self {
        CreditSummaryAnswer {
            balance,
            from,
            to,
            paid: (&s.paid).into(),
            promotional: (&s.promotional).into(),
            allowance_burned: s.allowance_burned,
            debt_added: s.debt_added,
            debt_settled: s.debt_settled,
            truncated,
        }
    }
}
