//! A job's end: whichever node first sees a job ended (a caller's read of it, or the sweeper's
//! poll) takes a short lease on settling it, reads its bill (the job object's usage, else the
//! per-request usage in its output file or results, read line by line as they stream), commits
//! that on the job's hold and releases the rest. The hold's commit happens once however many
//! nodes try it (a reservation ends once); the lease only spares the others the reading.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::shapes::{self, Bill, Seen};
use crate::gateway::{Gateway, GatewayError};
use crate::proxy::call::hold::Hold;
use crate::proxy::call::outcome::Answered;
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::wire::Wire;
use crate::proxy::call::Operation;
use crate::proxy::multipart::Lines;
use crate::proxy::provider;
use crate::quota::{job_key, FileRecord, JobEnd, JobKind, JobRecord, ReservationId};
use crate::secrets::id_bytes;

/// How long one node has to settle a job before another may.
const CLAIM_MS: u64 = 60_000;
/// A line of a results file, at most.
const MAX_RESULT_LINE: usize = 16 << 20;
/// The largest job object (or page of a list of them) read whole.
const MAX_READ_BYTES: usize = 8 << 20;

/// Why a job could not be settled now (the sweeper tries again).
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The provider did not answer what the settlement reads.
    #[error("{0}")]
    Upstream(String),
}

/// Who saw the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum By {
    Read,
    Sweep,
}

impl By {
    fn as_str(self) -> &'static str {
        match self {
            By::Read => "read",
            By::Sweep => "sweep",
        }
    }
}

/// A job the gateway keeps, and where it runs.
pub(crate) struct Job<'a> {
    pub gateway: &'a Arc<Gateway>,
    pub upstream: &'a Upstream,
    pub project: &'a str,
    pub record: JobRecord,
}

impl Job<'_> {
    fn wire(&self) -> &'static dyn Wire {
        self.upstream.wire
    }

    /// What a read of the job's object saw: the files it names become its owner's, and an
    /// ended job is settled. Answers whether it has ended (by this sight or before).
    pub(crate) async fn saw(&mut self, object: &Value, by: By) -> Result<bool, JobError> {
        let data = self.gateway.data();
        let new: Vec<String> = shapes::files(self.record.kind, object)
            .into_iter()
            .filter(|f| !self.record.files.contains(f))
            .collect();
        for file in &new {
            let record = FileRecord {
                user: self.record.user.clone(),
                purpose: "batch_output".into(),
                batch: None,
                job: Some(self.record.id.clone()),
            };
            data.jobs()
                .put_job_file(self.project, &job_key(&self.upstream.name, file), &record)
                .await?;
            self.record.files.push(file.clone());
        }
        if self.record.ended.is_some() {
            return Ok(true);
        }
        if !new.is_empty() {
            data.jobs().update_job(self.project, &self.record).await?;
        }
        let wire = self.wire();
        match shapes::seen(self.record.kind, object, |o| wire.usage_of_answer(Operation::Chat, o)) {
            Seen::Open => Ok(false),
            Seen::Ended { status, bill } => {
                let made = shapes::made(self.record.kind, object);
                self.settle(&status, bill, made, by).await?;
                Ok(true)
            }
        }
    }

    /// Settles the job's hold once: its bill committed (priced at the model and size the
    /// provider says it made), or released when it cost nothing.
    async fn settle(&mut self, status: &str, bill: Bill, made: Map<String, Value>, by: By) -> Result<(), JobError> {
        let data = self.gateway.data();
        let key = self.record.key();
        let node = format!("{:x}", rand_id());
        if !data
            .jobs()
            .lease_job(self.project, "jobclaim", &key, &node, CLAIM_MS)
            .await?
        {
            return Ok(());
        }
        // Another node may have settled it since this one read its record.
        if let Some(now) = data.jobs().job(self.project, &key).await? {
            if now.ended.is_some() {
                self.record = now;
                return Ok(());
            }
        }
        let usage = match bill {
            Bill::Reported(usage) => Some(usage),
            Bill::Nothing => None,
            Bill::OutputFile(file) => Some(self.sum(&output_path(self.record.kind, &file)).await?),
            Bill::Results => Some(
                self.sum(&format!("v1/messages/batches/{}/results", self.record.id))
                    .await?,
            ),
        };
        let mut hold = self.hold()?;
        let model = made
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| *m != self.record.model);
        let priced_as = model.map(str::to_string);
        hold.labels.extend(made);
        let outcome = match usage {
            Some(usage) => {
                let estimated = !usage.reported();
                hold.commit_as(usage, self.answered(), priced_as.as_deref()).await;
                if estimated {
                    "estimated"
                } else {
                    "committed"
                }
            }
            None => {
                hold.release().await;
                "released"
            }
        };
        self.end(outcome, status, by).await
    }

    /// Commits the hold of a job that outlived its window as `estimated` (the provider may
    /// bill it whenever it ends).
    pub(crate) async fn give_up(&mut self, status: &str) -> Result<(), JobError> {
        let data = self.gateway.data();
        let node = format!("{:x}", rand_id());
        if !data
            .jobs()
            .lease_job(self.project, "jobclaim", &self.record.key(), &node, CLAIM_MS)
            .await?
        {
            return Ok(());
        }
        self.hold()?.commit(Usage::default(), self.answered()).await;
        self.end("estimated", status, By::Sweep).await
    }

    async fn end(&mut self, outcome: &str, status: &str, by: By) -> Result<(), JobError> {
        let data = self.gateway.data();
        self.record.ended = Some(JobEnd {
            outcome: outcome.to_string(),
            status: status.to_string(),
            at_ms: data.now_ms(),
        });
        data.jobs().update_job(self.project, &self.record).await?;
        self.counted(outcome, by);
        Ok(())
    }

    /// Counts the job's settlement in the node's metrics.
    pub(super) fn counted(&self, outcome: &str, by: By) {
        self.gateway.node().metrics().count(
            "qg_proxy_jobs_settled_total",
            &[
                ("upstream", &self.upstream.name),
                ("kind", self.record.kind.as_str()),
                ("outcome", outcome),
                ("by", by.as_str()),
            ],
        );
    }

    /// What the job's commit records as the provider's answer: the job's id.
    fn answered(&self) -> Answered {
        Answered {
            status: None,
            request_id: Some(self.record.id.clone()),
        }
    }

    /// The job's hold, as a commit takes it (a job never found at its provider has no id to say).
    pub(super) fn hold(&self) -> Result<Hold, JobError> {
        let id = ReservationId::parse_reservation(&self.record.reservation)
            .ok_or_else(|| JobError::Upstream(format!("job {} names no reservation", self.record.id)))?;
        let mut labels = Map::new();
        if !self.record.id.is_empty() {
            labels.insert("job_id".into(), Value::from(self.record.id.clone()));
        }
        labels.insert("job_kind".into(), Value::from(self.record.kind.as_str()));
        Ok(Hold {
            gateway: self.gateway.clone(),
            metrics: self.gateway.node().metrics().clone(),
            project: self.project.to_string(),
            id,
            key_id: self.record.key_id.clone(),
            upstream: self.upstream.name.clone(),
            operation: operation(self.record.kind),
            ttl_ms: 0,
            worst: Usage::read(&self.record.held),
            measured: Usage::default(),
            started: Instant::now(),
            labels,
            trace: None,
            // Ended from the job's record, maybe on another node: its commit reads the hold's.
            record: None,
        })
    }

    /// The sum of the usage each line of a results file reports, read as it streams.
    async fn sum(&self, path: &str) -> Result<Usage, JobError> {
        let response = get(self.upstream, path)
            .await
            .map_err(|e| JobError::Upstream(format!("reading {path}: {e}")))?;
        let wire = self.wire();
        let mut total = shapes::zero();
        let mut lines = Lines::new(MAX_RESULT_LINE);
        let mut stream = response.bytes_stream();
        let idle = self.upstream.timeouts.idle;
        loop {
            let chunk = match tokio::time::timeout(idle, stream.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(chunk))) => chunk,
                _ => return Err(JobError::Upstream(format!("reading {path}: the download broke off"))),
            };
            total = add_lines(wire, total, |each| lines.feed(&chunk, each));
        }
        Ok(add_lines(wire, total, |each| lines.finish(each)))
    }
}

/// `total` and the usage of each line `read` hands on.
fn add_lines(wire: &dyn Wire, mut total: Usage, read: impl FnOnce(&mut dyn FnMut(u64, &[u8]))) -> Usage {
    read(&mut |_, line| {
        if let Some(answer) = serde_json::from_slice::<Value>(line).ok().as_ref().and_then(answer_of) {
            let usage = wire.usage_of_answer(Operation::Chat, answer).zeros(Operation::Batches);
            total = total.plus(&usage);
        }
    });
    total
}

/// Where a job's results file is read: Gemini's download, OpenAI's content.
fn output_path(kind: JobKind, file: &str) -> String {
    match kind {
        JobKind::GeminiBatch => format!("v1beta/files/{file}:download?alt=media"),
        _ => format!("v1/files/{file}/content"),
    }
}

/// A results line's answer: OpenAI's `response.body` (a 200's), Anthropic's succeeded
/// `result.message`, Gemini's `response` (a failed request's line has an `error` instead).
fn answer_of(line: &Value) -> Option<&Value> {
    if let Some(response) = line.get("response").filter(|r| r.is_object()) {
        if response.get("usageMetadata").is_some() {
            return Some(response);
        }
        return (response.get("status_code").and_then(Value::as_u64) == Some(200))
            .then(|| response.get("body"))
            .flatten();
    }
    let result = line.get("result")?;
    (result.get("type").and_then(Value::as_str) == Some("succeeded"))
        .then(|| result.get("message"))
        .flatten()
}

/// The operation a job's hold was made for.
pub(crate) fn operation(kind: JobKind) -> Operation {
    match kind {
        JobKind::Video => Operation::Videos,
        JobKind::RealtimeResponse => Operation::RealtimeResponse,
        JobKind::RealtimeMinute => Operation::RealtimeMinute,
        JobKind::RealtimeSession => Operation::Realtime,
        _ => Operation::Batches,
    }
}

/// A GET of `path` on the upstream with its credential (the sweeper's, and a settlement's).
pub(crate) async fn get(upstream: &Upstream, path: &str) -> Result<reqwest::Response, String> {
    provider::get(upstream, path, upstream.timeouts.first_byte)
        .await
        .map_err(|unread| unread.to_string())
}

/// A GET of a job object (or a page of the provider's list of them): its JSON.
pub(crate) async fn read_object(upstream: &Upstream, path: &str) -> Result<Value, String> {
    let within = (upstream.timeouts.first_byte, Duration::from_secs(30));
    provider::object(upstream, path, within, MAX_READ_BYTES)
        .await
        .map_err(|unread| unread.to_string())
}

pub(crate) fn rand_id() -> u64 {
    u64::from_le_bytes(id_bytes::<8>())
}
