//! `quota-gateway simulate`: one pricing-lab simulation through the HTTP API. It starts the
//! simulation, polls its progress onto standard error, and answers the report as a summary
//! table, writing the per-user rows as CSV when asked. It speaks HTTP only: the report is read
//! from the wire as the contract documents it, never through the gateway's types.
//!
//! This file is the verb (start, poll, fetch the CSV); `body.rs` builds what is sent,
//! `wire.rs` reads what comes back, `meter.rs` draws the progress, `summary.rs` the table.

mod body;
mod meter;
mod summary;
mod wire;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use self::meter::Meter;
use self::wire::{Failure, SimulationAnswer};

pub use self::summary::summary;
pub use self::wire::{ChangeCount, GroupPeak, Percentiles, Report, Totals, UserRow, UserScenario};

/// How often a running simulation is asked for its progress.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// Failed polls in a row (unreachable, 502, 503, 504) before giving up: a GET is safe to
/// repeat, and a blip must not end a wait of many minutes.
const POLL_RETRIES: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not valid JSON: {1}")]
    Json(String, serde_json::Error),
    #[error("{0}")]
    Argument(String),
    /// The cause is the source, not repeated in the message: `{:#}` prints the chain once.
    #[error("cannot reach the gateway")]
    Http(#[from] reqwest::Error),
    #[error("the gateway answered {status} {code}{}: {detail}", note("field", .field))]
    Refused {
        status: u16,
        code: String,
        field: Option<String>,
        detail: String,
    },
    #[error("the gateway's answer is not a simulation: {0}")]
    Answer(serde_json::Error),
    #[error("simulation {id} failed{}: {detail}", note("bound", .bound))]
    Failed {
        id: String,
        bound: Option<String>,
        detail: String,
    },
    #[error("simulation {id} is still running after {seconds} s; it goes on in the gateway (GET /v1/simulations/{id}), or raise --timeout-seconds")]
    TimedOut { id: String, seconds: u64 },
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
}

/// " (field range)", or nothing.
fn note(name: &str, value: &Option<String>) -> String {
    value.as_ref().map(|v| format!(" ({name} {v})")).unwrap_or_default()
}

/// The plan to try.
pub enum Candidate {
    /// A JSON file holding a plan document, as `PUT /v1/plans/{planId}` takes.
    File(PathBuf),
    /// A stored plan, by id.
    Stored(String),
}

/// Whose recorded demand to replay.
pub enum Cohort {
    Plan(String),
    Users(Vec<String>),
    /// A file with one user id a line; blank lines are skipped.
    UsersFile(PathBuf),
}

/// What to simulate, where, and how long to wait for it.
pub struct SimulateRequest<'a> {
    pub url: &'a str,
    pub key: &'a str,
    pub candidate: Candidate,
    pub cohort: Cohort,
    /// RFC 3339 times or dates (UTC midnight); either may be absent.
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub timeout: Duration,
    /// Where to write the per-user rows as CSV.
    pub csv: Option<&'a Path>,
}

/// A finished simulation: what was tried on whom, and its report.
#[derive(Debug)]
pub struct Simulated {
    pub id: String,
    pub candidate_plan_id: String,
    pub from: String,
    pub to: String,
    pub report: Report,
}

/// Starts the simulation, waits for it (drawing progress on standard error when `progress`),
/// writes the CSV when asked, and answers the report.
pub async fn simulate(request: &SimulateRequest<'_>, progress: bool) -> Result<Simulated, SimulateError> {
    let body = body::body(request)?;
    let client = reqwest::Client::new();
    let base = request.url.trim_end_matches('/');
    let started = client
        .post(format!("{base}/v1/simulations"))
        .bearer_auth(request.key)
        .json(&body)
        .send()
        .await?;
    if started.status() != StatusCode::ACCEPTED {
        return Err(refused(started).await);
    }
    let mut answer = decode(started).await?;
    let address = format!("{base}/v1/simulations/{}", answer.id);
    let mut meter = Meter::new(progress);
    meter.show(&answer.id, &answer.progress);
    let deadline = Instant::now() + request.timeout;
    let mut failures = 0;
    while answer.status == "running" {
        if Instant::now() >= deadline {
            meter.end(&answer.id, &answer.progress);
            return Err(SimulateError::TimedOut {
                id: answer.id,
                seconds: request.timeout.as_secs(),
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
        let polled = client.get(&address).bearer_auth(request.key).send().await;
        let transient = match &polled {
            Ok(response) => matches!(response.status().as_u16(), 502..=504),
            Err(err) => !err.is_builder(),
        };
        if transient && failures < POLL_RETRIES {
            failures += 1;
            continue;
        }
        failures = 0;
        let response = polled?;
        if response.status() != StatusCode::OK {
            meter.end(&answer.id, &answer.progress);
            return Err(refused(response).await);
        }
        answer = decode(response).await?;
        meter.show(&answer.id, &answer.progress);
    }
    meter.end(&answer.id, &answer.progress);
    let report = match (answer.report, answer.error) {
        (Some(report), _) if answer.status == "done" => report,
        (_, error) => {
            let error = error.unwrap_or(Failure {
                bound: None,
                detail: format!("it ended as {}", answer.status),
            });
            return Err(SimulateError::Failed {
                id: answer.id,
                bound: error.bound,
                detail: error.detail,
            });
        }
    };
    if let Some(out) = request.csv {
        write_csv(&client, &address, request.key, out).await?;
    }
    Ok(Simulated {
        id: answer.id,
        candidate_plan_id: answer.candidate_plan_id,
        from: answer.from,
        to: answer.to,
        report,
    })
}

async fn decode(response: reqwest::Response) -> Result<SimulationAnswer, SimulateError> {
    let text = response.text().await?;
    serde_json::from_str(&text).map_err(SimulateError::Answer)
}

/// A problem+json answer's code, field and detail.
async fn refused(response: reqwest::Response) -> SimulateError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or_default();
    let detail = match body["detail"].as_str() {
        Some(detail) => detail.to_string(),
        None if text.trim().is_empty() => "no detail".to_string(),
        None => text.trim().chars().take(200).collect(),
    };
    SimulateError::Refused {
        status,
        code: body["code"].as_str().unwrap_or("without a code").to_string(),
        field: body["field"].as_str().map(str::to_string),
        detail,
    }
}

/// The rows as CSV into `out`, written beside it and renamed, so that a failed write never
/// leaves a file that looks like a short report.
async fn write_csv(client: &reqwest::Client, address: &str, key: &str, out: &Path) -> Result<(), SimulateError> {
    let response = client
        .get(address)
        .bearer_auth(key)
        .header("Accept", "text/csv")
        .send()
        .await?;
    if response.status() != StatusCode::OK {
        return Err(refused(response).await);
    }
    let rows = response.bytes().await?;
    let name = out.display().to_string();
    let partial = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().map_or("simulation.csv".into(), |n| n.to_string_lossy())
    ));
    let written = std::fs::write(&partial, &rows).and_then(|()| std::fs::rename(&partial, out));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(SimulateError::Write(name, err));
    }
    Ok(())
}
