//! The paths of async jobs each wire format serves: a job's submission, a batch file's
//! upload, the reads, cancels and downloads of a job's objects (the job, its files), which
//! only the user who owns them is served, and the lists of them, which show only the caller's;
//! and how the node holds and polls jobs (`JobSettings`).

use std::time::Duration;

use crate::quota::{JobKind, JobRecord};

/// What a job's path does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobPath {
    /// Submits a job: held for its life.
    Submit(JobKind),
    /// Uploads a file (OpenAI's `v1/files`): a batch input file's lines are priced as they pass.
    UploadFile,
    /// Starts a resumable upload (Gemini's Files API), or passes one of its chunks on: a JSONL
    /// file's lines are priced as they pass.
    Resumable,
    /// Acts on one owned object, the path's `*`.
    Owned(Object, Action),
    /// Lists the caller's own objects of a kind, answered by the gateway (`list.rs`).
    List(Object),
}

/// An object a job path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Object {
    Job(JobKind),
    File,
}

/// What the path does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Reads it: a job read may find it ended, and settle it.
    Read,
    Cancel,
    /// Downloads its content (a file's bytes, a video).
    Content,
    /// Downloads a message batch's results.
    Results,
    Delete,
}

/// One path: method, pattern (`../paths.rs`; its `*` is the object's id) and what it does.
pub(crate) type Entry = (&'static str, &'static str, JobPath);

const BATCH: Object = Object::Job(JobKind::Batch);
const VIDEO: Object = Object::Job(JobKind::Video);
const MESSAGE_BATCH: Object = Object::Job(JobKind::MessageBatch);

/// OpenAI's (and an OpenAI-compatible server's) files, batches and videos.
pub(crate) const OPENAI: &[Entry] = &[
    ("POST", "v1/files", JobPath::UploadFile),
    ("GET", "v1/files", JobPath::List(Object::File)),
    ("GET", "v1/batches", JobPath::List(BATCH)),
    ("GET", "v1/videos", JobPath::List(VIDEO)),
    ("GET", "v1/files/*", JobPath::Owned(Object::File, Action::Read)),
    (
        "GET",
        "v1/files/*/content",
        JobPath::Owned(Object::File, Action::Content),
    ),
    ("DELETE", "v1/files/*", JobPath::Owned(Object::File, Action::Delete)),
    ("POST", "v1/batches", JobPath::Submit(JobKind::Batch)),
    ("GET", "v1/batches/*", JobPath::Owned(BATCH, Action::Read)),
    ("POST", "v1/batches/*/cancel", JobPath::Owned(BATCH, Action::Cancel)),
    ("POST", "v1/videos", JobPath::Submit(JobKind::Video)),
    // A remix of the caller's own video: a new video, of the one it remixes.
    ("POST", "v1/videos/*/remix", JobPath::Submit(JobKind::Video)),
    ("GET", "v1/videos/*", JobPath::Owned(VIDEO, Action::Read)),
    ("GET", "v1/videos/*/content", JobPath::Owned(VIDEO, Action::Content)),
    ("DELETE", "v1/videos/*", JobPath::Owned(VIDEO, Action::Delete)),
];

/// Azure OpenAI's files and batches, at the paths its `AzureOpenAI` clients call (`openai/...`
/// with an `api-version`) and its `openai/v1/...` paths: OpenAI's, as they are there.
pub(crate) const AZURE: &[Entry] = &[
    ("POST", "openai/files", JobPath::UploadFile),
    ("GET", "openai/files", JobPath::List(Object::File)),
    ("GET", "openai/batches", JobPath::List(BATCH)),
    ("GET", "openai/files/*", JobPath::Owned(Object::File, Action::Read)),
    (
        "GET",
        "openai/files/*/content",
        JobPath::Owned(Object::File, Action::Content),
    ),
    ("DELETE", "openai/files/*", JobPath::Owned(Object::File, Action::Delete)),
    ("POST", "openai/batches", JobPath::Submit(JobKind::Batch)),
    ("GET", "openai/batches/*", JobPath::Owned(BATCH, Action::Read)),
    ("POST", "openai/batches/*/cancel", JobPath::Owned(BATCH, Action::Cancel)),
    ("POST", "openai/v1/files", JobPath::UploadFile),
    ("GET", "openai/v1/files", JobPath::List(Object::File)),
    ("GET", "openai/v1/batches", JobPath::List(BATCH)),
    ("GET", "openai/v1/files/*", JobPath::Owned(Object::File, Action::Read)),
    (
        "GET",
        "openai/v1/files/*/content",
        JobPath::Owned(Object::File, Action::Content),
    ),
    (
        "DELETE",
        "openai/v1/files/*",
        JobPath::Owned(Object::File, Action::Delete),
    ),
    ("POST", "openai/v1/batches", JobPath::Submit(JobKind::Batch)),
    ("GET", "openai/v1/batches/*", JobPath::Owned(BATCH, Action::Read)),
    (
        "POST",
        "openai/v1/batches/*/cancel",
        JobPath::Owned(BATCH, Action::Cancel),
    ),
];

const GEMINI_BATCH: Object = Object::Job(JobKind::GeminiBatch);

/// Gemini's batch mode: a batch (of inlined requests, or of a file's) made at a model's path,
/// then read, cancelled and deleted at `batches/{id}`; and its Files API: a file uploaded in
/// chunks at the URL its start names, read, downloaded (a batch's results) and deleted at
/// `files/{id}`.
pub(crate) const GEMINI: &[Entry] = &[
    ("POST", "upload/v1beta/files", JobPath::Resumable),
    ("GET", "v1beta/files", JobPath::List(Object::File)),
    // (Before `files/*`, whose star may hold a `:`.)
    (
        "GET",
        "v1beta/files/*:download",
        JobPath::Owned(Object::File, Action::Content),
    ),
    ("GET", "v1beta/files/*", JobPath::Owned(Object::File, Action::Read)),
    ("DELETE", "v1beta/files/*", JobPath::Owned(Object::File, Action::Delete)),
    (
        "POST",
        "v1beta/models/*:batchGenerateContent",
        JobPath::Submit(JobKind::GeminiBatch),
    ),
    ("GET", "v1beta/batches", JobPath::List(GEMINI_BATCH)),
    ("GET", "v1beta/batches/*", JobPath::Owned(GEMINI_BATCH, Action::Read)),
    (
        "POST",
        "v1beta/batches/*:cancel",
        JobPath::Owned(GEMINI_BATCH, Action::Cancel),
    ),
    (
        "DELETE",
        "v1beta/batches/*",
        JobPath::Owned(GEMINI_BATCH, Action::Delete),
    ),
];

/// Anthropic's Message Batches.
pub(crate) const ANTHROPIC: &[Entry] = &[
    ("POST", "v1/messages/batches", JobPath::Submit(JobKind::MessageBatch)),
    ("GET", "v1/messages/batches", JobPath::List(MESSAGE_BATCH)),
    (
        "GET",
        "v1/messages/batches/*",
        JobPath::Owned(MESSAGE_BATCH, Action::Read),
    ),
    (
        "GET",
        "v1/messages/batches/*/results",
        JobPath::Owned(MESSAGE_BATCH, Action::Results),
    ),
    (
        "POST",
        "v1/messages/batches/*/cancel",
        JobPath::Owned(MESSAGE_BATCH, Action::Cancel),
    ),
    (
        "DELETE",
        "v1/messages/batches/*",
        JobPath::Owned(MESSAGE_BATCH, Action::Delete),
    ),
];

/// The path of an object's read, as a list reads it (a file's, Gemini's where `gemini`).
pub(crate) fn object_path(object: Object, id: &str, gemini: bool) -> String {
    match object {
        Object::Job(kind) => read_path(kind, id),
        Object::File if gemini => format!("v1beta/files/{id}"),
        Object::File => format!("v1/files/{id}"),
    }
}

/// The path of a job's read, as the sweeper polls it.
pub(crate) fn read_path(kind: JobKind, id: &str) -> String {
    match kind {
        JobKind::Batch => format!("v1/batches/{id}"),
        JobKind::Video => format!("v1/videos/{id}"),
        JobKind::MessageBatch => format!("v1/messages/batches/{id}"),
        JobKind::GeminiBatch => format!("v1beta/batches/{id}"),
        // Never read: only its node knows it, by its session.
        JobKind::RealtimeResponse | JobKind::RealtimeMinute | JobKind::RealtimeSession => {
            format!("v1/realtime/{id}")
        }
    }
}

/// The path of the provider's list of a kind of job, newest first, where the sweeper looks
/// for one its node never recorded; None for a kind whose list says nothing to know it by
/// (an Anthropic message batch carries no metadata, nor its requests).
pub(crate) fn list_path(kind: JobKind) -> Option<&'static str> {
    match kind {
        JobKind::Batch => Some("v1/batches"),
        JobKind::Video => Some("v1/videos"),
        JobKind::MessageBatch
        | JobKind::GeminiBatch
        | JobKind::RealtimeResponse
        | JobKind::RealtimeMinute
        | JobKind::RealtimeSession => None,
    }
}

/// How the node holds and polls jobs.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// A job's hold outlives its window by this long (ms).
    pub margin_ms: i64,
    /// The window of a video job (ms): it is expected to end within it.
    pub video_window_ms: i64,
    /// The sweeper first polls a job this long before its hold expires (ms), then every third
    /// of it.
    pub lead_ms: i64,
    /// How often the sweeper looks for jobs due.
    pub sweep_every: Duration,
    /// How long one poll waits for the provider's answer.
    pub poll_timeout: Duration,
}

impl JobSettings {
    /// A job's hold time for a window of `window_ms`.
    pub(crate) fn ttl(&self, window_ms: i64) -> i64 {
        window_ms.saturating_add(self.margin_ms)
    }

    /// When the sweeper polls a new job first.
    pub(crate) fn first_poll(&self, job: &JobRecord) -> i64 {
        (job.ends_ms - self.lead_ms).max(job.created_ms)
    }

    /// How long after a poll the next is.
    pub(crate) fn repoll_ms(&self) -> i64 {
        (self.lead_ms / 3).max(500)
    }

    /// How long a poll keeps other nodes from polling the same job: at most the poll's own
    /// time-out and a second for its Redis calls, and never longer than the time between polls.
    /// The job's schedule spaces its polls; a lease that outlived its poll by more would turn
    /// away the last one, due at the hold's end, until after the hold had gone.
    pub(crate) fn poll_lease_ms(&self) -> i64 {
        (self.poll_timeout.as_millis() as i64 + 1_000).min(self.repoll_ms())
    }

    /// How long a job's hold is made to outlive its end, when its last poll is due there: that
    /// poll finds it still held, however late the sweeper comes to it (after the lease of the
    /// poll before it, a sweep later, its provider answering at its time-out).
    pub(crate) fn grace_ms(&self) -> i64 {
        self.poll_lease_ms() + (2 * self.sweep_every.as_millis() + self.poll_timeout.as_millis()) as i64 + 1_000
    }

    /// When a poll at `now` of a job whose hold ends at `ends_ms` is followed by the next:
    /// every `repoll_ms`, never past the end, and after the end (the commit failed) soon.
    pub(crate) fn next_poll(&self, now: i64, ends_ms: i64) -> i64 {
        match now >= ends_ms {
            true => now + self.repoll_ms(),
            false => (now + self.repoll_ms()).min(ends_ms),
        }
    }
}
