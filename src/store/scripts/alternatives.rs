//! A reserve of alternatives: reserve.lua called with several (lua/library/modules/alternatives.lua),
//! its answer, the records' "al" text that names every alternative asked and its reading back
//! from a ledger entry, and the reasons the library writes for a denial it records, written
//! into lua/layouts.lua from the codes the node reads verdicts by.

use redis::Value;
use serde::Deserialize;

use super::call::Call;
use super::contract;
use super::holds::{clamped, credits, step_answer, verdict};
use super::layouts;
use super::values::{record_rest_of, AlternativeRecord, HoldValues};
use super::{unexpected, writing_args, Fields, Fired, Held, Reply, ReserveArgs, Writing};
use crate::quota::{Alternative as LedgerAlternative, Alternatives, Hold, Milli, Verdict};
use crate::store::backend::Conn;
use crate::store::StoreError;

/// One alternative a reserve asks the script about: its event, quantity and metadata (canonical
/// JSON, "" for none), its index as asked, and its holds.
pub(crate) struct Alternative<'a> {
    pub event: &'a str,
    pub quantity: Milli,
    pub metadata: &'a str,
    pub index: usize,
    pub holds: &'a [Hold<'a>],
}

/// One alternative as every record of the call names it (its "al"): what it asked, and the
/// denial the node decided without the script (before any counter, or at a parent's level in
/// an earlier attempt), by group ("" for none) and reason; empty for the others.
pub(crate) struct Asked<'a> {
    pub event: &'a str,
    pub quantity: Milli,
    pub metadata: &'a str,
    pub denied: Vec<(String, &'static str)>,
}

/// What a reserve of alternatives answered: its reservation (when it held one), the verdict of
/// each alternative it weighed, in the order asked (the one it decided on last: held, or the
/// last denied), and the alerts fired.
pub(crate) struct Weighed {
    pub held: Held,
    pub verdicts: Vec<Verdict>,
    pub fired: Fired,
}

/// Every alternative asked, as the records of the call name them ("al"): a JSON text,
/// `[{"event", "quantity" (milli-units, as text), "metadata"?, "denied"?: [[group, reason]]}]`.
pub(crate) fn asked_text(all: &[Asked<'_>]) -> String {
    use serde_json::{json, Value};
    let list: Vec<Value> = all
        .iter()
        .map(|a| {
            let mut entry = json!({ "event": a.event, "quantity": a.quantity.0.to_string() });
            // Canonical JSON already: read back with its numbers' digits as written.
            if let Ok(metadata @ Value::Object(_)) = serde_json::from_str::<Value>(a.metadata) {
                entry["metadata"] = metadata;
            }
            if !a.denied.is_empty() {
                entry["denied"] = json!(a.denied);
            }
            entry
        })
        .collect();
    Value::Array(list).to_string()
}

/// Holds the first of `alternatives` that every matched group admits, in one call
/// (reserve.lua): `args` says what they share (the reservation, its ttl and instant, a step's
/// run; its event, quantity and metadata are the alternatives' own), `asked` every alternative
/// (`asked_text`), which each record keeps.
pub(crate) async fn reserve_first(
    conn: &mut Conn,
    w: &Writing<'_>,
    args: &ReserveArgs<'_>,
    alternatives: &[Alternative<'_>],
    asked: &str,
) -> Result<Reply<Weighed>, StoreError> {
    let mut inv = Call::new(&contract::RESERVE);
    writing_args(&mut inv, w);
    inv.arg(args.version).arg(args.reservation_id).arg(args.ttl_ms);
    let values: Vec<Vec<HoldValues>> = alternatives
        .iter()
        .map(|a| a.holds.iter().map(HoldValues::of).collect())
        .collect();
    inv.arg(values.iter().map(Vec::len).sum::<usize>());
    for v in values.iter().flatten() {
        v.push(&mut inv);
    }
    inv.arg(alternatives.len());
    for (a, v) in alternatives.iter().zip(&values) {
        let record = AlternativeRecord {
            event: a.event,
            quantity: a.quantity,
            metadata: a.metadata,
            index: a.index,
            asked,
        };
        inv.arg(v.len()).arg(record_rest_of(args, v, Some(&record)));
    }
    // (A reserve of alternatives is never a fallback attempt: a chain's attempt reserves one.)
    super::holds::push_run_and_instant(&mut inv, args);
    let reply: Vec<Value> = inv.invoke(conn).await?;
    Fields::answer(reply)?.then(|(tag, mut it)| match tag.as_str() {
        "ok" => Ok(Reply::Done(weighed(&mut it, w, args, alternatives)?)),
        other => Err(unexpected("reserve", other)),
    })
}

/// The answer of a reserve of alternatives: a plain reserve's for one (RESERVED), else FIRST,
/// which says how many it weighed; then each one's verdicts, the alerts, and each one's
/// balances, run and clamped holds.
fn weighed(
    it: &mut Fields,
    w: &Writing<'_>,
    args: &ReserveArgs<'_>,
    alternatives: &[Alternative<'_>],
) -> Result<Weighed, StoreError> {
    let (id, expires_ms, allowed, tried) = if alternatives.len() == 1 {
        use layouts::reserved::{ALLOWED, EXPIRES, FIELDS, ID};
        let mut head = it.head::<FIELDS>()?;
        (head.text(ID)?, head.int(EXPIRES)?, head.int(ALLOWED)?, 1)
    } else {
        use layouts::first::{ALLOWED, EXPIRES, FIELDS, ID, TRIED};
        let mut head = it.head::<FIELDS>()?;
        let tried = usize::try_from(head.int(TRIED)?).unwrap_or(0);
        (head.text(ID)?, head.int(EXPIRES)?, head.int(ALLOWED)?, tried)
    };
    if tried == 0 || tried > alternatives.len() {
        return Err(StoreError::Protocol(
            format!("reserve weighed {tried} of {} alternatives", alternatives.len()).into(),
        ));
    }
    let held = Held {
        reservation_id: id,
        expires_ms,
        repeat: it.repeat.then_some(it.first_at_ms),
        // The record the script wrote is the alternative it chose, with the denials of those
        // before it: read back by its commit.
        record: None,
    };
    let weighed = &alternatives[..tried];
    let mut verdicts = weighed
        .iter()
        .enumerate()
        .map(|(k, a)| verdict(it, allowed == 1 && k + 1 == tried, a.holds.len()))
        .collect::<Result<Vec<_>, _>>()?;
    let fired = it.fired(w)?;
    for (v, a) in verdicts.iter_mut().zip(weighed) {
        credits(it, v, a.holds)?;
        if args.step.is_some() {
            v.step = Some(step_answer(it, a.holds.len())?);
        }
        clamped(it, v)?;
    }
    Ok(Weighed { held, verdicts, fired })
}

/// A record's "al" as `asked_text` wrote it.
#[derive(Deserialize)]
struct AskedEntry {
    event: String,
    quantity: String,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "crate::store::record::list_or_empty")]
    denied: Vec<(String, String)>,
}

/// One alternative's denial as the library keeps it (reserving.lua's denial_of): its index as
/// asked and its groups' reasons.
#[derive(Deserialize)]
struct DenialEntry {
    i: String,
    #[serde(default, deserialize_with = "crate::store::record::list_or_empty")]
    d: Vec<(String, String)>,
}

/// The alternatives a ledger entry names: every one asked (`asked`, its "alternatives"), the
/// chosen one's index ("chosen"; none on a denial) and the denials of those the script weighed
/// ("denials"), each beside the denial the node decided of it. None when they do not parse.
pub(crate) fn ledger_alternatives(asked: &str, chosen: Option<&str>, denials: Option<&str>) -> Option<Alternatives> {
    let entries: Vec<AskedEntry> = serde_json::from_str(asked).ok()?;
    let mut list: Vec<LedgerAlternative> = entries
        .into_iter()
        .map(|e| {
            Some(LedgerAlternative {
                event: e.event,
                quantity: Milli(e.quantity.parse().ok()?),
                metadata: e.metadata.unwrap_or_default(),
                denials: e.denied,
            })
        })
        .collect::<Option<_>>()?;
    if let Some(denials) = denials {
        // cjson writes an empty list as an empty object.
        let denials: Vec<DenialEntry> = match denials {
            "{}" => Vec::new(),
            text => serde_json::from_str(text).ok()?,
        };
        for d in denials {
            list.get_mut(d.i.parse::<usize>().ok()?)?.denials.extend(d.d);
        }
    }
    let chosen = match chosen {
        Some(index) => Some(index.parse::<usize>().ok().filter(|i| *i < list.len())?),
        None => None,
    };
    Some(Alternatives { list, chosen })
}

/// The reason a hold's verdict code names (holds.lua's weigh, as `holds::verdict` reads it and
/// `Prepared::decision` names it): what a step's run denied it with and capacity leased to
/// members first, then a balance group's, then the others'; None for no denial (0, a clamp 6,
/// a short slice 7).
#[cfg(test)]
pub(crate) fn hold_reason(code: i64, balance: bool) -> Option<crate::quota::Reason> {
    use crate::quota::Reason;
    match code {
        4 => Some(Reason::RunBudgetExhausted),
        5 => Some(Reason::FallbackBudgetExhausted),
        8 => Some(Reason::ParentCapacityLeased),
        1..=3 if balance => Some(Reason::InsufficientBalance),
        1 => Some(Reason::LimitReached),
        2 => Some(Reason::ApprovalPending),
        3 => Some(Reason::TooManyValues),
        _ => None,
    }
}

/// The codes a hold's verdict may deny with, and a step's whole denial by its run.
#[cfg(test)]
const HOLD_CODES: std::ops::RangeInclusive<i64> = 1..=8;
#[cfg(test)]
const STEP_CODES: std::ops::RangeInclusive<i64> = 1..=5;

/// The library's declarations of what a denial it records is called (reserving.lua's
/// denial_of): `DENIED.hold[code]` a hold's reason, `DENIED.balance[code]` a balance group's,
/// `DENIED.step[code]` a step's run's (`decision::step_denial`), as a reserve's answer names them;
/// and how many alternatives a reserve may name.
#[cfg(test)]
pub(crate) fn lua() -> String {
    use crate::quota::decision::step_denial;
    let table = |reason: &dyn Fn(i64) -> Option<crate::quota::Reason>, codes: std::ops::RangeInclusive<i64>| {
        codes
            .map(|code| reason(code).map_or("false".to_string(), |r| format!("'{}'", r.code())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "-- How many alternatives a reserve may name, and what a denial the library records is called,\n\
         -- by a hold's verdict code (a balance group's apart) and a step's run's (alternatives.rs).\n\
         local MAX_ALTERNATIVES = {}\nlocal DENIED = {{hold = {{{}}}, balance = {{{}}}, step = {{{}}}}}\n",
        crate::quota::MAX_ALTERNATIVES,
        table(&|c| hold_reason(c, false), HOLD_CODES),
        table(&|c| hold_reason(c, true), HOLD_CODES),
        table(&step_denial, STEP_CODES),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::hold::prepare;
    use crate::quota::{EventInput, Plan, UserId};

    /// A verdict of one hold denied with `code`, as holds::verdict reads it.
    fn one(code: i64) -> Verdict {
        use layouts::verdict::{DENIED, FIELDS, QUOTA};
        let mut part = vec![Value::Int(0); FIELDS];
        part[QUOTA] = Value::Int(1000);
        part[DENIED] = Value::Int(code);
        verdict(&mut Fields::new(part), false, 1).unwrap()
    }

    #[test]
    fn the_reasons_the_library_records_are_those_a_decision_names() {
        let plan = |balance: bool| {
            let group = if balance {
                serde_json::json!({ "id": "g", "balance": "credits", "matches": [ { "event": "*" } ] })
            } else {
                serde_json::json!({ "id": "g", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] })
            };
            let doc = serde_json::json!({ "periodType": "monthly", "groups": [group] });
            Plan::from_doc("plan_p", serde_json::from_value(doc).unwrap()).unwrap()
        };
        let input = EventInput {
            user: UserId::parse("u").unwrap(),
            event: "e".into(),
            quantity: Milli::from_units(1),
            metadata: Default::default(),
            step: None,
            fit: Default::default(),
            fallback: None,
        };
        for balance in [false, true] {
            let plan = plan(balance);
            let prepared = prepare(&plan, &input, None, 0, 1_000, &Default::default(), true).unwrap();
            for code in HOLD_CODES {
                let decided = prepared.decision(&one(code), None, 1_000);
                let named = decided.denied_by.first().map(|d| d.reason);
                assert_eq!(named, hold_reason(code, balance), "code {code}, balance {balance}");
            }
        }
    }

    #[test]
    fn a_ledger_entry_reads_back_what_the_records_said_of_each_alternative() {
        let asked = asked_text(&[
            Asked {
                event: "gpt-4o",
                quantity: Milli(1_000),
                metadata: r#"{"model":"gpt-4o","n":1.50}"#,
                denied: Vec::new(),
            },
            Asked {
                event: "o3",
                quantity: Milli(2_500),
                metadata: "",
                denied: vec![(String::new(), "unpriced_model")],
            },
            Asked {
                event: "gpt-4o-mini",
                quantity: Milli(1_000),
                metadata: "",
                denied: Vec::new(),
            },
        ]);
        let denials = r#"[{"i":"0","d":[["gpt","limit_reached"],["credits","insufficient_balance"]]}]"#;
        let all = ledger_alternatives(&asked, Some("2"), Some(denials)).unwrap();
        assert_eq!(all.chosen, Some(2));
        assert_eq!(all.list[0].metadata["n"].to_string(), "1.50");
        assert_eq!(all.list[1].quantity, Milli(2_500));
        let denied: Vec<(usize, usize)> = all.denied().map(|(i, a)| (i, a.denials.len())).collect();
        assert_eq!(denied, [(0, 2), (1, 1)]);
        // A denial of them all names no choice; an index past the list is no entry of ours.
        assert_eq!(ledger_alternatives(&asked, None, Some("{}")).unwrap().chosen, None);
        assert!(ledger_alternatives(&asked, Some("3"), None).is_none());
    }
}
