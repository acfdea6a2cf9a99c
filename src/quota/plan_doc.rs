//! The plan document: exactly what users write and paste from the recipes, and what is stored
//! (with `version`). Unknown fields are refused, so a typo never silently becomes "unlimited".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::amount::Milli;
use super::ids::check_event;
use super::measure::MeasureDoc;

/// The plan document, as written by users and as stored (with `version`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlanDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Set by the store; ignored in a request body so a fetched plan can be pasted back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<String>,
    /// Percents of quota whose crossing sends `quota.threshold_crossed` (default [80, 100]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<u32>>,
    /// Who answers for the plan's budgets (a team or a person, free text): every alert and
    /// approval request of its groups carries it, unless a group names its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub owner: Option<String>,
    /// How often its owner reviews the plan: `day`, `week` or `month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(day|week|month)$")]
    pub review_every: Option<String>,
    pub groups: Vec<GroupDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupDoc {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Required but on a balance group (which counts credits, `count` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Required but on a balance group, whose grants are its limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Milli>,
    /// Counts against the subject's grants of this balance instead of a quota per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// How far below zero a balance group's reserves may go (for trusted customers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdraft: Option<Milli>,
    /// A balance group's credits per period, burned before any grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance: Option<AllowanceDoc>,
    /// A balance group's alerts: amounts whose reaching, from above, sends
    /// `credits.low_balance` (and reaching 0, `credits.depleted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_balance: Option<Vec<Milli>>,
    pub matches: Vec<MatchRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<MeasureDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_plan_change: Option<String>,
    /// This group's thresholds instead of the plan's; `[]` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<u32>>,
    /// A metadata key: one counter per distinct value of it, each with the group's quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<String>,
    /// `"clamp"`: a hold that does not fit whole takes what is left (at least `minFit`), and
    /// the reserve answers the quantity granted; `"whole"` (default) denies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(clamp|whole)$")]
    pub fit: Option<String>,
    /// With `fit: "clamp"`: the least a clamped call may be granted, in output tokens when
    /// the event names `output_tokens`, else in its quantity (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fit: Option<Milli>,
    /// This group's owner instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub owner: Option<String>,
    /// This group's review instead of the plan's: `day`, `week` or `month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(day|week|month)$")]
    pub review_every: Option<String>,
    /// What the attempts after the first of one original action (a routed proxy call's next
    /// targets) may hold and spend together in this group, in its unit, outside runs (a run's
    /// own `maxFallbackSpend` caps the groups it holds); past it the next attempt is denied
    /// `fallback_budget_exhausted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fallback_spend: Option<Milli>,
}

/// `{"amount": 1000, "rollover": {"max": 500}}`: each period of the group has `amount` credits
/// that burn before any grant and end with the period; with `rollover`, what is left of them
/// (at most `max`) carries into the next period only.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AllowanceDoc {
    pub amount: Milli,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollover: Option<RolloverDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloverDoc {
    pub max: Milli,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PeriodDoc {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// A `rolling` period's length: at most the quota in any span of this many seconds
    /// ending now (1 to 86,400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 86400)]
    pub seconds: Option<u32>,
}

/// `{ "event": "image.*", "metadata": { "variant": ["1k", "2k"] } }`, with its own
/// `measure` when the first rule that matches prices the event apart (`{"rate": 10}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    pub event: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<MeasureDoc>,
}

pub(super) const PERIOD_TYPES: &str = "must be one of minute, hour, day, week, month, year, lifetime, rolling (or minutely, hourly, daily, weekly, monthly, yearly)";
pub(super) const ANCHORS: &str = "must be \"calendar\" or \"subscription_start\"";

/// An event pattern: an exact name, `prefix.*`, or `*`.
pub(super) fn check_pattern(pattern: &str) -> Result<(), &'static str> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    check_event(name).map_err(|_| "must be an event name, a prefix wildcard like image.*, or *")
}

pub(super) fn metadata_pattern_ok(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(is_scalar),
        other => is_scalar(other),
    }
}

pub(crate) fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}
