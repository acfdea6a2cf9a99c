//! An async job submitted through the door (a batch, a video), as the gateway keeps it from
//! submission to settlement: who owns it, the hold that pays for it, and how it ended. And an
//! uploaded batch file: who owns it, and the worst case of its lines, which a batch made of it
//! holds. Both are keyed by the provider's own id under the upstream that made them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a job is, as the provider's API shapes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// OpenAI's `v1/batches`.
    Batch,
    /// Anthropic's `v1/messages/batches`.
    MessageBatch,
    /// OpenAI's `v1/videos`.
    Video,
    /// Gemini's batch mode (`models/{model}:batchGenerateContent`, read at `batches/{id}`).
    GeminiBatch,
    /// A realtime session's response while it runs: recorded as pending only, so the sweeper
    /// charges its hold at its end when its node died before its `response.done`.
    RealtimeResponse,
    /// A minute of a realtime session's time, likewise.
    RealtimeMinute,
    /// A realtime session while it is open: recorded as its user's open job (shown in usage and
    /// on the dashboard), its hold the session's own.
    RealtimeSession,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Batch => "batch",
            JobKind::MessageBatch => "message_batch",
            JobKind::Video => "video",
            JobKind::GeminiBatch => "gemini_batch",
            JobKind::RealtimeResponse => "realtime_response",
            JobKind::RealtimeMinute => "realtime_minute",
            JobKind::RealtimeSession => "realtime_session",
        }
    }
}

/// How a job's hold ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobEnd {
    /// `committed` (the provider's numbers), `estimated` (its hold: it never ended), or
    /// `released` (it failed and cost nothing).
    pub outcome: String,
    /// The provider's last state of it (`completed`, `failed`, `ended`, ...).
    pub status: String,
    pub at_ms: i64,
}

/// One job, from its submission on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    /// The provider's id of it.
    pub id: String,
    pub upstream: String,
    pub kind: JobKind,
    pub user: String,
    /// The key that submitted it, for the ledger.
    pub key_id: String,
    /// The reservation that holds its worst case.
    pub reservation: String,
    pub model: String,
    /// Its worst case in the proxy's counts (`input_tokens`, `video_seconds`, ...), as held.
    pub held: Map<String, Value>,
    /// The hold's quantity, in the event's units.
    pub quantity: u64,
    pub created_ms: i64,
    /// When its window ends: the provider should have ended it by then.
    pub due_ms: i64,
    /// When its hold expires: the job's window and the margin after it.
    pub ends_ms: i64,
    /// Files the provider made for it (a batch's output and error files), served only to its owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// None while it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<JobEnd>,
}

impl JobRecord {
    /// Its place in the project's records: `<upstream>/<id>`.
    pub fn key(&self) -> String {
        job_key(&self.upstream, &self.id)
    }
}

/// A job's or a file's place in the project's records.
pub(crate) fn job_key(upstream: &str, id: &str) -> String {
    format!("{upstream}/{id}")
}

/// A job whose submission is on its way to the provider: written with its hold before the
/// submission is forwarded, and replaced by the job's record when the provider's answer is
/// read. One left behind (its node stopped while it waited) is what the sweeper looks for at
/// the provider, by what the gateway sent with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingJob {
    /// The job as it will be recorded, its `id` empty until the provider names it.
    pub job: JobRecord,
    /// The caller's Idempotency-Key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// What the provider's object of it must show: the metadata the gateway added (a batch's
    /// `metadata`), or the fields it echoes (a video's `model`, `seconds`, `size`, and the
    /// SHA-256 of its `prompt` as `prompt_sha256`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub shows: Map<String, Value>,
}

impl PendingJob {
    /// Its place in the project's records and the sweeper's list: `<upstream>/pending:<hold>`
    /// (a provider's id has no `:`, so no job's key is one).
    pub(crate) fn key(&self) -> String {
        pending_key(&self.job.upstream, &self.job.reservation)
    }
}

/// A pending job's key, by its upstream and its hold.
pub(crate) fn pending_key(upstream: &str, reservation: &str) -> String {
    format!("{upstream}/{PENDING}{reservation}")
}

/// The hold a pending job's key names; None for a job's key.
pub(crate) fn pending_hold(key: &str) -> Option<&str> {
    key.split_once('/')?.1.strip_prefix(PENDING)
}

const PENDING: &str = "pending:";

/// A file uploaded through the door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileRecord {
    pub user: String,
    pub purpose: String,
    /// A batch input file: its lines' model, endpoint, count and summed worst case (the
    /// proxy's counts). None for any other file (a job's output, a file of another purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchFile>,
    /// The job that made it, for a job's output and error files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// What a batch input file asks for, summed over its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchFile {
    pub model: String,
    /// The path every line calls (`/v1/chat/completions`).
    pub url: String,
    pub lines: u64,
    pub worst: Map<String, Value>,
    /// A file whose lines name no model (Gemini's: the batch names it): its lines' inputs the
    /// provider expands (a file or URL a part names), each held at the batch's model's bound
    /// for them on top of `worst`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expanding: u64,
    /// And its candidates that name no maximum output, each held at the model's own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unnamed: u64,
    /// What its lines name that the provider keeps (files, stored responses, caches; each
    /// once): each must be the batch's submitter's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A resumable upload in flight (Gemini's Files API): its URL at the gateway is its session, as
/// the provider's is. Who started it (whom its file will be), the provider's URL it goes on to,
/// how many bytes went through, and, for a JSONL file, its lines read so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadSession {
    pub user: String,
    pub key_id: String,
    pub upstream: String,
    pub url: String,
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<LinesSoFar>,
}

/// A JSONL upload's lines as read across its chunks: the next line's number, and what its lines
/// came to (`BatchFile`'s counts; the first line the gateway cannot price, and why, in `wrong`).
/// The line not yet ended is kept beside it, as its bytes (`UploadStore`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinesSoFar {
    pub next: u64,
    pub lines: u64,
    pub worst: Map<String, Value>,
    pub expanding: u64,
    pub unnamed: u64,
    /// What the lines name so far that the provider keeps, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrong: Option<String>,
}

/// One of a user's lists of what the door made, as the provider's `.list()` pages it: the
/// jobs of one kind, or the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
    Jobs(JobKind),
    Files,
}

impl Listed {
    /// Its name in the list's key.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Listed::Jobs(kind) => kind.as_str(),
            Listed::Files => "file",
        }
    }
}

/// Where a page of a list starts: at its first id, just after an id (the next page), or just
/// before one (Anthropic's `before_id`: the page before, walking back to the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    Start,
    After(String),
    Before(String),
}

/// A page of a list's ids, in the list's order, and whether more follow it in the way the
/// cursor walks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListPage {
    pub ids: Vec<String>,
    pub more: bool,
}
