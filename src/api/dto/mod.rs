//! Wire types: request bodies (unknown fields refused) and answers, camelCase, times in RFC 3339 UTC.
//! This file holds the data plane's; `account.rs` those of subscriptions, users, projects and
//! keys; `ledger.rs` those of the usage ledger and its daily rollups; `webhooks.rs` those of
//! webhook endpoints and deliveries.
//! The data plane's answers (`ReserveAnswer`, `CommitAnswer`, `ReleaseAnswer`, `TrackAnswer`)
//! are written by `direct.rs`, byte for byte as serde writes these types, which stay their
//! contract and OpenAPI schema.

mod account;
mod amounts;
mod approvals;
mod credits;
pub mod direct;
mod ledger;
mod runs;
mod simulations;
mod webhooks;

pub use account::*;
pub use amounts::Sum;
pub use approvals::*;
pub use credits::*;
pub use ledger::*;
pub use runs::*;
pub use simulations::*;
pub use webhooks::*;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::ApiError;
use crate::json::rfc3339;
use crate::quota::{check_outcome, Counter, Milli, Window};

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommitBody {
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
    /// What the call's output came to: `accepted`, `rejected`, `failed` or a word of the app's.
    #[schema(pattern = "^[a-z0-9_.-]{1,32}$")]
    pub outcome: Option<String>,
}

/// `POST /v1/runs/{runId}/close`: what the run's output came to, when the caller knows.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    #[schema(pattern = "^[a-z0-9_.-]{1,32}$")]
    pub outcome: Option<String>,
}

/// `POST /v1/reservations/{id}/outcome`: what a committed call's output came to, said after.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    #[schema(pattern = "^[a-z0-9_.-]{1,32}$")]
    pub outcome: String,
}

/// The answer of `POST /v1/reservations/{id}/outcome`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeAnswer {
    pub reservation_id: String,
    pub outcome: String,
    /// The outcome said before, which this one replaced; null when none was.
    pub previous: Option<String>,
}

/// An `outcome` as a call gave it, checked: the error names the field.
pub fn outcome(word: Option<&str>) -> Result<Option<&str>, ApiError> {
    word.map(|w| check_outcome(w).map(|_| w).map_err(|d| ApiError::invalid("outcome", d)))
        .transpose()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtendBody {
    pub ttl_seconds: i64,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CounterAnswer {
    /// Whose counter it is: the user the call was about, or a parent whose budget it shares.
    pub subject_id: String,
    pub group_id: String,
    /// A per-value group's counter (`"per"`): the value of the event's metadata it counts;
    /// absent on other groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub label: String,
    pub unit: &'static str,
    pub mode: &'static str,
    pub quota: Milli,
    #[schema(value_type = crate::api::dto::Sum)]
    pub used: Milli,
    /// What open reservations hold.
    #[schema(value_type = crate::api::dto::Sum)]
    pub reserved: Milli,
    /// A team's group, in usage: capacity leased to its members' slices that they have
    /// neither used nor hold yet (their use shows in `used` and `reserved` as it happens);
    /// absent when nothing is leased, and in every other answer (where `reserved` counts it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::dto::Sum>)]
    pub leased: Option<Milli>,
    /// `used` + `reserved` + `leased`.
    #[schema(value_type = crate::api::dto::Sum)]
    pub count: Milli,
    /// `quota` − `count`, or a balance group's spendable balance.
    #[schema(value_type = crate::api::dto::Sum)]
    pub remaining: Milli,
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
    /// A rolling window's length in seconds (its `periodStart` is its oldest sub-window's
    /// start, `resetsAt` when all it counts now has rolled out); absent on calendar periods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolling_seconds: Option<i64>,
    /// Past the quota; for a balance group, in debt.
    pub exceeded: bool,
    /// A balance group's balance (its `remaining` is what can be spent now, its `reserved`
    /// what open reservations hold of it); absent on other groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// A balance group's debt: burned beyond every grant, paid first by the next grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::dto::Sum>)]
    pub debt: Option<Milli>,
    /// A balance group's grants that expire soonest (null when none with anything remaining
    /// expires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soonest_expiry: Option<Option<SoonestExpiry>>,
    /// In usage: what the period's outputs came to, per outcome said (`accepted`, `rejected`,
    /// `failed`, the app's own words); absent when none was said, and in other answers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, u64>,
    /// In usage, once an output was accepted: `used` divided by accepted outcomes, the cost
    /// per accepted output in the group's unit (rounded down to 0.001).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_accepted: Option<Milli>,
    /// In usage: what attempts after the first of an original action (a routed proxy call's
    /// next targets) committed in the period; absent when none did, and in other answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::dto::Sum>)]
    pub fallback_used: Option<Milli>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoonestExpiry {
    #[schema(value_type = crate::api::dto::Sum)]
    pub amount: Milli,
    pub at: String,
}

impl CounterAnswer {
    /// `c` as answered for a call about `user` (a counter without a subject is the user's).
    pub fn of(c: &Counter, user: &str) -> Self {
        CounterAnswer {
            subject_id: c.subject.as_deref().unwrap_or(user).to_string(),
            group_id: c.group_id.clone(),
            value: c.value.clone(),
            label: c.label.clone(),
            unit: c.unit.as_str(),
            mode: c.mode.as_str(),
            quota: c.quota,
            used: c.used,
            reserved: c.reserved,
            leased: (c.leased > Milli::ZERO).then_some(c.leased),
            count: c.count(),
            remaining: c.remaining(),
            period_start: c.period_start_ms.map(rfc3339),
            resets_at: c.resets_at_ms.map(rfc3339),
            rolling_seconds: c.rolling_ms.map(|ms| ms / 1000),
            exceeded: c.exceeded(),
            balance: c.credit.as_ref().map(|(name, _)| name.clone()),
            debt: c.credit.as_ref().map(|(_, credit)| credit.debt),
            soonest_expiry: c.credit.as_ref().map(|(_, credit)| {
                credit.soonest.map(|(amount, at)| SoonestExpiry {
                    amount,
                    at: rfc3339(at),
                })
            }),
            outcomes: c.outcomes.0.iter().cloned().collect(),
            cost_per_accepted: c.outcomes.cost_per_accepted(c.used),
            fallback_used: (c.fallback_used > Milli::ZERO).then_some(c.fallback_used),
        }
    }
}

/// The counters of a call about `user`.
pub fn counters(list: &[Counter], user: &str) -> Vec<CounterAnswer> {
    list.iter().map(|c| CounterAnswer::of(c, user)).collect()
}

/// A group that denied, named with its subject.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DenialAnswer {
    pub subject_id: String,
    /// The group that would pass its quota; null when the subject denied before any counter
    /// (a blocked parent) or a step's run denied the whole step.
    pub group_id: Option<String>,
    /// Why: `limit_reached` for a group (`insufficient_balance` for a balance group,
    /// `approval_pending` for an approval group whose request waits for a person), else the
    /// level's own reason (`user_blocked`, ...). A step of a run: `run_budget_exhausted` (the
    /// run's budget of the group has no room) or `fallback_budget_exhausted` (a fallback past
    /// its share of it) for a group; for the whole step (no group) `run_ended`,
    /// `run_steps_exhausted`, `action_attempts_exhausted`, `fallback_budget_exhausted` (the
    /// run's fallbacks are used up) or `run_too_deep` (a child run would be a fourth level).
    /// `unpriced_model`: a group priced by the model has no price for the call's (`model`).
    /// `parent_capacity_leased`: a team's group would have room but for what it has leased to
    /// its members' slices, back by `Retry-After`.
    pub reason: &'static str,
    /// The pending approval request (`GET /v1/approvals`) of an `approval_pending` denial;
    /// absent on every other denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// The model an `unpriced_model` denial found no price for (`PUT /v1/prices/{model}`
    /// sets one); absent on every other denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl DenialAnswer {
    /// A denial as answers name it, for a call about `user`.
    pub fn of(d: &crate::quota::Denial, user: &str) -> DenialAnswer {
        DenialAnswer {
            subject_id: d.subject.as_deref().unwrap_or(user).to_string(),
            group_id: d.group.clone(),
            reason: d.reason.code(),
            approval_id: d.approval_id.clone(),
            model: d.model.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReserveAnswer {
    pub allowed: bool,
    pub reservation_id: Option<String>,
    pub expires_at: Option<String>,
    pub reasons: Vec<&'static str>,
    /// Ids of the groups that denied (of any level: `denials` names each with its subject).
    pub denied_by: Vec<String>,
    pub denials: Vec<DenialAnswer>,
    pub counters: Vec<CounterAnswer>,
    /// A step's: its run as the step left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<StepRunAnswer>,
    /// Present when a hold did not fit whole and took what was left (`fit: "clamp"`): what
    /// the call was granted. Call the provider for no more than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<GrantedAnswer>,
    /// A reserve of `alternatives`: the index of the one held (absent when none fit; the
    /// answer is then the denial of them all, every alternative's reasons, groups and
    /// counters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
    /// A reserve of `alternatives`: each one denied before the chosen one (every one, when
    /// none fit), in the order asked, with its denial as a reserve of it alone says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<AlternativeAnswer>>,
}

/// One alternative of a reserve that was denied: its index and event, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlternativeAnswer {
    pub index: usize,
    pub event: String,
    pub reasons: Vec<&'static str>,
    pub denied_by: Vec<String>,
    pub denials: Vec<DenialAnswer>,
    pub counters: Vec<CounterAnswer>,
}

/// What a clamped reserve granted: its quantity, and its output in whole tokens when the
/// event named `output_tokens` (the maximum output to ask the provider for).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantedAnswer {
    #[schema(value_type = f64)]
    pub quantity: Milli,
    pub output_tokens: Option<u64>,
}

/// What a step's answer says of its run, so an agent can wrap up before it is cut off.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRunAnswer {
    pub run_id: String,
    /// Per group the run holds, what it has left, in the group's unit.
    #[schema(value_type = std::collections::BTreeMap<String, f64>)]
    pub remaining: std::collections::BTreeMap<String, Milli>,
    /// Steps so far, this one included when it was admitted.
    pub steps: u64,
    pub fallbacks: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitAnswer {
    pub reservation_id: String,
    pub status: &'static str,
    pub late: bool,
    pub counters: Vec<CounterAnswer>,
    pub over_quota: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackAnswer {
    pub counters: Vec<CounterAnswer>,
    pub over_quota: Vec<String>,
    /// A step's: its run as the step left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<StepRunAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtendAnswer {
    pub reservation_id: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldAnswer {
    /// Whose budget the hold is on: the user's, or a parent's.
    pub subject_id: String,
    pub group_id: String,
    /// What the reservation holds, in units.
    pub amount: Milli,
    /// What was committed, once it was.
    pub committed: Option<Milli>,
    pub period_start: Option<String>,
    pub resets_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservationAnswer {
    pub reservation_id: String,
    pub user_id: String,
    pub event: String,
    /// The quantity reserved; null for reservations made before it was kept.
    pub quantity: Option<Milli>,
    /// The event's metadata as reserved; null when it had none.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub status: &'static str,
    pub expires_at: String,
    pub holds: Vec<HoldAnswer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseAnswer {
    pub reservation_id: String,
    pub status: &'static str,
    pub counters: Vec<CounterAnswer>,
}

/// A plan's default period; both ends are null for a lifetime plan, which has no window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodAnswer {
    pub start: Option<String>,
    pub end: Option<String>,
}

impl From<Window> for PeriodAnswer {
    fn from(w: Window) -> Self {
        PeriodAnswer {
            start: w.end_ms.map(|_| rfc3339(w.start_ms)),
            end: w.end_ms.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageAnswer {
    pub user_id: String,
    pub plan_id: Option<String>,
    pub status: &'static str,
    pub period: Option<PeriodAnswer>,
    pub counters: Vec<CounterAnswer>,
    /// The subject whose budget this one shares; null for none.
    pub parent_id: Option<String>,
    /// Each ancestor's usage (the pools the user draws from), nearest first.
    pub parents: Vec<ParentUsageAnswer>,
    /// The user's open async jobs (batches, videos) submitted through the proxy, oldest
    /// first: each holds its worst case until the provider says it ended.
    pub jobs: Vec<JobAnswer>,
}

/// An async job submitted through the proxy and not yet settled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAnswer {
    /// The provider's id of the job.
    pub id: String,
    /// The upstream it runs on.
    pub upstream: String,
    /// `batch` (OpenAI), `message_batch` (Anthropic), `video` (OpenAI), `gemini_batch`, or
    /// `realtime_session` (an open realtime session, its `id` the provider's session id).
    pub kind: &'static str,
    pub model: String,
    /// Its worst case as held, in the proxy's counts (`input_tokens`, `output_tokens`,
    /// `video_seconds`, ...).
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub held: serde_json::Map<String, serde_json::Value>,
    /// The hold's reservation.
    pub reservation_id: String,
    pub submitted_at: String,
    /// When the job's window ends: past it the job is overdue (stuck at the provider).
    pub due_at: String,
    /// When its hold expires; the gateway settles it before.
    pub hold_ends_at: String,
    pub age_seconds: u64,
    /// Still open past its window.
    pub overdue: bool,
}

impl JobAnswer {
    pub fn of(job: &crate::quota::JobRecord, now_ms: i64) -> JobAnswer {
        JobAnswer {
            id: job.id.clone(),
            upstream: job.upstream.clone(),
            kind: job.kind.as_str(),
            model: job.model.clone(),
            held: job.held.clone(),
            reservation_id: job.reservation.clone(),
            submitted_at: rfc3339(job.created_ms),
            due_at: rfc3339(job.due_ms),
            hold_ends_at: rfc3339(job.ends_ms),
            age_seconds: (now_ms - job.created_ms).max(0) as u64 / 1_000,
            overdue: now_ms > job.due_ms,
        }
    }
}

/// One ancestor's usage, under a member's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentUsageAnswer {
    pub subject_id: String,
    pub plan_id: Option<String>,
    pub status: &'static str,
    pub period: Option<PeriodAnswer>,
    pub counters: Vec<CounterAnswer>,
}
