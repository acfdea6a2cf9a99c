//! Wire types of the pricing lab's simulations (`POST /v1/simulations`, `GET
//! /v1/simulations/{simulationId}`), and the CSV of a report's rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gateway::lab::simulations::{Cohort, Simulation, SimulationStatus};
use crate::json::rfc3339;
use crate::quota::replay::{Percentiles, Report, Scenario, Totals, UserRow};
use crate::quota::{Milli, PlanDoc, SignedAmount};

/// `POST /v1/simulations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SimulationBody {
    /// The plan to try: a plan document as `PUT /v1/plans/{planId}` takes (its `id` optional),
    /// or `{"planId": "..."}` naming a stored plan.
    #[schema(value_type = Object)]
    pub candidate: Value,
    pub cohort: CohortDoc,
    /// RFC 3339; default: `to` minus 30 days.
    pub from: Option<String>,
    /// RFC 3339; default: now. At most 92 days after `from`.
    pub to: Option<String>,
}

/// Whose recorded demand to replay: the users on a plan, or named users (at most 10,000).
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CohortDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimulationProgress {
    pub users: u64,
    pub users_done: u64,
    /// Ledger entries read so far.
    pub entries: u64,
}

/// Why a simulation failed: the bound it passed (`wallTime`), or null for a failure to read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimulationError {
    pub bound: Option<String>,
    pub detail: String,
}

/// Where a simulation stands.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SimulationStatusAnswer {
    Running,
    Done,
    Failed,
}

/// A simulation: progress while it runs, then its report (kept a day).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimulationAnswer {
    #[schema(pattern = "^sim_[0-9a-f]{32}$")]
    pub id: String,
    pub status: SimulationStatusAnswer,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The candidate document's id, or `candidate` when it had none.
    pub candidate_plan_id: String,
    /// The candidate document as it was tried (a stored plan's as it stood then).
    pub candidate: Option<PlanDoc>,
    pub cohort: CohortDoc,
    pub from: String,
    pub to: String,
    pub progress: SimulationProgress,
    pub error: Option<SimulationError>,
    pub report: Option<ReportAnswer>,
}

/// Shares of a quota (1 is 100 %) at which the users' peaks stand.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PercentilesAnswer {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupPeakAnswer {
    pub group_id: String,
    pub baseline: PercentilesAnswer,
    pub candidate: PercentilesAnswer,
}

/// What one plan did with the cohort's demand.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotalsAnswer {
    pub admitted: u64,
    pub denied: u64,
    /// Denials it admitted, counted at their requested quantity (an estimate).
    pub estimated: u64,
    /// Per threshold ("50", "80", "100" % of a group's quota), the users whose peak reached it.
    pub crossed: BTreeMap<String, u64>,
    /// Credits burned by balance groups.
    pub credits: Milli,
    /// Counted by groups of unit cents.
    pub cents: Milli,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCount {
    pub decisions: u64,
    pub users: u64,
}

/// What one plan did with one user's demand.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserScenarioAnswer {
    pub admitted: u64,
    pub denied: u64,
    pub estimated: u64,
    /// The thresholds (50, 80, 100 %) the user's peak share reached.
    pub crossed: Vec<u16>,
    /// Per group, the highest share of its quota the user reached (1 is 100 %).
    pub peak_share: BTreeMap<String, f64>,
    pub credits: Milli,
    pub cents: Milli,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRowAnswer {
    pub user_id: String,
    /// Decisions the ledger recorded (admitted holds and denials), and those the baseline
    /// decided alike.
    pub recorded: u64,
    pub reproduced: u64,
    pub newly_denied: u64,
    pub newly_admitted: u64,
    pub baseline: UserScenarioAnswer,
    pub candidate: UserScenarioAnswer,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportAnswer {
    /// The share of recorded decisions the baseline replay reproduced (1 when none).
    pub fidelity: f64,
    pub users: u64,
    pub entries: u64,
    pub recorded_decisions: u64,
    pub reproduced_decisions: u64,
    pub baseline: TotalsAnswer,
    pub candidate: TotalsAnswer,
    pub newly_denied: ChangeCount,
    pub newly_admitted: ChangeCount,
    /// Credits burned under the candidate minus under the baseline.
    pub credits_difference: SignedAmount,
    pub cents_difference: SignedAmount,
    pub peak_share: Vec<GroupPeakAnswer>,
    /// Most affected first: newly denied, then newly admitted, then by id.
    pub rows: Vec<UserRowAnswer>,
}

/// A share of a quota (1 is 100 %) from millionths.
pub fn share(ppm: u64) -> f64 {
    ppm as f64 / 1_000_000.0
}

fn percentiles(p: &Percentiles) -> PercentilesAnswer {
    PercentilesAnswer {
        p50: share(p.p50),
        p90: share(p.p90),
        p99: share(p.p99),
        max: share(p.max),
    }
}

fn totals(t: &Totals) -> TotalsAnswer {
    TotalsAnswer {
        admitted: t.admitted,
        denied: t.denied,
        estimated: t.estimated,
        crossed: t.crossed.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        credits: Milli(t.credits),
        cents: Milli(t.cents),
    }
}

fn scenario(s: &Scenario) -> UserScenarioAnswer {
    UserScenarioAnswer {
        admitted: s.admitted,
        denied: s.denied,
        estimated: s.estimated,
        crossed: s.crossed.clone(),
        peak_share: s.peak_ppm.iter().map(|(g, p)| (g.clone(), share(*p))).collect(),
        credits: Milli(s.credits),
        cents: Milli(s.cents),
    }
}

fn row(r: &UserRow) -> UserRowAnswer {
    UserRowAnswer {
        user_id: r.user.clone(),
        recorded: r.recorded,
        reproduced: r.reproduced,
        newly_denied: r.newly_denied,
        newly_admitted: r.newly_admitted,
        baseline: scenario(&r.baseline),
        candidate: scenario(&r.candidate),
    }
}

fn difference(candidate: u64, baseline: u64) -> SignedAmount {
    SignedAmount(candidate as i64 - baseline as i64)
}

impl ReportAnswer {
    pub fn of(r: &Report) -> ReportAnswer {
        let a = &r.aggregate;
        ReportAnswer {
            fidelity: a.fidelity(),
            users: a.users,
            entries: a.entries,
            recorded_decisions: a.recorded,
            reproduced_decisions: a.reproduced,
            baseline: totals(&a.baseline),
            candidate: totals(&a.candidate),
            newly_denied: ChangeCount {
                decisions: a.newly_denied,
                users: a.newly_denied_users,
            },
            newly_admitted: ChangeCount {
                decisions: a.newly_admitted,
                users: a.newly_admitted_users,
            },
            credits_difference: difference(a.candidate.credits, a.baseline.credits),
            cents_difference: difference(a.candidate.cents, a.baseline.cents),
            peak_share: a
                .peaks
                .iter()
                .map(|(g, (b, c))| GroupPeakAnswer {
                    group_id: g.clone(),
                    baseline: percentiles(b),
                    candidate: percentiles(c),
                })
                .collect(),
            rows: r.users.iter().map(row).collect(),
        }
    }
}

impl SimulationAnswer {
    pub fn of(s: &Simulation) -> SimulationAnswer {
        SimulationAnswer {
            id: s.id.clone(),
            status: match s.status {
                SimulationStatus::Running => SimulationStatusAnswer::Running,
                SimulationStatus::Done => SimulationStatusAnswer::Done,
                SimulationStatus::Failed => SimulationStatusAnswer::Failed,
            },
            created_at: rfc3339(s.created_ms),
            finished_at: s.finished_ms.map(rfc3339),
            candidate_plan_id: s.candidate_plan_id.clone(),
            candidate: s.candidate.clone(),
            cohort: match &s.cohort {
                Cohort::Plan(plan) => CohortDoc {
                    plan_id: Some(plan.clone()),
                    user_ids: None,
                },
                Cohort::Users(users) => CohortDoc {
                    plan_id: None,
                    user_ids: Some(users.clone()),
                },
            },
            from: rfc3339(s.from_ms),
            to: rfc3339(s.to_ms),
            progress: SimulationProgress {
                users: s.progress.users,
                users_done: s.progress.users_done,
                entries: s.progress.entries,
            },
            error: s.error.as_ref().map(|e| SimulationError {
                bound: e.bound.clone(),
                detail: e.detail.clone(),
            }),
            report: s.report.as_ref().map(ReportAnswer::of),
        }
    }
}
