//! The reservation record as the scripts store it in `qg:{p:u}:res` (see `lua/library/modules/prelude.lua`):
//! JSON whose numbers are all strings, so cjson never formats one. Parsed here into the typed
//! `Reservation`; a field that does not parse is an error, never a silent zero.

use serde::Deserialize;

use super::scripts::contract::RECORD_VERSION;
use super::StoreError;
use std::collections::BTreeMap;

use crate::quota::reservation::StepOf;
use crate::quota::{
    Balance, Measure, MeasureDoc, Milli, Mode, Reservation, ReservationHold, ReservationState, RunRecord, StepKind,
    Unit, Window,
};

#[derive(Deserialize)]
struct Record {
    /// The encoding: absent for version 1, else `RECORD_VERSION`.
    #[serde(default, rename = "v")]
    version: Option<String>,
    /// held, committed or released (a held record no longer open has expired).
    #[serde(rename = "s")]
    state: String,
    #[serde(rename = "e")]
    event: String,
    #[serde(rename = "x")]
    expires_ms: String,
    /// The quantity reserved, milli-units (absent in records written before it was kept).
    #[serde(default, rename = "qt")]
    quantity_milli: Option<String>,
    /// The event's metadata as canonical JSON (absent when it had none).
    #[serde(default, rename = "md")]
    metadata: Option<String>,
    #[serde(default, rename = "h", deserialize_with = "list_or_empty")]
    holds: Vec<RecordHold>,
    /// "1" when it was released after it had expired.
    #[serde(default, rename = "rx")]
    released_expired: String,
    /// The next level up (a parent's id), whose own record under the same id holds there.
    #[serde(default, rename = "p")]
    parent: Option<String>,
    /// Created and ended ms.
    #[serde(default, rename = "c")]
    created_ms: Option<String>,
    #[serde(default, rename = "t")]
    ended_ms: Option<String>,
    /// A step's (or child run's) run, action and kind (lua/library/modules/runs.lua).
    #[serde(default, rename = "ru")]
    run_of: Option<String>,
    #[serde(default, rename = "ra")]
    action: Option<String>,
    #[serde(default, rename = "rk")]
    kind: Option<String>,
    /// A run's own object.
    #[serde(default)]
    run: Option<RunDoc>,
}

/// A run's object as lua/library/modules/runs.lua keeps it, numbers as strings: its limits from its start;
/// the rest once it ended (while it is open its fields say it, `run_fields::parse_fields`).
#[derive(Deserialize)]
struct RunDoc {
    #[serde(default, rename = "L")]
    limits: String,
    #[serde(default, rename = "u", deserialize_with = "map_or_empty")]
    used: BTreeMap<String, String>,
    #[serde(default, rename = "o", deserialize_with = "map_or_empty")]
    open: BTreeMap<String, String>,
    #[serde(default, rename = "fu", deserialize_with = "map_or_empty")]
    fallback_spent: BTreeMap<String, String>,
    #[serde(default, rename = "A", deserialize_with = "map_or_empty")]
    attempts: BTreeMap<String, String>,
    #[serde(default, rename = "n")]
    steps: Option<String>,
    #[serde(default, rename = "f")]
    fallbacks: Option<String>,
    #[serde(default, rename = "ch", deserialize_with = "list_or_empty")]
    children: Vec<String>,
    /// When its expiry settled it.
    #[serde(default, rename = "t")]
    expired_ms: Option<String>,
}

impl RunDoc {
    fn parse(self) -> Result<RunRecord, StoreError> {
        let amounts = |what: &str, map: BTreeMap<String, String>| {
            map.into_iter()
                .map(|(g, v)| Ok((g, Milli(number(what, &v)?))))
                .collect::<Result<BTreeMap<_, _>, StoreError>>()
        };
        let count = |what: &str, v: Option<String>| v.map_or(Ok(0), |v| number(what, &v));
        Ok(RunRecord {
            limits: super::run_fields::decode_limits(&self.limits).ok_or_else(|| bad("run limits", &self.limits))?,
            used: amounts("run used", self.used)?,
            open: amounts("run open", self.open)?,
            fallback_spent: amounts("run fallback spend", self.fallback_spent)?,
            steps: count("run steps", self.steps)?,
            fallbacks: count("run fallbacks", self.fallbacks)?,
            attempts: self
                .attempts
                .into_iter()
                .map(|(a, v)| Ok((a, number("run attempts", &v)?)))
                .collect::<Result<_, StoreError>>()?,
            children: self.children,
            expired_ms: self
                .expired_ms
                .as_deref()
                .map(|t| number("run expiry", t))
                .transpose()?,
        })
    }
}

#[derive(Deserialize)]
struct RecordHold {
    #[serde(rename = "g")]
    group: String,
    #[serde(rename = "a")]
    amount_milli: String,
    /// The plan's quota when reserved.
    #[serde(rename = "q")]
    quota_milli: String,
    /// "soft", or absent for hard.
    #[serde(default, rename = "m")]
    mode: String,
    /// The unit's code (`unit_code`).
    #[serde(default, rename = "k")]
    unit_code: String,
    /// The measure as JSON (`measure_json`); absent for the quantity.
    #[serde(default, rename = "me")]
    measure: String,
    #[serde(rename = "ps")]
    period_start_ms: String,
    /// "" for lifetime.
    #[serde(rename = "pe")]
    period_end_ms: String,
    /// Committed milli-units, once committed.
    #[serde(default, rename = "n")]
    committed_milli: Option<String>,
    /// The counter field (`layout::value_field`): a per-value group's names its value.
    #[serde(default, rename = "f")]
    counter_field: String,
}

/// A hold's measure as a record keeps it: the plan document's own form
/// (`{"metadata":"<key>"}` or `{"weights":{"<key>":0.00025}}`), "" for the quantity.
pub(crate) fn measure_json(measure: &Measure) -> String {
    measure
        .to_doc()
        .and_then(|doc| serde_json::to_string(&doc).ok())
        .unwrap_or_default()
}

/// A hold's measure as `measure_json` wrote it, or as version 1 did (`{"Metadata":"<key>"}`,
/// `{"Weights":[["<key>",<millionths>]]}`).
fn measure_of(version: u8, json: &str) -> Result<Measure, StoreError> {
    if json.is_empty() {
        return Ok(Measure::Quantity);
    }
    let measure = if version == 1 {
        #[derive(Deserialize)]
        enum First {
            Quantity,
            Metadata(String),
            Weights(Vec<(String, u64)>),
        }
        serde_json::from_str(json).ok().map(|first| match first {
            First::Quantity => Measure::Quantity,
            First::Metadata(key) => Measure::Metadata(key),
            First::Weights(weights) => Measure::Weights(weights),
        })
    } else {
        serde_json::from_str::<MeasureDoc>(json)
            .ok()
            .and_then(|doc| doc.to_measure().ok())
    };
    measure.ok_or_else(|| bad("measure", json))
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Protocol(format!("reservation record: {what} {value:?} is not valid").into())
}

fn number<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| bad(what, value))
}

/// The record's JSON as a `Reservation`.
pub(crate) fn parse(json: &str) -> Result<Reservation, StoreError> {
    let record: Record =
        serde_json::from_str(json).map_err(|e| StoreError::Protocol(format!("reservation record: {e}").into()))?;
    let version = match record.version.as_deref() {
        None => 1,
        Some(RECORD_VERSION) => 2,
        Some(other) => return Err(bad("encoding version", other)),
    };
    let holds = record
        .holds
        .into_iter()
        .map(|h| hold(version, h))
        .collect::<Result<_, _>>()?;
    let state = match (ReservationState::parse(&record.state), record.released_expired.as_str()) {
        // Released by a caller after it had expired: to readers it stays expired.
        (Some(ReservationState::Released), "1") => ReservationState::Expired,
        (Some(state), _) => state,
        (None, _) => return Err(bad("state", &record.state)),
    };
    let metadata = match record.metadata.as_deref() {
        None | Some("") => None,
        Some(json) => Some(serde_json::from_str(json).map_err(|_| bad("metadata", json))?),
    };
    Ok(Reservation {
        state,
        event: record.event,
        expires_ms: number("expiry", &record.expires_ms)?,
        quantity: record
            .quantity_milli
            .as_deref()
            .map(|q| number("quantity", q).map(Milli))
            .transpose()?,
        metadata,
        holds,
        parent: record.parent,
        created_ms: record
            .created_ms
            .as_deref()
            .map(|c| number("creation", c))
            .transpose()?,
        ended_ms: record.ended_ms.as_deref().map(|t| number("end", t)).transpose()?,
        step: match record.run_of {
            Some(run) => Some(StepOf {
                run,
                action: record.action.unwrap_or_default(),
                kind: record
                    .kind
                    .as_deref()
                    .map(|k| StepKind::parse(k).ok_or_else(|| bad("step kind", k)))
                    .transpose()?
                    .unwrap_or_default(),
            }),
            None => None,
        },
        run: record.run.map(RunDoc::parse).transpose()?,
    })
}

/// A hold's unit as the scripts keep it (`k`): left out for count, "c" for in-flight limits
/// (the scripts test for it), else the unit's name.
pub(crate) fn unit_code(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "",
        Unit::Concurrent => "c",
        other => other.as_str(),
    }
}

pub(crate) fn unit_of_code(code: &str) -> Option<Unit> {
    match code {
        "" => Some(Unit::Count),
        "c" => Some(Unit::Concurrent),
        "count" | "concurrent" => None,
        name => Unit::parse(name),
    }
}

/// A hold's mode as a record writes it (`m`): an approval group's names its request
/// ("a/<id>"), a balance group's its balance (`balance_mode`).
fn mode_of(text: &str) -> Result<Mode, StoreError> {
    Ok(match text {
        "soft" => Mode::Soft,
        "" | "hard" => Mode::Hard,
        "approval" => Mode::Approval,
        other if other.starts_with("a/") => Mode::Approval,
        other if balance_of(other).is_some() => Mode::Hard,
        // A hold of an ancestor's group on the member's slice of it, "l/<version>".
        other if other.starts_with("l/") => Mode::Hard,
        other => return Err(bad("mode", other)),
    })
}

fn hold(version: u8, h: RecordHold) -> Result<ReservationHold, StoreError> {
    Ok(ReservationHold {
        amount: Milli(number("amount", &h.amount_milli)?),
        quota: Milli(number("quota", &h.quota_milli)?),
        mode: mode_of(&h.mode)?,
        balance: balance_of(&h.mode).map(str::to_owned),
        unit: unit_of_code(&h.unit_code).ok_or_else(|| bad("unit", &h.unit_code))?,
        measure: measure_of(version, &h.measure)?,
        window: Window {
            start_ms: number("period start", &h.period_start_ms)?,
            end_ms: match h.period_end_ms.as_str() {
                "" => None,
                end => Some(number("period end", end)?),
            },
            buckets: super::layout::rolling_buckets(&h.counter_field),
        },
        committed: h
            .committed_milli
            .as_deref()
            .map(|n| number("committed", n).map(Milli))
            .transpose()?,
        value: super::layout::value_in_field(&h.counter_field),
        ancestor: slice_ancestor(&h.counter_field),
        group: h.group,
    })
}

/// One hold as the node encodes it into a record (`scripts/values.rs`), before the script
/// writes it.
pub(crate) struct EncodedHold<'a> {
    pub group: &'a str,
    pub amount: Milli,
    pub quota: Milli,
    /// Its `m` ("hard" for the default), `k` and `f`.
    pub mode: &'a str,
    pub unit_code: &'a str,
    pub counter_field: &'a str,
    /// Its measure (None: the quantity), whose JSON is its `me`.
    pub measure: Option<&'a Measure>,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

/// The hold `parse` reads back from a record the node encoded `encoded` into, without its
/// JSON: each text decoded as `hold` decodes it, the measure as its encoding keeps it
/// (`recorded_measure`). None where `parse` would refuse it.
pub(crate) fn encoded_hold(encoded: EncodedHold<'_>) -> Option<ReservationHold> {
    let field = encoded.counter_field;
    Some(ReservationHold {
        group: encoded.group.to_owned(),
        amount: encoded.amount,
        quota: encoded.quota,
        mode: mode_of(encoded.mode).ok()?,
        balance: balance_of(encoded.mode).map(str::to_owned),
        unit: unit_of_code(encoded.unit_code)?,
        measure: encoded.measure.map_or(Measure::Quantity, recorded_measure),
        window: Window {
            start_ms: encoded.start_ms,
            end_ms: encoded.end_ms,
            buckets: super::layout::rolling_buckets(field),
        },
        committed: None,
        value: super::layout::value_in_field(field),
        ancestor: slice_ancestor(field),
    })
}

/// `measure` as a record's encoding keeps it (`measure_json`, read back by `measure_of`): a
/// resolved price without the model's batch prices, which a record leaves out (a commit
/// priced as another model reads them from the catalog again).
fn recorded_measure(measure: &Measure) -> Measure {
    match measure {
        Measure::Priced(priced) if priced.price.batch.is_some() => {
            let mut kept = priced.clone();
            kept.price.batch = None;
            Measure::Priced(kept)
        }
        other => other.clone(),
    }
}

/// The ancestor of a hold on a slice, whose counter field is "^<ancestor, base64url>^<field>"
/// (lua/library/modules/slices.lua); None for any other hold.
fn slice_ancestor(field: &str) -> Option<String> {
    use base64::Engine;
    let (encoded, _) = field.strip_prefix('^')?.split_once('^')?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).ok()?;
    String::from_utf8(bytes).ok()
}

/// A balance group's mode as holds and records write it, "b/<balance>/<overdraft milli>/
/// <rollover max milli, "" for none>" (lua/library/modules/holds.lua): its balance.
pub(crate) fn balance_of(mode: &str) -> Option<&str> {
    let mut parts = mode.strip_prefix("b/")?.split('/');
    let (name, overdraft, rollover) = (parts.next()?, parts.next()?, parts.next()?);
    let numbers = overdraft.parse::<u64>().is_ok() && (rollover.is_empty() || rollover.parse::<u64>().is_ok());
    (parts.next().is_none() && numbers).then_some(name)
}

/// A balance group's mode as holds and records write it (`balance_of` reads it back).
pub(crate) fn balance_mode(b: &Balance) -> String {
    let rollover = b.rollover.map(|r| r.0.to_string()).unwrap_or_default();
    format!("b/{}/{}/{rollover}", b.name, b.overdraft.0)
}

/// cjson writes an empty Lua table as `{}`, and an object whose keys all look like list
/// indices could come back otherwise: read anything but an object as an empty map.
fn map_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Object(_) => serde_json::from_value(value).map_err(serde::de::Error::custom),
        _ => Ok(BTreeMap::new()),
    }
}

/// cjson writes an empty Lua table as `{}`, so an empty list (holds, attempts, event types) may
/// come back as an object: read it as an empty list.
pub(super) fn list_or_empty<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Array(_) => serde_json::from_value(value).map_err(serde::de::Error::custom),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_parses_into_typed_holds_and_refuses_bad_numbers() {
        let json = r#"{"s":"held","e":"x","x":"1000","h":[{"g":"g","a":"5","q":"9","k":"c","ps":"0","pe":""}]}"#;
        let r = parse(json).unwrap();
        assert_eq!(r.state, ReservationState::Held);
        assert_eq!(r.holds[0].unit, Unit::Concurrent);
        assert_eq!(r.holds[0].amount, Milli(5));
        assert_eq!(r.holds[0].window.end_ms, None);
        assert!(parse(&json.replace(r#""a":"5""#, r#""a":"five""#)).is_err());
        assert!(parse(&json.replace(r#""s":"held""#, r#""s":"gone""#)).is_err());
        assert!(parse(r#"{"s":"released","e":"x","x":"1","h":{}}"#)
            .unwrap()
            .holds
            .is_empty());
    }

    #[test]
    fn both_encodings_read_and_an_unknown_one_is_refused() {
        let tokens = Measure::Metadata("tokens".into());
        // As a plan's document gives them: by key.
        let weights = Measure::Weights(vec![("completion_tokens".into(), 1_000), ("prompt_tokens".into(), 250)]);
        let record = |version: &str, measure: &str| {
            let measure = serde_json::to_string(measure).unwrap();
            format!(
                r#"{{{version}"s":"held","e":"x","x":"9","h":[{{"g":"g","a":"1","q":"2","me":{measure},"ps":"0","pe":""}}]}}"#
            )
        };
        for m in [&tokens, &weights] {
            let now = parse(&record(r#""v":"2","#, &measure_json(m))).unwrap();
            assert_eq!(&now.holds[0].measure, m);
            // The encoding names no Rust type.
            assert!(!measure_json(m).contains("Metadata") && !measure_json(m).contains("Weights"));
        }
        assert_eq!(
            measure_json(&weights),
            r#"{"weights":{"completion_tokens":0.001,"prompt_tokens":0.00025}}"#
        );
        // Version 1 wrote the measure by its Rust names.
        let first = parse(&record(
            "",
            r#"{"Weights":[["completion_tokens",1000],["prompt_tokens",250]]}"#,
        ))
        .unwrap();
        assert_eq!(first.holds[0].measure, weights);
        let first = parse(&record("", r#"{"Metadata":"tokens"}"#)).unwrap();
        assert_eq!(first.holds[0].measure, tokens);
        assert!(parse(&record(r#""v":"3","#, "")).is_err());
        assert!(parse(&record(r#""v":"2","#, r#"{"Metadata":"tokens"}"#)).is_err());
    }
}
