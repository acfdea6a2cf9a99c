//! Wire types of runs: a run's start, its reading and its listing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CounterAnswer, DenialAnswer};
use crate::gateway::RunView;
use crate::json::rfc3339;
use crate::quota::{Milli, RunLimits};

/// A run's limits; each absent (or null) is no limit.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunLimitsDoc {
    /// At most this many step reserves and tracks.
    #[schema(minimum = 1)]
    pub steps: Option<u64>,
    /// At most this many steps with the same `actionId`.
    #[schema(minimum = 1)]
    pub attempts_per_action: Option<u64>,
    /// At most this many steps of kind `fallback`.
    pub fallbacks: Option<u64>,
    /// Fallback steps spend at most this share (0 to 1) of each group's budget.
    #[schema(minimum = 0, maximum = 1)]
    pub fallback_share: Option<f64>,
    /// The attempts after the first of one action (a routed proxy call's next targets) hold
    /// and spend at most this much together in each group the run holds, in the group's unit;
    /// past it the next attempt is denied `fallback_budget_exhausted`.
    #[schema(value_type = Option<f64>, minimum = 0)]
    pub max_fallback_spend: Option<Milli>,
}

impl RunLimitsDoc {
    pub fn of(limits: &RunLimits) -> RunLimitsDoc {
        RunLimitsDoc {
            steps: limits.steps,
            attempts_per_action: limits.attempts_per_action,
            fallbacks: limits.fallbacks,
            fallback_share: limits.fallback_share_ppm.map(|ppm| ppm as f64 / 1_000_000.0),
            max_fallback_spend: limits.max_fallback_spend,
        }
    }
}

/// `POST /v1/runs`'s answer: a reserve's, with the run's id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStartAnswer {
    pub allowed: bool,
    /// Null when denied: no run exists then.
    pub run_id: Option<String>,
    pub expires_at: Option<String>,
    pub reasons: Vec<&'static str>,
    pub denied_by: Vec<String>,
    pub denials: Vec<DenialAnswer>,
    pub counters: Vec<CounterAnswer>,
}

/// One group a run holds: its budget and what became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunGroupAnswer {
    pub group_id: String,
    pub unit: &'static str,
    /// What the run holds in the group.
    pub budget: Milli,
    /// What its steps committed or tracked.
    pub used: Milli,
    /// What its open steps hold.
    pub open: Milli,
    /// budget - used - open, never below 0.
    pub remaining: Milli,
    /// What its fallback steps hold or spent.
    pub fallback_spent: Milli,
}

/// A run: its budget per group, its steps and attempts, its children, its state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunAnswer {
    pub run_id: String,
    pub user_id: String,
    pub event: String,
    /// `open`, `closed` or `expired` (it closed itself at its expiry).
    pub state: &'static str,
    pub created_at: Option<String>,
    pub expires_at: String,
    pub ended_at: Option<String>,
    /// The run it was carved from, for a child run.
    pub parent_run_id: Option<String>,
    pub limits: RunLimitsDoc,
    pub steps: u64,
    pub fallbacks: u64,
    /// Steps per `actionId`.
    pub attempts: BTreeMap<String, u64>,
    pub groups: Vec<RunGroupAnswer>,
    pub children: Vec<String>,
}

impl RunAnswer {
    pub fn of(view: &RunView, user: &str) -> RunAnswer {
        let (r, run) = (&view.reservation, &view.run);
        RunAnswer {
            run_id: view.id.clone(),
            user_id: user.to_string(),
            event: r.event.clone(),
            state: view.state.as_str(),
            created_at: r.created_ms.map(rfc3339),
            expires_at: rfc3339(r.expires_ms),
            ended_at: r.ended_ms.map(rfc3339),
            parent_run_id: r.step.as_ref().map(|s| s.run.clone()),
            limits: RunLimitsDoc::of(&run.limits),
            steps: run.steps,
            fallbacks: run.fallbacks,
            attempts: run.attempts.clone(),
            groups: run
                .groups(&r.holds)
                .into_iter()
                .map(|g| RunGroupAnswer {
                    remaining: g.remaining(),
                    group_id: g.group,
                    unit: g.unit.as_str(),
                    budget: g.budget,
                    used: g.used,
                    open: g.open,
                    fallback_spent: g.fallback_spent,
                })
                .collect(),
            children: run.children.clone(),
        }
    }
}

/// `GET /v1/runs?userId=`: the user's runs, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunList {
    pub data: Vec<RunAnswer>,
    /// Always null: the newest runs the records keep, at most 100.
    pub next_cursor: Option<String>,
}

/// `POST /v1/runs/{runId}/extend`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunExtendAnswer {
    pub run_id: String,
    pub expires_at: String,
}
