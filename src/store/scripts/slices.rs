//! The leases' calls (docs/decisions/0060-leased-slices.md): take_slice and settle_slice at
//! an ancestor's slot, end_slice at a member's, and the short answer a member's reserve gives
//! when its slices do not cover the call.

use redis::Value;

use super::call::Call;
use super::contract;
use super::keys;
use super::layouts;
use super::values::HoldValues;
use super::{milli_of, unexpected, writing_args, Decided, Fields, Fired, Reply, Writing};
use crate::quota::{Amounts, Hold, Milli};
use crate::store::backend::Conn;
use crate::store::layout::UserKeys;
use crate::store::StoreError;

/// What a take leased, or why it leased nothing: all or nothing.
#[derive(Debug, Clone)]
pub(crate) enum Taken {
    /// One lease per take asked, in order; the closed slices' statements were applied first,
    /// and fired these alerts.
    Leased(Vec<Lease>, Fired),
    /// A group's headroom left after the least would pass below the threshold: decide at the
    /// ancestor's level, as without leases. (The statements were applied.)
    Direct(Fired),
    /// An id was settled before it was taken (its intent was abandoned): take another.
    Refused,
}

/// What one take leased.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub amount: Milli,
    pub ends_ms: i64,
    /// The group's counter at the ancestor after the take.
    pub seen: Amounts,
}

/// What a take asks of an ancestor: a slice of each of its groups a reserve found short.
pub(crate) struct Take<'a> {
    pub version: u64,
    pub member: &'a str,
    /// When the slices end at one slice life, and the leases' backstop for that end.
    pub ends_ms: i64,
    pub backstop_ms: i64,
    /// The latest they may end, while the ancestor is far from its limit (take_slice.lua).
    pub latest_ms: i64,
    pub leases: &'a [TakeLease<'a>],
    pub at: Decided,
}

/// One slice a take asks for.
pub(crate) struct TakeLease<'a> {
    pub lease: &'a str,
    pub least: Milli,
    pub threshold: Milli,
    /// The ancestor's hold of the group, its amount the slice asked for.
    pub hold: &'a Hold<'a>,
    /// The statement of the slice of this group the member's reserve closed, applied first.
    pub closed: Option<&'a Statement>,
}

pub(crate) async fn take_slice(conn: &mut Conn, w: &Writing<'_>, t: &Take<'_>) -> Result<Reply<Taken>, StoreError> {
    let mut inv = Call::new(&contract::TAKE_SLICE);
    writing_args(&mut inv, w);
    inv.arg(t.version)
        .arg(t.member)
        .arg(t.ends_ms)
        .arg(t.backstop_ms)
        .arg(t.latest_ms)
        .arg(t.leases.len());
    for l in t.leases {
        HoldValues::of(l.hold).push(&mut inv);
    }
    inv.arg(t.leases.len());
    for l in t.leases {
        use layouts::take::{CLOSED, FIELDS, HELD, LEASE, LEAST, NUMBER, THRESHOLD, USED};
        for at in 0..FIELDS {
            match (at, l.closed) {
                (LEASE, _) => inv.arg(l.lease),
                (LEAST, _) => inv.arg(l.least.0),
                (THRESHOLD, _) => inv.arg(l.threshold.0),
                (CLOSED, Some(s)) => inv.arg(&s.lease),
                (NUMBER, Some(s)) => inv.arg(s.number),
                (USED, Some(s)) => inv.arg(s.used.0),
                (HELD, Some(s)) => inv.arg(s.held.0),
                _ => inv.arg(""),
            };
        }
    }
    inv.arg(t.at);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            use layouts::taken::{AMOUNT, ENDS, FIELDS, HELD, QUOTA, STATUS, USED};
            let mut leases = Vec::with_capacity(t.leases.len());
            for i in 0..t.leases.len() {
                // The first lease's status was the answer's tag; each next one's opens it.
                let mut head = if i == 0 {
                    it.head::<FIELDS>()?
                } else {
                    let mut part = it.part::<FIELDS>()?;
                    let status = part.text(STATUS)?;
                    if status != "ok" {
                        return Err(unexpected("take_slice", &status));
                    }
                    part
                };
                leases.push(Lease {
                    amount: head.milli(AMOUNT)?,
                    ends_ms: head.int(ENDS)?,
                    seen: Amounts {
                        used: head.milli(USED)?,
                        held: head.milli(HELD)?,
                        quota: head.milli(QUOTA)?,
                        leased: Milli::ZERO,
                        credit: None,
                    },
                });
            }
            Ok(Reply::Done(Taken::Leased(leases, it.fired(w)?)))
        }
        "direct" => Ok(Reply::Done(Taken::Direct(it.fired(w)?))),
        "refused" => Ok(Reply::Done(Taken::Refused)),
        other => Err(unexpected("take_slice", other)),
    })
}

/// A statement of a slice (slices.lua), as its member's slot wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub lease: String,
    pub number: u64,
    pub used: Milli,
    pub held: Milli,
}

/// Applies statements of `member`'s slices to their leases at the ancestor's slot, each as if
/// alone; answers the alerts they fired there.
pub(crate) async fn settle_slice(
    conn: &mut Conn,
    w: &Writing<'_>,
    statements: &[&Statement],
    member: &str,
) -> Result<Reply<Fired>, StoreError> {
    let mut inv = Call::new(&contract::SETTLE_SLICE);
    writing_args(&mut inv, w);
    inv.arg(member).arg(statements.len());
    for s in statements {
        inv.arg(&s.lease).arg(s.number).arg(s.used.0).arg(s.held.0);
    }
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            for _ in statements {
                it.part::<{ layouts::settled::FIELDS }>()?;
            }
            Ok(Reply::Done(it.fired(w)?))
        }
        other => Err(unexpected("settle_slice", other)),
    })
}

/// How end_slice went: done (the statements it wrote), or early for a slice not ended yet.
#[derive(Debug, Clone)]
pub(crate) enum SliceEnded {
    Done(Fired),
    Early,
}

/// What end_slice ends: an outbox entry (an intent a dead node left, or a placed slice's
/// mark), or a slice named by its lease.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending<'a> {
    Entry(&'a str),
    Lease {
        ancestor: &'a str,
        /// The ancestor's counter field the slice is of.
        field: &'a str,
        lease: &'a str,
        /// Its period's end, ms; "" for a lifetime.
        period_end: &'a str,
        /// Whether to close it whatever its time (else only once it has ended).
        now: bool,
    },
}

/// Ends what `ending` names at a member's slot, if its slice has ended.
pub(crate) async fn end_slice(
    conn: &mut Conn,
    w: &Writing<'_>,
    ending: Ending<'_>,
) -> Result<Reply<SliceEnded>, StoreError> {
    let mut inv = Call::new(&contract::END_SLICE);
    writing_args(&mut inv, w);
    match ending {
        Ending::Entry(entry) => inv.arg(entry).arg("").arg("").arg("").arg(""),
        Ending::Lease {
            ancestor,
            field,
            lease,
            period_end,
            now,
        } => inv
            .arg("")
            .arg(super::values::slice_field(ancestor, field))
            .arg(lease)
            .arg(period_end)
            .arg(if now { "1" } else { "" }),
    };
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => Ok(Reply::Done(SliceEnded::Done(it.fired(w)?))),
        "early" => Ok(Reply::Done(SliceEnded::Early)),
        other => Err(unexpected("end_slice", other)),
    })
}

/// One open lease of a team's level (leases.lua).
#[derive(Debug, Clone)]
pub(crate) struct OpenLease {
    pub id: String,
    pub member: String,
    /// The team's counter field it leases from.
    pub field: String,
    /// Its period's end, ms; "" for a lifetime.
    pub period_end: String,
    /// Ms after which its slice takes no new hold (read back whole; the node decides by the
    /// script's answer, not by it).
    #[allow(dead_code)]
    pub ends_ms: i64,
    /// What statements counted used, and what it still leases.
    pub used: Milli,
    pub leased: Milli,
}

/// A page of a team's open leases: Redis time, the rank to read from next (None: no more),
/// and the leases among the ids read.
#[derive(Debug, Clone)]
pub(crate) struct LeasePage {
    pub now_ms: i64,
    pub next: Option<u64>,
    pub leases: Vec<OpenLease>,
}

/// Reads `count` ids of a team's open set from rank `from`, answering its leases among them.
pub(crate) async fn leases(conn: &mut Conn, keys: &UserKeys, from: u64, count: u64) -> Result<LeasePage, StoreError> {
    let mut inv = Call::new(&contract::LEASES);
    keys::push(&mut inv, keys, &keys::READING[..contract::LEASES.keys]);
    inv.arg(from).arg(count);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    if tag != "ok" {
        return Err(unexpected("leases", &tag));
    }
    use layouts::lease::{ENDS, FIELD, ID, LEASED, MEMBER, PERIOD_END, USED};
    let mut head = it.head::<{ layouts::leases::FIELDS }>()?;
    let now_ms = head.int(layouts::leases::NOW)?;
    let next = u64::try_from(head.int(layouts::leases::NEXT)?).ok().filter(|&n| n > 0);
    let mut leases = Vec::new();
    while it.items.len() > 0 {
        let mut v = it.part::<{ layouts::lease::FIELDS }>()?;
        leases.push(OpenLease {
            id: v.text(ID)?,
            member: v.text(MEMBER)?,
            field: v.text(FIELD)?,
            period_end: v.text(PERIOD_END)?,
            ends_ms: v.int(ENDS)?,
            used: v.milli(USED)?,
            leased: v.milli(LEASED)?,
        });
    }
    Ok(LeasePage { now_ms, next, leases })
}

/// What a member's slot counts on its slice of `ancestor`'s `field` under `lease`: used and
/// held, the live slice's while it is that lease's, else the lease's closed fields'; None when
/// neither is there (the lease not placed yet, or closed holding nothing and stated).
pub(crate) async fn slice_counts(
    conn: &mut Conn,
    keys: &UserKeys,
    ancestor: &str,
    field: &str,
    lease: &str,
) -> Result<Option<(Milli, Milli)>, StoreError> {
    let live = super::values::slice_field(ancestor, field);
    let closed = format!("{live}^{lease}");
    let (line, counts): (Option<String>, [Option<i64>; 4]) = {
        let (line, u, h, cu, ch) = redis::cmd("HMGET")
            .arg(keys.ctr())
            .arg(&live)
            .arg(format!("{live}:u"))
            .arg(format!("{live}:h"))
            .arg(format!("{closed}:u"))
            .arg(format!("{closed}:h"))
            .query_async(conn)
            .await?;
        (line, [u, h, cu, ch])
    };
    let [used, held, closed_used, closed_held] = counts;
    let of = |used: Option<i64>, held: Option<i64>| -> Result<(Milli, Milli), StoreError> {
        Ok((milli_of(used.unwrap_or(0))?, milli_of(held.unwrap_or(0))?))
    };
    let live_lease = line.as_deref().and_then(|l| l.split('|').nth(layouts::slice::LEASE));
    if live_lease == Some(lease) {
        return of(used, held).map(Some);
    }
    if closed_used.is_some() || closed_held.is_some() {
        return of(closed_used, closed_held).map(Some);
    }
    Ok(None)
}

/// Appends an ancestor's ledger entries moved from its members' slot outboxes, each once per
/// its field (`notes`: the field, made of the note's outbox and id, and the entry); answers
/// how many it appended (the rest were appended before).
pub(crate) async fn append_ledger(
    conn: &mut Conn,
    w: &Writing<'_>,
    notes: &[(String, &str)],
) -> Result<Reply<u64>, StoreError> {
    let mut inv = Call::new(&contract::APPEND_LEDGER);
    writing_args(&mut inv, w);
    inv.arg(notes.len());
    for (once, entry) in notes {
        inv.arg(once).arg(*entry);
    }
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => Ok(Reply::Done(
            u64::try_from(it.int()?).map_err(|_| StoreError::Protocol("append_ledger's count".into()))?,
        )),
        other => Err(unexpected("append_ledger", other)),
    })
}

/// One slice a reserve found short: the hold's index, the lease to take for it, the intent
/// the reserve wrote, what the last slice closed used and holds (zero for none), when it was
/// to end and when it was placed (each 0 for none, or unknown), and the statement this reserve wrote closing it, when
/// it did: its outbox entry and the statement, which the take applies (and the reserve placing
/// the new lease removes).
#[derive(Debug, Clone)]
pub(crate) struct Short {
    pub hold: usize,
    pub lease: String,
    pub intent: String,
    pub closed_demand: Milli,
    pub closed_ends_ms: i64,
    pub closed_began_ms: i64,
    pub stated: Option<(String, Statement)>,
}

/// The rest of a short answer (slices.lua's S.short): its slices, then the statements written.
pub(super) fn short(it: &mut Fields, w: &Writing<'_>) -> Result<(Vec<Short>, Fired), StoreError> {
    use layouts::short::{BEGAN, CLOSED, DEMAND, ENDS, FIELDS, HELD, HOLD, INTENT, LEASE, NUMBER, STATED, USED};
    let n = it.int()?;
    let mut slices = Vec::new();
    for _ in 0..n {
        let mut v = it.part::<FIELDS>()?;
        let entry = v.text(STATED)?;
        let stated = if entry.is_empty() {
            None
        } else {
            let number =
                u64::try_from(v.int(NUMBER)?).map_err(|_| StoreError::Protocol("a statement's number".into()))?;
            Some((
                entry,
                Statement {
                    lease: v.text(CLOSED)?,
                    number,
                    used: v.milli(USED)?,
                    held: v.milli(HELD)?,
                },
            ))
        };
        slices.push(Short {
            hold: usize::try_from(v.int(HOLD)? - 1).map_err(|_| StoreError::Protocol("a short hold's index".into()))?,
            lease: v.text(LEASE)?,
            intent: v.text(INTENT)?,
            closed_demand: v.milli(DEMAND)?,
            closed_ends_ms: v.int(ENDS)?,
            closed_began_ms: v.int(BEGAN)?,
            stated,
        });
    }
    Ok((slices, it.fired(w)?))
}
