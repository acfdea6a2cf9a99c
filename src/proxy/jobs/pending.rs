//! A job between its hold and the provider's answer: recorded as pending before its
//! submission is forwarded, with what will find it at the provider (a batch's `metadata`
//! carries its hold's id; a video is known by the fields the provider echoes: its model,
//! seconds, size and prompt). The submitter's answer replaces the pending record with the job's.
//! One its node left behind (stopped while it waited, or a provider that never answered in
//! time) the sweeper looks for at the provider, in the provider's list of its jobs, and adopts
//! (records it, so its owner's reads work and it settles as any job); one never found is
//! charged its hold at the hold's end, never given back: the provider may bill it.

use actix_web::HttpRequest;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::end::{self, By, Job, JobError};
use crate::gateway::Gateway;
use crate::proxy::call::jobs::list_path;
use crate::proxy::call::outcome::Answered;
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::door::Door;
use crate::proxy::splice;
use crate::quota::{job_key, JobKind, JobRecord, PendingJob, ReservationId};

/// The metadata key a batch carries its hold's id under.
pub(crate) const MARKER: &str = "quota_gateway_hold";
/// OpenAI takes at most this many metadata pairs: a batch that has them all carries no marker.
const MAX_METADATA: usize = 16;
/// Pages of the provider's list the sweeper reads at most, newest first, for one job.
const MAX_PAGES: usize = 5;
/// A job the provider lists as made this long before its hold is still looked at (clocks).
const SKEW_S: i64 = 300;

/// A batch's body with its hold's id in its `metadata` (kept as the caller wrote it
/// otherwise), and what its object will then show; the body as it was when its metadata is
/// full or not an object.
pub(crate) fn mark(body: Bytes, reservation: &str) -> (Bytes, Map<String, Value>) {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(&body).ok();
    let room = match parsed.as_ref().and_then(|b| b.get("metadata")) {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.len() < MAX_METADATA || m.contains_key(MARKER),
        Some(_) => false,
    };
    let value = Value::from(reservation).to_string();
    match room
        .then(|| splice::set(&body, &["metadata", MARKER], &value))
        .flatten()
    {
        Some(marked) => {
            let mut shows = Map::new();
            shows.insert(MARKER.into(), Value::from(reservation));
            (Bytes::from(marked), shows)
        }
        None => (body, Map::new()),
    }
}

/// A video's fields as its object echoes them, the prompt as its digest.
pub(crate) fn video_shows(model: &str, seconds: u64, size: &str, prompt: Option<&str>) -> Map<String, Value> {
    let mut shows = Map::new();
    shows.insert("model".into(), Value::from(model));
    shows.insert("seconds".into(), Value::from(seconds));
    shows.insert("size".into(), Value::from(size));
    if let Some(prompt) = prompt {
        shows.insert("prompt_sha256".into(), Value::from(digest(prompt)));
    }
    shows
}

/// The caller's Idempotency-Key, kept with the pending job.
pub(crate) fn idempotency_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .map(str::to_string)
}

/// Looks for a pending job at the provider: adopted when found, charged its hold at the
/// hold's end when not. Answers how it went (`adopted`, `open`, `expired`, `skipped`).
pub(super) async fn look(
    door: &Door,
    upstream: &Upstream,
    (project, key): (&str, &str),
    now: i64,
) -> Result<&'static str, JobError> {
    let (gateway, settings) = (&door.gateway, &door.jobs);
    let data = gateway.data();
    let Some(pending) = data.jobs().pending_job(project, key).await? else {
        data.jobs().unschedule_job(project, key).await?;
        return Ok("skipped");
    };
    let ends = pending.job.ends_ms;
    data.jobs()
        .schedule_job(project, key, settings.next_poll(now, ends))
        .await?;
    let found = match tokio::time::timeout(settings.poll_timeout, find(gateway, upstream, project, &pending)).await {
        Ok(found) => found,
        Err(_) => Err(format!("no list of {} in time", upstream.name)),
    };
    let mut job = Job {
        gateway,
        upstream,
        project,
        record: pending.job,
    };
    match found {
        Ok(Some((id, object))) => {
            job.record.id = id;
            let poll = settings.first_poll(&job.record);
            data.jobs().put_job(project, &job.record, poll).await?;
            tracing::info!(
                job = job.record.id,
                "proxy: a job its node never recorded was found at the provider"
            );
            job.saw(&object, By::Sweep).await?;
            gateway
                .node()
                .metrics()
                .count("qg_proxy_jobs_adopted_total", &[("upstream", &upstream.name)]);
            Ok("adopted")
        }
        result if now >= ends => {
            if let Err(why) = result {
                tracing::warn!(
                    why,
                    "proxy: a pending job unlooked-for at its hold's end is charged its hold"
                );
            }
            job.hold()?.commit(Usage::default(), Answered::nothing()).await;
            data.jobs().drop_pending_job(project, key).await?;
            job.counted("estimated", By::Sweep);
            Ok("expired")
        }
        Ok(None) => {
            outlive(door, project, &job.record, now).await;
            Ok("open")
        }
        Err(why) => Err(JobError::Upstream(why)),
    }
}

/// When a job's next poll is its last, at its hold's end: the hold is made to outlive that
/// poll (by `grace_ms`), so the poll finds it held, and charges it only if the job still runs.
pub(super) async fn outlive(door: &Door, project: &str, job: &JobRecord, now: i64) {
    let (gateway, settings) = (&door.gateway, &door.jobs);
    if settings.next_poll(now, job.ends_ms) < job.ends_ms {
        return;
    }
    let Some(id) = ReservationId::parse_reservation(&job.reservation) else {
        return;
    };
    let ttl = job.ends_ms - now + settings.grace_ms();
    if let Err(err) = gateway.data().extend(project, &id, ttl).await {
        tracing::warn!(%err, job = job.id, "proxy: a job's hold could not be made to outlive its last poll");
    }
}

/// The job a pending record names, as the provider lists it: its id and object.
async fn find(
    gateway: &Gateway,
    upstream: &Upstream,
    project: &str,
    pending: &PendingJob,
) -> Result<Option<(String, Value)>, String> {
    let Some(path) = list_path(pending.job.kind).filter(|_| !pending.shows.is_empty()) else {
        return Ok(None);
    };
    let since = pending.job.created_ms / 1000 - SKEW_S;
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = match &after {
            Some(last) => format!("{path}?limit=100&after={last}"),
            None => format!("{path}?limit=100"),
        };
        let listed = end::read_object(upstream, &page).await?;
        let data = listed
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for object in &data {
            let Some(id) = super::shapes::id(object) else { continue };
            if !shows(pending, object) {
                continue;
            }
            // A video like another of the same user's, already recorded, is that one.
            let known = gateway
                .data()
                .jobs()
                .job(project, &job_key(&upstream.name, id))
                .await
                .map_err(|e| e.to_string())?;
            if known.is_none() {
                return Ok(Some((id.to_string(), object.clone())));
            }
        }
        let older = data
            .last()
            .and_then(|o| o.get("created_at"))
            .and_then(Value::as_i64)
            .is_some_and(|at| at < since);
        let more = listed.get("has_more").and_then(Value::as_bool) == Some(true);
        after = data.last().and_then(super::shapes::id).map(str::to_string);
        if older || !more || after.is_none() {
            break;
        }
    }
    Ok(None)
}

/// Whether the provider's `object` is the pending job's.
fn shows(pending: &PendingJob, object: &Value) -> bool {
    match pending.job.kind {
        JobKind::Batch => {
            let marker = object.get("metadata").and_then(|m| m.get(MARKER));
            marker.and_then(Value::as_str) == pending.shows.get(MARKER).and_then(Value::as_str)
        }
        JobKind::Video => {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
            let prompt = text(object.get("prompt")).map(|p| Value::from(digest(&p)));
            let since = pending.job.created_ms / 1000 - SKEW_S;
            let at = object.get("created_at").and_then(Value::as_i64).unwrap_or(0);
            at >= since
                && text(object.get("model")).as_deref() == pending.shows.get("model").and_then(Value::as_str)
                && text(object.get("size")).as_deref() == pending.shows.get("size").and_then(Value::as_str)
                && super::shapes::seconds(object.get("seconds")) == pending.shows.get("seconds").and_then(Value::as_u64)
                && pending
                    .shows
                    .get("prompt_sha256")
                    .is_none_or(|d| prompt.as_ref() == Some(d))
        }
        // No list says anything to know them by.
        JobKind::MessageBatch
        | JobKind::GeminiBatch
        | JobKind::RealtimeResponse
        | JobKind::RealtimeMinute
        | JobKind::RealtimeSession => false,
    }
}

fn digest(text: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))
}

/// The pending record of a job about to be submitted.
pub(crate) fn pending(job: &JobRecord, idempotency_key: Option<String>, shows: Map<String, Value>) -> PendingJob {
    PendingJob {
        job: job.clone(),
        idempotency_key,
        shows,
    }
}
