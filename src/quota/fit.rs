//! Holds that fit: a hold that does not fit whole may take what is left of its group, and the
//! call is granted what that covers. What shrinks is the call's output when its metadata
//! names `output_tokens` (an LLM call gets a shorter answer), else its quantity. The scripts
//! clamp the amount; this works out, per group, the least amount to accept and the most the
//! clamped amount covers, from the group's own measure.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::amount::Milli;
use super::curve::{Curve, Line};
use super::event::EventInput;
use super::measure::Measure;
use super::plan_check::GroupCheck;
use super::plan_kinds::{Mode, Unit};
use super::price::{AUDIO_OUTPUT, OUTPUT};

/// A group's `fit` and `minFit`: None when a hold must fit whole, else the least a clamped
/// call may be granted (1 unit by default). Only a hard group that counts usage clamps.
pub(super) fn min_fit(check: &mut GroupCheck, balance: bool, mode: Mode, unit: Unit) -> Option<Milli> {
    let g = check.doc;
    match g.fit.as_deref() {
        None | Some("whole") => {
            if g.min_fit.is_some() {
                check.problem("minFit", "goes with fit \"clamp\"");
            }
            None
        }
        Some("clamp") => {
            if balance || mode != Mode::Hard || unit == Unit::Concurrent {
                check.problem(
                    "fit",
                    "can clamp only a hard group that counts usage (not a balance, soft, approval or concurrent group)",
                );
            }
            match g.min_fit {
                Some(Milli(0)) => {
                    check.problem("minFit", "must be above 0");
                    None
                }
                Some(min) => Some(min),
                None => Some(Milli::from_units(1)),
            }
        }
        Some(_) => {
            check.problem("fit", "must be \"clamp\" or \"whole\"");
            None
        }
    }
}

/// What a clamped call was granted: its quantity, and its output in whole tokens when the
/// output is what shrank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fitted {
    pub quantity: Milli,
    pub output_tokens: Option<u64>,
}

/// What a clamp shrinks of an event: its output tokens, or its quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elastic {
    Output,
    Quantity,
}

/// One milli-unit is a whole token.
const TOKEN: u64 = 1_000;

fn elastic(input: &EventInput) -> (Elastic, Milli) {
    match input
        .metadata
        .get(OUTPUT)
        .and_then(Value::as_number)
        .and_then(|n| Milli::of_number(n).ok())
    {
        Some(output) => (Elastic::Output, output),
        None => (Elastic::Quantity, input.quantity),
    }
}

/// The event's quantity and metadata had it been asked for `x` of its elastic part (at most
/// what it asked): a smaller output lowers the quantity by as much when the quantity counts
/// the output (a text call's quantity is its input plus its output), and its reasoning.
fn shrunk(input: &EventInput, x: Milli) -> (Milli, Cow<'_, Map<String, Value>>) {
    match elastic(input) {
        (Elastic::Quantity, _) => (x, Cow::Borrowed(&input.metadata)),
        (Elastic::Output, full) => {
            let cut = full.saturating_sub(x);
            let quantity = match input.quantity.0 >= full.0 {
                true => input.quantity.saturating_sub(cut),
                false => input.quantity,
            };
            let mut metadata = input.metadata.clone();
            metadata.insert(OUTPUT.into(), whole(x));
            if let Some(reasoning) = metadata.get("reasoning_tokens").and_then(|v| v.as_u64()) {
                metadata.insert("reasoning_tokens".into(), Value::from(reasoning.min(x.0 / TOKEN)));
            }
            (quantity, Cow::Owned(metadata))
        }
    }
}

fn whole(x: Milli) -> Value {
    Value::from(x.0 / TOKEN)
}

/// The elastic part's least acceptable size: the asked `min` (whole units), at most all of it.
fn least(input: &EventInput, min: Milli) -> Milli {
    let (_, full) = elastic(input);
    Milli(min.0.min(full.0))
}

/// The amount `measure` gives the event shrunk to `x`.
fn amount_at(measure: &Measure, input: &EventInput, x: Milli) -> Option<Milli> {
    let (quantity, metadata) = shrunk(input, x);
    measure.amount(quantity, &metadata).ok()
}

/// The least amount a clamped hold of `measure` may take: what the event shrunk to `min` of
/// its elastic part measures. None when the event cannot shrink (it asks no more than `min`).
pub(crate) fn least_amount(measure: &Measure, input: &EventInput, min: Milli, whole_amount: Milli) -> Option<Milli> {
    let (_, full) = elastic(input);
    if full.0 <= min.0 {
        return None;
    }
    amount_at(measure, input, least(input, min)).filter(|m| *m < whole_amount)
}

/// A hold that may clamp: the least amount it may take, the least of the event's elastic part
/// that stands for, and its curve (what any amount it may hold covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fit {
    pub least: Milli,
    pub min: Milli,
    pub curve: Curve,
}

/// The fit of a hold of `measure` whose whole amount is `whole_amount`, clamping no lower than
/// `min` of the event's elastic part; None when it cannot shrink.
pub(crate) fn fit(measure: &Measure, input: &EventInput, min: Milli, whole_amount: Milli) -> Option<Fit> {
    let least = least_amount(measure, input, min, whole_amount)?;
    Some(Fit {
        least,
        min,
        curve: curve(measure, input, min),
    })
}

/// The step of the elastic part: a whole token of output, or a milli-unit of quantity.
fn step(kind: Elastic) -> u64 {
    match kind {
        Elastic::Output => TOKEN,
        Elastic::Quantity => 1,
    }
}

/// The curve of `measure` over the elastic part from `least(min)` to all of it, in steps. It
/// bends where the reasoning tokens stop shrinking with the output and where the output stops
/// being below its audio part (a price's dearer part ends).
fn curve(measure: &Measure, input: &EventInput, min: Milli) -> Curve {
    let (kind, full) = elastic(input);
    let step = step(kind);
    let numerator = |x: u64| {
        let (quantity, metadata) = shrunk(input, Milli(x * step));
        let (n, d) = measure.fraction(quantity, &metadata)?;
        // Drawn from the same numbers `amount` rounds: any other reading is no curve.
        (measure.amount(quantity, &metadata).ok()?.0 == u64::try_from(n.div_ceil(d)).ok()?).then_some(n)
    };
    // (A measure with no fraction draws no piece: the call is granted its least.)
    let denominator = measure.fraction(input.quantity, &input.metadata).map_or(1, |(_, d)| d);
    let quantity_line = match kind {
        Elastic::Quantity => (0, 1),
        Elastic::Output if input.quantity.0 >= full.0 => (input.quantity.0 - full.0, TOKEN),
        Elastic::Output => (input.quantity.0, 0),
    };
    let number = |key: &str| input.metadata.get(key).and_then(Value::as_u64);
    let kinks = match kind {
        Elastic::Output => [number("reasoning_tokens").map(|r| r + 1), number(AUDIO_OUTPUT)],
        Elastic::Quantity => [None, None],
    };
    let kinks: Vec<u64> = kinks.into_iter().flatten().collect();
    let line = Line {
        numerator: &numerator,
        denominator,
    };
    Curve::draw(least(input, min).0 / step, full.0 / step, quantity_line, &line, &kinks)
}

/// What a call is granted when some of its holds clamped: per clamped hold its curve and the
/// amount it holds, each covering some of the elastic part from `min` up; the call gets the
/// least.
pub(crate) fn fitted<'c>(
    input: &EventInput,
    min: Milli,
    clamped: impl IntoIterator<Item = (&'c Curve, Milli)>,
) -> Fitted {
    let (kind, full) = elastic(input);
    let step = step(kind);
    let lowest = least(input, min).0 / step;
    let mut granted: Option<(u64, &Curve)> = None;
    for (curve, held) in clamped {
        let x = curve.covered(held).max(lowest);
        if granted.is_none_or(|(least_yet, _)| x < least_yet) {
            granted = Some((x, curve));
        }
    }
    match granted {
        Some((x, curve)) => Fitted {
            quantity: curve.quantity(x),
            output_tokens: (kind == Elastic::Output).then_some(x),
        },
        None => Fitted {
            quantity: input.quantity,
            output_tokens: (kind == Elastic::Output).then_some(full.0 / TOKEN),
        },
    }
}

/// The event as granted: the levels above a clamped level hold what the call was granted.
pub(crate) fn shrink(input: &EventInput, fitted: &Fitted) -> EventInput {
    let x = match fitted.output_tokens {
        Some(tokens) => Milli(tokens * TOKEN),
        None => fitted.quantity,
    };
    let (quantity, metadata) = shrunk(input, x);
    EventInput {
        quantity,
        metadata: metadata.into_owned(),
        ..input.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::ids::UserId;
    use crate::quota::measure::MeasureDoc;
    use serde_json::json;

    fn event(quantity: u64, metadata: Value) -> EventInput {
        EventInput {
            user: UserId::parse("u").unwrap(),
            event: "llm".into(),
            quantity: Milli::from_units(quantity),
            metadata: metadata.as_object().cloned().unwrap(),
            step: None,
            fit: Default::default(),
            fallback: None,
        }
    }

    fn weights(doc: Value) -> Measure {
        serde_json::from_value::<MeasureDoc>(doc).unwrap().to_measure().unwrap()
    }

    #[test]
    fn a_clamped_output_is_the_most_tokens_the_held_amount_covers() {
        // 1,000 input and 4,000 output tokens; a cent per 1,000 input, a cent per 100 output.
        let input = event(5_000, json!({"input_tokens": 1000, "output_tokens": 4000}));
        let cents = weights(json!({"weights": {"input_tokens": 0.001, "output_tokens": 0.01}}));
        // Whole: 1 + 40 cents. At least 100 output tokens: 2 cents.
        assert_eq!(cents.amount(input.quantity, &input.metadata), Ok(Milli(41_000)));
        assert_eq!(
            least_amount(&cents, &input, Milli::from_units(100), Milli(41_000)),
            Some(Milli(2_000))
        );
        // 10.5 cents held covers 950 output tokens, and the quantity shrinks by the cut.
        let min = Milli::from_units(100);
        let got = fitted(&input, min, [(&curve(&cents, &input, min), Milli(10_500))]);
        assert_eq!(got.output_tokens, Some(950));
        assert_eq!(got.quantity, Milli::from_units(1_950));
        let shrunk = shrink(&input, &got);
        assert_eq!(shrunk.metadata["output_tokens"], json!(950));
        assert_eq!(cents.amount(shrunk.quantity, &shrunk.metadata), Ok(Milli(10_500)));
    }

    #[test]
    fn without_output_tokens_the_quantity_shrinks() {
        let input = event(10, json!({}));
        let min = Milli::from_units(1);
        let got = fitted(&input, min, [(&curve(&Measure::Quantity, &input, min), Milli(3_500))]);
        assert_eq!(
            got,
            Fitted {
                quantity: Milli(3_500),
                output_tokens: None
            }
        );
        // An event no larger than its least size cannot shrink.
        assert_eq!(
            least_amount(&Measure::Quantity, &input, Milli::from_units(10), Milli(10_000)),
            None
        );
    }

    /// The largest output from `min` whose amount is at most `held`, by trying each size (its
    /// amounts measured once: `amounts[x - min]`).
    fn by_hand(amounts: &[Option<Milli>], min: u64, held: Milli) -> u64 {
        (min..)
            .zip(amounts)
            .filter(|(_, a)| a.is_some_and(|a| a <= held))
            .map(|(x, _)| x)
            .max()
            .unwrap_or(min)
    }

    #[test]
    fn every_amount_held_grants_what_trying_each_output_finds() {
        let input = event(
            900,
            json!({"input_tokens": 500, "output_tokens": 400, "reasoning_tokens": 120, "model": "m"}),
        );
        let measures = [
            weights(json!({"weights": {"input_tokens": 0.003, "output_tokens": 0.011, "reasoning_tokens": 0.007}})),
            weights(json!({"rate": 0.37})),
            Measure::Quantity,
            Measure::Metadata("reasoning_tokens".into()),
        ];
        let min = Milli::from_units(10);
        for measure in &measures {
            let whole = measure.amount(input.quantity, &input.metadata).unwrap();
            let drawn = curve(measure, &input, min);
            let amounts: Vec<_> = (10..=400)
                .map(|x| amount_at(measure, &input, Milli(x * TOKEN)))
                .collect();
            for held in 0..=whole.0 + 3 {
                let got = fitted(&input, min, [(&drawn, Milli(held))]);
                let want = by_hand(&amounts, 10, Milli(held));
                assert_eq!(got.output_tokens, Some(want), "{measure:?} held {held}");
                assert_eq!(
                    got.quantity,
                    shrunk(&input, Milli(want * TOKEN)).0,
                    "{measure:?} held {held}"
                );
            }
        }
    }
}
