//! The scripts of grants: grant, void_grant and balances (the data plane's scripts hold and
//! burn credits themselves, through `lua/library/modules/wallet.lua`).

use redis::Value;

use super::call::Call;
use super::contract;
use super::holds::push_holds;
use super::keys::{self, Key};
use super::layouts::{balances, granted, voided};
use super::{unexpected, writing_args, Decided, Fields, Fired, Reply, Writing};
use crate::quota::{Credit, GrantAmounts, Hold, Milli};
use crate::store::backend::Conn;
use crate::store::StoreError;

/// What grant.lua writes.
pub(crate) struct GrantArgs<'a> {
    pub id: &'a str,
    pub balance: &'a str,
    pub amount: Milli,
    pub burn_key: &'a str,
    pub effective_ms: i64,
    pub expires_ms: Option<i64>,
    /// The grant's record as the grants hash keeps it (`store::credits::GrantRecord`).
    pub record: &'a str,
    pub max_live: usize,
    /// How long the Idempotency-Key's answer is kept, ms: a payment delivered again days later
    /// must still grant once.
    pub idempotency_keep_ms: i64,
}

/// A grant's amounts as the grant scripts answer them (`layouts::grant_amounts`).
fn amounts(it: &mut Fields) -> Result<GrantAmounts, StoreError> {
    use super::layouts::grant_amounts::{AMOUNT, CONSUMED, EXPIRED, FIELDS, HELD, REMAINING, VOIDED};
    let mut v = it.part::<FIELDS>()?;
    Ok(GrantAmounts {
        amount: v.milli(AMOUNT)?,
        remaining: v.milli(REMAINING)?,
        held: v.milli(HELD)?,
        consumed: v.milli(CONSUMED)?,
        expired: v.milli(EXPIRED)?,
        voided: v.milli(VOIDED)?,
    })
}

#[derive(Debug, Clone)]
pub(crate) enum Granted {
    Made {
        id: String,
        amounts: GrantAmounts,
        /// The debt the grant paid first.
        debt_paid: Milli,
        /// Low-balance alerts judged on the way (a grant only re-arms them, but a grant that
        /// expired on the way may have lowered the balance).
        fired: Fired,
    },
    /// The balance has as many live grants as it may.
    Limit,
}

pub(crate) async fn grant(
    conn: &mut Conn,
    w: &Writing<'_>,
    args: &GrantArgs<'_>,
) -> Result<Reply<Granted>, StoreError> {
    let mut inv = Call::new(&contract::GRANT);
    writing_args(&mut inv, w);
    keys::push(&mut inv, w.keys, &[Key::Grants]);
    inv.arg(args.id)
        .arg(args.balance)
        .arg(args.amount.0)
        .arg(args.burn_key)
        .arg(args.effective_ms)
        .arg(args.expires_ms.map(|ms| ms.to_string()).unwrap_or_default())
        .arg(args.record)
        .arg(args.max_live)
        .arg(args.idempotency_keep_ms);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "limit" => Ok(Reply::Done(Granted::Limit)),
        "ok" => Ok(Reply::Done(Granted::Made {
            id: it.head::<{ granted::FIELDS }>()?.text(granted::ID)?,
            amounts: amounts(&mut it)?,
            debt_paid: it.milli()?,
            fired: it.fired(w)?,
        })),
        other => Err(unexpected("grant", other)),
    })
}

/// A grant voided: its balance and amounts after it, and the alerts fired (voiding lowers the
/// balance); None when no such grant.
pub(crate) async fn void_grant(
    conn: &mut Conn,
    w: &Writing<'_>,
    id: &str,
) -> Result<Reply<Option<(String, GrantAmounts, Fired)>>, StoreError> {
    let mut inv = Call::new(&contract::VOID_GRANT);
    writing_args(&mut inv, w);
    keys::push(&mut inv, w.keys, &[Key::Grants]);
    inv.arg(id);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "not_found" => Ok(Reply::Done(None)),
        "ok" => {
            let balance = it.head::<{ voided::FIELDS }>()?.text(voided::BALANCE)?;
            let amounts = amounts(&mut it)?;
            Ok(Reply::Done(Some((balance, amounts, it.fired(w)?))))
        }
        other => Err(unexpected("void_grant", other)),
    })
}

/// A subject's balances as balances.lua answered them: Redis time, each balance's name, wallet
/// text and state, and the grants hash's fields.
#[derive(Debug, Clone)]
pub(crate) struct RawBalances {
    pub now_ms: i64,
    pub wallets: Vec<(String, String, Credit)>,
    pub grants: Vec<(String, String)>,
}

pub(crate) async fn balances(
    conn: &mut Conn,
    w: &Writing<'_>,
    names: &[&str],
    allowances: &[Hold<'_>],
    at: Decided,
) -> Result<Reply<RawBalances>, StoreError> {
    let mut inv = Call::new(&contract::BALANCES);
    writing_args(&mut inv, w);
    keys::push(&mut inv, w.keys, &[Key::Grants]);
    inv.arg(names.len());
    for name in names {
        inv.arg(*name);
    }
    push_holds(&mut inv, allowances);
    inv.arg(at);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            let mut head = it.head::<{ balances::FIELDS }>()?;
            let (now_ms, n) = (head.int(balances::NOW)?, head.int(balances::COUNT)?);
            let mut wallets = Vec::new();
            for _ in 0..n {
                wallets.push((it.text()?, it.text()?, it.credit()?));
            }
            Ok(Reply::Done(RawBalances {
                now_ms,
                wallets,
                grants: it.pairs()?,
            }))
        }
        other => Err(unexpected("balances", other)),
    })
}
