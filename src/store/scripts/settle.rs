//! The scripts that end or extend one reservation: commit, release, extend.

use redis::Value;

use super::call::Call;
use super::contract;
use super::layouts::{committed, extended, released};
use super::{unexpected, writing_args, Fields, Fired, LedgerEntry, Reply, Writing};
use crate::quota::{Amounts, Milli, Reservation, ReservationState};
use crate::store::backend::Conn;
use crate::store::record;
use crate::store::StoreError;

/// How a commit or release script ended the reservation.
#[derive(Debug)]
pub(crate) enum SettleReply {
    NotFound,
    /// The reservation already ended the other way.
    Conflict(ReservationState),
    /// commit.lua's "mismatch": the actual amounts were not one per hold of the record. The
    /// node computed them from the record it read, whose holds never change, so the node and
    /// the script read the record apart; nothing was written.
    Mismatch,
    /// Boxed: a record's metadata makes it far larger than the other answers.
    Done(Box<Ended>),
}

#[derive(Debug)]
pub(crate) struct Ended {
    /// Committed, released, or expired (a release after expiry).
    pub state: ReservationState,
    pub late: bool,
    pub reservation: Reservation,
    /// Per hold of the record, its counter after the change.
    pub amounts: Vec<Amounts>,
    /// Alerts the commit fired (a release fires none).
    pub fired: Fired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extended {
    NotFound,
    /// The reservation is no longer held.
    Ended(ReservationState),
    /// Held on, until `expires_ms`.
    Until {
        expires_ms: i64,
        /// The next level up, whose own record the extend reaches next.
        parent: Option<String>,
    },
}

/// Commits one reservation, with the actual milli-units per hold or as reserved. `read` is its
/// record as the node read it for those amounts, if it did: its holds never change after
/// reserve, so the answer takes them from it rather than parsing the record the script echoes.
pub(crate) async fn commit(
    conn: &mut Conn,
    w: &Writing<'_>,
    reservation_id: &str,
    actual: Option<&[Milli]>,
    entry: &LedgerEntry<'_>,
    read: Option<&Reservation>,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = Call::new(&contract::COMMIT);
    writing_args(&mut inv, w).arg(reservation_id);
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
    inv.arg(&entry.metadata).arg(entry.quantity());
    inv.arg(entry.key_id).arg(entry.member);
    inv.arg(match entry.late_below {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    });
    inv.arg(entry.outcome.unwrap_or(""));
    settled(inv.invoke(conn).await?, Some(w), read)
}

/// How saying a committed call's outcome went.
#[derive(Debug)]
pub(crate) enum OutcomeReply {
    NotFound,
    /// The reservation is not committed: held, released or expired.
    NotCommitted(ReservationState),
    /// Its outcome was changed as often as one may be.
    Judged,
    /// Said: the outcome said before (None for none), and the record as it now is.
    Said {
        previous: Option<String>,
        reservation: Box<Reservation>,
        /// The notes it wrote for ancestors of holds on slices, moved as alerts are.
        fired: Fired,
    },
}

/// Says what a committed reservation's output came to (set_outcome.lua), at one level; `member`
/// names the member at a parent's level ("" at the member's own).
pub(crate) async fn set_outcome(
    conn: &mut Conn,
    w: &Writing<'_>,
    reservation_id: &str,
    outcome: &str,
    key_id: &str,
    member: &str,
) -> Result<Reply<OutcomeReply>, StoreError> {
    let mut inv = Call::new(&contract::SET_OUTCOME);
    writing_args(&mut inv, w)
        .arg(reservation_id)
        .arg(outcome)
        .arg(key_id)
        .arg(member);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "not_found" => Ok(Reply::Done(OutcomeReply::NotFound)),
        "judged" => Ok(Reply::Done(OutcomeReply::Judged)),
        "conflict" => Ok(Reply::Done(OutcomeReply::NotCommitted(state(&it.text()?)?))),
        "ok" => {
            let previous = Some(it.text()?).filter(|p| !p.is_empty());
            let reservation = Box::new(record::parse(&it.text()?)?);
            let fired = it.fired(w)?;
            Ok(Reply::Done(OutcomeReply::Said {
                previous,
                reservation,
                fired,
            }))
        }
        other => Err(unexpected("set_outcome", other)),
    })
}

/// Releases one reservation.
pub(crate) async fn release(
    conn: &mut Conn,
    w: &Writing<'_>,
    reservation_id: &str,
    metadata: &str,
) -> Result<Reply<SettleReply>, StoreError> {
    let mut inv = Call::new(&contract::RELEASE);
    writing_args(&mut inv, w).arg(reservation_id).arg(metadata);
    settled(inv.invoke(conn).await?, None, None)
}

fn state(text: &str) -> Result<ReservationState, StoreError> {
    ReservationState::parse(text).ok_or_else(|| unexpected("settle", text))
}

/// commit.lua and release.lua answer alike but for the second field (late, or the status) and
/// the alerts a commit fired; `commit` is the commit's writing arguments, None for a release;
/// `read` the record the node read before the commit, whose holds the answer's are.
fn settled(
    reply: Vec<Value>,
    commit: Option<&Writing<'_>>,
    read: Option<&Reservation>,
) -> Result<Reply<SettleReply>, StoreError> {
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "not_found" => Ok(Reply::Done(SettleReply::NotFound)),
        "conflict" => Ok(Reply::Done(SettleReply::Conflict(state(&it.text()?)?))),
        "mismatch" => Ok(Reply::Done(SettleReply::Mismatch)),
        "ok" => {
            let (state, late, text) = if commit.is_some() {
                let mut head = it.head::<{ committed::FIELDS }>()?;
                (
                    ReservationState::Committed,
                    head.int(committed::LATE)? == 1,
                    head.text(committed::RECORD)?,
                )
            } else {
                let mut head = it.head::<{ released::FIELDS }>()?;
                (
                    state(&head.text(released::STATE)?)?,
                    false,
                    head.text(released::RECORD)?,
                )
            };
            // (The answer's readers read its holds, never its metadata.)
            let reservation = match read {
                Some(read) => read.holds_copy(),
                None => record::parse(&text)?,
            };
            let mut amounts: Vec<Amounts> = reservation
                .holds
                .iter()
                .map(|_| it.amounts())
                .collect::<Result<_, _>>()?;
            let fired = commit.map(|w| it.fired(w)).transpose()?.unwrap_or_default();
            it.credits(
                amounts.iter_mut(),
                reservation.holds.iter().map(|h| h.balance.is_some()),
            )?;
            Ok(Reply::Done(SettleReply::Done(Box::new(Ended {
                state,
                late,
                reservation,
                amounts,
                fired,
            }))))
        }
        other => Err(unexpected("settle", other)),
    })
}

pub(crate) async fn extend(
    conn: &mut Conn,
    w: &Writing<'_>,
    reservation_id: &str,
    ttl_ms: i64,
    max_lifetime_ms: i64,
) -> Result<Reply<Extended>, StoreError> {
    let mut inv = Call::new(&contract::EXTEND);
    writing_args(&mut inv, w)
        .arg(reservation_id)
        .arg(ttl_ms)
        .arg(max_lifetime_ms);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "not_found" => Ok(Reply::Done(Extended::NotFound)),
        "ended" => Ok(Reply::Done(Extended::Ended(
            ReservationState::parse(&it.text()?).ok_or_else(|| unexpected("extend", "an unknown state"))?,
        ))),
        "ok" => {
            let mut head = it.head::<{ extended::FIELDS }>()?;
            Ok(Reply::Done(Extended::Until {
                expires_ms: head.int(extended::EXPIRES)?,
                parent: Some(head.text(extended::PARENT)?).filter(|p| !p.is_empty()),
            }))
        }
        other => Err(unexpected("extend", other)),
    })
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::{settled, Reply, SettleReply};

    #[test]
    fn a_mismatch_is_an_answer_of_its_own_not_a_stale_one() {
        let answer = |tag: &str| settled(vec![Value::BulkString(tag.as_bytes().to_vec())], None, None).unwrap();
        assert!(matches!(answer("mismatch"), Reply::Done(SettleReply::Mismatch)));
        assert!(matches!(answer("stale"), Reply::Stale));
    }
}
