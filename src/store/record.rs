//! The reservation record as the scripts store it in `qg:{p:u}:res` (see `lua/prelude.lua`):
//! JSON whose numbers are all strings, so cjson never formats one.

use serde::Deserialize;

use crate::quota::{Measure, Milli};

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// held, committed, released or expired.
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "e")]
    pub event: String,
    #[serde(rename = "x")]
    pub expires_ms: String,
    #[serde(rename = "h", default, deserialize_with = "holds_or_empty")]
    pub holds: Vec<RecordHold>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecordHold {
    /// Group id.
    pub g: String,
    /// Held milli-units.
    pub a: String,
    /// Quota milli-units when reserved.
    pub q: String,
    /// "soft", or absent for hard.
    #[serde(default)]
    pub m: String,
    /// "c" for an in-flight limit.
    #[serde(default)]
    pub k: String,
    /// The measure, as `Measure` JSON; absent for the quantity.
    #[serde(default)]
    pub me: String,
    pub ps: String,
    /// Period end ms, "" for lifetime.
    pub pe: String,
    /// Committed milli-units, once committed.
    #[serde(default)]
    pub n: Option<String>,
}

impl Record {
    pub fn parse(json: &str) -> Result<Record, String> {
        serde_json::from_str(json).map_err(|e| format!("reservation record: {e}"))
    }
}

impl RecordHold {
    pub fn amount(&self) -> Milli {
        Milli(self.a.parse().unwrap_or(0))
    }

    pub fn committed(&self) -> Option<Milli> {
        self.n.as_ref().and_then(|n| n.parse().ok()).map(Milli)
    }

    pub fn quota(&self) -> Milli {
        Milli(self.q.parse().unwrap_or(0))
    }

    /// The measure the hold was made under; holds without one counted the quantity.
    pub fn measure(&self) -> Measure {
        serde_json::from_str(&self.me).unwrap_or(Measure::Quantity)
    }

    pub fn period_start_ms(&self) -> Option<i64> {
        self.period_end_ms().and_then(|_| self.ps.parse().ok())
    }

    pub fn period_end_ms(&self) -> Option<i64> {
        self.pe.parse().ok()
    }
}

/// cjson writes an empty Lua table as `{}`, so an empty hold list may come back as an object.
fn holds_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RecordHold>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Array(_) => serde_json::from_value(value).map_err(serde::de::Error::custom),
        _ => Ok(Vec::new()),
    }
}
