//! Reads of a job's objects (the job, its cancel, its files, a video's content, a message
//! batch's results), served only to the user who owns them: a job or file the gateway did not
//! record for the caller's project and user is answered 404 in the provider's shape, exactly
//! as one that does not exist, so ids cannot be probed. A read that finds its job ended
//! settles it (`end.rs`). Downloads stream through as they come. A deleted object leaves its
//! owner's list (`list.rs`).

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;

use super::end::{self, By, Job};
use super::shapes::MAX_OBJECT_BYTES;
use super::JobCall;
use crate::http::ApiError;
use crate::proxy::answer::{self, Fault};
use crate::proxy::body::{self, Body};
use crate::proxy::call::context::Ctx;
use crate::proxy::call::jobs::{self, Action, Object};
use crate::proxy::call::upstream::Kind;
use crate::proxy::provider;
use crate::quota::{job_key, JobKind, JobRecord, Listed, ReservationId};

/// A cancel's body, at most.
const MAX_CANCEL_BYTES: usize = 64 << 10;

/// Serves `action` on the owned object `id` the path names.
pub(super) async fn serve(
    at: JobCall<'_>,
    payload: web::Payload,
    (object, action, id): (Object, Action, &str),
) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let data = door.gateway.data();
    let (project, user) = (&ctx.caller.project, ctx.caller.user.as_str());
    let key = job_key(&ctx.upstream().name, id);
    let job = match object {
        Object::Job(kind) => match data.jobs().job(project, &key).await? {
            Some(record) if record.user == user && record.kind == kind => Some(record),
            _ => return Ok(not_found(ctx, object, id)),
        },
        Object::File => match data.jobs().job_file(project, &key).await? {
            Some(file) if file.user == user => None,
            _ => return Ok(not_found(ctx, object, id)),
        },
    };
    let body = match req.method() == Method::POST {
        true => body::bytes(req, payload, &door.reader(&ctx.caller).keeping(MAX_CANCEL_BYTES)).await?,
        false => Bytes::new(),
    };
    let response = match door.forward(req, ctx, Body::Whole(body)).await {
        Ok(response) => response,
        Err(failure) => return Ok(failure.answer(ctx)),
    };
    if action == Action::Delete && response.status().is_success() {
        // Deleted: no longer in its owner's list.
        let what = match object {
            Object::Job(kind) => Listed::Jobs(kind),
            Object::File => Listed::Files,
        };
        let list = (project.as_str(), user, ctx.upstream().name.as_str(), what);
        data.jobs().unlist(list, &[id.to_string()]).await?;
    }
    match job {
        Some(record) if response.status().is_success() && matches!(action, Action::Read | Action::Cancel) => {
            let mut reply = provider::head(&response);
            let Ok(bytes) = provider::within(response, ctx.upstream().timeouts.idle, MAX_OBJECT_BYTES).await else {
                return Ok(reply.finish());
            };
            let Ok(mut object) = serde_json::from_slice::<Value>(&bytes) else {
                return Ok(reply.body(bytes));
            };
            saw(at, record, &mut object).await;
            Ok(reply.body(object.to_string()))
        }
        _ => {
            // A file's bytes, a video, a batch's results: as they come, never whole.
            let mut reply = provider::head(&response);
            let stream = response
                .bytes_stream()
                .map(|chunk| chunk.map_err(actix_web::error::ErrorBadGateway));
            Ok(reply.streaming(stream))
        }
    }
}

/// What a caller's read (or its submission's answer) found of its job: settled if it ended,
/// and a message batch's results named at the gateway, where its owner may read them.
pub(super) async fn saw(at: JobCall<'_>, record: JobRecord, object: &mut Value) {
    let JobCall { door, req, ctx } = at;
    let kind = record.kind;
    let mut job = Job {
        gateway: &door.gateway,
        upstream: ctx.upstream(),
        project: &ctx.caller.project,
        record,
    };
    if let Err(err) = job.saw(object, By::Read).await {
        tracing::warn!(%err, job = job.record.id, "proxy: a job seen ended could not be settled now; the sweeper will");
    }
    if kind == JobKind::MessageBatch {
        if let Some(url) = object.get_mut("results_url").filter(|u| u.is_string()) {
            let info = req.connection_info();
            *url = Value::String(format!(
                "{}://{}/proxy/{}/v1/messages/batches/{}/results",
                info.scheme(),
                info.host(),
                ctx.upstream().name,
                job.record.id
            ));
        }
    }
}

/// A repeat of a job's submission (its Idempotency-Key's): the job its first call submitted,
/// as the provider tells it now. None when the first call recorded no job (it still runs, or
/// the provider refused it): the repeat is answered as any call's.
pub(super) async fn repeated(at: JobCall<'_>, reservation: &ReservationId) -> Result<Option<HttpResponse>, ApiError> {
    let JobCall { door, ctx, .. } = at;
    let data = door.gateway.data();
    let project = &ctx.caller.project;
    let Some(key) = data.jobs().job_of_hold(project, reservation.as_str()).await? else {
        return Ok(None);
    };
    let Some(record) = data.jobs().job(project, &key).await? else {
        return Ok(None);
    };
    let path = jobs::read_path(record.kind, &record.id);
    let Ok(mut object) = end::read_object(ctx.upstream(), &path).await else {
        return Ok(None);
    };
    saw(at, record, &mut object).await;
    Ok(Some(
        HttpResponse::Ok()
            .insert_header((provider::RESERVATION, reservation.as_str()))
            .content_type("application/json")
            .body(object.to_string()),
    ))
}

/// The provider's own 404 for an object that is not the caller's.
pub(super) fn not_found(ctx: &Ctx, object: Object, id: &str) -> HttpResponse {
    let what = match object {
        // Google answers a file that is not the key's as it answers one that does not exist.
        Object::File if ctx.upstream().kind == Kind::Gemini => {
            let message = format!("You do not have permission to access the File {id} or it may not exist.");
            return answer::error(
                ctx.wire(),
                StatusCode::FORBIDDEN,
                Fault::new("permission_denied", &message),
            );
        }
        Object::File => "file",
        Object::Job(JobKind::Video) => "video",
        Object::Job(JobKind::GeminiBatch) => {
            return answer::error(
                ctx.wire(),
                StatusCode::NOT_FOUND,
                Fault::new("not_found", &format!("Batch batches/{id} not found.")),
            )
        }
        Object::Job(_) => "batch",
    };
    let message = format!("No {what} found with id '{id}'.");
    answer::error(ctx.wire(), StatusCode::NOT_FOUND, Fault::new("not_found", &message))
}
