//! A realtime response's hold while it runs (or a minute of its session's time), recorded so no
//! node's death gives it back: before its `response.create` goes to the provider it is written
//! as a pending job of its own (kind `realtime_response`, or `realtime_minute`; no provider's
//! list knows them), ending a hold's time from now, and its
//! hold is made to outlive that end by the sweeper's grace. While its node lives, both move on
//! every half of that time. A node that dies mid-response leaves the record to the sweeper,
//! which charges the hold at the record's end, as it charges a job it cannot find: the provider
//! may have billed what it started. Its `response.done` (or its refusal) drops the record.

use std::time::Duration;

use serde_json::Map;

use crate::http::ApiError;
use crate::proxy::call::hold::{Hold, KeepAlive};
use crate::proxy::call::{Call, Operation};
use crate::proxy::door::Door;
use crate::quota::{JobKind, JobRecord, PendingJob};

/// What a response's hold is asked for: a hold's time and the sweeper's grace after it.
pub(super) fn held_for(door: &Door) -> i64 {
    door.hold_ttl_ms + door.jobs.grace_ms()
}

/// The record of a response held by `hold` for `call`, written; it and the hold kept ahead of
/// their end until the returned keep-alive is dropped. A record that cannot be written gives
/// the hold back: an unrecorded hold would not outlive its node.
pub(super) async fn record(
    door: &Door,
    (hold, call): (&Hold, &Call),
    user: &str,
) -> Result<(PendingJob, KeepAlive), ApiError> {
    let data = door.gateway.data();
    let now = data.now_ms();
    let mut held = Map::new();
    call.worst.write(&mut held);
    let pending = PendingJob {
        job: JobRecord {
            id: String::new(),
            upstream: hold.upstream.clone(),
            kind: match call.operation {
                Operation::RealtimeMinute => JobKind::RealtimeMinute,
                _ => JobKind::RealtimeResponse,
            },
            user: user.to_string(),
            key_id: hold.key_id.clone(),
            reservation: hold.id.as_str().to_string(),
            model: call.model.clone(),
            held,
            quantity: call.worst.quantity(call.operation),
            created_ms: now,
            due_ms: now + door.hold_ttl_ms,
            ends_ms: now + door.hold_ttl_ms,
            files: Vec::new(),
            ended: None,
        },
        idempotency_key: None,
        shows: Map::new(),
    };
    if let Err(err) = data
        .jobs()
        .put_pending_job(&hold.project, &pending, pending.job.ends_ms)
        .await
    {
        hold.release().await;
        return Err(err.into());
    }
    let alive = keep(door, hold.clone(), pending.clone());
    Ok((pending, alive))
}

/// Moves the record's end and the hold's on, every half of a hold's time.
fn keep(door: &Door, hold: Hold, mut pending: PendingJob) -> KeepAlive {
    let (gateway, ttl, each) = (door.gateway.clone(), held_for(door), door.hold_ttl_ms);
    let task = actix_web::rt::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis((each / 2) as u64)).await;
            let data = gateway.data();
            let now = data.now_ms();
            pending.job.due_ms = now + each;
            pending.job.ends_ms = now + each;
            let moved = async {
                data.extend(&hold.project, &hold.id, ttl).await?;
                data.jobs()
                    .put_pending_job(&hold.project, &pending, pending.job.ends_ms)
                    .await
            };
            if let Err(err) = moved.await {
                tracing::warn!(%err, reservation = hold.id.as_str(), "proxy: a running realtime response's hold could not be moved on");
            }
        }
    });
    KeepAlive(task)
}

/// The response ended (settled, or refused): its record goes.
pub(super) async fn ended(door: &Door, project: &str, pending: &PendingJob) {
    if let Err(err) = door
        .gateway
        .data()
        .jobs()
        .drop_pending_job(project, &pending.key())
        .await
    {
        tracing::warn!(%err, "proxy: a settled realtime response's record stays; the sweeper drops it");
    }
}
