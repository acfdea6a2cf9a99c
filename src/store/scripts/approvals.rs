//! Scripts of approval requests: deciding one in the subject's slot, and the project's copy
//! that lists them.

use redis::Value;

use super::call::Call;
use super::contract;
use super::{unexpected, Fields, Reply, SubscriptionHash};
use crate::store::backend::Conn;
use crate::store::layout::UserKeys;
use crate::store::StoreError;

/// What decide_approval.lua writes: the request (its counter field, group, id and period) and
/// the decision.
pub(crate) struct DecideArgs<'a> {
    pub counter_field: &'a str,
    pub group: &'a str,
    pub id: &'a str,
    /// "a" approve or "d" decline (`ApprovalStatus::code`).
    pub decision: &'a str,
    /// An approval's override as the subscription keeps it ("" to decline).
    pub override_value: &'a str,
    pub tag: &'a str,
    pub period_start_ms: i64,
    /// "" for lifetime.
    pub period_end_ms: String,
    pub reason: &'a str,
    pub by: &'a str,
}

/// How a decision went.
#[derive(Debug)]
pub(crate) enum ApprovalDecided {
    /// Decided now: the event's outbox id and the subscription after it.
    Done(String, SubscriptionHash),
    /// Decided before, as "a" or "d".
    Already(String),
    /// No request is open for that counter.
    NotFound,
    /// An approval's override would be one more than the subject may keep: nothing written.
    OverrideLimit,
}

pub(crate) async fn decide_approval(
    conn: &mut Conn,
    keys: &UserKeys,
    args: &DecideArgs<'_>,
) -> Result<Reply<ApprovalDecided>, StoreError> {
    let mut inv = Call::new(&contract::DECIDE_APPROVAL);
    inv.key(keys.ctr()).key(keys.sub()).key(keys.outbox());
    inv.arg(args.counter_field)
        .arg(args.group)
        .arg(args.id)
        .arg(args.decision)
        .arg(args.override_value)
        .arg(args.tag)
        .arg(args.period_start_ms)
        .arg(&args.period_end_ms)
        .arg(args.reason)
        .arg(args.by);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "not_found" => Ok(Reply::Done(ApprovalDecided::NotFound)),
        "decided" => Ok(Reply::Done(ApprovalDecided::Already(it.text()?))),
        "limit" => Ok(Reply::Done(ApprovalDecided::OverrideLimit)),
        "ok" => {
            let id = it.text()?;
            Ok(Reply::Done(ApprovalDecided::Done(id, it.pairs()?)))
        }
        other => Err(unexpected("decide_approval", other)),
    })
}

/// Writes the project's copy of request `id` (`keys` as `Layout::approvals` names them, then
/// `Layout::approvals_of` its user).
pub(crate) async fn index_approval(
    conn: &mut Conn,
    keys: &[String; 6],
    id: &str,
    json: &str,
    status: &str,
    requested_ms: i64,
) -> Result<bool, StoreError> {
    let mut inv = Call::new(&contract::INDEX_APPROVAL);
    for key in keys {
        inv.key(key);
    }
    inv.arg(id).arg(json).arg(status).arg(requested_ms);
    let changed: i64 = inv.invoke(conn).await?;
    Ok(changed == 1)
}
