//! Holds that fit: a hold that does not fit whole may take what is left of its group, and the
//! call is granted what that covers. What shrinks is the call's output when its metadata
//! names `output_tokens` (an LLM call gets a shorter answer), else its quantity. The scripts
//! clamp the amount; this works out, per group, the least amount to accept and the most the
//! clamped amount covers, from the group's own measure.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::amount::Milli;
use super::event::EventInput;
use super::measure::Measure;
use super::plan_check::GroupCheck;
use super::plan_kinds::{Mode, Unit};
use super::price::OUTPUT;

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
        .and_then(|v| Milli::parse(&v.to_string()).ok())
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

/// The most of the elastic part that `held` covers under `measure`: the largest size from
/// `min` up (whole tokens for an output) whose amount is at most `held`. The amounts grow
/// with the size, so a binary search finds it.
fn covered(measure: &Measure, input: &EventInput, min: Milli, held: Milli) -> Milli {
    let (kind, full) = elastic(input);
    let step = match kind {
        Elastic::Output => TOKEN,
        Elastic::Quantity => 1,
    };
    let (mut lo, mut hi) = (least(input, min).0 / step, full.0 / step);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match amount_at(measure, input, Milli(mid * step)) {
            Some(amount) if amount <= held => lo = mid,
            _ => hi = mid - 1,
        }
    }
    Milli(lo * step)
}

/// What a call is granted when some of its holds clamped: per clamped hold its measure and
/// the amount it holds, each covering some of the elastic part; the call gets the least.
pub(crate) fn fitted<'m>(
    input: &EventInput,
    min: Milli,
    clamped: impl IntoIterator<Item = (&'m Measure, Milli)>,
) -> Fitted {
    let (kind, full) = elastic(input);
    let x = clamped
        .into_iter()
        .map(|(measure, held)| covered(measure, input, min, held))
        .min()
        .unwrap_or(full);
    let (quantity, _) = shrunk(input, x);
    Fitted {
        quantity,
        output_tokens: (kind == Elastic::Output).then_some(x.0 / TOKEN),
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
        let got = fitted(&input, Milli::from_units(100), [(&cents, Milli(10_500))]);
        assert_eq!(got.output_tokens, Some(950));
        assert_eq!(got.quantity, Milli::from_units(1_950));
        let shrunk = shrink(&input, &got);
        assert_eq!(shrunk.metadata["output_tokens"], json!(950));
        assert_eq!(cents.amount(shrunk.quantity, &shrunk.metadata), Ok(Milli(10_500)));
    }

    #[test]
    fn without_output_tokens_the_quantity_shrinks() {
        let input = event(10, json!({}));
        let got = fitted(&input, Milli::from_units(1), [(&Measure::Quantity, Milli(3_500))]);
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
}
