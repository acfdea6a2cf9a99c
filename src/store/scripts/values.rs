//! One hold as the scripts take it and as a reservation record keeps it, and the record
//! reserve.lua writes: encoded here, where the holds are at hand, so the script spends no Redis
//! time encoding JSON.

use super::call::Call;
use super::contract::{HOLD_FIELDS, OPTION_FIELDS, RECORD_VERSION};
use super::layouts;
use super::ReserveArgs;
use crate::json::Json;
use crate::quota::{Hold, Milli, Override, RunLimits, SliceHold};
use crate::store::layout::{push_value_field, value_field};
use crate::store::record;

/// One hold as the scripts take it (holds.lua's `HOLD_FIELDS` values, in this order, its options
/// packed into the last) and as a reservation record keeps it (the same values by their short
/// names, numbers as strings, defaults left out; the override is the subscription's, not the
/// record's). docs/book/src/reference/redis-layout.md documents the short names.
pub(super) struct HoldValues<'a> {
    group: &'a str,
    counter_field: String,
    period_start_ms: i64,
    /// "" for lifetime.
    period_end_ms: String,
    amount_milli: u64,
    quota_milli: u64,
    /// "hard", "soft", "approval" or an approval group's "a/<request id>", or a balance group's
    /// "b/<balance>/<overdraft>" (`record::balance_mode`).
    mode: std::borrow::Cow<'static, str>,
    unit_code: &'static str,
    /// The measure's JSON (`record::measure_json`), "" for the quantity.
    measure: String,
    thresholds: &'a str,
    /// The user's override: its quota and expiry, both "" for none.
    override_quota: String,
    override_expires: String,
    /// A per-value group's hold: its counter is its value's.
    per_value: bool,
    /// A hold that may clamp: holds.lua's mode "f/<least>/<curve>", the least amount it may
    /// take and what any amount covers (`Curve::encode`); the record keeps it hard, its amount
    /// a blank the script fills with what it held.
    fit: Option<String>,
    /// A hold on a slice: its mode "l/<version>", which the record keeps too (its `mode` is "").
    slice: Option<NumberedMode>,
    /// A hold on a slice that places a lease: its mode as the call passes it (the record keeps
    /// "l/<version>").
    placing: Option<String>,
}

impl<'a> HoldValues<'a> {
    pub(super) fn of(h: &Hold<'a>) -> HoldValues<'a> {
        match &h.slice {
            Some(slice) => HoldValues::on_slice(h, slice),
            None => HoldValues::own(
                h,
                value_field(h.group, h.value.as_deref(), &h.window),
                h.alerts,
                h.user_override,
            ),
        }
    }

    /// A hold on `counter_field`, with these thresholds and override (quota, expiry).
    fn own(
        h: &Hold<'a>,
        counter_field: String,
        thresholds: &'a str,
        user_override: Option<Override>,
    ) -> HoldValues<'a> {
        HoldValues {
            group: h.group,
            counter_field,
            per_value: h.value.is_some(),
            period_start_ms: h.window.start_ms,
            period_end_ms: h
                .window
                .end_ms
                .map(|ms| itoa::Buffer::new().format(ms).to_owned())
                .unwrap_or_default(),
            amount_milli: h.amount.0,
            quota_milli: h.quota.0,
            mode: match (h.balance, &h.approval) {
                (Some(b), _) => record::balance_mode(b).into(),
                // An approval group's mode names its request (holds.lua).
                (None, Some(id)) => format!("a/{id}").into(),
                (None, None) => h.mode.as_str().into(),
            },
            unit_code: record::unit_code(h.unit),
            measure: h.measure.as_deref().map(record::measure_json).unwrap_or_default(),
            fit: h.fit.as_ref().map(|fit| {
                let mut mode = format!("f/{}/", fit.least.0);
                fit.curve.encode(&mut mode);
                mode
            }),
            slice: None,
            thresholds,
            override_quota: user_override.map(|o| o.quota.0.to_string()).unwrap_or_default(),
            override_expires: user_override
                .and_then(|o| o.expires_at_ms)
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
            placing: None,
        }
    }

    /// A hold of an ancestor's group on the member's slice of it (slices.lua): its field is the
    /// slice's, "^<ancestor, base64url>^<group>@<period start>", its mode "l/<version>" (and the
    /// lease it places), with no thresholds (the ancestor's fire on its statements) and no
    /// override (the ancestor's is in its quota already).
    fn on_slice(h: &Hold<'a>, slice: &SliceHold<'_>) -> HoldValues<'a> {
        let ancestor = slice.ancestor.as_str();
        let mut field = String::with_capacity(slice_field_length(ancestor) + h.group.len() + 24);
        push_slice_prefix(&mut field, ancestor);
        push_value_field(&mut field, h.group, h.value.as_deref(), &h.window);
        let mut values = HoldValues::own(h, field, "", None);
        values.mode = "".into();
        values.slice = Some(NumberedMode::of("l/", slice.version));
        values.placing = slice.place.map(|p| {
            format!(
                "l/{}/{}/{}/{}/{}/{}/{}/{}/{}",
                slice.version,
                p.lease,
                p.amount.0,
                p.ends_ms,
                p.intent,
                p.seen.used.0,
                p.seen.held.0,
                p.seen.quota.0,
                p.stated
            )
        });
        values
    }

    /// The hold's arguments (`layouts::hold`), in the order it declares.
    pub(super) fn push(&self, inv: &mut Call) {
        use layouts::hold::{AMOUNT, FIELD, GROUP, OPTIONS, PERIOD_END, PERIOD_START, QUOTA};
        for at in 0..HOLD_FIELDS {
            match at {
                GROUP => inv.arg(self.group),
                FIELD => inv.arg(&self.counter_field),
                PERIOD_START => inv.arg(self.period_start_ms),
                PERIOD_END => inv.arg(&self.period_end_ms),
                AMOUNT => inv.arg(self.amount_milli),
                QUOTA => inv.arg(self.quota_milli),
                OPTIONS => match self.option_fields() {
                    Some(fields) => inv.arg_joined(&fields, b'|'),
                    None => inv.arg(""),
                },
                _ => unreachable!("layouts::hold declares {HOLD_FIELDS} values"),
            };
        }
    }

    /// Its mode as the record keeps it.
    fn mode(&self) -> &str {
        self.slice.as_ref().map_or(&self.mode, NumberedMode::as_str)
    }

    /// holds.lua's options as the call sends them: "" when every one is the default.
    #[cfg(test)]
    fn options(&self) -> String {
        self.option_fields().map(|f| f.join("|")).unwrap_or_default()
    }

    /// holds.lua's options: None when every one is the default, else its fields
    /// (`layouts::option`), which the call joins by "|", the measure last since it is JSON.
    fn option_fields(&self) -> Option<[&str; OPTION_FIELDS]> {
        use layouts::option::{MEASURE, MODE, OVERRIDE, OVERRIDE_EXPIRES, PER_VALUE, THRESHOLDS, UNIT};
        let mode = match (self.fit.as_deref().or(self.placing.as_deref()), self.mode()) {
            (Some(mode), _) => mode,
            (None, "hard") => "",
            (None, mode) => mode,
        };
        let mut fields = [""; OPTION_FIELDS];
        fields[MODE] = mode;
        fields[UNIT] = self.unit_code;
        fields[THRESHOLDS] = self.thresholds;
        fields[OVERRIDE] = &self.override_quota;
        fields[OVERRIDE_EXPIRES] = &self.override_expires;
        fields[PER_VALUE] = if self.per_value { "v" } else { "" };
        fields[MEASURE] = &self.measure;
        if fields.iter().all(|f| f.is_empty()) {
            return None;
        }
        Some(fields)
    }

    /// This hold's entry in the record as `record::encoded_hold` takes it: the texts `write`
    /// writes, and `h`'s measure and window end, which it writes from.
    pub(super) fn encoded<'s>(&'s self, h: &'s Hold<'_>) -> record::EncodedHold<'s> {
        record::EncodedHold {
            group: self.group,
            amount: Milli(self.amount_milli),
            quota: Milli(self.quota_milli),
            mode: self.mode(),
            unit_code: self.unit_code,
            counter_field: &self.counter_field,
            measure: h.measure.as_deref(),
            start_ms: self.period_start_ms,
            end_ms: h.window.end_ms,
        }
    }

    /// This hold's entry in the record.
    fn write(&self, json: &mut Json) {
        json.open_object();
        json.name("g").string(self.group);
        json.name("f").string(&self.counter_field);
        json.name("ps").integer_text(self.period_start_ms);
        json.name("pe").string(&self.period_end_ms);
        match self.fit {
            Some(_) => json.name("a").blank_integer_text(self.amount_milli),
            None => json.name("a").integer_text(self.amount_milli),
        }
        json.name("q").integer_text(self.quota_milli);
        // A per-value hold's value (escaped, as in its field), for the ledger entry of its commit.
        if self.per_value {
            if let Some(value) = self
                .counter_field
                .split_once('~')
                .and_then(|(_, rest)| rest.rsplit_once('@'))
            {
                json.name("v").string(value.0);
            }
        }
        for (name, value, default) in [
            ("m", self.mode(), "hard"),
            ("k", self.unit_code, ""),
            ("me", self.measure.as_str(), ""),
            ("t", self.thresholds, ""),
        ] {
            if value != default {
                json.name(name).string(value);
            }
        }
        json.close_object();
    }
}

/// The counter field of a member's slice of `ancestor`'s counter `field` (slices.lua): the
/// ancestor's id in base64url, which has no "^" (a user id may have any character).
pub(crate) fn slice_field(ancestor: &str, field: &str) -> String {
    let mut slice = String::with_capacity(slice_field_length(ancestor) + field.len());
    push_slice_prefix(&mut slice, ancestor);
    slice.push_str(field);
    slice
}

/// The length of a slice field's "^<ancestor, base64url>^".
fn slice_field_length(ancestor: &str) -> usize {
    2 + ancestor.len().div_ceil(3) * 4
}

fn push_slice_prefix(out: &mut String, ancestor: &str) {
    use base64::Engine;
    out.push('^');
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(ancestor, out);
    out.push('^');
}

/// A slice hold's mode with its number in it ("l/<version>"), made where it is kept: one
/// per hold, and a text of its own would cost an allocation each.
#[derive(Clone, Copy)]
struct NumberedMode {
    text: [u8; 24],
    len: u8,
}

impl NumberedMode {
    fn of(prefix: &'static str, number: u64) -> NumberedMode {
        let mut itoa = itoa::Buffer::new();
        let digits = itoa.format(number);
        let mut text = [0; 24];
        // Two bytes of prefix and at most 20 digits.
        debug_assert!(prefix.len() <= 4);
        let len = prefix.len() + digits.len();
        text[..prefix.len()].copy_from_slice(prefix.as_bytes());
        text[prefix.len()..len].copy_from_slice(digits.as_bytes());
        NumberedMode { text, len: len as u8 }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// A held reservation's record (see lua/library/modules/prelude.lua) but what only the script
/// knows: reserve.lua writes `{"s":"held","c":"<instant>","cr":"<now>","x":"<expires>",` in
/// front of it, then what credit holds took from grants ("w"), the leases slice holds were
/// placed on ("sl") and a step's holds drawn from its run ("rd"). It opens with a step's run
/// or a run's object, if any, then the encoding's version.
pub(super) fn record_rest(args: &ReserveArgs<'_>, holds: &[HoldValues<'_>]) -> Vec<u8> {
    record_rest_of(args, holds, None)
}

/// An alternative's own part of its record (alternatives.rs): its event, quantity and metadata
/// (in place of the call's), its index as asked ("ac") and every alternative asked ("al").
pub(super) struct AlternativeRecord<'a> {
    pub event: &'a str,
    pub quantity: crate::quota::Milli,
    pub metadata: &'a str,
    pub index: usize,
    pub asked: &'a str,
}

/// `record_rest`, of one `alternative` of a reserve of several when given.
pub(super) fn record_rest_of(
    args: &ReserveArgs<'_>,
    holds: &[HoldValues<'_>],
    alternative: Option<&AlternativeRecord<'_>>,
) -> Vec<u8> {
    let (event, quantity, metadata) = alternative.map_or((args.event, args.quantity, args.metadata), |a| {
        (a.event, a.quantity, a.metadata)
    });
    let mut json = Json::new();
    // A step names its run first, then a run's start its run object: reserve.lua tells both
    // by the record's opening "r" (lua/library/modules/runs.lua).
    if let Some(step) = args.step {
        json.name("ru").string(step.run_id.as_str());
        json.name("ra").string(&step.action);
        json.name("rk").string(step.kind.as_str());
    }
    if let Some(limits) = args.run {
        run_object(&mut json, limits);
    }
    json.name("v").string(RECORD_VERSION);
    json.name("e").string(event);
    // A call that may clamp leaves its quantity and its clamping holds' amounts blank: the
    // script fills them with what it granted and held (lua/library/modules/fits.lua).
    match holds.iter().any(|h| h.fit.is_some()) {
        true => json.name("qt").blank_integer_text(quantity.0),
        false => json.name("qt").integer_text(quantity.0),
    }
    if !metadata.is_empty() {
        json.name("md").string(metadata);
    }
    if !args.parent.is_empty() {
        json.name("p").string(args.parent);
    }
    // An attempt after the first of an original action names its chain: its commit counts
    // its fallback spend (lua/library/modules/fallbacks.lua).
    if let Some(fallback) = args.fallback {
        json.name("fc").string(fallback.chain);
    }
    // After the event: approvals.lua and count_denial read the record's first "e".
    if let Some(a) = alternative {
        json.name("ac").integer_text(a.index);
        json.name("al").string(a.asked);
    }
    json.name("h").open_array();
    for hold in holds {
        hold.write(&mut json);
    }
    json.close_array();
    json.close_object();
    json.into_bytes()
}

/// A new run's object (lua/library/modules/runs.lua): its limits, "<steps>|<attempts per action>|<fallbacks>|
/// <fallback share in millionths>", each "" for none.
fn run_object(json: &mut Json, limits: &RunLimits) {
    json.name("run").open_object();
    json.name("L").string(&crate::store::run_fields::encode_limits(limits));
    json.close_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Balance, Measure, Milli, Mode, Override, Unit, Window};

    #[test]
    fn the_record_reserve_writes_parses_back_into_its_holds() {
        let measure = Measure::Metadata("tokens".into());
        let rate = Measure::Rate(10_000_000);
        let balance = Balance {
            name: "credits".into(),
            overdraft: Milli(50_000),
            rollover: Some(Milli(5_000)),
        };
        let holds = [
            Hold {
                group: "per \"model\"",
                window: Window::fixed(1_000, None),
                amount: Milli(2_500),
                quota: Milli(u64::MAX >> 11),
                mode: Mode::Soft,
                balance: None,
                unit: Unit::Concurrent,
                measure: Some(std::borrow::Cow::Borrowed(&measure)),
                alerts: "80,100",
                user_override: Some(Override {
                    quota: Milli(7_000),
                    expires_at_ms: Some(9_000),
                }),
                approval: None,
                value: None,
                fit: None,
                slice: None,
            },
            Hold {
                group: "monthly",
                window: Window::fixed(1_000, Some(2_000)),
                amount: Milli(1_000),
                quota: Milli(5_000),
                mode: Mode::Approval,
                balance: None,
                unit: Unit::Count,
                measure: None,
                alerts: "",
                user_override: None,
                approval: Some("apr_0123456789abcdef01234567".into()),
                value: None,
                fit: None,
                slice: None,
            },
            Hold {
                group: "credits",
                window: Window::fixed(1_000, Some(2_000)),
                amount: Milli(10_000),
                quota: Milli::ZERO,
                mode: Mode::Hard,
                balance: Some(&balance),
                unit: Unit::Count,
                measure: Some(std::borrow::Cow::Borrowed(&rate)),
                alerts: "",
                user_override: None,
                approval: None,
                value: None,
                fit: None,
                slice: None,
            },
            Hold {
                group: "daily",
                window: Window::fixed(1_000, Some(2_000)),
                amount: Milli(1_000),
                quota: Milli(5_000),
                mode: Mode::Hard,
                balance: None,
                unit: Unit::Count,
                measure: None,
                alerts: "",
                user_override: None,
                approval: None,
                value: None,
                fit: None,
                slice: None,
            },
        ];
        let args = ReserveArgs {
            version: 3,
            reservation_id: "r_x",
            ttl_ms: 60_000,
            event: "image.\u{e9}",
            quantity: Milli(2_500),
            metadata: r#"{"model":"flux \"pro\"","n":12345678901234567890}"#,
            parent: "team",
            at: super::super::Decided { at_ms: 5, below: false },
            step: None,
            run: None,
            fallback: None,
            keep: false,
        };
        let values: Vec<HoldValues> = holds.iter().map(HoldValues::of).collect();
        let rest = String::from_utf8(record_rest(&args, &values)).unwrap();
        // As reserve.lua writes it: its own fields, then the rest.
        let json = format!(r#"{{"s":"held","c":"5","x":"9",{rest}"#);
        let r = record::parse(&json).unwrap();
        assert_eq!(
            (r.event.as_str(), r.parent.as_deref(), r.expires_ms),
            (args.event, Some("team"), 9)
        );
        // What it was for, the metadata's numbers to the digit.
        assert_eq!(r.quantity, Some(Milli(2_500)));
        let metadata = serde_json::to_string(&r.metadata.unwrap()).unwrap();
        assert_eq!(metadata, args.metadata);
        for (got, want) in r.holds.iter().zip(&holds) {
            assert_eq!(got.group, want.group);
            assert_eq!((got.amount, got.quota), (want.amount, want.quota));
            assert_eq!((got.mode, got.unit), (want.mode, want.unit));
            assert_eq!(
                got.measure,
                want.measure.as_deref().cloned().unwrap_or(Measure::Quantity)
            );
            assert_eq!(got.window, want.window);
            assert_eq!(got.balance.as_deref(), want.balance.map(|b| b.name.as_str()));
        }
        assert_eq!(r.holds.len(), 4);
        // Defaults are left out, as holds.lua leaves them out of the holds it records.
        assert!(!rest.contains(r#""m":"hard""#) && !rest.contains(r#""k":"""#));
        let no_parent = ReserveArgs {
            parent: "",
            metadata: "",
            ..args
        };
        let bare = String::from_utf8(record_rest(&no_parent, &[])).unwrap();
        assert!(!bare.contains(r#""p""#) && !bare.contains(r#""md""#));
        // The script's options: "" for the defaults, else six fields with the JSON last; the
        // override travels to the script but is no part of the record.
        assert_eq!(values[3].options(), "");
        assert_eq!(values[1].options(), "a/apr_0123456789abcdef01234567||||||");
        assert_eq!(values[0].options(), r#"soft|c|80,100|7000|9000||{"metadata":"tokens"}"#);
        assert!(!rest.contains("7000"));
        // A clamping hold's mode is "f/<least>/<curve>" to the script and hard in the record,
        // where its amount and the quantity are blanks the script fills; a slice hold's is
        // "l/<version>" to both, on the slice's field.
        let team = crate::quota::UserId::parse("team").unwrap();
        let fitting = Hold {
            fit: Some(crate::quota::fit::Fit {
                least: Milli(1_500),
                min: Milli(1),
                curve: Default::default(),
            }),
            ..holds[3].clone()
        };
        let on_slice = Hold {
            slice: Some(SliceHold {
                ancestor: &team,
                version: 12,
                place: None,
            }),
            ..holds[3].clone()
        };
        let (fitting, on_slice) = (HoldValues::of(&fitting), HoldValues::of(&on_slice));
        assert_eq!(
            (fitting.options(), fitting.mode()),
            ("f/1500/0,0,0,0||||||".to_string(), "hard")
        );
        let blanks = String::from_utf8(record_rest(&args, std::slice::from_ref(&fitting))).unwrap();
        assert!(
            blanks.contains("\"qt\":\"\u{1}") && blanks.contains("\"a\":\"\u{1}"),
            "{blanks}"
        );
        assert_eq!(
            (on_slice.options(), on_slice.mode()),
            ("l/12||||||".to_string(), "l/12")
        );
        assert_eq!(on_slice.counter_field, slice_field("team", &values[3].counter_field));
        let rest = String::from_utf8(record_rest(&args, &[on_slice])).unwrap();
        assert!(rest.contains(r#""m":"l/12""#), "{rest}");
    }
}
