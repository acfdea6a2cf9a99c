//! The Lua scripts and the only code that knows their KEYS and ARGV order and their replies.
//! Each script is compiled into the binary and run with EVALSHA (reloaded on NOSCRIPT by `redis::Script`).

use std::sync::LazyLock;

use redis::{aio::ConnectionLike, Script, Value};
use serde::Deserialize;

use super::keys::UserKeys;
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
    "commit.lua",
    "prelude.lua",
    "put_plan.lua",
    "release.lua",
    "reserve.lua",
    "subscribe.lua",
    "usage.lua",
];

static RESERVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("prelude.lua"), lua!("reserve.lua"))));
static COMMIT: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("prelude.lua"), lua!("commit.lua"))));
static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(concat!(lua!("prelude.lua"), lua!("release.lua"))));
static USAGE: LazyLock<Script> = LazyLock::new(|| Script::new(lua!("usage.lua")));
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

/// One hold of a reserve, as the script takes it.
pub struct HoldArg<'a> {
    pub group: &'a str,
    pub field: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub amount: Milli,
    pub quota: Milli,
    pub mode: Mode,
}

pub struct ReserveArgs<'a> {
    pub version: u64,
    pub retention_ms: i64,
    pub reservation_id: &'a str,
    pub ttl_ms: i64,
    pub event: &'a str,
    pub holds: &'a [HoldArg<'a>],
}

/// A counter as a script read it: used and held milli-units.
#[derive(Debug, Clone, Copy)]
pub struct Values {
    pub used: Milli,
    pub held: Milli,
}

pub struct ReserveReply {
    pub allowed: bool,
    pub expires_ms: i64,
    /// Per hold: its counter after the decision, and whether it would pass its quota.
    pub holds: Vec<(Values, bool)>,
}

/// A reservation record as the scripts store it (every number a string; see prelude.lua).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    #[serde(rename = "h", default, deserialize_with = "holds_or_empty")]
    pub holds: Vec<RecordHold>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecordHold {
    pub g: String,
    pub q: String,
    pub m: String,
    pub ps: String,
    pub pe: String,
}

/// cjson writes an empty Lua table as `{}`, so an empty hold list may come back as an object.
fn holds_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RecordHold>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Array(_) => {
            serde_json::from_value(value).map_err(serde::de::Error::custom)
        }
        _ => Ok(Vec::new()),
    }
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

pub async fn reserve(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    args: &ReserveArgs<'_>,
) -> Result<Reply<ReserveReply>, StoreError> {
    let mut inv = RESERVE.prepare_invoke();
    inv.key(&keys.ctr)
        .key(&keys.res)
        .key(&keys.open)
        .key(&keys.ended)
        .key(&keys.sub);
    inv.arg(args.version)
        .arg(args.retention_ms)
        .arg(args.reservation_id)
        .arg(args.ttl_ms)
        .arg(args.event)
        .arg(args.holds.len());
    for h in args.holds {
        inv.arg(h.group)
            .arg(&h.field)
            .arg(h.start_ms)
            .arg(h.end_ms.map(|ms| ms.to_string()).unwrap_or_default())
            .arg(h.amount.0)
            .arg(h.quota.0)
            .arg(h.mode.as_str());
    }
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let mut it = Fields::new(reply);
    match it.text()?.as_str() {
        "stale" => Ok(Reply::Stale),
        "more" => Ok(Reply::More),
        "ok" => {
            let allowed = it.int()? == 1;
            let expires_ms = it.int()?;
            let mut holds = Vec::with_capacity(args.holds.len());
            for _ in args.holds {
                let values = it.values()?;
                holds.push((values, it.int()? == 1));
            }
            Ok(Reply::Done(ReserveReply {
                allowed,
                expires_ms,
                holds,
            }))
        }
        other => Err(StoreError::Protocol(format!("reserve answered {other}"))),
    }
}

/// Commits one reservation, with the actual amount or as reserved.
pub async fn commit(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
    actual: Option<Milli>,
) -> Result<Reply<SettleReply>, StoreError> {
    settle(conn, keys, retention_ms, reservation_id, Some(actual)).await
}

/// Releases one reservation.
pub async fn release(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
) -> Result<Reply<SettleReply>, StoreError> {
    settle(conn, keys, retention_ms, reservation_id, None).await
}

/// commit.lua and release.lua take the same keys and answer alike; `commit` is None for release.
async fn settle(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    retention_ms: i64,
    reservation_id: &str,
    commit: Option<Option<Milli>>,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = match commit {
        Some(_) => COMMIT.prepare_invoke(),
        None => RELEASE.prepare_invoke(),
    };
    inv.key(&keys.ctr)
        .key(&keys.res)
        .key(&keys.open)
        .key(&keys.ended);
    inv.arg(retention_ms).arg(reservation_id);
    if let Some(actual) = commit {
        inv.arg(actual.map(|m| m.0.to_string()).unwrap_or_default());
    }
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let mut it = Fields::new(reply);
    match it.text()?.as_str() {
        "more" => Ok(Reply::More),
        "not_found" => Ok(Reply::Done(SettleReply::NotFound)),
        "conflict" => Ok(Reply::Done(SettleReply::Conflict(it.text()?))),
        "ok" => {
            let (status, late) = match commit {
                Some(_) => ("committed".to_string(), it.int()? == 1),
                None => (it.text()?, false),
            };
            let record: Record = serde_json::from_str(&it.text()?)
                .map_err(|e| StoreError::Protocol(format!("reservation record: {e}")))?;
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
        other => Err(StoreError::Protocol(format!("settle answered {other}"))),
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
    let reply: Vec<Value> = inv.invoke_async(conn).await?;
    let mut it = Fields::new(reply);
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
