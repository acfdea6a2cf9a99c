//! The record a plain reserve writes, kept by the node that encoded it: its commit on that node
//! then needs no read of it (`Granted::record`). Made from what the node sent, decoded as
//! `record::parse` decodes the record, and only where the script writes nothing else into it.

use super::values::HoldValues;
use super::ReserveArgs;
use crate::quota::{Hold, Reservation, ReservationState};
use crate::store::record;

/// The record a plain reserve of `holds` (their `values`) writes when it admits them whole,
/// as `record::parse` reads it back, made without writing or reading JSON: what the node
/// encoded (`values::record_rest`), and the state and expiry the script writes before it. Its
/// metadata is left to the caller, who has it as a map (the record's `md` is its canonical
/// JSON). None for a record the script writes more into than the node sent, or whose holds a
/// commit does not read from the record alone, each then read back from Redis:
/// - a step's or a run's start: runs.lua adds the holds it drew from the run ("rd") and keeps
///   the run's own part, which changes as its steps settle;
/// - an attempt after the first of an original action: fallbacks.lua keeps its chain ("fc"),
///   whose spend its commit counts, which a `Reservation` does not model;
/// - a level with a parent: the reserve at the parent's level may still deny and release it,
///   and a commit ends every level by its own record;
/// - holds on slices of an ancestor's group: slices.lua names the lease each was placed on
///   ("sl"), which only the script knows.
///
/// (The caller leaves out a reserve of several alternatives, whose record is the one the
/// script chose, a repeat, whose record is its first call's, and a hold that clamped, whose
/// amount fits.lua wrote.)
pub(super) fn recorded(
    args: &ReserveArgs<'_>,
    holds: &[Hold<'_>],
    values: &[HoldValues<'_>],
    expires_ms: i64,
) -> Option<Reservation> {
    let plain = args.step.is_none() && args.run.is_none() && args.fallback.is_none() && args.parent.is_empty();
    if !plain || holds.iter().any(|h| h.slice.is_some()) {
        return None;
    }
    let kept = holds
        .iter()
        .zip(values)
        .map(|(h, v)| record::encoded_hold(v.encoded(h)))
        .collect::<Option<Vec<_>>>()?;
    Some(Reservation {
        state: ReservationState::Held,
        event: args.event.to_owned(),
        expires_ms,
        quantity: Some(args.quantity),
        metadata: None,
        holds: kept,
        parent: None,
        created_ms: Some(args.at.at_ms),
        ended_ms: None,
        step: None,
        run: None,
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde_json::{json, Map, Value};

    use super::*;
    use crate::quota::price::{EventPrice, FoundPrice, ModelPrice, PriceOrigin};
    use crate::quota::price_tiers::{BatchPrice, LongContext};
    use crate::quota::{Balance, Measure, MeasureDoc, Milli, Mode, Override, RunLimits, Unit, UserId, Window};
    use crate::store::scripts::values::record_rest;
    use crate::store::scripts::{Decided, FallbackArgs};

    /// A catalog price with every field a price has set, batch prices and a tier included
    /// (written out whole, so a field added to prices is set here too), resolved for `rule`.
    fn priced(rule: &Measure) -> Measure {
        let price = ModelPrice {
            input: 150_000,
            cached_input: Some(75_000),
            cache_write: Some(187_500),
            output: 600_000,
            per_image: [("standard/1024x1024".to_string(), 40_000)].into(),
            audio_input: Some(10_000_000),
            audio_output: Some(20_000_000),
            per_second: Some(100_000),
            per_second_by_size: [("1280x720".to_string(), 500_000)].into(),
            per_minute: Some(6_000),
            per_million_characters: Some(15_000_000),
            long_context: Some(LongContext {
                over_input_tokens: 200_000,
                input: 300_000,
                cached_input: Some(150_000),
                cache_write: None,
                output: 1_200_000,
            }),
            batch: Some(BatchPrice {
                input: 75_000,
                output: 300_000,
            }),
        };
        let price = EventPrice {
            model: "gpt-4o-mini".into(),
            found: Some(FoundPrice {
                price,
                origin: PriceOrigin::Catalog("2026-11".into()),
            }),
            max_output_tokens: None,
        };
        rule.resolve(Some(&price)).unwrap().unwrap().into_owned()
    }

    fn measure(doc: Value) -> Measure {
        serde_json::from_value::<MeasureDoc>(doc).unwrap().to_measure().unwrap()
    }

    /// A hold of `group` with the defaults a plain hard group has.
    fn hold<'a>(group: &'a str, window: Window, measure: Option<&'a Measure>) -> Hold<'a> {
        Hold {
            group,
            window,
            amount: Milli(2_500),
            quota: Milli(1_000_000),
            mode: Mode::Hard,
            balance: None,
            unit: Unit::Count,
            measure: measure.map(Cow::Borrowed),
            alerts: "",
            user_override: None,
            approval: None,
            value: None,
            fit: None,
            slice: None,
        }
    }

    fn args<'a>(metadata: &'a str) -> ReserveArgs<'a> {
        ReserveArgs {
            version: 3,
            reservation_id: "r_u.x",
            ttl_ms: 60_000,
            event: "openai.chat",
            quantity: Milli(2_500),
            metadata,
            parent: "",
            at: Decided {
                at_ms: 1_764_000_000_000,
                below: false,
            },
            step: None,
            run: None,
            fallback: None,
            keep: true,
        }
    }

    /// What reserve.lua writes of a reserve that admitted every hold whole: its own fields
    /// (a balance hold's grants among them), then the node's record with fits.lua's blanks
    /// filled with what the node asked.
    fn written(args: &ReserveArgs<'_>, values: &[HoldValues<'_>], expires_ms: i64) -> String {
        let rest = String::from_utf8(record_rest(args, values))
            .unwrap()
            .replace('\u{1}', "");
        format!(
            r#"{{"s":"held","c":"{}","cr":"{}","x":"{expires_ms}","w":{{"3":"g_1:2500"}},{rest}"#,
            args.at.at_ms,
            args.at.at_ms + 1
        )
    }

    #[test]
    fn a_kept_record_is_the_one_the_store_reads_back_to_the_metadatas_digits() {
        let (window, month) = (Window::fixed(1_000, Some(2_000)), Window::fixed(1_000, None));
        let rolling = Window {
            start_ms: 1_000,
            end_ms: Some(61_000),
            buckets: 5,
        };
        let cents = priced(&measure(json!({ "price": "catalog", "markup": 1.25 })));
        let tokens = measure(json!({ "metadata": "output_tokens" }));
        let weights = measure(json!({ "weights": { "input_tokens": 0.25, "output_tokens": 1 } }));
        let rate = measure(json!({ "rate": 0.001 }));
        let balance = Balance {
            name: "credits".into(),
            overdraft: Milli(50_000),
            rollover: Some(Milli(5_000)),
        };
        let holds = [
            Hold {
                fit: Some(crate::quota::fit::Fit {
                    least: Milli(1_500),
                    min: Milli(1),
                    curve: Default::default(),
                }),
                unit: Unit::Tokens,
                ..hold("tokens", window, None)
            },
            hold("cents", window, Some(&cents)),
            Hold {
                mode: Mode::Soft,
                unit: Unit::Concurrent,
                alerts: "80,100",
                user_override: Some(Override {
                    quota: Milli(7_000),
                    expires_at_ms: Some(9_000),
                }),
                ..hold("output \"tokens\"", month, Some(&tokens))
            },
            Hold {
                mode: Mode::Approval,
                approval: Some("apr_0123456789abcdef01234567".into()),
                ..hold("weighed", window, Some(&weights))
            },
            Hold {
                balance: Some(&balance),
                ..hold("credits", window, Some(&rate))
            },
            Hold {
                value: Some("gpt \"4\"~@/x".into()),
                ..hold("per model", rolling, None)
            },
        ];
        let mut metadata = Map::new();
        for (k, v) in [
            ("model", json!("gpt-4o-mini \"2024\" \u{e9}")),
            ("n", serde_json::from_str::<Value>("12345678901234567890").unwrap()),
            ("half", serde_json::from_str::<Value>("0.50").unwrap()),
            ("small", json!(1e-7)),
            ("stream", json!(false)),
            ("extra", json!({ "a": [1, "b", null] })),
        ] {
            metadata.insert(k.into(), v);
        }
        let canonical = serde_json::to_string(&metadata).unwrap();
        let args = args(&canonical);
        let values: Vec<HoldValues> = holds.iter().map(HoldValues::of).collect();
        let mut kept = recorded(&args, &holds, &values, 1_764_000_060_000).unwrap();
        let read = record::parse(&written(&args, &values, 1_764_000_060_000)).unwrap();
        // The record keeps the map's canonical JSON, which reads back as the map itself.
        assert_eq!(read.metadata.as_ref(), Some(&metadata));
        kept.metadata = Some(metadata);
        assert_eq!(kept, read);
        // (What the record leaves out of a price: its batch prices.)
        assert!(matches!(&kept.holds[1].measure, Measure::Priced(p) if p.price.batch.is_none()));
        assert_eq!(kept.holds[5].value.as_deref(), Some("gpt \"4\"~@/x"));
        assert_eq!(
            (kept.holds[5].window.buckets, kept.holds[4].balance.as_deref()),
            (5, Some("credits"))
        );
    }

    #[test]
    fn a_record_the_script_writes_more_into_is_not_kept() {
        let window = Window::fixed(1_000, Some(2_000));
        let holds = [hold("g", window, None)];
        let values: Vec<HoldValues> = holds.iter().map(HoldValues::of).collect();
        assert!(recorded(&args(""), &holds, &values, 9).is_some());
        let team = UserId::parse("team").unwrap();
        let step = crate::quota::Step {
            run_id: crate::quota::ReservationId::new_run(&UserId::parse("u").unwrap(), &[7; 16]),
            action: String::new(),
            kind: Default::default(),
        };
        let limits = RunLimits::default();
        let fallback = FallbackArgs {
            chain: "call",
            caps: Vec::new(),
        };
        for excluded in [
            ReserveArgs {
                parent: "team",
                ..args("")
            },
            ReserveArgs {
                step: Some(&step),
                ..args("")
            },
            ReserveArgs {
                run: Some(&limits),
                ..args("")
            },
            ReserveArgs {
                fallback: Some(&fallback),
                ..args("")
            },
        ] {
            assert!(recorded(&excluded, &holds, &values, 9).is_none());
        }
        let on_slice = [Hold {
            slice: Some(crate::quota::SliceHold {
                ancestor: &team,
                version: 12,
                place: None,
            }),
            ..hold("g", window, None)
        }];
        let values: Vec<HoldValues> = on_slice.iter().map(HoldValues::of).collect();
        assert!(recorded(&args(""), &on_slice, &values, 9).is_none());
    }
}
