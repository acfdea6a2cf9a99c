//! An open session as its user's open job (kind `realtime_session`, its id the provider's session
//! id, its hold the session's): listed with the user's usage and on the dashboard while it is
//! open, with its model and age. Its node ends it when the session ends; the sweeper ends it
//! when its hold is gone (its node died), and moves it on while it is held.

use serde_json::Map;

use crate::proxy::call::context::Ctx;
use crate::proxy::call::hold::Hold;
use crate::proxy::door::Door;
use crate::quota::{JobEnd, JobKind, JobRecord};

/// Records the session `id` as open; None when it could not be (the session runs unlisted).
pub(super) async fn opened(door: &Door, ctx: &Ctx, hold: &Hold, id: &str) -> Option<JobRecord> {
    let valid = !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if !valid {
        return None;
    }
    let data = door.gateway.data();
    let now = data.now_ms();
    let record = JobRecord {
        id: id.to_string(),
        upstream: ctx.upstream().name.clone(),
        kind: JobKind::RealtimeSession,
        user: ctx.caller.user.as_str().to_string(),
        key_id: ctx.caller.key_id.clone(),
        reservation: hold.id.as_str().to_string(),
        model: super::model(ctx).to_string(),
        held: Map::new(),
        quantity: 1,
        created_ms: now,
        due_ms: now + 2 * door.hold_ttl_ms,
        ends_ms: now + 2 * door.hold_ttl_ms,
        files: Vec::new(),
        ended: None,
    };
    match data
        .jobs()
        .put_job(&ctx.caller.project, &record, now + door.hold_ttl_ms)
        .await
    {
        Ok(_) => Some(record),
        Err(err) => {
            tracing::warn!(%err, "proxy: an open realtime session could not be listed");
            None
        }
    }
}

/// The session ended: no longer its user's open job.
pub(super) async fn closed(door: &Door, project: &str, mut record: JobRecord) {
    let data = door.gateway.data();
    record.ended = Some(JobEnd {
        outcome: "closed".into(),
        status: "closed".into(),
        at_ms: data.now_ms(),
    });
    if let Err(err) = data.jobs().update_job(project, &record).await {
        tracing::warn!(%err, "proxy: an ended realtime session stays listed until the sweeper ends it");
    }
}
