//! A realtime session's time, held a minute ahead: the session's event (`<upstream>.realtime`)
//! with `realtime_seconds` 60 and no session counted (quantity 0), so a `seconds` group
//! measuring `realtime_seconds` bounds how long a user talks. The first minute is held as the
//! session opens (a denial refuses it before the upgrade), each next one as the last ends,
//! which is committed at 60; the one running at the session's end at the seconds it ran. A
//! minute that cannot be held ends the session. Each minute is recorded as a running response
//! is (`running.rs`), so a node's death leaves it charged, never given back.

use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::running;
use crate::http::ApiError;
use crate::proxy::body::Body;
use crate::proxy::call::context::Ctx;
use crate::proxy::call::hold::{Hold, KeepAlive};
use crate::proxy::call::outcome::Answered;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::Operation;
use crate::proxy::door::Door;
use crate::proxy::hold::{Go, Held};
use crate::quota::PendingJob;

/// The metadata a seconds group measures.
pub(super) const SECONDS: &str = "realtime_seconds";

/// How long one minute's hold covers: half a hold's time, a minute unless the node's holds are
/// set shorter (as tests set them).
pub(super) fn minute_ms(door: &Door) -> u64 {
    (door.hold_ttl_ms / 2).clamp(1_000, 60_000) as u64
}

/// A minute held: its hold and record, and when it began.
pub(super) struct Minute {
    hold: Hold,
    record: PendingJob,
    _alive: KeepAlive,
    began: Instant,
}

/// Holds the session's next minute; Err(answer): the user's plan does not hold it.
pub(super) async fn hold(door: &Door, ctx: &Ctx) -> Result<Result<Minute, actix_web::HttpResponse>, ApiError> {
    let mut extra = Map::new();
    extra.insert(SECONDS.into(), Value::from(minute_ms(door) / 1000));
    let mut call = super::call_of(ctx, Operation::RealtimeMinute, (super::model(ctx), Usage::default()));
    call.extra = extra;
    call.ttl_ms = Some(running::held_for(door));
    let Go { mut hold, call, .. } = match door.reserve_unkeyed(ctx, call, Body::Whole(Bytes::new())).await? {
        Held::Go(go) => *go,
        Held::Denied(answer, _) | Held::Answered(answer) => return Ok(Err(answer)),
        Held::Repeat(_) => return Err(ApiError::Internal("a session's minute has no key to repeat".into())),
    };
    // A minute is no span of its own: its commit must not end the session's.
    hold.trace = None;
    let (record, alive) = running::record(door, (&hold, &call), ctx.caller.user.as_str()).await?;
    Ok(Ok(Minute {
        hold,
        record,
        _alive: alive,
        began: Instant::now(),
    }))
}

/// Commits a minute at the seconds it ran (a whole minute once it is over), and drops its
/// record.
pub(super) async fn settle(door: &Door, minute: Minute) {
    let Minute {
        mut hold,
        record,
        began,
        ..
    } = minute;
    let seconds = began.elapsed().as_secs_f64().ceil() as u64;
    let most = minute_ms(door) / 1000;
    hold.labels.insert(SECONDS.into(), Value::from(seconds.clamp(1, most)));
    let ran = Usage {
        input_tokens: Some(0),
        output_tokens: Some(0),
        ..Usage::default()
    };
    hold.commit(ran, Answered::nothing()).await;
    running::ended(door, &hold.project, &record).await;
}

/// Gives back a minute the session never used (its provider's side did not open).
pub(super) async fn release(door: &Door, minute: Minute) {
    minute.hold.release().await;
    running::ended(door, &minute.hold.project, &minute.record).await;
}
