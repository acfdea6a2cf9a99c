//! The scripts that place or read holds: reserve, check, track, adjust, usage.

use redis::Value;

use super::call::Call;
use super::contract;
use super::kept;
use super::keys::{self, Key};
use super::layouts;
use super::layouts::{adjusted, usage};
use super::values::{record_rest, HoldValues};
use super::{
    int_of, int_of_text, milli_of, unexpected, writing_args, Decided, Fields, Fired, LedgerEntry, Reply, Writing,
};
use crate::quota::decision::step_denial;
use crate::quota::{
    Amounts, Balance, Hold, Milli, Outcomes, Reason, Reservation, RunLimits, Step, StepAnswer, Verdict, Window,
};
use crate::store::backend::Conn;
use crate::store::layout::{value_field, UserKeys};
use crate::store::run_fields::{encode_limits, step_parts};
use crate::store::StoreError;

/// The reservation a reserve made (the first call's, for a repeat).
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub reservation_id: String,
    pub expires_ms: i64,
    /// Some for a repeat of an Idempotency-Key (no hold was made now; the first call's is
    /// answered), with the instant its first call decided at when kept, so it is answered in
    /// those windows.
    pub repeat: Option<Option<i64>>,
    /// The record the reserve wrote, as `record::parse` would read it back, when its caller
    /// asked (`ReserveArgs::keep`) and it is provably what the node encoded
    /// (`kept::recorded`): a fresh admit, every hold whole. Its metadata is the caller's.
    pub record: Option<Box<Reservation>>,
}

/// What reserve.lua writes besides the holds.
pub(crate) struct ReserveArgs<'a> {
    pub version: u64,
    pub reservation_id: &'a str,
    pub ttl_ms: i64,
    pub event: &'a str,
    /// What the reservation was for: the quantity and the metadata as canonical JSON ("" for
    /// none), kept in the record for its commit's ledger entry and for readers.
    pub quantity: Milli,
    pub metadata: &'a str,
    /// The next level up, "" for none.
    pub parent: &'a str,
    /// The request's decision instant.
    pub at: Decided,
    /// A step's run (a child run's start is one too).
    pub step: Option<&'a Step>,
    /// A run's start: its limits at the user's level (none above it).
    pub run: Option<&'a RunLimits>,
    /// An attempt after the first of an original action, at the user's level (none above it).
    pub fallback: Option<&'a FallbackArgs<'a>>,
    /// Whether the caller keeps the record it admits (`Held::record`), to commit it without
    /// reading it back.
    pub keep: bool,
}

/// An attempt after the first of an original action as reserve takes it (`layouts::fallback`,
/// lua/library/modules/fallbacks.lua): its chain, and the caps of its matched groups that have
/// one (`maxFallbackSpend`).
#[derive(Debug, Clone)]
pub(crate) struct FallbackArgs<'a> {
    pub chain: &'a str,
    pub caps: Vec<(&'a str, Milli)>,
}

impl FallbackArgs<'_> {
    /// "<chain>|<group>=<milli>,...", its parts in their declared order.
    fn encode(&self) -> String {
        use layouts::fallback::{CAPS, CHAIN, FIELDS};
        let mut parts = [""; FIELDS].map(String::from);
        parts[CHAIN] = self.chain.to_string();
        parts[CAPS] = self
            .caps
            .iter()
            .map(|(group, cap)| format!("{group}={}", cap.0))
            .collect::<Vec<_>>()
            .join(",");
        parts.join("|")
    }
}

/// One counter usage.lua reads: the group's window and the plan's quota for it, and a balance
/// group's balance (its allowance read as a reserve in that window would open it).
pub(crate) struct UsageField<'a> {
    pub group: &'a str,
    /// A per-value group's counter of this value.
    pub value: Option<&'a str>,
    pub window: Window,
    pub quota: Milli,
    pub balance: Option<&'a Balance>,
}

/// The balances of a decision's balance groups, after its alerts.
pub(super) fn credits(it: &mut Fields, verdict: &mut Verdict, holds: &[Hold<'_>]) -> Result<(), StoreError> {
    it.credits(
        verdict.holds.iter_mut().map(|(a, _)| a),
        holds.iter().map(|h| h.balance.is_some()),
    )
}

/// The tail of a reserve's arguments, whatever its alternatives: a fallback attempt's chain
/// and caps, a step's run (a child run's start is one too), a run's start its limits
/// (reserve.lua reads them here, and nothing else tells it a step or a run), then the
/// instant it decides at.
pub(super) fn push_run_and_instant(inv: &mut Call, args: &ReserveArgs<'_>) {
    match args.fallback {
        Some(fallback) => inv.arg(fallback.encode()),
        None => inv.arg(""),
    };
    match args.step {
        Some(step) => inv.arg_joined(&step_parts(step), b'|'),
        None => inv.arg(""),
    };
    match args.run {
        Some(limits) => inv.arg(encode_limits(limits)),
        None => inv.arg(""),
    };
    inv.arg(args.at);
}

fn push_hold(inv: &mut Call, h: &Hold<'_>) {
    HoldValues::of(h).push(inv);
}

pub(super) fn push_holds(inv: &mut Call, holds: &[Hold<'_>]) {
    inv.arg(holds.len());
    for h in holds {
        push_hold(inv, h);
    }
}

/// A decision, `allowed` as its answer's head says, then a `layouts::verdict` per hold: its
/// counter's amounts (used, held, quota in force) and whether it denied.
pub(super) fn verdict(it: &mut Fields, allowed: bool, n: usize) -> Result<Verdict, StoreError> {
    use layouts::verdict::{DENIED, FIELDS, HELD, QUOTA, USED};
    let mut holds = Vec::with_capacity(n);
    // The per-hold notes are made only as far as their last note: most answers have none.
    let (mut pending, mut full, mut coded, mut clamped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let mut v = it.part::<FIELDS>()?;
        let amounts = match v.take(USED) {
            // A hold on a slice answers its slice's line: the ancestor's counter when the slice
            // was leased is in it (holds.lua's weigh).
            Value::BulkString(line) if line.contains(&b'|') => ancestor_counter(&line)?,
            used => Amounts {
                used: milli_of(int_of(used)?)?,
                held: v.milli(HELD)?,
                quota: v.milli(QUOTA)?,
                leased: Milli::ZERO,
                credit: None,
            },
        };
        // 2: an approval group whose request is pending; 3: a per-value group with no room
        // for one more value; a step's hold drawn from its run, 4: the run's budget has no
        // room, 5: a fallback would pass its share; 6: not denied, clamped (what it holds
        // follows the whole answer, `clamped`); 8: a hard group that would fit but for what
        // it has leased to members' slices.
        let denied = v.int(DENIED)?;
        // 7: a slice short where another group denies (slices.lua): not this group's denial.
        holds.push((amounts, denied != 0 && denied != CLAMPED && denied != SHORT));
        match denied {
            // Filled from the end of the answer (`clamped`).
            CLAMPED => note(&mut clamped, i, Some(Milli::ZERO)),
            2 => note(&mut pending, i, true),
            3 => note(&mut full, i, true),
            4 => note(&mut coded, i, Some(Reason::RunBudgetExhausted)),
            5 => note(&mut coded, i, Some(Reason::FallbackBudgetExhausted)),
            8 => note(&mut coded, i, Some(Reason::ParentCapacityLeased)),
            _ => {}
        }
    }
    Ok(Verdict {
        allowed,
        holds,
        pending,
        full,
        coded,
        step: None,
        clamped,
    })
}

/// Notes `value` for hold `i` in a per-hold list kept only as far as its last note.
fn note<T: Clone + Default>(list: &mut Vec<T>, i: usize, value: T) {
    list.resize(i, T::default());
    list.push(value);
}

/// The ancestor's counter a slice's line keeps (`layouts::slice`): used, held and quota in
/// force when its lease was taken.
fn ancestor_counter(line: &[u8]) -> Result<Amounts, StoreError> {
    use layouts::slice::{ANCESTOR_HELD, ANCESTOR_QUOTA, ANCESTOR_USED, FIELDS};
    let mut counter = [Milli::ZERO; 3];
    let mut count = 0;
    for (i, field) in line.split(|&b| b == b'|').enumerate() {
        count += 1;
        let at = match i {
            ANCESTOR_USED => 0,
            ANCESTOR_HELD => 1,
            ANCESTOR_QUOTA => 2,
            _ => continue,
        };
        counter[at] = milli_of(int_of_text(field)?)?;
    }
    if count != FIELDS {
        return Err(StoreError::Protocol("a slice's line of another layout".into()));
    }
    let [used, held, quota] = counter;
    Ok(Amounts {
        used,
        held,
        quota,
        leased: Milli::ZERO,
        credit: None,
    })
}

/// The verdict code of a hold that clamped (holds.lua's weigh).
const CLAMPED: i64 = 6;
/// The verdict code of a hold on a slice that is short (holds.lua's weigh).
const SHORT: i64 = 7;

/// What each clamped hold holds, last in reserve's and check's answers: one amount per hold
/// whose verdict code was `CLAMPED`, in hold order.
pub(super) fn clamped(it: &mut Fields, verdict: &mut Verdict) -> Result<(), StoreError> {
    for held in verdict.clamped.iter_mut().flatten() {
        *held = Milli(u64::try_from(it.int()?).map_err(|_| StoreError::Protocol("a clamped hold below 0".into()))?);
    }
    Ok(())
}

/// A step's answer of its run (runs.lua's R.answer): `layouts::step` (its whole-step denial,
/// the run's steps and fallbacks so far), then per hold what the run has left of its group
/// (None: not the run's).
pub(super) fn step_answer(it: &mut Fields, n: usize) -> Result<StepAnswer, StoreError> {
    use layouts::step::{CODE, FALLBACKS, FIELDS, STEPS};
    let mut v = it.part::<FIELDS>()?;
    let denial = step_denial(v.int(CODE)?);
    let steps = v.int(STEPS)?.max(0) as u64;
    let fallbacks = v.int(FALLBACKS)?.max(0) as u64;
    let remaining = (0..n)
        .map(|_| it.int().map(|left| u64::try_from(left).ok().map(Milli)))
        .collect::<Result<_, _>>()?;
    Ok(StepAnswer {
        denial,
        steps,
        fallbacks,
        remaining,
    })
}

/// What a reserve answered: its decision, or that slices of its ancestors' groups were short
/// (nothing decided; slices.rs). (Unboxed: the decision is every reserve's answer, moved
/// once, and a box would cost each an allocation; the short answer is the rare one.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reserved {
    Decided(Held, Verdict, Fired),
    Short(Vec<super::Short>, Fired),
}

pub(crate) async fn reserve(
    conn: &mut Conn,
    w: &Writing<'_>,
    args: &ReserveArgs<'_>,
    holds: &[Hold<'_>],
) -> Result<Reply<Reserved>, StoreError> {
    let mut inv = Call::new(&contract::RESERVE);
    writing_args(&mut inv, w);
    let values: Vec<HoldValues> = holds.iter().map(HoldValues::of).collect();
    inv.arg(args.version).arg(args.reservation_id).arg(args.ttl_ms);
    inv.arg(values.len());
    for v in &values {
        v.push(&mut inv);
    }
    // One alternative, the event's, whose holds are all of them (alternatives.rs for several).
    inv.arg(1).arg(values.len()).arg(record_rest(args, &values));
    push_run_and_instant(&mut inv, args);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            use layouts::reserved::{ALLOWED, EXPIRES, FIELDS, ID};
            let mut head = it.head::<FIELDS>()?;
            let mut granted = Held {
                reservation_id: head.text(ID)?,
                expires_ms: head.int(EXPIRES)?,
                repeat: it.repeat.then_some(it.first_at_ms),
                record: None,
            };
            let mut verdict = verdict(&mut it, head.int(ALLOWED)? == 1, holds.len())?;
            let fired = it.fired(w)?;
            credits(&mut it, &mut verdict, holds)?;
            if args.step.is_some() {
                verdict.step = Some(step_answer(&mut it, holds.len())?);
            }
            clamped(&mut it, &mut verdict)?;
            // A repeat's record is its first call's; a hold that clamped holds what fits.lua
            // wrote in its record, not what the node asked (a hold that may clamp and did not
            // keeps what the node asked: fits.lua fills its blanks with that).
            let whole = verdict.clamped.iter().all(Option::is_none);
            if args.keep && verdict.allowed && granted.repeat.is_none() && whole {
                granted.record = kept::recorded(args, holds, &values, granted.expires_ms).map(Box::new);
            }
            Ok(Reply::Done(Reserved::Decided(granted, verdict, fired)))
        }
        "short" => {
            let (slices, fired) = super::slices::short(&mut it, w)?;
            Ok(Reply::Done(Reserved::Short(slices, fired)))
        }
        other => Err(unexpected("reserve", other)),
    })
}

/// Decides as reserve would, with the read-only check.lua.
pub(crate) async fn check(
    conn: &mut Conn,
    keys: &UserKeys,
    version: u64,
    holds: &[Hold<'_>],
    at: Decided,
) -> Result<Reply<Verdict>, StoreError> {
    let mut inv = Call::new(&contract::CHECK);
    keys::push(&mut inv, keys, &keys::READING);
    inv.arg(version);
    push_holds(&mut inv, holds);
    inv.arg(at);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            use layouts::checked::{ALLOWED, FIELDS};
            let allowed = it.head::<FIELDS>()?.int(ALLOWED)? == 1;
            let mut verdict = verdict(&mut it, allowed, holds.len())?;
            credits(&mut it, &mut verdict, holds)?;
            clamped(&mut it, &mut verdict)?;
            Ok(Reply::Done(verdict))
        }
        other => Err(unexpected("check", other)),
    })
}

/// Returns a batch of the user's expired holds, for the read-only scripts that found more due
/// than they read in one call: "more" while some remain.
pub(crate) async fn reclaim(conn: &mut Conn, w: &Writing<'_>) -> Result<Reply<()>, StoreError> {
    let mut inv = Call::new(&contract::RECLAIM);
    writing_args(&mut inv, w);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, _)| match tag.as_str() {
        "ok" => Ok(Reply::Done(())),
        other => Err(unexpected("reclaim", other)),
    })
}

/// What track.lua answered: each hold's counter after it, the alerts it fired, a repeat's
/// first instant, and a step's run.
pub(crate) struct Tracked {
    pub amounts: Vec<Amounts>,
    pub fired: Fired,
    pub first_at_ms: Option<i64>,
    pub step: Option<StepAnswer>,
}

/// Counts usage without checking quotas; answers each hold's counter after it.
pub(crate) async fn track(
    conn: &mut Conn,
    w: &Writing<'_>,
    version: u64,
    holds: &[Hold<'_>],
    entry: &LedgerEntry<'_>,
    at: Decided,
) -> Result<Reply<Tracked>, StoreError> {
    let mut inv = Call::new(&contract::TRACK);
    writing_args(&mut inv, w).arg(version);
    push_holds(&mut inv, holds);
    inv.arg(entry.event).arg(&entry.metadata).arg(entry.quantity());
    inv.arg(entry.key_id).arg(entry.member).arg(entry.reference);
    // A step names its run, action and kind (track.lua); ids and kinds hold no "|".
    let step = entry.step;
    match step {
        Some(step) => inv.arg_joined(&step_parts(step), b'|'),
        None => inv.arg(""),
    };
    inv.arg(entry.outcome.unwrap_or("")).arg(at);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            let mut amounts: Vec<Amounts> = holds.iter().map(|_| it.amounts()).collect::<Result<_, _>>()?;
            let first_at_ms = it.first_at_ms;
            let fired = it.fired(w)?;
            it.credits(amounts.iter_mut(), holds.iter().map(|h| h.balance.is_some()))?;
            let step = step.map(|_| step_answer(&mut it, holds.len())).transpose()?;
            Ok(Reply::Done(Tracked {
                amounts,
                fired,
                first_at_ms,
                step,
            }))
        }
        other => Err(unexpected("track", other)),
    })
}

/// What usage.lua read: Redis time, then per field its counter, its outcomes and what
/// fallbacks committed in it.
pub(crate) type UsageRead = (i64, Vec<Amounts>, Vec<Outcomes>, Vec<Milli>);

/// Counters of the given fields (with their plan quotas) as though expired holds were
/// reclaimed, and Redis time; "more" when more expired holds are due than one call reads.
pub(crate) async fn usage(
    conn: &mut Conn,
    keys: &UserKeys,
    fields: &[UsageField<'_>],
) -> Result<Reply<UsageRead>, StoreError> {
    let mut inv = Call::new(&contract::USAGE);
    keys::push(&mut inv, keys, &keys::READING);
    inv.arg(fields.len());
    for f in fields {
        inv.arg(value_field(f.group, f.value, &f.window)).arg(f.quota.0);
        match f.balance {
            // The period's end is the allowance's expiry, the rollover what it may carry in.
            Some(b) => inv
                .arg(&b.name)
                .arg(f.window.end_ms.map(|ms| ms.to_string()).unwrap_or_default())
                .arg(b.rollover.map(|r| r.0.to_string()).unwrap_or_default()),
            None => inv.arg("").arg("").arg(""),
        };
    }
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => {
            let now_ms = it.head::<{ usage::FIELDS }>()?.int(usage::NOW)?;
            let mut amounts: Vec<Amounts> = fields.iter().map(|_| it.amounts()).collect::<Result<_, _>>()?;
            it.credits(amounts.iter_mut(), fields.iter().map(|f| f.balance.is_some()))?;
            for a in &mut amounts {
                a.leased = it.milli()?;
            }
            let outcomes = fields
                .iter()
                .map(|_| Ok(Outcomes::parse(&it.text()?)))
                .collect::<Result<_, StoreError>>()?;
            let fallback = fields.iter().map(|_| it.milli()).collect::<Result<_, _>>()?;
            Ok(Reply::Done((now_ms, amounts, outcomes, fallback)))
        }
        other => Err(unexpected("usage", other)),
    })
}

/// What adjust.lua writes besides its hold.
pub(crate) struct AdjustArgs {
    pub version: u64,
    pub amount_milli: i64,
    pub reason: String,
    pub audit_len: usize,
    /// The id of the key that made the adjustment, for the ledger.
    pub key_id: String,
}

/// An adjustment as adjust.lua answered it.
pub(crate) struct Adjustment {
    /// The signed change applied, in milli-units.
    pub applied_milli: i64,
    pub amounts: Amounts,
    pub fired: Fired,
    /// The first answer to this Idempotency-Key, given again: nothing changed this time.
    pub repeated: bool,
}

/// Adds signed milli-units to one counter, never below zero, and records it in the audit trail.
/// Answers the applied change and the counter after it.
pub(crate) async fn adjust(
    conn: &mut Conn,
    w: &Writing<'_>,
    hold: &Hold<'_>,
    args: &AdjustArgs,
) -> Result<Reply<Adjustment>, StoreError> {
    let mut inv = Call::new(&contract::ADJUST);
    writing_args(&mut inv, w);
    keys::push(&mut inv, w.keys, &[Key::Audit]);
    inv.arg(args.version);
    push_hold(&mut inv, hold);
    inv.arg(args.amount_milli)
        .arg(&args.reason)
        .arg(args.audit_len)
        .arg(&args.key_id);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    // The audit log outside the script is written once, so a repeat must be told apart.
    let repeated = matches!(reply.first(), Some(Value::BulkString(tag)) if tag == b"repeat");
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => Ok(Reply::Done(Adjustment {
            applied_milli: it.head::<{ adjusted::FIELDS }>()?.int(adjusted::APPLIED)?,
            amounts: it.amounts()?,
            fired: it.fired(w)?,
            repeated,
        })),
        other => Err(unexpected("adjust", other)),
    })
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::{ancestor_counter, clamped, layouts, verdict, Fields};
    use crate::quota::Milli;

    #[test]
    fn a_verdicts_notes_end_at_their_last_hold_and_read_as_none_past_it() {
        use layouts::verdict::{DENIED, FIELDS, HELD, QUOTA, USED};
        // Four holds: admitted, pending approval, clamped, admitted; then the clamped amount.
        let mut reply = Vec::new();
        for code in [0, 2, 6, 0] {
            let mut part = vec![Value::Nil; FIELDS];
            part[USED] = Value::Int(1000);
            part[HELD] = Value::Int(0);
            part[QUOTA] = Value::Int(5000);
            part[DENIED] = Value::Int(code);
            reply.extend(part);
        }
        reply.push(Value::Int(700));
        let mut it = Fields::new(reply);
        let mut v = verdict(&mut it, false, 4).unwrap();
        clamped(&mut it, &mut v).unwrap();
        assert_eq!(
            v.holds.iter().map(|(_, denied)| *denied).collect::<Vec<_>>(),
            [false, true, false, false]
        );
        assert_eq!(v.pending, [false, true]);
        assert_eq!(v.clamped, [None, None, Some(Milli(700))]);
        assert!(v.full.is_empty() && v.coded.is_empty());
        // Nothing to note makes no list at all.
        let mut plain = Vec::new();
        for _ in 0..2 {
            let mut part = vec![Value::Int(0); FIELDS];
            part[QUOTA] = Value::Int(5000);
            plain.extend(part);
        }
        let v = verdict(&mut Fields::new(plain), true, 2).unwrap();
        assert_eq!(
            (v.pending.capacity(), v.clamped.capacity(), v.coded.capacity()),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_slice_line_answers_its_ancestors_counter_and_another_layout_is_an_error() {
        // Amount, ends, version, lease, statements, then the ancestor's used, held and quota.
        let c = ancestor_counter(b"32000|1795727990489|3|lr_1.3|0|2000|34000|100000").unwrap();
        assert_eq!((c.used, c.held, c.quota), (Milli(2000), Milli(34000), Milli(100000)));
        assert!(ancestor_counter(b"32000|1795727990489|3|lr_1.3|0|2000|34000").is_err());
        assert!(ancestor_counter(b"32000|1795727990489|3|lr_1.3|0|2000|34000|100000|9").is_err());
        assert!(ancestor_counter(b"32000|1795727990489|3|lr_1.3|0|2000|-1|100000").is_err());
    }
}
