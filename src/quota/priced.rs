//! A priced measure: the rule a plan prices a group by, the price a hold was resolved to, and
//! what a call costs in the group's unit by it (`price.rs` keeps the money's arithmetic).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::amount::{AmountError, Milli, MAX_UNITS};
use super::event_numbers::{metadata_number, MeasureError};
use super::price::{self, Counts, ModelPrice, PriceOrigin};
use super::price_tiers::LongContext;

/// How a plan prices a group: where the price comes from, the markup, the group's units per
/// dollar, and whether an unpriced model passes at zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRule {
    /// The provider's reported cost wins at commit.
    pub provider: bool,
    pub markup_micro: u64,
    /// Credits per dollar in millionths on a balance group; None on a cents group.
    pub credits_per_dollar_micro: Option<u64>,
    pub unpriced_allow: bool,
}

/// Cents per dollar, in millionths.
const CENTS_PER_DOLLAR_MICRO: u64 = 100_000_000;

impl PriceRule {
    /// The group's units per dollar in millionths: cents, or its credits.
    pub fn units_per_dollar_micro(&self) -> u64 {
        self.credits_per_dollar_micro.unwrap_or(CENTS_PER_DOLLAR_MICRO)
    }
}

/// A hold's price: the rule its group priced by, the model, and the price found for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub rule: PriceRule,
    pub model: String,
    pub origin: PriceOrigin,
    pub price: ModelPrice,
}

/// A `Priced` as a record keeps it (and a ledger entry's group carries it): prices in
/// micro-dollars, markup and units per dollar in millionths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricedDoc {
    pub model: String,
    /// override, catalog or unpriced.
    pub origin: String,
    /// The catalog's version, when the price is the catalog's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub input: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<u64>,
    pub output: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, u64>,
    /// Audio input and output tokens, per second and minute of audio, per million characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_out: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second: Option<u64>,
    /// A video's price per second by its size.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seconds: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub characters: Option<u64>,
    /// The long-context tier, which prices the commit's tokens when its input passes it. Batch
    /// prices are not kept: no call is priced by them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierRecord>,
    pub markup: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_dollar: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provider: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow: bool,
}

/// A long-context tier as a record keeps it: its threshold in tokens, prices in micro-dollars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRecord {
    pub over: u64,
    pub input: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<u64>,
    pub output: u64,
}

impl Priced {
    pub(super) fn to_doc(&self) -> PricedDoc {
        PricedDoc {
            model: self.model.clone(),
            origin: self.origin.as_str().to_string(),
            version: match &self.origin {
                PriceOrigin::Catalog(v) => Some(v.clone()),
                _ => None,
            },
            input: self.price.input,
            cached: self.price.cached_input,
            write: self.price.cache_write,
            output: self.price.output,
            images: self.price.per_image.clone(),
            audio_in: self.price.audio_input,
            audio_out: self.price.audio_output,
            second: self.price.per_second,
            seconds: self.price.per_second_by_size.clone(),
            minute: self.price.per_minute,
            characters: self.price.per_million_characters,
            tier: self.price.long_context.as_ref().map(|t| TierRecord {
                over: t.over_input_tokens,
                input: t.input,
                cached: t.cached_input,
                write: t.cache_write,
                output: t.output,
            }),
            markup: self.rule.markup_micro,
            per_dollar: self.rule.credits_per_dollar_micro,
            provider: self.rule.provider,
            allow: self.rule.unpriced_allow,
        }
    }
}

impl PricedDoc {
    pub fn to_priced(&self) -> Result<Priced, String> {
        let origin = match (self.origin.as_str(), &self.version) {
            ("override", None) => PriceOrigin::Override,
            ("catalog", Some(v)) => PriceOrigin::Catalog(v.clone()),
            ("unpriced", None) => PriceOrigin::Unpriced,
            _ => return Err(format!("priced.origin {} is not a price's origin", self.origin)),
        };
        Ok(Priced {
            rule: PriceRule {
                provider: self.provider,
                markup_micro: self.markup,
                credits_per_dollar_micro: self.per_dollar,
                unpriced_allow: self.allow,
            },
            model: self.model.clone(),
            origin,
            price: ModelPrice {
                input: self.input,
                cached_input: self.cached,
                cache_write: self.write,
                output: self.output,
                per_image: self.images.clone(),
                audio_input: self.audio_in,
                audio_output: self.audio_out,
                per_second: self.second,
                per_second_by_size: self.seconds.clone(),
                per_minute: self.minute,
                per_million_characters: self.characters,
                long_context: self.tier.as_ref().map(|t| LongContext {
                    over_input_tokens: t.over,
                    input: t.input,
                    cached_input: t.cached,
                    cache_write: t.write,
                    output: t.output,
                }),
                batch: None,
            },
        })
    }
}

impl Priced {
    /// What the call of `metadata` costs in the group's unit: the provider's reported `cost`
    /// when the rule takes it and the metadata has it, else its counts at the price; times the
    /// markup, rounded up once.
    pub fn amount(&self, metadata: &Map<String, Value>) -> Result<Milli, MeasureError> {
        let too_large = || MeasureError {
            field: "metadata".into(),
            detail: format!("the priced amount {}", AmountError::TooLarge { max: MAX_UNITS }),
        };
        let femto = match metadata.get(price::COST).filter(|_| self.rule.provider) {
            Some(cost) => price::cost_femto("metadata.cost", cost).map_err(|e| MeasureError {
                field: e.field,
                detail: e.detail,
            })?,
            None => self.price.cost_femto(&counts(metadata)?).ok_or_else(too_large)?,
        };
        price::femto_to_milli(femto, self.rule.units_per_dollar_micro(), self.rule.markup_micro).ok_or_else(too_large)
    }

    /// `amount` as an exact fraction of milli-units (`Measure::fraction`).
    pub(crate) fn fraction(&self, metadata: &Map<String, Value>) -> Option<(u128, u128)> {
        let femto = match metadata.get(price::COST).filter(|_| self.rule.provider) {
            Some(cost) => price::cost_femto("metadata.cost", cost).ok()?,
            None => self.price.cost_femto(&counts(metadata).ok()?)?,
        };
        let factor = u128::from(self.rule.units_per_dollar_micro()).checked_mul(u128::from(self.rule.markup_micro))?;
        Some((femto.checked_mul(factor)?, price::MILLI_PER_FEMTO_FACTOR))
    }

    /// Whether a commit of `metadata` is priced by the provider's reported cost.
    pub fn by_provider(&self, metadata: Option<&Map<String, Value>>) -> bool {
        self.rule.provider && metadata.is_some_and(|m| m.contains_key(price::COST))
    }
}

/// The counts a price reads from an event's metadata: each a number when present, and at
/// least one of the input, output, images, audio seconds or input characters present.
fn counts(metadata: &Map<String, Value>) -> Result<Counts, MeasureError> {
    let count = |key: &str| match metadata.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => metadata_number(metadata, key).map(|m| Some(m.0)),
    };
    let (input, output, images) = (count(price::INPUT)?, count(price::OUTPUT)?, count(price::IMAGES)?);
    let (seconds, characters) = (count(price::AUDIO_SECONDS)?, count(price::INPUT_CHARACTERS)?);
    let video = count(price::VIDEO_SECONDS)?;
    if [input, output, images, seconds, characters, video]
        .iter()
        .all(Option::is_none)
    {
        return Err(MeasureError {
            field: format!("metadata.{}", price::INPUT),
            detail: "is required: a limit group of the plan prices the call's input_tokens, output_tokens, images, \
                     audio_seconds, input_characters or video_seconds"
                .into(),
        });
    }
    let text = |key: &str| metadata.get(key).and_then(Value::as_str);
    Ok(Counts {
        input: input.unwrap_or(0),
        cached_input: count(price::CACHED_INPUT)?.unwrap_or(0),
        cache_write: count(price::CACHE_WRITE)?.unwrap_or(0),
        output: output.unwrap_or(0),
        images: images.unwrap_or(0),
        image_key: match (text("quality"), text("size")) {
            (Some(q), Some(s)) => Some(format!("{q}/{s}")),
            _ => None,
        },
        audio_input: count(price::AUDIO_INPUT)?.unwrap_or(0),
        audio_output: count(price::AUDIO_OUTPUT)?.unwrap_or(0),
        audio_seconds: seconds.unwrap_or(0),
        characters: characters.unwrap_or(0),
        video_seconds: video.unwrap_or(0),
        video_size: text("size").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_records_long_context_tier_prices_the_commit_past_its_threshold() {
        let price: price::PriceDoc = serde_json::from_value(json!({"inputPerMillion": 1.25, "outputPerMillion": 10,
            "longContext": {"overInputTokens": 200000, "inputPerMillion": 2.5, "outputPerMillion": 15},
            "batch": {"inputPerMillion": 0.625, "outputPerMillion": 5}}))
        .unwrap();
        let priced = Priced {
            rule: PriceRule {
                provider: false,
                markup_micro: 1_000_000,
                credits_per_dollar_micro: None,
                unpriced_allow: false,
            },
            model: "gemini-2.5-pro".into(),
            origin: PriceOrigin::Override,
            price: price.to_price("").unwrap(),
        };
        let record = serde_json::to_value(priced.to_doc()).unwrap();
        assert_eq!(
            record["tier"],
            json!({"over": 200000, "input": 2_500_000, "output": 15_000_000})
        );
        assert!(record.get("batch").is_none(), "{record}");
        let back = serde_json::from_value::<PricedDoc>(record)
            .unwrap()
            .to_priced()
            .unwrap();
        assert_eq!(back.price.long_context, priced.price.long_context);
        let meta = |input: u64| {
            json!({"input_tokens": input, "output_tokens": 0})
                .as_object()
                .unwrap()
                .clone()
        };
        // In cents: 200,000 at $1.25/M is 25 cents; 200,001 at $2.50/M is 50.00025.
        assert_eq!(back.amount(&meta(200_000)), Ok(Milli(25_000)));
        assert_eq!(back.amount(&meta(200_001)), Ok(Milli(50_001)));
    }
}
