//! The Lua and the only code that knows its KEYS and ARGV order and its replies, as
//! `contract.rs` declares them. The data plane's Lua is one function library (`library.rs`),
//! called with FCALL through `call.rs`, which encodes a call straight into RESP and loads the
//! library again when Redis has lost it; the control plane's scripts are run with EVALSHA,
//! through `redis::Script` (and `call.rs` for a few), reloaded on NOSCRIPT; `keys.rs` declares
//! the keys each function takes, in order. `holds.rs` holds
//! the calls that place or read holds (reserve, check, track, adjust, usage, reclaim),
//! `settle.rs` those that end or extend a reservation, `account.rs` subscriptions, the users
//! index and plans.

mod account;
mod alternatives;
mod approvals;
pub(crate) mod args;
mod call;
pub mod contract;
mod credits;
pub(crate) mod entries;
mod holds;
mod kept;
pub(crate) mod keys;
pub(crate) mod layouts;
pub(crate) mod library;
mod settle;
mod slices;
mod values;

use redis::Value;

use call::writing_args;

pub(crate) use account::*;
pub(crate) use alternatives::{asked_text, ledger_alternatives, reserve_first, Alternative, Asked, Weighed};
pub(crate) use approvals::*;
pub(crate) use credits::*;
pub(crate) use holds::*;
pub(crate) use settle::*;
pub(crate) use slices::*;

use super::layout::UserKeys;
use super::StoreError;
use crate::quota::{Amounts, Credit, Milli, Step};

/// Every script with its contract, for the tests that hold each to it: the contract's list.
pub fn every_script() -> &'static [&'static contract::Contract] {
    contract::ALL
}

/// Every file under `lua/`, for the tests that read them.
#[cfg(test)]
fn lua_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "lua") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/lua")),
        &mut out,
    );
    out.sort();
    out
}

/// A script's answer: done, or call again after re-reading state. Every script's reply is one
/// of these, and the gateway's one retry driver handles the last three the same way for all.
#[derive(Debug)]
pub(crate) enum Reply<T> {
    Done(T),
    /// The subscription version or a period did not match Redis.
    Stale,
    /// Expired holds remain to be reclaimed before a decision.
    More,
    /// The Idempotency-Key was used before with another body.
    Reused,
    /// The change would take this group's counter past 2^53 - 1 milli-units, the most it
    /// counts exactly; nothing was written.
    Overflow(String),
}

impl<T> Reply<T> {
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        match self {
            Reply::Done(value) => Reply::Done(f(value)),
            Reply::Stale => Reply::Stale,
            Reply::More => Reply::More,
            Reply::Reused => Reply::Reused,
            Reply::Overflow(group) => Reply::Overflow(group),
        }
    }

    /// A done answer's value, or the other answers as they are, for an answer of another type.
    pub(crate) fn done<U>(self) -> Result<T, Reply<U>> {
        match self {
            Reply::Done(value) => Ok(value),
            Reply::Stale => Err(Reply::Stale),
            Reply::More => Err(Reply::More),
            Reply::Reused => Err(Reply::Reused),
            Reply::Overflow(group) => Err(Reply::Overflow(group)),
        }
    }
}

impl<T> Reply<Option<T>> {
    /// A done answer of nothing as the error `none` makes; the other answers as they are.
    pub(crate) fn ok_or_else<E>(self, none: impl FnOnce() -> E) -> Result<Reply<T>, E> {
        match self {
            Reply::Done(Some(value)) => Ok(Reply::Done(value)),
            Reply::Done(None) => Err(none()),
            Reply::Stale => Ok(Reply::Stale),
            Reply::More => Ok(Reply::More),
            Reply::Reused => Ok(Reply::Reused),
            Reply::Overflow(group) => Ok(Reply::Overflow(group)),
        }
    }
}

impl<T> Reply<T> {
    /// Goes on with a done answer; the other answers stay as they are.
    fn then<U>(self, f: impl FnOnce(T) -> Result<Reply<U>, StoreError>) -> Result<Reply<U>, StoreError> {
        match self {
            Reply::Done(value) => f(value),
            Reply::Stale => Ok(Reply::Stale),
            Reply::More => Ok(Reply::More),
            Reply::Reused => Ok(Reply::Reused),
            Reply::Overflow(group) => Ok(Reply::Overflow(group)),
        }
    }
}

/// What a usage ledger entry needs that a script cannot know: the request's event, metadata
/// and quantity.
#[derive(Debug, Clone, Default)]
pub(crate) struct LedgerEntry<'a> {
    /// Track only: commits take the event from the reservation.
    pub event: &'a str,
    /// The request's metadata as JSON, "" when it gave none.
    pub metadata: String,
    pub quantity: Option<Milli>,
    /// The id of the key that made the call ("" for none).
    pub key_id: &'a str,
    /// At a parent's level, the member whose event it was; "" at the member's own level.
    pub member: &'a str,
    /// Track only: the entry's reference, the same at every level ("" for none).
    pub reference: &'a str,
    /// Commit only, at a parent's level: whether the member's level committed late, which
    /// this level's entry says too.
    pub late_below: Option<bool>,
    /// Track only: the step's run (a commit's record names its own).
    pub step: Option<&'a Step>,
    /// What the call's output came to, when it says (`outcome`; checked at the edge).
    pub outcome: Option<&'a str>,
}

impl LedgerEntry<'_> {
    fn quantity(&self) -> String {
        self.quantity.map(|q| q.0.to_string()).unwrap_or_default()
    }
}

/// A request's decision instant as reserve, check and track take it (holds.lua's
/// `decided_at`): ms, and whether a level below accepted it already in the same request (a
/// parent's level, reached later, then takes it further in the past).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decided {
    pub at_ms: i64,
    pub below: bool,
}

/// Written as the scripts read it: the ms, led by "~" when a level below accepted it. The
/// user's level, on every call, writes the digits alone, with nothing allocated.
impl redis::ToRedisArgs for Decided {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.at_ms);
        if self.below {
            out.write_arg(format!("~{digits}").as_bytes());
        } else {
            out.write_arg(digits.as_bytes());
        }
    }
}

/// What every data-plane writing script is told before its own arguments (prelude.lua): the
/// user's keys, how long ended state is kept, the call's Idempotency-Key, and how long the
/// ledger and rollups keep (None when the project keeps neither).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writing<'a> {
    pub keys: &'a UserKeys,
    pub retention_ms: i64,
    pub idempotency: Option<&'a Idempotency>,
    pub ledger_keep_ms: Option<i64>,
}

/// Alerts a script fired: entries it added to the alerts outbox of the user's slot, for the
/// gateway to move to their project's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fired {
    pub outbox: String,
    pub ids: Vec<String>,
}

/// An Idempotency-Key as the scripts store it: the field (route and key digest) and the
/// digest of the request body.
#[derive(Debug, Clone)]
pub(crate) struct Idempotency {
    pub field: String,
    pub body_digest: String,
}

impl Idempotency {
    /// The same key at a parent's level for a call about `member`: one parent's members may
    /// use the same keys, so the member is part of the field there.
    pub(crate) fn under(&self, member: &str) -> Idempotency {
        Idempotency {
            field: format!("{}@{}", self.field, crate::secrets::digest_hex(member)),
            body_digest: self.body_digest.clone(),
        }
    }
}

fn unexpected(script: &str, answer: &str) -> StoreError {
    StoreError::Protocol(format!("{script} answered {answer}").into())
}

/// Reads a script's flat reply in order. A repeated reply comes back as JSON of strings,
/// so numbers are read from integers and from digit strings alike.
struct Fields {
    items: std::vec::IntoIter<Value>,
    /// For a repeat of an Idempotency-Key: the instant its first call decided at, when kept.
    first_at_ms: Option<i64>,
    /// The answer is a repeat of an Idempotency-Key's first answer.
    repeat: bool,
}

impl Fields {
    fn new(reply: Vec<Value>) -> Fields {
        Fields {
            items: reply.into_iter(),
            first_at_ms: None,
            repeat: false,
        }
    }

    /// The reply a script stored for an Idempotency-Key (a JSON array of strings).
    fn stored(json: &str) -> Result<Fields, StoreError> {
        let items: Vec<String> =
            serde_json::from_str(json).map_err(|e| StoreError::Protocol(format!("stored reply: {e}").into()))?;
        Ok(Fields::new(
            items.into_iter().map(|s| Value::BulkString(s.into_bytes())).collect(),
        ))
    }

    /// The one reading of a script's tag: a repeat is unwrapped into the first answer, the tags
    /// every script means alike ("stale", "more", "reused", "overflow") become their `Reply`,
    /// and any other tag is done, with the rest of the answer, for the caller to read.
    fn answer(reply: Vec<Value>) -> Result<Reply<(String, Fields)>, StoreError> {
        let (tag, mut it) = Fields::new(reply).tag()?;
        Ok(match tag.as_str() {
            "stale" => Reply::Stale,
            "more" => Reply::More,
            "reused" => Reply::Reused,
            "overflow" => Reply::Overflow(it.text()?),
            _ => Reply::Done((tag, it)),
        })
    }

    /// The answer's tag; a repeat of an Idempotency-Key is unwrapped into the first answer.
    fn tag(mut self) -> Result<(String, Fields), StoreError> {
        let tag = self.text()?;
        if tag != "repeat" {
            return Ok((tag, self));
        }
        let mut first = Fields::stored(&self.text()?)?;
        // "" for an answer kept before the instant was.
        first.first_at_ms = self.text()?.parse().ok();
        first.repeat = true;
        Ok((first.text()?, first))
    }

    fn next(&mut self) -> Result<Value, StoreError> {
        self.items
            .next()
            .ok_or_else(|| StoreError::Protocol("script reply too short".into()))
    }

    fn text(&mut self) -> Result<String, StoreError> {
        text_of(self.next()?)
    }

    fn int(&mut self) -> Result<i64, StoreError> {
        int_of(self.next()?)
    }

    /// The next `N` values: one value of a layout (`layouts.rs`), read by its fields'
    /// positions. (An array, so reading one makes nothing on the heap.)
    fn part<const N: usize>(&mut self) -> Result<Part<N>, StoreError> {
        self.part_from(0)
    }

    /// An answer's head of `N` values, its tag (read already, by `answer`) the first.
    fn head<const N: usize>(&mut self) -> Result<Part<N>, StoreError> {
        self.part_from(1)
    }

    /// `N` values of which the first `skip` were read already (left Nil), the rest next.
    fn part_from<const N: usize>(&mut self, skip: usize) -> Result<Part<N>, StoreError> {
        let mut values: [Value; N] = std::array::from_fn(|_| Value::Nil);
        for v in values.iter_mut().skip(skip) {
            *v = self.next()?;
        }
        Ok(Part(values))
    }

    /// A counter's milli-units: the scripts never keep one below zero, so a negative one is
    /// an error to report, never a zero to show.
    fn milli(&mut self) -> Result<Milli, StoreError> {
        milli_of(self.int()?)
    }

    /// One hold's counter (`layouts::counter`).
    fn amounts(&mut self) -> Result<Amounts, StoreError> {
        use layouts::counter::{FIELDS, HELD, QUOTA, USED};
        let mut v = self.part::<FIELDS>()?;
        Ok(Amounts {
            used: v.milli(USED)?,
            held: v.milli(HELD)?,
            quota: v.milli(QUOTA)?,
            leased: Milli::ZERO,
            credit: None,
        })
    }

    /// The balances a script appended for its balance groups (wallet.lua's C.append), into
    /// `amounts` where `is_balance` says a hold is one, in order.
    fn credits<'a>(
        &mut self,
        amounts: impl Iterator<Item = &'a mut Amounts>,
        is_balance: impl Iterator<Item = bool>,
    ) -> Result<(), StoreError> {
        for (a, balance) in amounts.zip(is_balance) {
            if balance {
                a.credit = Some(self.credit()?);
            }
        }
        Ok(())
    }

    /// One balance's state as wallet.lua's C.state answers it (`layouts::balance`).
    fn credit(&mut self) -> Result<Credit, StoreError> {
        use layouts::balance::{AVAILABLE, DEBT, FIELDS, HELD, SOONEST_AMOUNT, SOONEST_AT};
        let mut v = self.part::<FIELDS>()?;
        let soonest_amount = v.milli(SOONEST_AMOUNT)?;
        Ok(Credit {
            available: v.milli(AVAILABLE)?,
            held: v.milli(HELD)?,
            debt: v.milli(DEBT)?,
            soonest: match v.text(SOONEST_AT)?.as_str() {
                "" => None,
                at => Some((
                    soonest_amount,
                    at.parse()
                        .map_err(|_| StoreError::Protocol(format!("expiry {at:?}").into()))?,
                )),
            },
        })
    }

    /// The alerts a script fired (alerts.lua's tail of its reply): their count, then their ids.
    fn fired(&mut self, w: &Writing<'_>) -> Result<Fired, StoreError> {
        let n = self.int()?;
        let ids = (0..n).map(|_| self.text()).collect::<Result<_, _>>()?;
        Ok(Fired {
            outbox: w.keys.outbox().to_string(),
            ids,
        })
    }

    /// The rest of the reply as field, value pairs (a hash from HGETALL).
    fn pairs(mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut pairs = Vec::new();
        while self.items.len() > 0 {
            pairs.push((self.text()?, self.text()?));
        }
        Ok(pairs)
    }
}

/// One value of a layout in a script's answer (`Fields::part`), its fields read by position,
/// each once.
struct Part<const N: usize>([Value; N]);

impl<const N: usize> Part<N> {
    fn take(&mut self, at: usize) -> Value {
        std::mem::replace(&mut self.0[at], Value::Nil)
    }

    fn text(&mut self, at: usize) -> Result<String, StoreError> {
        text_of(self.take(at))
    }

    fn int(&mut self, at: usize) -> Result<i64, StoreError> {
        int_of(self.take(at))
    }

    fn milli(&mut self, at: usize) -> Result<Milli, StoreError> {
        milli_of(self.int(at)?)
    }
}

fn text_of(value: Value) -> Result<String, StoreError> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|e| StoreError::Protocol(e.to_string().into())),
        Value::SimpleString(s) => Ok(s),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(StoreError::Protocol(format!("expected text, got {other:?}").into())),
    }
}

fn int_of(value: Value) -> Result<i64, StoreError> {
    match value {
        Value::Int(i) => Ok(i),
        Value::BulkString(bytes) => int_of_text(&bytes),
        other => Err(StoreError::Protocol(
            format!("expected an integer, got {other:?}").into(),
        )),
    }
}

/// An integer a script answered as text (a bulk string, or a field of a line).
fn int_of_text(bytes: &[u8]) -> Result<i64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::Protocol("expected an integer".into()))
}

/// A counter's milli-units: the scripts never keep one below zero, so a negative one is an
/// error to report, never a zero to show.
fn milli_of(value: i64) -> Result<Milli, StoreError> {
    u64::try_from(value)
        .map(Milli)
        .map_err(|_| StoreError::Protocol(format!("a counter read {value}, below zero").into()))
}

#[cfg(test)]
mod tests {
    use super::{lua_files, Fields};
    use redis::Value;

    #[test]
    fn a_negative_counter_is_an_error_not_a_zero() {
        let mut it = Fields::new(vec![Value::Int(5), Value::BulkString(b"-3".to_vec())]);
        assert_eq!(it.milli().unwrap().0, 5);
        assert!(it.milli().is_err());
    }

    /// Every file under lua/ is a part of the library or of a script run with EVALSHA.
    #[test]
    fn every_lua_file_is_used() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/lua/");
        let source =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/scripts/contract.rs")).unwrap();
        for path in lua_files() {
            let file = path.to_string_lossy().trim_start_matches(root).to_owned();
            let in_library = super::library::parts().iter().any(|(p, _)| *p == file);
            let in_a_script = file
                .strip_prefix("scripts/")
                .is_some_and(|name| source.contains(&format!("\"{name}\"")));
            assert!(in_library || in_a_script, "{file} is used by nothing");
        }
    }
}
