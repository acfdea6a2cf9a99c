//! The data plane's scripts: reserve, check, track, commit, release, extend, usage, adjust.

use redis::aio::ConnectionLike;
use redis::{ScriptInvocation, Value};

use super::{
    unexpected, writing_args, Fields, Idempotency, Reply, Values, ADJUST, CHECK, COMMIT, EXTEND, RELEASE, RESERVE,
    TRACK, USAGE,
};
use crate::quota::{Milli, Mode};
use crate::store::keys::UserKeys;
use crate::store::record::Record;
use crate::store::StoreError;

/// One hold of a reserve, check or track, as the scripts take it (holds.lua).
pub struct HoldArg<'a> {
    pub group: &'a str,
    pub field: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub amount: Milli,
    pub quota: Milli,
    pub mode: Mode,
    pub concurrent: bool,
    /// The measure as JSON, recorded so a commit can recompute the amount.
    pub measure: String,
}

/// What reserve, check and track share: the subscription version and the holds.
pub struct Holds<'a> {
    pub version: u64,
    pub holds: &'a [HoldArg<'a>],
}

/// A decision of reserve or check.
pub struct Decided {
    /// Reserve only: the reservation's id (the first call's, for a repeat) and expiry.
    pub reservation_id: String,
    pub expires_ms: i64,
    pub allowed: bool,
    /// Per hold: its counter after the decision, and whether it would pass its quota.
    pub holds: Vec<(Values, bool)>,
}

pub enum SettleReply {
    NotFound,
    /// The reservation already ended the other way ("committed" or "released").
    Conflict(String),
    Done {
        status: String,
        late: bool,
        record: Record,
        values: Vec<Values>,
    },
}

pub enum ExtendReply {
    NotFound,
    /// The reservation is no longer held: "expired", "committed" or "released".
    Ended(String),
    Extended {
        expires_ms: i64,
    },
}

/// The 9 values of one hold, in holds.lua's order.
fn push_hold(inv: &mut ScriptInvocation<'_>, h: &HoldArg<'_>) {
    inv.arg(h.group)
        .arg(&h.field)
        .arg(h.start_ms)
        .arg(h.end_ms.map(|ms| ms.to_string()).unwrap_or_default())
        .arg(h.amount.0)
        .arg(h.quota.0)
        .arg(h.mode.as_str())
        .arg(if h.concurrent { "c" } else { "" })
        .arg(&h.measure);
}

fn push_holds(inv: &mut ScriptInvocation<'_>, holds: &[HoldArg<'_>]) {
    inv.arg(holds.len());
    for h in holds {
        push_hold(inv, h);
    }
}

fn decided(it: &mut Fields, n: usize, reservation_id: String, expires_ms: i64) -> Result<Decided, StoreError> {
    let allowed = it.int()? == 1;
    let mut holds = Vec::with_capacity(n);
    for _ in 0..n {
        let values = it.values()?;
        holds.push((values, it.int()? == 1));
    }
    Ok(Decided {
        reservation_id,
        expires_ms,
        allowed,
        holds,
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn reserve(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    idempotency: Option<&Idempotency>,
    holds: &Holds<'_>,
    reservation_id: &str,
    ttl_ms: i64,
    event: &str,
) -> Result<Reply<Decided>, StoreError> {
    let mut inv = RESERVE.prepare_invoke();
    writing_args(&mut inv, keys, retention_ms, idempotency);
    inv.arg(holds.version).arg(reservation_id).arg(ttl_ms).arg(event);
    push_holds(&mut inv, holds.holds);
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "stale" => Ok(Reply::Stale),
        "more" => Ok(Reply::More),
        "reused" => Ok(Reply::Reused),
        "ok" => {
            let id = it.text()?;
            let expires_ms = it.int()?;
            Ok(Reply::Done(decided(&mut it, holds.holds.len(), id, expires_ms)?))
        }
        other => Err(unexpected("reserve", other)),
    }
}

/// Decides as reserve would, with the read-only check.lua.
pub async fn check(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    holds: &Holds<'_>,
) -> Result<Reply<Decided>, StoreError> {
    let mut inv = CHECK.prepare_invoke();
    inv.key(&keys.ctr).key(&keys.res).key(&keys.open).key(&keys.sub);
    inv.arg(holds.version);
    push_holds(&mut inv, holds.holds);
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "stale" => Ok(Reply::Stale),
        "ok" => Ok(Reply::Done(decided(&mut it, holds.holds.len(), String::new(), 0)?)),
        other => Err(unexpected("check", other)),
    }
}

/// Counts usage without checking quotas; answers each hold's counter after it.
pub async fn track(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    idempotency: Option<&Idempotency>,
    holds: &Holds<'_>,
) -> Result<Reply<Vec<Values>>, StoreError> {
    let mut inv = TRACK.prepare_invoke();
    writing_args(&mut inv, keys, retention_ms, idempotency);
    inv.arg(holds.version);
    push_holds(&mut inv, holds.holds);
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "stale" => Ok(Reply::Stale),
        "more" => Ok(Reply::More),
        "reused" => Ok(Reply::Reused),
        "ok" => Ok(Reply::Done(
            holds.holds.iter().map(|_| it.values()).collect::<Result<_, _>>()?,
        )),
        other => Err(unexpected("track", other)),
    }
}

/// Commits one reservation, with the actual milli-units per hold or as reserved.
pub async fn commit(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    idempotency: Option<&Idempotency>,
    reservation_id: &str,
    actual: Option<&[Milli]>,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = COMMIT.prepare_invoke();
    writing_args(&mut inv, keys, retention_ms, idempotency);
    inv.arg(reservation_id);
    match actual {
        Some(amounts) => {
            inv.arg(amounts.len());
            for amount in amounts {
                inv.arg(amount.0);
            }
        }
        None => {
            inv.arg("");
        }
    }
    settled(inv.invoke_async(conn).await?, true)
}

/// Releases one reservation.
pub async fn release(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = RELEASE.prepare_invoke();
    writing_args(&mut inv, keys, retention_ms, None).arg(reservation_id);
    settled(inv.invoke_async(conn).await?, false)
}

/// commit.lua and release.lua answer alike but for the second field: late, or the status.
fn settled(reply: Vec<Value>, commit: bool) -> Result<Reply<SettleReply>, StoreError> {
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "more" => Ok(Reply::More),
        "reused" => Ok(Reply::Reused),
        "not_found" => Ok(Reply::Done(SettleReply::NotFound)),
        "conflict" => Ok(Reply::Done(SettleReply::Conflict(it.text()?))),
        "mismatch" => Ok(Reply::Stale),
        "ok" => {
            let (status, late) = if commit {
                ("committed".to_string(), it.int()? == 1)
            } else {
                (it.text()?, false)
            };
            let record = Record::parse(&it.text()?).map_err(StoreError::Protocol)?;
            let values = record.holds.iter().map(|_| it.values()).collect::<Result<_, _>>()?;
            Ok(Reply::Done(SettleReply::Done {
                status,
                late,
                record,
                values,
            }))
        }
        other => Err(unexpected("settle", other)),
    }
}

pub async fn extend(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
    ttl_ms: i64,
    max_lifetime_ms: i64,
) -> Result<Reply<ExtendReply>, StoreError> {
    let mut inv = EXTEND.prepare_invoke();
    writing_args(&mut inv, keys, retention_ms, None)
        .arg(reservation_id)
        .arg(ttl_ms)
        .arg(max_lifetime_ms);
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "more" => Ok(Reply::More),
        "not_found" => Ok(Reply::Done(ExtendReply::NotFound)),
        "ended" => Ok(Reply::Done(ExtendReply::Ended(it.text()?))),
        "ok" => Ok(Reply::Done(ExtendReply::Extended { expires_ms: it.int()? })),
        other => Err(unexpected("extend", other)),
    }
}

/// Counters of the given fields (with their plan quotas) as though expired holds were
/// reclaimed, and Redis time.
pub async fn usage(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    fields: &[(String, Milli)],
) -> Result<(i64, Vec<Values>), StoreError> {
    let mut inv = USAGE.prepare_invoke();
    inv.key(&keys.ctr).key(&keys.res).key(&keys.open).key(&keys.sub);
    for (field, quota) in fields {
        inv.arg(field).arg(quota.0);
    }
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let mut it = Fields::new(reply);
    let now_ms = it.int()?;
    let values = fields.iter().map(|_| it.values()).collect::<Result<_, _>>()?;
    Ok((now_ms, values))
}

/// Adds signed milli-units to one counter, never below zero, and records it in the audit trail.
/// Answers the applied change and the counter after it.
#[allow(clippy::too_many_arguments)]
pub async fn adjust(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    version: u64,
    hold: &HoldArg<'_>,
    amount_milli: i64,
    reason: &str,
    audit_len: usize,
) -> Result<Reply<(i64, Values)>, StoreError> {
    let mut inv = ADJUST.prepare_invoke();
    writing_args(&mut inv, keys, retention_ms, None)
        .key(&keys.audit)
        .arg(version);
    push_hold(&mut inv, hold);
    inv.arg(amount_milli).arg(reason).arg(audit_len);
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "stale" => Ok(Reply::Stale),
        "more" => Ok(Reply::More),
        "ok" => Ok(Reply::Done((it.int()?, it.values()?))),
        other => Err(unexpected("adjust", other)),
    }
}
