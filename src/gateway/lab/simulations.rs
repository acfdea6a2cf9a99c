//! The pricing lab: a simulation replays a cohort's recorded ledger under the plans its users
//! are on (the baseline) and under a candidate plan (`quota::replay`), on a task of its own,
//! and keeps its progress, then its report, for a day. Read-only: it reads subscriptions, plans
//! and ledgers, and writes nothing but its own state.
//!
//! Bounded: at most `MAX_USERS` users and `MAX_ENTRIES` ledger entries, a range of at most
//! `MAX_RANGE_MS`, `MAX_RUNNING` at a time on a node, and `WALL_TIME` each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::Lab;
use crate::gateway::{GatewayError, MAX_LIFETIME_MS};
use crate::quota::replay::{replay, PlanSpan, Report, Subject, Timeline, UserRow};
use crate::quota::{Plan, PlanDoc, UsageEvent, UserFilter, UserId, DAY_MS};
use crate::secrets::random_bytes;

pub(crate) const MAX_USERS: usize = 10_000;
pub(crate) const MAX_ENTRIES: u64 = 1_000_000;
pub(crate) const MAX_RANGE_MS: i64 = 92 * DAY_MS;
/// A simulation looks back 30 days unless told otherwise.
pub(crate) const DEFAULT_RANGE_MS: i64 = 30 * DAY_MS;
/// Ledger entries carry Redis's time, which a node estimates to within the scripts' accepted
/// skew: a range to "now" reaches this far past the node's estimate, so an entry written a
/// moment ago is in it.
const NOW_SLACK_MS: i64 = 2_000;
pub(crate) const MAX_RUNNING: usize = 2;
pub(crate) const WALL_TIME: Duration = Duration::from_secs(600);
/// How long a simulation's state is kept after its last write.
pub(crate) const KEEP: Duration = Duration::from_secs(86_400);
/// Ledger entries read per call.
const PAGE: usize = 1_000;
/// How often a running simulation writes its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Whose demand a simulation replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cohort {
    /// The users on this plan.
    Plan(String),
    /// These users (ids as `UserId` parses them).
    Users(Vec<String>),
}

/// The plan a simulation tries.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// A document not stored (its id, or "candidate").
    Draft(Box<Plan>),
    /// A stored plan, by id.
    Stored(String),
}

#[derive(Debug, Clone)]
pub struct SimulationRequest {
    pub candidate: Candidate,
    pub cohort: Cohort,
    /// Default: `to` minus `DEFAULT_RANGE_MS`.
    pub from_ms: Option<i64>,
    /// Default: now (and the scripts' accepted clock skew past it).
    pub to_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SimulationStatus {
    Running,
    Done,
    Failed,
}

impl SimulationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SimulationStatus::Running => "running",
            SimulationStatus::Done => "done",
            SimulationStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub users: u64,
    pub users_done: u64,
    pub entries: u64,
}

/// Why a simulation stopped: a bound it passed (`wallTime`), or a failure to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub bound: Option<String>,
    pub detail: String,
}

/// A simulation as kept: its request, progress, and report or failure once it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Simulation {
    pub id: String,
    pub status: SimulationStatus,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub candidate_plan_id: String,
    /// The candidate as it was tried (without a version), so its report can show it, diff it
    /// against the stored plan, and hand it back to the editor. None in one kept before.
    #[serde(default)]
    pub candidate: Option<PlanDoc>,
    pub cohort: Cohort,
    pub from_ms: i64,
    pub to_ms: i64,
    pub progress: Progress,
    pub error: Option<Failure>,
    pub report: Option<Report>,
}

/// A place among the node's running simulations, given back when dropped.
pub(super) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether `id` has the shape simulations are given: `sim_` and 32 lower-case hex digits.
pub(crate) fn is_simulation_id(id: &str) -> bool {
    id.strip_prefix("sim_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn bound(bound: &'static str, detail: String) -> GatewayError {
    GatewayError::Bound { bound, detail }
}

impl From<GatewayError> for Failure {
    fn from(err: GatewayError) -> Failure {
        Failure {
            bound: None,
            detail: err.to_string(),
        }
    }
}

impl Lab {
    /// Checks a simulation's bounds, keeps it as running and starts it; answers it at once.
    pub async fn start_simulation(
        &self,
        project: &str,
        request: SimulationRequest,
    ) -> Result<Simulation, GatewayError> {
        let SimulationRequest {
            candidate,
            cohort,
            from_ms,
            to_ms,
        } = request;
        let to_ms = to_ms.unwrap_or_else(|| self.node.now_ms() + NOW_SLACK_MS);
        let from_ms = from_ms.unwrap_or(to_ms - DEFAULT_RANGE_MS);
        if from_ms >= to_ms {
            return Err(GatewayError::Invalid {
                field: "from",
                detail: "must be before to".into(),
            });
        }
        if to_ms - from_ms > MAX_RANGE_MS {
            return Err(bound("range", "a simulation replays at most 92 days".into()));
        }
        let candidate = match candidate {
            Candidate::Draft(plan) => *plan,
            Candidate::Stored(id) => (*self
                .node
                .plan(project, &id)
                .await?
                .ok_or(GatewayError::PlanNotFound(id))?)
            .clone(),
        };
        let users = self.cohort(project, &cohort).await?;
        let entries = self.ledger_lengths(project, &users).await?;
        if entries > MAX_ENTRIES {
            return Err(bound(
                "entries",
                format!("the cohort's ledgers hold {entries} entries, more than the {MAX_ENTRIES} a simulation replays; narrow the cohort"),
            ));
        }
        let slot = self.simulation_slot()?;
        let simulation = Simulation {
            id: format!("sim_{}", hex::encode(random_bytes::<16>())),
            status: SimulationStatus::Running,
            created_ms: self.node.now_ms(),
            finished_ms: None,
            candidate_plan_id: candidate.id.clone(),
            candidate: Some(PlanDoc {
                version: None,
                ..candidate.doc.clone()
            }),
            cohort,
            from_ms,
            to_ms,
            progress: Progress {
                users: users.len() as u64,
                ..Progress::default()
            },
            error: None,
            report: None,
        };
        self.keep_simulation(project, &simulation).await?;
        let (lab, project, running) = (self.clone(), project.to_string(), simulation.clone());
        tokio::spawn(async move {
            let _slot = slot;
            lab.run_simulation(&project, running, candidate, &users).await;
        });
        Ok(simulation)
    }

    /// A simulation of the last day, or None (also for an id of another shape than the ones
    /// given, which is not looked up).
    pub async fn simulation(&self, project: &str, id: &str) -> Result<Option<Simulation>, GatewayError> {
        if !is_simulation_id(id) {
            return Ok(None);
        }
        let (Some(text), progress) = self.store.simulation(project, id).await? else {
            return Ok(None);
        };
        let mut simulation: Simulation = serde_json::from_str(&text).map_err(GatewayError::encode("simulation"))?;
        // A running one's progress is written apart; a finished one's state has its last.
        if let (SimulationStatus::Running, Some(progress)) = (simulation.status, progress) {
            simulation.progress = serde_json::from_str(&progress).map_err(GatewayError::encode("progress"))?;
        }
        Ok(Some(simulation))
    }

    /// Writes the whole state: at the start, and at the end with the report.
    async fn keep_simulation(&self, project: &str, simulation: &Simulation) -> Result<(), GatewayError> {
        let text = serde_json::to_string(simulation).map_err(GatewayError::encode("simulation"))?;
        Ok(self
            .store
            .put_simulation(project, &simulation.id, false, text, KEEP)
            .await?)
    }

    /// Writes the progress alone, beside the state (a cohort may name 10,000 users).
    async fn keep_progress(&self, project: &str, simulation: &Simulation) -> Result<(), GatewayError> {
        let text = serde_json::to_string(&simulation.progress).map_err(GatewayError::encode("progress"))?;
        Ok(self
            .store
            .put_simulation(project, &simulation.id, true, text, KEEP)
            .await?)
    }

    fn simulation_slot(&self) -> Result<Slot, GatewayError> {
        let running = self.running.clone();
        if running.fetch_add(1, Ordering::SeqCst) >= MAX_RUNNING {
            running.fetch_sub(1, Ordering::SeqCst);
            return Err(bound(
                "concurrency",
                format!("this node runs {MAX_RUNNING} simulations already; try again when one ends"),
            ));
        }
        Ok(Slot(running))
    }

    /// The cohort's users, at most MAX_USERS.
    async fn cohort(&self, project: &str, cohort: &Cohort) -> Result<Vec<UserId>, GatewayError> {
        let plan = match cohort {
            Cohort::Users(users) if users.len() > MAX_USERS => {
                return Err(bound(
                    "cohort.userIds",
                    format!("a simulation replays at most {MAX_USERS} users"),
                ))
            }
            Cohort::Users(users) => {
                // Each once, in the order named.
                let mut seen = std::collections::HashSet::new();
                let mut ids = Vec::with_capacity(users.len());
                for user in users.iter().filter(|u| seen.insert(u.as_str())) {
                    ids.push(UserId::parse(user).map_err(|detail| GatewayError::Invalid {
                        field: "cohort.userIds",
                        detail: format!("{user}: {detail}"),
                    })?);
                }
                return Ok(ids);
            }
            Cohort::Plan(plan) => plan,
        };
        if self.node.plan(project, plan).await?.is_none() {
            return Err(GatewayError::PlanNotFound(plan.clone()));
        }
        let filter = UserFilter {
            plan_id: Some(plan.clone()),
            ..UserFilter::default()
        };
        let (mut users, mut after) = (Vec::new(), None);
        loop {
            let page = self.store.users(project, after.as_deref(), 1_000, &filter).await?;
            for entry in page.data {
                if let Ok(user) = UserId::parse(&entry.user_id) {
                    users.push(user);
                }
            }
            if users.len() > MAX_USERS {
                return Err(bound(
                    "users",
                    format!("plan {plan} has more than the {MAX_USERS} users a simulation replays; name them in cohort.userIds"),
                ));
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(users),
            }
        }
    }

    /// What the cohort's ledgers keep, whatever the times: a bound checked before starting.
    async fn ledger_lengths(&self, project: &str, users: &[UserId]) -> Result<u64, GatewayError> {
        let mut lengths = futures_util::stream::iter(users)
            .map(|user| self.store.ledger_length(project, user))
            .buffer_unordered(16);
        let mut total = 0;
        while let Some(length) = lengths.next().await {
            total += length?;
        }
        Ok(total)
    }

    async fn run_simulation(&self, project: &str, mut simulation: Simulation, candidate: Plan, users: &[UserId]) {
        let result = self
            .replay_cohort(project, &mut simulation, Arc::new(candidate), users)
            .await;
        simulation.finished_ms = Some(self.node.now_ms());
        match result {
            Ok(report) => {
                simulation.status = SimulationStatus::Done;
                simulation.report = Some(report);
            }
            Err(failure) => {
                simulation.status = SimulationStatus::Failed;
                simulation.error = Some(failure);
            }
        }
        if let Err(err) = self.keep_simulation(project, &simulation).await {
            tracing::warn!(simulation = simulation.id, %err, "a simulation's end could not be kept");
        }
    }

    /// The cohort's report, writing progress as it goes. Each user's replay runs on the
    /// blocking pool: one user may hold most of a million entries, and an HTTP worker's own
    /// runtime would wait for it.
    async fn replay_cohort(
        &self,
        project: &str,
        simulation: &mut Simulation,
        candidate: Arc<Plan>,
        users: &[UserId],
    ) -> Result<Report, Failure> {
        let (started, mut written) = (Instant::now(), Instant::now());
        let default_plan = self.node.project_settings(project).await?.and_then(|s| s.default_plan);
        let prices = Arc::new(self.node.price_book(project).await?);
        let range = simulation.from_ms..simulation.to_ms;
        let mut rows = Vec::with_capacity(users.len());
        for user in users {
            if started.elapsed() > WALL_TIME {
                return Err(Failure {
                    bound: Some("wallTime".into()),
                    detail: format!(
                        "a simulation runs at most {} s; narrow the cohort or the range",
                        WALL_TIME.as_secs()
                    ),
                });
            }
            let sub = self
                .store
                .subscription(project, user)
                .await
                .map_err(GatewayError::from)?;
            let plan = match sub.plan_id.clone().or_else(|| default_plan.clone()) {
                Some(id) => self.node.plan(project, &id).await?,
                None => None,
            };
            // The ledger before the range too (the usage its windows start with, the holds
            // made before it), and a hold's lifetime past it (the ends of holds made in it).
            let entries = self
                .ledger_range(project, user, 0, range.end.saturating_add(MAX_LIFETIME_MS))
                .await?;
            simulation.progress.entries += entries.len() as u64;
            simulation.progress.users_done += 1;
            // A user on no plan (or a deleted one) has no baseline to compare with.
            if let Some(plan) = plan {
                let (candidate, user, range, prices) = (candidate.clone(), user.clone(), range.clone(), prices.clone());
                let row = tokio::task::spawn_blocking(move || {
                    let timeline = Timeline::of(&entries);
                    let under = |plan: &Plan| {
                        let subject = Subject {
                            user: user.clone(),
                            spans: vec![PlanSpan {
                                from_ms: i64::MIN,
                                plan,
                                started_ms: sub.started_at_ms.unwrap_or(0),
                            }],
                            overrides: sub.overrides.clone(),
                            prices: prices.clone(),
                        };
                        replay(&subject, &timeline, range.clone())
                    };
                    UserRow::of(user.as_str(), &under(&plan), &under(&candidate))
                })
                .await
                .map_err(|err| Failure {
                    bound: None,
                    detail: format!("a replay stopped: {err}"),
                })?;
                rows.push(row);
            }
            if written.elapsed() > PROGRESS_EVERY {
                self.keep_progress(project, simulation).await?;
                written = Instant::now();
            }
        }
        let entries = simulation.progress.entries;
        tokio::task::spawn_blocking(move || Report::of(rows, entries))
            .await
            .map_err(|err| Failure {
                bound: None,
                detail: format!("the report stopped: {err}"),
            })
    }

    /// `user`'s ledger entries in [from_ms, to_ms), oldest first.
    async fn ledger_range(
        &self,
        project: &str,
        user: &UserId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<UsageEvent>, GatewayError> {
        let mut entries: Vec<UsageEvent> = Vec::new();
        loop {
            let after = entries.last().map(|e| e.position.clone());
            let page = self
                .store
                .ledger(project, user, after.as_deref(), from_ms, to_ms, PAGE)
                .await?;
            let full = page.len() == PAGE;
            entries.extend(page);
            if !full {
                return Ok(entries);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_of_the_shape_simulations_are_given_are_looked_up() {
        assert!(is_simulation_id("sim_0123456789abcdef0123456789abcdef"));
        for id in [
            "sim_0123456789ABCDEF0123456789abcdef",
            "sim_0123456789abcdef0123456789abcde",
            "sim_0123456789abcdef0123456789abcdef0",
            "run_0123456789abcdef0123456789abcdef",
            "sim_../../../../../../../../../../..",
            "",
        ] {
            assert!(!is_simulation_id(id), "{id}");
        }
    }
}
