//! The simulation as `GET /v1/simulations/{id}` answers it, read as the contract documents
//! it: these types mirror the wire, never the gateway's own, so the client stays a client.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Number;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SimulationAnswer {
    pub(super) id: String,
    pub(super) status: String,
    pub(super) candidate_plan_id: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) progress: Progress,
    pub(super) error: Option<Failure>,
    pub(super) report: Option<Report>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Progress {
    pub(super) users: u64,
    pub(super) users_done: u64,
    pub(super) entries: u64,
}

#[derive(Debug, Deserialize)]
pub(super) struct Failure {
    pub(super) bound: Option<String>,
    pub(super) detail: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The share of recorded decisions the baseline reproduced (1 is all).
    pub fidelity: f64,
    pub users: u64,
    pub entries: u64,
    pub recorded_decisions: u64,
    pub reproduced_decisions: u64,
    pub baseline: Totals,
    pub candidate: Totals,
    pub newly_denied: ChangeCount,
    pub newly_admitted: ChangeCount,
    /// Amounts keep the gateway's decimal text (exact milli-units).
    pub credits_difference: Number,
    pub cents_difference: Number,
    pub peak_share: Vec<GroupPeak>,
    /// Most affected first.
    pub rows: Vec<UserRow>,
}

#[derive(Debug, Deserialize)]
pub struct Totals {
    pub admitted: u64,
    pub denied: u64,
    pub estimated: u64,
    /// Per threshold ("50", "80", "100"), the users whose peak share reached it.
    pub crossed: BTreeMap<String, u64>,
    pub credits: Number,
    pub cents: Number,
}

#[derive(Debug, Deserialize)]
pub struct ChangeCount {
    pub decisions: u64,
    pub users: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPeak {
    pub group_id: String,
    pub baseline: Percentiles,
    pub candidate: Percentiles,
}

/// Shares of a quota (1 is 100 %).
#[derive(Debug, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub user_id: String,
    pub newly_denied: u64,
    pub newly_admitted: u64,
    pub baseline: UserScenario,
    pub candidate: UserScenario,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserScenario {
    pub admitted: u64,
    pub denied: u64,
    /// Per group, the highest share of its quota the user reached.
    pub peak_share: BTreeMap<String, f64>,
}
