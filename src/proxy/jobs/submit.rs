//! A job's submission: its worst case read from what it asks (an OpenAI batch from its input
//! file's summed lines, an Anthropic message batch from its requests, a video from its seconds),
//! held in one reserve that lives for the job's window and a margin, recorded as pending
//! (`pending.rs`), then forwarded; the job the provider made is recorded with its owner and its
//! hold, for its reads and its end.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::shapes::{Submitted, MAX_OBJECT_BYTES};
use super::{gemini_file, owned, pending, shapes, video, JobCall};
use crate::http::ApiError;
use crate::proxy::body::Upload;
use crate::proxy::body::{self, Body};
use crate::proxy::call::context::{Ctx, Target};
use crate::proxy::call::hold::Hold;
use crate::proxy::call::jobs::{self, JobSettings};
use crate::proxy::call::outcome::Answered;
use crate::proxy::call::outcome::Failure;
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::wire::{self, Named, Route};
use crate::proxy::call::{self, wrong, Call, ModelLimits, Operation};
use crate::proxy::door::Door;
use crate::proxy::hold::{Go, Held};
use crate::proxy::{counting, provider};
use crate::quota::catalog::Catalog;
use crate::quota::{job_key, BatchFile, FileRecord, JobKind, JobRecord};

/// Requests in one message batch, at most (Anthropic's own bound).
const MAX_BATCH_REQUESTS: usize = 100_000;

/// Submits a job of `kind` (a remix of the video `remixed`, where the path names one): held,
/// forwarded, recorded.
pub(super) async fn submit(
    at: JobCall<'_>,
    payload: web::Payload,
    (kind, remixed): (JobKind, Option<&str>),
) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let bytes = match kind {
        JobKind::Video if remixed.is_none() => body::bytes(req, payload, &door.reader(&ctx.caller)).await?,
        _ => body::json(req, payload, &door.reader(&ctx.caller)).await?,
    };
    let (call, shows, fingerprint) = match (kind, remixed) {
        (JobKind::Batch, _) => (batch(door, ctx, &bytes, &door.jobs).await?, Map::new(), None),
        (JobKind::MessageBatch, _) => (message_batch(door, ctx, bytes.clone()).await?, Map::new(), None),
        (JobKind::Video, None) => video::video(req, ctx, &bytes, &door.jobs)?,
        (JobKind::Video, Some(id)) => match remix(at, id, &bytes).await? {
            Ok(video) => video,
            Err(not_found) => return Ok(not_found),
        },
        (JobKind::GeminiBatch, model) => (gemini_batch(door, ctx, bytes.clone(), model).await?, Map::new(), None),
        // No path submits one: a realtime session holds its responses itself.
        (JobKind::RealtimeResponse | JobKind::RealtimeMinute | JobKind::RealtimeSession, _) => {
            return Err(ApiError::invalid("path", "submits no job"))
        }
    };
    // A form is known by its fields and its files' digests, not its boundary: a client's
    // retry draws a new one.
    let body = match fingerprint {
        Some(fingerprint) => Body::Upload(Box::new(Upload::whole(bytes, fingerprint))),
        None => Body::Whole(bytes),
    };
    let Go { hold, call, body } = match door.reserve(req, ctx, call, body).await? {
        Held::Go(go) => *go,
        Held::Denied(answer, _) | Held::Answered(answer) => return Ok(answer),
        // A job's repeat is answered the job its first call submitted, as the provider now
        // tells it, so a stuck client's retry learns its job.
        Held::Repeat(id) => match owned::repeated(at, &id).await? {
            Some(answer) => return Ok(answer),
            None => return door.repeated(ctx, &id).await,
        },
    };
    let record = job_record(at, kind, &call, &hold);
    forwarded(at, Go { hold, call, body }, record, shows).await
}

/// A remix of the caller's own video `id`: a new video of the model, size and seconds of the
/// one it remixes, as the provider tells them, with the caller's prompt. Err(answer): no video
/// of the caller's has that id, answered 404 as one that does not exist.
async fn remix(at: JobCall<'_>, id: &str, bytes: &Bytes) -> Result<Result<video::Video, HttpResponse>, ApiError> {
    let JobCall { door, ctx, .. } = at;
    let key = job_key(&ctx.upstream().name, id);
    let owned = door.gateway.data().jobs().job(&ctx.caller.project, &key).await?;
    if !owned.is_some_and(|r| r.user == ctx.caller.user.as_str() && r.kind == JobKind::Video) {
        return Ok(Err(owned::not_found(ctx, jobs::Object::Job(JobKind::Video), id)));
    }
    let timeouts = &ctx.upstream().timeouts;
    let path = ctx.wire().own_path(&format!("v1/videos/{id}"));
    let original = provider::object(
        ctx.upstream(),
        &path,
        (timeouts.first_byte, timeouts.idle),
        MAX_OBJECT_BYTES,
    )
    .await
    .map_err(|why| ApiError::Unavailable(format!("the video to remix could not be read: {why}")))?;
    let asked: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    let mut fields = Map::new();
    for name in ["model", "size", "seconds"] {
        if let Some(value) = original.get(name).filter(|v| !v.is_null()) {
            fields.insert(name.into(), value.clone());
        }
    }
    match asked.get("prompt") {
        Some(Value::String(prompt)) if !prompt.is_empty() => fields.insert("prompt".into(), prompt.as_str().into()),
        _ => return Err(ApiError::invalid("prompt", "must be the remix's prompt")),
    };
    let (call, shows) = video::priced(ctx, &fields, &door.jobs)?;
    Ok(Ok((call, shows, None)))
}

/// The job's record before the provider sees it: its owner, its hold and when it ends.
fn job_record(at: JobCall<'_>, kind: JobKind, call: &Call, hold: &Hold) -> JobRecord {
    let (door, ctx) = (at.door, at.ctx);
    let now = door.gateway.data().now_ms();
    let ttl = call.ttl_ms.unwrap_or(door.hold_ttl_ms);
    JobRecord {
        id: String::new(),
        upstream: ctx.upstream().name.clone(),
        kind,
        user: ctx.caller.user.as_str().to_string(),
        key_id: ctx.caller.key_id.clone(),
        reservation: hold.id.as_str().to_string(),
        model: call.model.clone(),
        held: {
            let mut held = Map::new();
            call.worst.write(&mut held);
            held
        },
        quantity: call.worst.quantity(call.operation),
        created_ms: now,
        due_ms: now + (ttl - door.jobs.margin_ms).max(0),
        ends_ms: now + ttl,
        files: Vec::new(),
        ended: None,
    }
}

/// The held job recorded as pending, then forwarded; its answer's job recorded with its owner.
async fn forwarded(
    at: JobCall<'_>,
    go: Go,
    record: JobRecord,
    shows: Map<String, Value>,
) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let Go { hold, body, .. } = go;
    let (data, project, now) = (door.gateway.data(), &ctx.caller.project, record.created_ms);
    // Recorded before the provider sees it: a node stopped while it waits leaves a job the
    // sweeper finds (by the batch's metadata, the video's fields) or charges, never frees.
    let (body, shows) = match body {
        Body::Whole(bytes) if record.kind == JobKind::Batch => {
            let (marked, shows) = pending::mark(bytes, hold.id.as_str());
            (Body::Whole(marked), shows)
        }
        body => (body, shows),
    };
    let timeouts = &ctx.upstream().timeouts;
    let look = now + (timeouts.first_byte + timeouts.idle).as_millis() as i64;
    let pending = pending::pending(&record, pending::idempotency_key(req), shows);
    if let Err(err) = data.jobs().put_pending_job(project, &pending, look).await {
        hold.release().await;
        return Err(err.into());
    }
    let settled = async || {
        if let Err(err) = data.jobs().drop_pending_job(project, &pending.key()).await {
            tracing::warn!(%err, "proxy: a settled job's pending record stays; the sweeper drops it");
        }
    };
    let response = match door.forward(req, ctx, body).await {
        Ok(response) => response,
        Err(failure @ (Failure::Unreachable(_) | Failure::Unsent(_))) => {
            door.settle_failure(&hold, &failure).await;
            settled().await;
            return Ok(failure.answer(ctx));
        }
        Err(failure) => {
            // The provider may have made the job: its hold and pending record stay, for the
            // sweeper to find it at the provider or charge the hold at its end.
            hold.upstream_error(failure.kind());
            return Ok(failure.answer(ctx));
        }
    };
    if !response.status().is_success() {
        let refusal = door.refusal(ctx, response).await;
        let answer = door.settle_refusal(ctx, hold.clone(), refusal, true).await;
        settled().await;
        return Ok(answer);
    }
    let (answer, unrecorded) = recorded(at, &hold, record, response).await;
    if unrecorded {
        settled().await;
    }
    Ok(answer)
}

/// The provider's answer to a submission, with the job it names recorded with its owner;
/// true when none could be, and the hold was charged as it is.
async fn recorded(
    at: JobCall<'_>,
    hold: &Hold,
    mut record: JobRecord,
    response: reqwest::Response,
) -> (HttpResponse, bool) {
    let (door, ctx) = (at.door, at.ctx);
    let mut reply = provider::head(&response);
    provider::reserved(&mut reply, hold);
    let object = provider::within(response, ctx.upstream().timeouts.idle, MAX_OBJECT_BYTES).await;
    let parsed = object
        .as_ref()
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok());
    let Some(id) = parsed.as_ref().and_then(shapes::id) else {
        // The provider took the job but its answer names none the gateway can keep: the hold
        // stays to its expiry, charged, as for any call whose end the gateway cannot see.
        tracing::warn!(
            upstream = ctx.upstream().name,
            "proxy: a job's answer names no id; its hold is charged"
        );
        hold.commit(Usage::default(), Answered::nothing()).await;
        return (reply.body(object.unwrap_or_default()), true);
    };
    record.id = id.to_string();
    let poll = door.jobs.first_poll(&record);
    if let Err(err) = door
        .gateway
        .data()
        .jobs()
        .put_job(&ctx.caller.project, &record, poll)
        .await
    {
        // The job runs and its hold stands; unrecorded, it is settled by no read: its hold is
        // committed as it is, so the provider's bill is never free.
        tracing::error!(%err, job = record.id, "proxy: a submitted job could not be recorded; its hold is charged");
        hold.commit(Usage::default(), Answered::nothing()).await;
        return (reply.body(object.unwrap_or_default()), true);
    }
    // A job the provider answered already ended (refused on its own terms) settles now.
    if let Some(mut seen) = parsed {
        owned::saw(at, record, &mut seen).await;
    }
    (reply.body(object.unwrap_or_default()), false)
}

/// An OpenAI batch: its input file's summed lines (recorded as it was uploaded through the
/// gateway, by the same user), at the batch prices (`batch`), for its completion window.
async fn batch(door: &Door, ctx: &Ctx, bytes: &Bytes, jobs: &JobSettings) -> Result<Call, ApiError> {
    let body: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    let text = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| ApiError::invalid(field, "must be a string, 1 to 256 bytes"))
    };
    let file = uploaded(door, ctx, (text("input_file_id")?, "input_file_id")).await?;
    let lines = file.batch.ok_or_else(|| {
        ApiError::invalid(
            "input_file_id",
            "is not a batch input file (uploaded with purpose batch)",
        )
    })?;
    lines_own_named(door, ctx, &lines.named, "input_file_id").await?;
    let endpoint = text("endpoint")?;
    if endpoint != lines.url {
        return Err(ApiError::invalid(
            "endpoint",
            format!("must be {}, the path every line of the input file calls", lines.url),
        ));
    }
    let window = window_ms(text("completion_window")?)
        .ok_or_else(|| ApiError::invalid("completion_window", "must be a number of hours, as 24h"))?;
    let mut extra = Map::new();
    extra.insert("batch".into(), Value::Bool(true));
    let asked = Submitted {
        operation: Operation::Batches,
        model: lines.model,
        worst: Usage::read(&lines.worst),
    };
    Ok(asked.call(ctx, extra, jobs.ttl(window)))
}

/// An Anthropic message batch: its requests' worst cases summed, each read as a single call
/// (on a counting thread when the body is large), at the batch prices.
async fn message_batch(door: &Door, ctx: &Ctx, bytes: Bytes) -> Result<Call, ApiError> {
    let catalog = door.gateway.node().catalog().clone();
    let upstream = ctx.target.upstream.clone();
    let summed = match bytes.len() <= counting::INLINE_BYTES {
        true => requests(&upstream, &catalog, &bytes),
        false => door
            .counting
            .run(&ctx.caller.project, move || requests(&upstream, &catalog, &bytes))
            .await
            .map_err(|_| ApiError::CountingBusy)?,
    };
    // Anthropic's batches end within 24 hours.
    let held = summed.map_err(|e| ApiError::invalid(e.field, e.detail))?;
    Ok(batch_call(door, ctx, held, 24))
}

/// A batch of requests' call: their model and summed worst case, held at batch prices for the
/// provider's window (`hours`) and the margin.
fn batch_call(door: &Door, ctx: &Ctx, (model, worst): (String, Usage), hours: i64) -> Call {
    let mut extra = Map::new();
    extra.insert("batch".into(), Value::Bool(true));
    let asked = Submitted {
        operation: Operation::Batches,
        model,
        worst,
    };
    asked.call(ctx, extra, door.jobs.ttl(hours * 3_600_000))
}

/// A Gemini batch, held at its requests' summed worst case, each as the `generateContent` of
/// the path's model it is (inlined, or the lines of a file uploaded through the gateway by the
/// same user), for two days (Google aims at one, and expires a batch still pending after two)
/// and the margin.
async fn gemini_batch(door: &Door, ctx: &Ctx, bytes: Bytes, model: Option<&str>) -> Result<Call, ApiError> {
    let model = model
        .ok_or_else(|| ApiError::invalid("path", "names no model"))?
        .to_string();
    if let Some(name) = input_file(&bytes)? {
        let file = gemini_input(door, ctx, &name).await?;
        lines_own_named(door, ctx, &file.named, "batch.inputConfig.fileName").await?;
        let catalog = door.gateway.node().catalog();
        let model = ctx.upstream().model_of(model);
        let worst = gemini_file::held_at(ctx.upstream(), catalog, &model, &file);
        return Ok(batch_call(door, ctx, (model, worst), 48));
    }
    let catalog = door.gateway.node().catalog().clone();
    let upstream = ctx.target.upstream.clone();
    let summed = move || inlined(&upstream, &catalog, &model, &bytes);
    let (model, worst, named) = door
        .counting
        .run(&ctx.caller.project, summed)
        .await
        .map_err(|_| ApiError::CountingBusy)?
        .map_err(|e| ApiError::invalid(e.field, e.detail))?;
    door.owned_objects(ctx, &named).await?;
    Ok(batch_call(door, ctx, (model, worst), 48))
}

/// The file a Gemini batch's requests are in (`batch.inputConfig.fileName`), if they are in one.
fn input_file(bytes: &[u8]) -> Result<Option<String>, ApiError> {
    let body: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    let batch = body.get("batch").and_then(Value::as_object).unwrap_or(&body);
    let input = batch.get("inputConfig").or_else(|| batch.get("input_config"));
    let Some(name) = input.and_then(|i| i.get("fileName").or_else(|| i.get("file_name"))) else {
        return Ok(None);
    };
    if input.is_some_and(|i| i.get("requests").is_some()) {
        return Err(ApiError::invalid(
            "batch.inputConfig",
            "must name a file or hold requests, not both",
        ));
    }
    match name.as_str() {
        Some(name) if shapes::file_id(name).is_some() => Ok(Some(name.to_string())),
        _ => Err(ApiError::invalid(
            "batch.inputConfig.fileName",
            "must be a file's name, files/{id}",
        )),
    }
}

/// Refuses a batch whose file's lines (named in `field`) name a file its submitter did not
/// upload through this gateway: each line is a call, and a call may name only its user's files.
async fn lines_own_named(door: &Door, ctx: &Ctx, named: &[String], field: &str) -> Result<(), ApiError> {
    let ids: Vec<&str> = named.iter().map(String::as_str).collect();
    match door.not_owned(ctx, &ids).await? {
        Some(i) => Err(ApiError::invalid(
            field,
            format!("has a line naming {}, which {}", ids[i], wire::not_owned(ids[i])),
        )),
        None => Ok(()),
    }
}

/// The file `id` the caller uploaded through this gateway, which a batch names in `field`.
async fn uploaded(door: &Door, ctx: &Ctx, (id, field): (&str, &str)) -> Result<FileRecord, ApiError> {
    let key = job_key(&ctx.upstream().name, id);
    door.gateway
        .data()
        .jobs()
        .job_file(&ctx.caller.project, &key)
        .await?
        .filter(|f| f.user == ctx.caller.user.as_str())
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                "is not a file this user uploaded through this gateway: upload the batch's input file here first",
            )
        })
}

/// The batch input file `name`, uploaded through the gateway by the caller, with its lines' sum.
async fn gemini_input(door: &Door, ctx: &Ctx, name: &str) -> Result<BatchFile, ApiError> {
    let id = shapes::file_id(name).unwrap_or_default();
    let field = "batch.inputConfig.fileName";
    let file = uploaded(door, ctx, (id, field)).await?;
    file.batch
        .filter(|b| b.url == gemini_file::GENERATE)
        .ok_or_else(|| ApiError::invalid(field, "is not a batch's requests (a JSONL file, a request a line)"))
}

/// A Gemini batch's inlined requests (`batch.inputConfig.requests.requests[].request`): their
/// model (the path's) and summed worst case.
fn inlined(
    upstream: &Arc<Upstream>,
    catalog: &Catalog,
    model: &str,
    bytes: &[u8],
) -> Result<(String, Usage, Vec<Named>), call::BodyError> {
    let body: Map<String, Value> = serde_json::from_slice(bytes).map_err(|_| wrong("body", "must be a JSON object"))?;
    let batch = body.get("batch").and_then(Value::as_object).unwrap_or(&body);
    let input = batch.get("inputConfig").or_else(|| batch.get("input_config"));
    let requests = input
        .and_then(|i| i.get("requests"))
        .and_then(|r| r.get("requests"))
        .and_then(Value::as_array)
        .filter(|r| (1..=MAX_BATCH_REQUESTS).contains(&r.len()))
        .ok_or_else(|| {
            wrong(
                "batch.inputConfig.requests.requests",
                "must be a list of 1 to 100,000 requests",
            )
        })?;
    let route = Route {
        model: Some(model.to_string()),
        ..Route::from(Operation::Generate)
    };
    let mut total = Usage::default();
    let mut held = None;
    let mut named = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let at = |field: &str| format!("batch.inputConfig.requests.requests[{i}].request{field}");
        let params = request
            .get("request")
            .and_then(Value::as_object)
            .ok_or_else(|| wrong(&at(""), "must be a generateContent request"))?;
        let one = line_call(upstream, catalog, route.clone(), params)
            .map_err(|e| wrong(&at(&format!(".{}", e.field)), &e.detail))?;
        held.get_or_insert(one.model);
        total = total.plus(&one.worst);
        named.extend(one.named.into_iter().map(|f| Named {
            field: at(&format!(".{}", f.field)),
            id: f.id,
        }));
    }
    Ok((held.unwrap_or_default(), total, named))
}

/// The requests of a message batch: their one model and their summed worst case.
fn requests(upstream: &Arc<Upstream>, catalog: &Catalog, bytes: &[u8]) -> Result<(String, Usage), call::BodyError> {
    let body: Map<String, Value> = serde_json::from_slice(bytes).map_err(|_| wrong("body", "must be a JSON object"))?;
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .filter(|r| (1..=MAX_BATCH_REQUESTS).contains(&r.len()))
        .ok_or_else(|| wrong("requests", "must be a list of 1 to 100,000 requests"))?;
    let route = Route::from(Operation::Messages);
    let mut model: Option<String> = None;
    let mut total = Usage::default();
    for (i, request) in requests.iter().enumerate() {
        let params = request
            .get("params")
            .and_then(Value::as_object)
            .ok_or_else(|| wrong(&format!("requests[{i}].params"), "must be a message request"))?;
        let one = line_call(upstream, catalog, route.clone(), params)
            .map_err(|e| wrong(&format!("requests[{i}].params.{}", e.field), &e.detail))?;
        match &model {
            Some(m) if *m != one.model => {
                return Err(wrong(
                    &format!("requests[{i}].params.model"),
                    &format!("must be {m}, as every request of the batch: a batch is priced at one model"),
                ))
            }
            Some(_) => {}
            None => model = Some(one.model.clone()),
        }
        total = total.plus(&one.worst);
    }
    Ok((model.unwrap_or_default(), total))
}

/// One request of a batch (a line, or a message batch's request), as a single call of it.
pub(crate) fn line_call(
    upstream: &Arc<Upstream>,
    catalog: &Catalog,
    route: Route,
    body: &Map<String, Value>,
) -> Result<Call, call::BodyError> {
    let target = Target {
        upstream: upstream.clone(),
        wire: upstream.wire,
        route,
        path: String::new(),
    };
    Call::from_body(&target, body, None, |model| {
        catalog.find(model).map(|m| ModelLimits {
            output: m.entry.max_output_tokens,
            context: m.entry.context_window,
        })
    })
}

/// A completion window in ms: `<hours>h`, 1 to 24 hours.
fn window_ms(text: &str) -> Option<i64> {
    let hours: i64 = text.strip_suffix('h')?.parse().ok()?;
    (1..=24).contains(&hours).then_some(hours * 3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_window_is_whole_hours_up_to_a_day() {
        assert_eq!(window_ms("24h"), Some(86_400_000));
        assert_eq!(window_ms("1h"), Some(3_600_000));
        for bad in ["", "24", "0h", "25h", "1.5h", "-1h", "h"] {
            assert_eq!(window_ms(bad), None, "{bad}");
        }
    }
}
