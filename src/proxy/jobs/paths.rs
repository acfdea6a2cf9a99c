//! The paths of async jobs each wire format serves: a job's submission, a batch file's
//! upload, the reads, cancels and downloads of a job's objects (the job, its files), which
//! only the user who owns them is served, and the lists of them, which show only the caller's.

use crate::quota::JobKind;

/// What a job's path does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobPath {
    /// Submits a job: held for its life.
    Submit(JobKind),
    /// Uploads a file (OpenAI's `v1/files`): a batch input file's lines are priced as they pass.
    UploadFile,
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

/// One path: method, pattern (`paths.rs`; its `*` is the object's id) and what it does.
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
    ("GET", "v1/videos/*", JobPath::Owned(VIDEO, Action::Read)),
    ("GET", "v1/videos/*/content", JobPath::Owned(VIDEO, Action::Content)),
    ("DELETE", "v1/videos/*", JobPath::Owned(VIDEO, Action::Delete)),
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

/// The path of an object's read, as a list reads it.
pub(crate) fn object_path(object: Object, id: &str) -> String {
    match object {
        Object::Job(kind) => read_path(kind, id),
        Object::File => format!("v1/files/{id}"),
    }
}

/// The path of a job's read, as the sweeper polls it.
pub(crate) fn read_path(kind: JobKind, id: &str) -> String {
    match kind {
        JobKind::Batch => format!("v1/batches/{id}"),
        JobKind::Video => format!("v1/videos/{id}"),
        JobKind::MessageBatch => format!("v1/messages/batches/{id}"),
    }
}

/// The path of the provider's list of a kind of job, newest first, where the sweeper looks
/// for one its node never recorded; None for a kind whose list says nothing to know it by
/// (an Anthropic message batch carries no metadata, nor its requests).
pub(crate) fn list_path(kind: JobKind) -> Option<&'static str> {
    match kind {
        JobKind::Batch => Some("v1/batches"),
        JobKind::Video => Some("v1/videos"),
        JobKind::MessageBatch => None,
    }
}
