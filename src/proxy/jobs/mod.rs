//! Async jobs through the door: batches (OpenAI's, with their input files; Anthropic's message
//! batches) and videos, billed when they finish, hours after they were submitted. A job is held
//! at its worst case from its submission (`submit.rs`, `video.rs`) for its window and a
//! margin, recorded as pending before the provider sees it (`pending.rs`), then keyed by the
//! provider's id of it and recorded with the user who owns it; its objects are served only
//! to that user (`owned.rs`); and it is settled from the provider's own numbers, once, by the
//! first node that sees it ended, on a caller's read or the sweeper's poll (`end.rs`,
//! `sweep.rs`). A batch input file's lines are priced as it streams through (`upload.rs`).
//! The providers' lists of them are answered by the gateway from the caller's own (`list.rs`).
//! A `concurrent` group counts a job's hold while it is open: jobs in flight are a plan's limit.

mod end;
mod list;
mod owned;
mod paths;
mod pending;
mod shapes;
mod submit;
mod sweep;
mod upload;
mod video;

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};

use super::context::Ctx;
use super::Proxy;
use crate::gateway::Gateway;
use crate::http::{ApiError, AppState};
use crate::quota::JobRecord;

pub(crate) use owned::repeated;
#[cfg(test)]
pub(crate) use paths::{Action, Object};
pub(crate) use paths::{Entry, JobPath, ANTHROPIC, OPENAI};

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

    /// How long a job's hold is made to outlive its end, when its last poll is due there: that
    /// poll finds it still held, however late the sweeper comes to it.
    pub(crate) fn grace_ms(&self) -> i64 {
        (2 * self.sweep_every.as_millis() + self.poll_timeout.as_millis()) as i64 + 1_000
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

/// Serves a path of async jobs: a submission, a file's upload, an owned object's read, or a
/// list of the caller's own.
pub(crate) async fn serve(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    proxy: &Proxy,
    ctx: &Ctx,
    (path, id): (JobPath, Option<&str>),
) -> Result<HttpResponse, ApiError> {
    match (path, id) {
        (JobPath::Submit(kind), _) => submit::submit(req, payload, state, proxy, ctx, kind).await,
        (JobPath::UploadFile, _) => upload::upload(req, payload, state, proxy, ctx).await,
        (JobPath::Owned(object, action), Some(id)) => {
            owned::serve(req, payload, state, proxy, ctx, (object, action, id)).await
        }
        (JobPath::Owned(..), None) => Err(ApiError::invalid("path", "names no object")),
        (JobPath::List(object), _) => list::serve(req, state, ctx, object).await,
    }
}

/// Starts the node's job sweeper.
pub(crate) fn start_sweeper(gateway: Gateway, proxy: web::Data<Proxy>) {
    sweep::start(gateway, proxy);
}
