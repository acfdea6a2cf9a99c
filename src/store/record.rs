//! The reservation record as the scripts store it in `qg:{p:u}:res` (see `lua/prelude.lua`):
//! JSON whose numbers are all strings, so cjson never formats one. Parsed here into the typed
//! `Reservation`; a field that does not parse is an error, never a silent zero.

use serde::Deserialize;

use super::StoreError;
use crate::quota::{Measure, Milli, Mode, Reservation, ReservationHold, ReservationState, Unit, Window};

#[derive(Deserialize)]
struct Record {
    /// held, committed, released or expired.
    s: String,
    e: String,
    /// Expiry ms.
    x: String,
    #[serde(default, deserialize_with = "list_or_empty")]
    h: Vec<RecordHold>,
    /// "1" when it was released after it had expired.
    #[serde(default)]
    rx: String,
    /// The next level up (a parent's id), whose own record under the same id holds there.
    #[serde(default)]
    p: Option<String>,
}

#[derive(Deserialize)]
struct RecordHold {
    /// Group id.
    g: String,
    /// Held milli-units.
    a: String,
    /// Quota milli-units when reserved.
    q: String,
    /// "soft", or absent for hard.
    #[serde(default)]
    m: String,
    /// The unit's code: absent for count, "c" for an in-flight limit, else the unit's name.
    #[serde(default)]
    k: String,
    /// The measure, as `Measure` JSON; absent for the quantity.
    #[serde(default)]
    me: String,
    /// Period start ms.
    ps: String,
    /// Period end ms, "" for lifetime.
    pe: String,
    /// Committed milli-units, once committed.
    #[serde(default)]
    n: Option<String>,
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Protocol(format!("reservation record: {what} {value:?} is not valid"))
}

fn number<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| bad(what, value))
}

/// The record's JSON as a `Reservation`.
pub fn parse(json: &str) -> Result<Reservation, StoreError> {
    let record: Record =
        serde_json::from_str(json).map_err(|e| StoreError::Protocol(format!("reservation record: {e}")))?;
    let holds = record.h.into_iter().map(hold).collect::<Result<_, _>>()?;
    let state = match (ReservationState::parse(&record.s), record.rx.as_str()) {
        // Released by a caller after it had expired: to readers it stays expired.
        (Some(ReservationState::Released), "1") => ReservationState::Expired,
        (Some(state), _) => state,
        (None, _) => return Err(bad("state", &record.s)),
    };
    Ok(Reservation {
        state,
        event: record.e,
        expires_ms: number("expiry", &record.x)?,
        holds,
        parent: record.p,
    })
}

/// A hold's unit as the scripts keep it (`k`): left out for count, "c" for in-flight limits
/// (the scripts test for it), else the unit's name.
pub fn unit_code(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "",
        Unit::Concurrent => "c",
        other => other.as_str(),
    }
}

pub fn unit_of_code(code: &str) -> Option<Unit> {
    match code {
        "" => Some(Unit::Count),
        "c" => Some(Unit::Concurrent),
        "count" | "concurrent" => None,
        name => Unit::parse(name),
    }
}

fn hold(h: RecordHold) -> Result<ReservationHold, StoreError> {
    Ok(ReservationHold {
        amount: Milli(number("amount", &h.a)?),
        quota: Milli(number("quota", &h.q)?),
        mode: match h.m.as_str() {
            "soft" => Mode::Soft,
            "" | "hard" => Mode::Hard,
            other => return Err(bad("mode", other)),
        },
        unit: unit_of_code(&h.k).ok_or_else(|| bad("unit", &h.k))?,
        measure: match h.me.as_str() {
            "" => Measure::Quantity,
            json => serde_json::from_str(json).map_err(|_| bad("measure", json))?,
        },
        window: Window {
            start_ms: number("period start", &h.ps)?,
            end_ms: match h.pe.as_str() {
                "" => None,
                end => Some(number("period end", end)?),
            },
        },
        committed: h.n.as_deref().map(|n| number("committed", n).map(Milli)).transpose()?,
        group: h.g,
    })
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
}
