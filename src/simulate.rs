//! `quota-gateway simulate`: one pricing-lab simulation through the HTTP API. It starts the
//! simulation, polls its progress onto standard error, and answers the report as a summary
//! table, writing the per-user rows as CSV when asked. It speaks HTTP only: the report is read
//! from the wire as the contract documents it, never through the gateway's types.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Number, Value};

/// How often a running simulation is asked for its progress.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often progress is printed when standard error is not a terminal (a log, a CI job).
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Failed polls in a row (unreachable, 502, 503, 504) before giving up: a GET is safe to
/// repeat, and a blip must not end a wait of many minutes.
const POLL_RETRIES: u32 = 10;
/// The most affected users the summary lists.
const TOP_USERS: usize = 10;

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SimulationAnswer {
    id: String,
    status: String,
    candidate_plan_id: String,
    from: String,
    to: String,
    progress: Progress,
    error: Option<Failure>,
    report: Option<Report>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    users: u64,
    users_done: u64,
    entries: u64,
}

#[derive(Debug, Deserialize)]
struct Failure {
    bound: Option<String>,
    detail: String,
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

/// Starts the simulation, waits for it (drawing progress on standard error when `progress`),
/// writes the CSV when asked, and answers the report.
pub async fn simulate(request: &SimulateRequest<'_>, progress: bool) -> Result<Simulated, SimulateError> {
    let body = body(request)?;
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

/// The `POST /v1/simulations` body; files are read and times checked here, so a mistake in
/// them is told before anything is sent.
fn body(request: &SimulateRequest<'_>) -> Result<Value, SimulateError> {
    let candidate = match &request.candidate {
        Candidate::Stored(id) => json!({ "planId": id }),
        Candidate::File(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| SimulateError::Read(name.clone(), e))?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| SimulateError::Json(name.clone(), e))?;
            if !doc.is_object() {
                return Err(SimulateError::Argument(format!(
                    "{name}: expected one plan document (a JSON object)"
                )));
            }
            doc
        }
    };
    let cohort = match &request.cohort {
        Cohort::Plan(id) => json!({ "planId": id }),
        Cohort::Users(users) => json!({ "userIds": users }),
        Cohort::UsersFile(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| SimulateError::Read(name, e))?;
            let users: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            json!({ "userIds": users })
        }
    };
    let mut body = json!({ "candidate": candidate, "cohort": cohort });
    for (flag, name, value) in [("--from", "from", request.from), ("--to", "to", request.to)] {
        if let Some(value) = value {
            body[name] = json!(time(flag, value)?);
        }
    }
    Ok(body)
}

/// An RFC 3339 time as given, or a date as its UTC midnight.
fn time(flag: &str, text: &str) -> Result<String, SimulateError> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(format!("{}T00:00:00Z", date.format("%Y-%m-%d")));
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(_) => Ok(text.to_string()),
        Err(_) => Err(SimulateError::Argument(format!(
            "{flag}: expected an RFC 3339 time like 2026-10-25T00:00:00Z or a date like 2026-10-25, not {text:?}"
        ))),
    }
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

/// Progress on standard error: one line redrawn in place on a terminal, else a line every few
/// seconds (a log keeps every line, so redrawing would fill it) and the last one at the end.
struct Meter {
    enabled: bool,
    terminal: bool,
    /// When the last line was printed, and what it said.
    shown: Option<(Instant, String)>,
}

impl Meter {
    fn new(enabled: bool) -> Meter {
        Meter {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            shown: None,
        }
    }

    fn show(&mut self, id: &str, progress: &Progress) {
        let due = self.terminal || self.shown.as_ref().is_none_or(|(at, _)| at.elapsed() >= LOG_EVERY);
        self.draw(id, progress, due);
    }

    /// Shows the last progress, and ends the redrawn line so what follows starts on its own.
    fn end(&mut self, id: &str, progress: &Progress) {
        self.draw(id, progress, true);
        if self.enabled && self.terminal && self.shown.is_some() {
            eprintln!();
        }
    }

    fn draw(&mut self, id: &str, progress: &Progress, due: bool) {
        let line = format!("{id} {}", progress_bar(progress));
        if !self.enabled || !due || self.shown.as_ref().is_some_and(|(_, last)| *last == line) {
            return;
        }
        if self.terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
        self.shown = Some((Instant::now(), line));
    }
}

/// `[#######-------------] 250/1000 users, 31000 entries read`.
fn progress_bar(progress: &Progress) -> String {
    const WIDTH: u64 = 24;
    let filled = match progress.users {
        0 => WIDTH,
        users => progress.users_done.min(users) * WIDTH / users,
    } as usize;
    format!(
        "[{}{}] {}/{} users, {} entries read",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled),
        progress.users_done,
        progress.users,
        progress.entries
    )
}

/// A share (1 is 100 %) as a percentage with at most one decimal; only a whole share is 100 %.
fn percent(share: f64) -> String {
    let mut tenths = (share * 1000.0).round() as i64;
    if tenths == 1000 && share < 1.0 {
        tenths = 999;
    }
    match tenths % 10 {
        0 => format!("{} %", tenths / 10),
        _ => format!("{:.1} %", tenths as f64 / 10.0),
    }
}

/// A signed change: "+2", "-1", "0".
fn change(text: String) -> String {
    match text.as_str() {
        "0" => text,
        t if t.starts_with('-') => text,
        _ => format!("+{text}"),
    }
}

fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// " (field range)", or nothing.
fn note(name: &str, value: &Option<String>) -> String {
    value.as_ref().map(|v| format!(" ({name} {v})")).unwrap_or_default()
}

/// The report as a table a person reads: what was tried, how faithfully the recorded decisions
/// were reproduced, both plans' totals, the peaks per group and the most affected users.
pub fn summary(simulated: &Simulated) -> String {
    let r = &simulated.report;
    let mut out = String::new();
    let fidelity = match r.recorded_decisions {
        0 => format!("{} (no recorded decisions)", percent(r.fidelity)),
        n => format!(
            "{} ({} of {} reproduced)",
            percent(r.fidelity),
            r.reproduced_decisions,
            counted(n, "recorded decision")
        ),
    };
    for (name, value) in [
        ("simulation", simulated.id.clone()),
        ("candidate", simulated.candidate_plan_id.clone()),
        ("range", format!("{} to {}", simulated.from, simulated.to)),
        ("fidelity", fidelity),
        ("users", r.users.to_string()),
        ("entries", r.entries.to_string()),
    ] {
        out.push_str(&format!("{name:<16}{value}\n"));
    }
    out.push('\n');
    out.push_str(&totals(r));
    out.push('\n');
    for (name, count) in [("newly denied", &r.newly_denied), ("newly admitted", &r.newly_admitted)] {
        let (decisions, users) = (counted(count.decisions, "decision"), counted(count.users, "user"));
        out.push_str(&format!("{name:<16}{decisions}, {users}\n"));
    }
    if !r.peak_share.is_empty() {
        out.push('\n');
        out.push_str(&peaks(&r.peak_share));
    }
    out.push('\n');
    out.push_str(&most_affected(&r.rows));
    out
}

/// Both plans' totals side by side, with the change from baseline to candidate.
fn totals(r: &Report) -> String {
    let (b, c) = (&r.baseline, &r.candidate);
    let difference = |b: u64, c: u64| change((i128::from(c) - i128::from(b)).to_string());
    let mut rows: Vec<[String; 4]> = [("admitted", b.admitted, c.admitted), ("denied", b.denied, c.denied)]
        .into_iter()
        .chain([("estimated", b.estimated, c.estimated)])
        .map(|(name, b, c)| [name.to_string(), b.to_string(), c.to_string(), difference(b, c)])
        .collect();
    for threshold in ["50", "80", "100"] {
        let crossed = |t: &Totals| t.crossed.get(threshold).copied().unwrap_or(0);
        let (b, c) = (crossed(b), crossed(c));
        rows.push([
            format!("users crossing {threshold} %"),
            b.to_string(),
            c.to_string(),
            difference(b, c),
        ]);
    }
    rows.push([
        "credits burned".into(),
        b.credits.to_string(),
        c.credits.to_string(),
        change(r.credits_difference.to_string()),
    ]);
    rows.push([
        "cents burned".into(),
        b.cents.to_string(),
        c.cents.to_string(),
        change(r.cents_difference.to_string()),
    ]);
    let mut out = format!("{:<22}{:>12}{:>12}{:>12}\n", "", "baseline", "candidate", "change");
    for [name, b, c, d] in rows {
        out.push_str(&format!("{name:<22}{b:>12}{c:>12}{d:>12}\n"));
    }
    out
}

/// Per group, where the users' peak shares stand under each plan.
fn peaks(groups: &[GroupPeak]) -> String {
    let width = groups
        .iter()
        .map(|g| g.group_id.chars().count())
        .max()
        .unwrap_or(0)
        .max(10)
        + 2;
    let cells = |p: &Percentiles| {
        [p.p50, p.p90, p.p99, p.max]
            .map(|s| format!("{:>8}", percent(s)))
            .concat()
    };
    let mut out = format!("{:<width$}{:>32}  {:>32}\n", "peak share", "baseline", "candidate");
    let heads = ["p50", "p90", "p99", "max"].map(|h| format!("{h:>8}")).concat();
    out.push_str(&format!("{:<width$}{heads}  {heads}\n", "group"));
    for group in groups {
        let (b, c) = (cells(&group.baseline), cells(&group.candidate));
        out.push_str(&format!("{:<width$}{b}  {c}\n", group.group_id));
    }
    out
}

/// The users whose decisions change most (the gateway sends them first), at most `TOP_USERS`.
fn most_affected(rows: &[UserRow]) -> String {
    let changed: Vec<&UserRow> = rows.iter().filter(|r| r.newly_denied + r.newly_admitted > 0).collect();
    if changed.is_empty() {
        return "no user's decisions change\n".to_string();
    }
    let shown = &changed[..changed.len().min(TOP_USERS)];
    let width = shown
        .iter()
        .map(|r| r.user_id.chars().count())
        .max()
        .unwrap_or(0)
        .max(4)
        + 2;
    let mut out = format!(
        "most affected users ({} of {} whose decisions change)\n",
        shown.len(),
        changed.len()
    );
    out.push_str(&format!(
        "{:<width$}{:>14}{:>16}  {:<14}{:<14}{}\n",
        "user", "newly denied", "newly admitted", "admitted", "denied", "peak share"
    ));
    let peak = |s: &UserScenario| percent(s.peak_share.values().copied().fold(0.0, f64::max));
    for row in shown {
        let (b, c) = (&row.baseline, &row.candidate);
        let admitted = format!("{} -> {}", b.admitted, c.admitted);
        let denied = format!("{} -> {}", b.denied, c.denied);
        out.push_str(&format!(
            "{:<width$}{:>14}{:>16}  {admitted:<14}{denied:<14}{} -> {}\n",
            row.user_id,
            row.newly_denied,
            row.newly_admitted,
            peak(b),
            peak(c)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_its_utc_midnight_and_a_time_is_kept() {
        assert_eq!(time("--from", "2026-10-25").unwrap(), "2026-10-25T00:00:00Z");
        assert_eq!(
            time("--to", "2026-11-24T09:30:00+01:00").unwrap(),
            "2026-11-24T09:30:00+01:00"
        );
        let err = time("--to", "yesterday").unwrap_err().to_string();
        assert!(err.starts_with("--to: expected"), "{err}");
    }

    #[test]
    fn only_a_whole_share_is_a_hundred_percent() {
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.9999), "99.9 %");
        assert_eq!(percent(0.987), "98.7 %");
        assert_eq!(percent(0.333333), "33.3 %");
        assert_eq!(percent(1.5), "150 %");
        assert_eq!(percent(0.0), "0 %");
    }

    #[test]
    fn the_bar_fills_with_the_users_done() {
        let at = |done, users| {
            progress_bar(&Progress {
                users,
                users_done: done,
                entries: 7,
            })
        };
        assert_eq!(
            at(250, 1000),
            format!("[{}{}] 250/1000 users, 7 entries read", "#".repeat(6), "-".repeat(18))
        );
        assert!(at(0, 0).starts_with(&format!("[{}]", "#".repeat(24))));
    }
}
