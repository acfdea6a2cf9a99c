//! The Lua scripts and the only code that knows their KEYS and ARGV order and their replies.
//! Each script is compiled into the binary and run with EVALSHA (reloaded on NOSCRIPT by `redis::Script`).

use std::sync::LazyLock;

use redis::{aio::ConnectionLike, Script, ScriptInvocation, Value};

use super::keys::UserKeys;
use super::record::Record;
use super::StoreError;
use crate::quota::{Milli, Mode};

macro_rules! lua {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/", $name))
    };
}

/// Every file in `lua/`, so a test can check that none is forgotten.
#[cfg(test)]
const SCRIPT_FILES: &[&str] = &[
    "check.lua",
    "commit.lua",
    "extend.lua",
    "holds.lua",
    "pending.lua",
    "prelude.lua",
    "put_plan.lua",
    "release.lua",
    "reserve.lua",
    "subscribe.lua",
    "track.lua",
    "usage.lua",
];

// Writing scripts start with prelude.lua (time, reclaim, pruning); read-only ones with
// pending.lua (its `no-writes` shebang must be the script's first line).
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        lua!("prelude.lua"),
        lua!("holds.lua"),
        lua!("reserve.lua")
    ))
});
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        lua!("pending.lua"),
        lua!("holds.lua"),
        lua!("check.lua")
    ))
});
static TRACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        lua!("prelude.lua"),
        lua!("holds.lua"),
        lua!("track.lua")
    ))
});
static COMMIT: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("prelude.lua"), lua!("commit.lua"))));
static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("prelude.lua"), lua!("release.lua"))));
static EXTEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("prelude.lua"), lua!("extend.lua"))));
static USAGE: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("pending.lua"), lua!("usage.lua"))));
static SUBSCRIBE: LazyLock<Script> = LazyLock::new(|| Script::new(lua!("subscribe.lua")));
static PUT_PLAN: LazyLock<Script> = LazyLock::new(|| Script::new(lua!("put_plan.lua")));

/// A writing script's answer: done, or call again after re-reading state.
pub enum Reply<T> {
    Done(T),
    /// The subscription version or a period did not match Redis.
    Stale,
    /// Expired holds remain to be reclaimed before a decision.
    More,
}

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

/// A counter as a script read it: used and held milli-units.
#[derive(Debug, Clone, Copy)]
pub struct Values {
    pub used: Milli,
    pub held: Milli,
}

/// A decision of reserve or check.
pub struct Decided {
    pub allowed: bool,
    /// Reserve only: when the reservation expires.
    pub expires_ms: i64,
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

fn push_holds(inv: &mut ScriptInvocation<'_>, holds: &[HoldArg<'_>]) {
    inv.arg(holds.len());
    for h in holds {
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
}

fn decided(it: &mut Fields, n: usize, expires_ms: i64) -> Result<Decided, StoreError> {
    let allowed = it.int()? == 1;
    let mut holds = Vec::with_capacity(n);
    for _ in 0..n {
        let values = it.values()?;
        holds.push((values, it.int()? == 1));
    }
    Ok(Decided {
        allowed,
        expires_ms,
        holds,
    })
}

pub async fn reserve(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    holds: &Holds<'_>,
    retention_ms: i64,
    reservation_id: &str,
    ttl_ms: i64,
    event: &str,
) -> Result<Reply<Decided>, StoreError> {
    let mut inv = RESERVE.prepare_invoke();
    writing_keys(&mut inv, keys).key(&keys.sub);
    inv.arg(holds.version)
        .arg(retention_ms)
        .arg(reservation_id)
        .arg(ttl_ms)
        .arg(event);
    push_holds(&mut inv, holds.holds);
    let mut it = Fields::new(inv.invoke_async(conn).await?);
    match it.text()?.as_str() {
        "stale" => Ok(Reply::Stale),
        "more" => Ok(Reply::More),
        "ok" => {
            let expires_ms = it.int()?;
            Ok(Reply::Done(decided(
                &mut it,
                holds.holds.len(),
                expires_ms,
            )?))
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
    inv.key(&keys.ctr)
        .key(&keys.res)
        .key(&keys.open)
        .key(&keys.sub);
    inv.arg(holds.version);
    push_holds(&mut inv, holds.holds);
    let mut it = Fields::new(inv.invoke_async(conn).await?);
    match it.text()?.as_str() {
        "stale" => Ok(Reply::Stale),
        "ok" => Ok(Reply::Done(decided(&mut it, holds.holds.len(), 0)?)),
        other => Err(unexpected("check", other)),
    }
}

/// Counts usage without checking quotas; answers each hold's counter after it.
pub async fn track(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    holds: &Holds<'_>,
    retention_ms: i64,
) -> Result<Reply<Vec<Values>>, StoreError> {
    let mut inv = TRACK.prepare_invoke();
    writing_keys(&mut inv, keys).key(&keys.sub);
    inv.arg(holds.version).arg(retention_ms);
    push_holds(&mut inv, holds.holds);
    let mut it = Fields::new(inv.invoke_async(conn).await?);
    match it.text()?.as_str() {
        "stale" => Ok(Reply::Stale),
        "more" => Ok(Reply::More),
        "ok" => Ok(Reply::Done(
            holds
                .holds
                .iter()
                .map(|_| it.values())
                .collect::<Result<_, _>>()?,
        )),
        other => Err(unexpected("track", other)),
    }
}

/// Commits one reservation, with the actual milli-units per hold or as reserved.
pub async fn commit(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
    actual: Option<&[Milli]>,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = COMMIT.prepare_invoke();
    writing_keys(&mut inv, keys);
    inv.arg(retention_ms).arg(reservation_id);
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
    settled(Fields::new(inv.invoke_async(conn).await?), true)
}

/// Releases one reservation.
pub async fn release(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = RELEASE.prepare_invoke();
    writing_keys(&mut inv, keys);
    inv.arg(retention_ms).arg(reservation_id);
    settled(Fields::new(inv.invoke_async(conn).await?), false)
}

/// commit.lua and release.lua answer alike but for the second field: late, or the status.
fn settled(mut it: Fields, commit: bool) -> Result<Reply<SettleReply>, StoreError> {
    match it.text()?.as_str() {
        "more" => Ok(Reply::More),
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
            let values = record
                .holds
                .iter()
                .map(|_| it.values())
                .collect::<Result<_, _>>()?;
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
    writing_keys(&mut inv, keys);
    inv.arg(retention_ms)
        .arg(reservation_id)
        .arg(ttl_ms)
        .arg(max_lifetime_ms);
    let mut it = Fields::new(inv.invoke_async(conn).await?);
    match it.text()?.as_str() {
        "more" => Ok(Reply::More),
        "not_found" => Ok(Reply::Done(ExtendReply::NotFound)),
        "ended" => Ok(Reply::Done(ExtendReply::Ended(it.text()?))),
        "ok" => Ok(Reply::Done(ExtendReply::Extended {
            expires_ms: it.int()?,
        })),
        other => Err(unexpected("extend", other)),
    }
}

/// Counters of the given fields as though expired holds were reclaimed, and Redis time.
pub async fn usage(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    fields: &[String],
) -> Result<(i64, Vec<Values>), StoreError> {
    let mut inv = USAGE.prepare_invoke();
    inv.key(&keys.ctr).key(&keys.res).key(&keys.open);
    for field in fields {
        inv.arg(field);
    }
    let mut it = Fields::new(inv.invoke_async(conn).await?);
    let now_ms = it.int()?;
    let values = fields
        .iter()
        .map(|_| it.values())
        .collect::<Result<_, _>>()?;
    Ok((now_ms, values))
}

/// The subscription as stored: plan, startedAt ms, status, reason, version.
pub struct SubscribeReply {
    pub plan: String,
    pub started_ms: i64,
    pub status: String,
    pub reason: String,
    pub version: u64,
}

pub async fn subscribe(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    plan: &str,
    started_ms: Option<i64>,
) -> Result<SubscribeReply, StoreError> {
    let reply: Vec<Value> = SUBSCRIBE
        .key(&keys.sub)
        .arg(plan)
        .arg(started_ms.map(|ms| ms.to_string()).unwrap_or_default())
        .invoke_async(conn)
        .await?;
    let mut it = Fields::new(reply);
    Ok(SubscribeReply {
        plan: it.text()?,
        started_ms: it
            .text()?
            .parse()
            .map_err(|_| StoreError::Protocol("startedAt".into()))?,
        status: it.text()?,
        reason: it.text()?,
        version: it
            .text()?
            .parse()
            .map_err(|_| StoreError::Protocol("ver".into()))?,
    })
}

pub async fn put_plan(
    conn: &mut impl ConnectionLike,
    plan_key: &str,
    plans_key: &str,
    plan_id: &str,
    doc_json: &str,
) -> Result<u64, StoreError> {
    let version: u64 = PUT_PLAN
        .key(plan_key)
        .key(plans_key)
        .arg(plan_id)
        .arg(doc_json)
        .invoke_async(conn)
        .await?;
    Ok(version)
}

/// The five keys every writing script starts with (prelude.lua).
fn writing_keys<'i, 'a>(
    inv: &'i mut ScriptInvocation<'a>,
    keys: &UserKeys,
) -> &'i mut ScriptInvocation<'a> {
    inv.key(&keys.ctr)
        .key(&keys.res)
        .key(&keys.open)
        .key(&keys.ended)
        .key(&keys.periods)
}

fn unexpected(script: &str, answer: &str) -> StoreError {
    StoreError::Protocol(format!("{script} answered {answer}"))
}

/// Reads a script's flat reply in order.
struct Fields(std::vec::IntoIter<Value>);

impl Fields {
    fn new(reply: Vec<Value>) -> Fields {
        Fields(reply.into_iter())
    }

    fn next(&mut self) -> Result<Value, StoreError> {
        self.0
            .next()
            .ok_or_else(|| StoreError::Protocol("script reply too short".into()))
    }

    fn text(&mut self) -> Result<String, StoreError> {
        match self.next()? {
            Value::BulkString(bytes) => {
                String::from_utf8(bytes).map_err(|e| StoreError::Protocol(e.to_string()))
            }
            Value::SimpleString(s) => Ok(s),
            Value::Int(i) => Ok(i.to_string()),
            other => Err(StoreError::Protocol(format!(
                "expected text, got {other:?}"
            ))),
        }
    }

    fn int(&mut self) -> Result<i64, StoreError> {
        match self.next()? {
            Value::Int(i) => Ok(i),
            other => Err(StoreError::Protocol(format!(
                "expected an integer, got {other:?}"
            ))),
        }
    }

    fn milli(&mut self) -> Result<Milli, StoreError> {
        Ok(Milli(u64::try_from(self.int()?.max(0)).unwrap_or(0)))
    }

    fn values(&mut self) -> Result<Values, StoreError> {
        Ok(Values {
            used: self.milli()?,
            held: self.milli()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SCRIPT_FILES;

    #[test]
    fn every_lua_file_is_registered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/lua");
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".lua"))
            .collect();
        found.sort();
        assert_eq!(found, SCRIPT_FILES);
    }
}
