//! One hold as the scripts take it and as a reservation record keeps it, and the record
//! reserve.lua writes: encoded here, where the holds are at hand, so the script spends no Redis
//! time encoding JSON.

use serde::{Serialize, Serializer};

use super::call::Call;
use super::ReserveArgs;
use crate::quota::Hold;
use crate::store::keys::counter_field;
use crate::store::record;

/// One hold as the scripts take it (holds.lua's 10 values, in this order) and as a reservation
/// record keeps it (the same values by name, numbers as strings, defaults left out).
#[derive(Serialize)]
pub(super) struct HoldValues<'a> {
    g: &'a str,
    f: String,
    #[serde(serialize_with = "as_text")]
    ps: i64,
    /// "" for lifetime.
    pe: String,
    #[serde(serialize_with = "as_text")]
    a: u64,
    #[serde(serialize_with = "as_text")]
    q: u64,
    #[serde(skip_serializing_if = "is_hard")]
    m: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    k: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    me: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    t: &'a str,
}

fn as_text<S: Serializer, N: std::fmt::Display>(n: &N, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

fn is_hard(mode: &&str) -> bool {
    *mode == "hard"
}

impl<'a> HoldValues<'a> {
    pub(super) fn of(h: &Hold<'a>) -> HoldValues<'a> {
        HoldValues {
            g: h.group,
            f: counter_field(h.group, &h.window),
            ps: h.window.start_ms,
            pe: h.window.end_ms.map(|ms| ms.to_string()).unwrap_or_default(),
            a: h.amount.0,
            q: h.quota.0,
            m: h.mode.as_str(),
            k: record::unit_code(h.unit),
            me: h
                .measure
                .map(|m| serde_json::to_string(m).unwrap_or_default())
                .unwrap_or_default(),
            t: h.alerts,
        }
    }

    pub(super) fn push(&self, inv: &mut Call) {
        inv.arg(self.g)
            .arg(&self.f)
            .arg(self.ps)
            .arg(&self.pe)
            .arg(self.a)
            .arg(self.q)
            .arg(self.m)
            .arg(self.k)
            .arg(&self.me)
            .arg(self.t);
    }
}

/// A held reservation's record (see lua/prelude.lua) but its opening and its times, which only
/// Redis knows: reserve.lua writes `{"s":"held","c":"<now>","x":"<expires>",` in front.
#[derive(Serialize)]
struct RecordRest<'a> {
    e: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    p: &'a str,
    h: Vec<HoldValues<'a>>,
}

pub(super) fn record_json(args: &ReserveArgs<'_>, holds: Vec<HoldValues<'_>>) -> String {
    let rest = RecordRest {
        e: args.event,
        p: args.parent,
        h: holds,
    };
    serde_json::to_string(&rest).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Measure, Milli, Mode, Unit, Window};

    #[test]
    fn the_record_reserve_writes_parses_back_into_its_holds() {
        let measure = Measure::Metadata("tokens".into());
        let holds = [
            Hold {
                group: "per \"model\"",
                window: Window {
                    start_ms: 1_000,
                    end_ms: None,
                },
                amount: Milli(2_500),
                quota: Milli(u64::MAX >> 11),
                mode: Mode::Soft,
                unit: Unit::Concurrent,
                measure: Some(&measure),
                alerts: "80,100",
            },
            Hold {
                group: "monthly",
                window: Window {
                    start_ms: 1_000,
                    end_ms: Some(2_000),
                },
                amount: Milli(1_000),
                quota: Milli(5_000),
                mode: Mode::Hard,
                unit: Unit::Count,
                measure: None,
                alerts: "",
            },
        ];
        let args = ReserveArgs {
            version: 3,
            reservation_id: "r_x",
            ttl_ms: 60_000,
            event: "image.\u{e9}",
            parent: "team",
        };
        let rest = record_json(&args, holds.iter().map(HoldValues::of).collect());
        // As reserve.lua writes it: its own fields, then the rest without the opening brace.
        let json = format!(r#"{{"s":"held","c":"5","x":"9",{}"#, &rest[1..]);
        let r = record::parse(&json).unwrap();
        assert_eq!(
            (r.event.as_str(), r.parent.as_deref(), r.expires_ms),
            (args.event, Some("team"), 9)
        );
        for (got, want) in r.holds.iter().zip(&holds) {
            assert_eq!(got.group, want.group);
            assert_eq!((got.amount, got.quota), (want.amount, want.quota));
            assert_eq!((got.mode, got.unit), (want.mode, want.unit));
            assert_eq!(got.measure, want.measure.cloned().unwrap_or(Measure::Quantity));
            assert_eq!(got.window, want.window);
        }
        assert_eq!(r.holds.len(), 2);
        // Defaults are left out, as holds.lua leaves them out of the holds it records.
        assert!(!rest.contains(r#""m":"hard""#) && !rest.contains(r#""k":"""#));
        let no_parent = ReserveArgs { parent: "", ..args };
        assert!(!record_json(&no_parent, Vec::new()).contains(r#""p""#));
    }
}
