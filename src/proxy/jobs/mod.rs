//! Async jobs through the door: batches (OpenAI's, with their input files; Anthropic's message
//! batches) and videos, billed when they finish, hours after they were submitted. A job is held
//! at its worst case from its submission (`submit.rs`, `video.rs`) for its window and a
//! margin, recorded as pending before the provider sees it (`pending.rs`), then keyed by the
//! provider's id of it and recorded with the user who owns it; its objects are served only
//! to that user (`owned.rs`); and it is settled from the provider's own numbers, once, by the
//! first node that sees it ended, on a caller's read or the sweeper's poll (`end.rs`,
//! `sweep.rs`). A batch input file's lines are priced as it streams through (`upload.rs`,
//! `batch_file.rs`), and an upload's Idempotency-Key is claimed at its end (`upload_key.rs`).
//! The providers' lists of them are answered by the gateway from the caller's own (`list.rs`).
//! A `concurrent` group counts a job's hold while it is open: jobs in flight are a plan's limit.

mod batch_file;
mod end;
mod gemini_file;
mod list;
mod owned;
mod pending;
mod resumable;
mod shapes;
mod submit;
mod sweep;
mod upload;
mod upload_key;
mod video;

use actix_web::{web, HttpRequest, HttpResponse};

use super::call::context::Ctx;
use super::call::jobs::JobPath;
use super::door::Door;
use crate::http::ApiError;

/// A call on a job's path, as each step of a job takes it: the door, the caller's request
/// and the call's context.
#[derive(Clone, Copy)]
pub(super) struct JobCall<'a> {
    pub door: &'a Door,
    pub req: &'a HttpRequest,
    pub ctx: &'a Ctx,
}

/// Serves a path of async jobs: a submission, a file's upload, an owned object's read, or a
/// list of the caller's own.
pub(crate) async fn serve(
    door: &Door,
    req: &HttpRequest,
    payload: web::Payload,
    ctx: &Ctx,
) -> Result<HttpResponse, ApiError> {
    let at = JobCall { door, req, ctx };
    let Some((path, id)) = &ctx.target.route.job else {
        return Err(ApiError::invalid("path", "names no job"));
    };
    match (*path, id.as_deref()) {
        (JobPath::Submit(kind), remixed) => submit::submit(at, payload, (kind, remixed)).await,
        (JobPath::UploadFile, _) => upload::upload(at, payload).await,
        (JobPath::Resumable, _) => resumable::serve(at, payload).await,
        (JobPath::Owned(object, action), Some(id)) => owned::serve(at, payload, (object, action, id)).await,
        (JobPath::Owned(..), None) => Err(ApiError::invalid("path", "names no object")),
        (JobPath::List(object), _) => list::serve(at, object).await,
    }
}

/// Starts the node's job sweeper.
pub(crate) fn start_sweeper(door: web::Data<Door>) {
    sweep::start(door);
}
