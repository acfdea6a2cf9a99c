//! A price's other tiers: the long-context tier (a call whose input passes a threshold is
//! billed whole at higher prices, as Gemini 2.5 Pro's over 200k tokens is) and batch prices
//! (what the providers' batch APIs bill, about half). Stored, checked and written here;
//! `price.rs` reads the long-context tier when it prices a call, and no call is priced by the
//! batch prices yet.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dollars::{dollars, micro_dollars, optional_micro, PriceError};

/// The largest threshold taken, the largest context window the catalog takes.
const MAX_OVER_INPUT_TOKENS: u64 = 100_000_000;

/// Prices in micro-dollars per million tokens for a call whose input tokens are more than
/// `over_input_tokens`: the whole call at these, as the providers bill it. A missing cached or
/// cache-write price is the tier's input price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongContext {
    pub over_input_tokens: u64,
    pub input: u64,
    pub cached_input: Option<u64>,
    pub cache_write: Option<u64>,
    pub output: u64,
}

/// Batch prices in micro-dollars per million input and output tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPrice {
    pub input: u64,
    pub output: u64,
}

/// A long-context tier as the API, the catalog and the records write it: USD per million tokens.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LongContextDoc {
    /// The tier prices a call whose input tokens (cached and cache-write ones included) are
    /// more than this many: 200000 for "over 200k tokens". A whole number, 1 to 100,000,000.
    #[schema(value_type = u64)]
    pub over_input_tokens: Value,
    /// USD per million input tokens of such a call.
    #[schema(value_type = f64)]
    pub input_per_million: Value,
    /// USD per million cached input tokens of such a call; the tier's input price when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_million: Option<Value>,
    /// USD per million cache-write tokens of such a call; the tier's input price when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_million: Option<Value>,
    /// USD per million output tokens of such a call.
    #[schema(value_type = f64)]
    pub output_per_million: Value,
}

/// Batch prices as the API and the catalog write them: USD per million tokens of a call made
/// through the provider's batch API. Kept and shown; no call is priced by them yet.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BatchDoc {
    #[schema(value_type = f64)]
    pub input_per_million: Value,
    #[schema(value_type = f64)]
    pub output_per_million: Value,
}

impl LongContextDoc {
    /// The tier it writes; `at` names where it is (`longContext.`, `models[3] (m).longContext.`).
    pub fn to_tier(&self, at: &str) -> Result<LongContext, PriceError> {
        let field = |name: &str| format!("{at}{name}");
        let over_input_tokens = self
            .over_input_tokens
            .as_u64()
            .filter(|n| (1..=MAX_OVER_INPUT_TOKENS).contains(n))
            .ok_or_else(|| {
                PriceError::new(
                    field("overInputTokens"),
                    "must be a whole number of tokens, 1 to 100,000,000",
                )
            })?;
        Ok(LongContext {
            over_input_tokens,
            input: micro_dollars(&field("inputPerMillion"), &self.input_per_million)?,
            cached_input: optional_micro(&field("cachedInputPerMillion"), &self.cached_input_per_million)?,
            cache_write: optional_micro(&field("cacheWritePerMillion"), &self.cache_write_per_million)?,
            output: micro_dollars(&field("outputPerMillion"), &self.output_per_million)?,
        })
    }
}

impl LongContext {
    pub fn to_doc(&self) -> LongContextDoc {
        LongContextDoc {
            over_input_tokens: self.over_input_tokens.into(),
            input_per_million: dollars(self.input),
            cached_input_per_million: self.cached_input.map(dollars),
            cache_write_per_million: self.cache_write.map(dollars),
            output_per_million: dollars(self.output),
        }
    }

    /// Whether a call of `input_milli` milli-tokens of input is priced at this tier: more than
    /// the threshold, a fraction of a token past it included.
    pub fn applies(&self, input_milli: u64) -> bool {
        u128::from(input_milli) > u128::from(self.over_input_tokens) * 1000
    }
}

impl BatchDoc {
    /// The batch prices it writes; `at` names where it is (`batch.`).
    pub fn to_batch(&self, at: &str) -> Result<BatchPrice, PriceError> {
        Ok(BatchPrice {
            input: micro_dollars(&format!("{at}inputPerMillion"), &self.input_per_million)?,
            output: micro_dollars(&format!("{at}outputPerMillion"), &self.output_per_million)?,
        })
    }
}

impl BatchPrice {
    pub fn to_doc(&self) -> BatchDoc {
        BatchDoc {
            input_per_million: dollars(self.input),
            output_per_million: dollars(self.output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::price::{Counts, ModelPrice, PriceDoc};
    use serde_json::json;

    fn tier(doc: Value) -> Result<LongContext, PriceError> {
        serde_json::from_value::<LongContextDoc>(doc)
            .unwrap()
            .to_tier("longContext.")
    }

    #[test]
    fn a_tier_applies_past_its_threshold_not_at_it() {
        let t = tier(json!({"overInputTokens": 200000, "inputPerMillion": 2.5, "outputPerMillion": 15})).unwrap();
        assert!(!t.applies(200_000_000), "exactly at the threshold: the base prices");
        assert!(t.applies(200_000_001), "a thousandth of a token past it");
        assert!(t.applies(200_001_000), "one token past it");
        assert!(!t.applies(0));
    }

    /// Gemini 2.5 Pro: $1.25 / $0.125 cached / $10 a million, over 200k input tokens
    /// $2.50 / $0.25 / $15.
    fn gemini_pro() -> ModelPrice {
        serde_json::from_value::<PriceDoc>(json!({"inputPerMillion": 1.25, "cachedInputPerMillion": 0.125,
            "outputPerMillion": 10, "longContext": {"overInputTokens": 200000, "inputPerMillion": 2.5,
            "cachedInputPerMillion": 0.25, "outputPerMillion": 15}, "batch": {"inputPerMillion": 0.625,
            "outputPerMillion": 5}}))
        .unwrap()
        .to_price("")
        .unwrap()
    }

    fn call(input_tokens: u64, cached_tokens: u64, output_tokens: u64) -> Counts {
        Counts {
            input: input_tokens * 1000,
            cached_input: cached_tokens * 1000,
            output: output_tokens * 1000,
            ..Counts::default()
        }
    }

    #[test]
    fn a_call_at_the_threshold_costs_the_base_prices_and_one_token_over_costs_the_tiers_whole() {
        let pro = gemini_pro();
        // 200,000 input at $1.25/M and 1,000 output at $10/M: $0.25 + $0.01.
        assert_eq!(pro.cost_femto(&call(200_000, 0, 1_000)), Some(260_000_000_000_000));
        // 200,001 input at $2.50/M and 1,000 output at $15/M, every token at the tier's price:
        // $0.5000025 + $0.015.
        assert_eq!(pro.cost_femto(&call(200_001, 0, 1_000)), Some(515_002_500_000_000));
        // Cached input is a part of the input, at the tier's cached price past the threshold:
        // 100,001 at $2.50/M and 100,000 at $0.25/M.
        assert_eq!(pro.cost_femto(&call(200_001, 100_000, 0)), Some(275_002_500_000_000));
        assert_eq!(pro.cost_femto(&call(200_000, 100_000, 0)), Some(137_500_000_000_000));
        // A tier without a cached price prices cached input at the tier's input price.
        let mut plain = pro.clone();
        plain.long_context.as_mut().unwrap().cached_input = None;
        assert_eq!(plain.cost_femto(&call(200_001, 100_000, 0)), Some(500_002_500_000_000));
        // Batch prices price no call yet.
        let mut no_batch = pro.clone();
        no_batch.batch = None;
        assert_eq!(
            no_batch.cost_femto(&call(1_000, 0, 1_000)),
            pro.cost_femto(&call(1_000, 0, 1_000))
        );
    }

    #[test]
    fn a_hold_and_its_settlement_each_price_at_the_tier_their_own_input_reaches() {
        let pro = gemini_pro();
        // Held at a worst case of 250,000 input tokens: the tier. Settled at the 150,000 the
        // provider reported: the base.
        let held = pro.cost_femto(&call(250_000, 0, 8_000)).unwrap();
        let settled = pro.cost_femto(&call(150_000, 0, 2_000)).unwrap();
        assert_eq!(held, 625_000_000_000_000 + 120_000_000_000_000);
        assert_eq!(settled, 187_500_000_000_000 + 20_000_000_000_000);
        let doc = serde_json::to_value(pro.to_doc()).unwrap();
        assert_eq!(doc["longContext"]["overInputTokens"], 200_000);
        assert_eq!(doc["batch"], json!({"inputPerMillion": 0.625, "outputPerMillion": 5}));
    }

    #[test]
    fn a_tier_and_batch_prices_read_back_and_name_the_field_at_fault() {
        let doc = json!({"overInputTokens": 200000, "inputPerMillion": 2.5, "cachedInputPerMillion": 0.25,
            "outputPerMillion": 15});
        let t = tier(doc.clone()).unwrap();
        assert_eq!(
            (t.over_input_tokens, t.input, t.cached_input),
            (200_000, 2_500_000, Some(250_000))
        );
        assert_eq!(serde_json::to_value(t.to_doc()).unwrap(), doc);
        for (bad, field) in [
            (
                json!({"overInputTokens": 0, "inputPerMillion": 1, "outputPerMillion": 1}),
                "overInputTokens",
            ),
            (
                json!({"overInputTokens": 1.5, "inputPerMillion": 1, "outputPerMillion": 1}),
                "overInputTokens",
            ),
            (
                json!({"overInputTokens": "200k", "inputPerMillion": 1, "outputPerMillion": 1}),
                "overInputTokens",
            ),
            (
                json!({"overInputTokens": 100_000_001, "inputPerMillion": 1, "outputPerMillion": 1}),
                "overInputTokens",
            ),
            (
                json!({"overInputTokens": 10, "inputPerMillion": -1, "outputPerMillion": 1}),
                "inputPerMillion",
            ),
            (
                json!({"overInputTokens": 10, "inputPerMillion": 1, "cacheWritePerMillion": 0.0000001,
                "outputPerMillion": 1}),
                "cacheWritePerMillion",
            ),
        ] {
            assert_eq!(tier(bad).unwrap_err().field, format!("longContext.{field}"));
        }
        // Lower than the base prices is taken: a tier's prices are the provider's to set.
        assert!(tier(json!({"overInputTokens": 10, "inputPerMillion": 0, "outputPerMillion": 0})).is_ok());
        let batch: BatchDoc = serde_json::from_value(json!({"inputPerMillion": 0.625, "outputPerMillion": 5})).unwrap();
        let b = batch.to_batch("batch.").unwrap();
        assert_eq!((b.input, b.output), (625_000, 5_000_000));
        assert_eq!(
            serde_json::to_value(b.to_doc()).unwrap(),
            json!({"inputPerMillion": 0.625, "outputPerMillion": 5})
        );
        let bad: BatchDoc = serde_json::from_value(json!({"inputPerMillion": 1, "outputPerMillion": "5"})).unwrap();
        assert_eq!(bad.to_batch("batch.").unwrap_err().field, "batch.outputPerMillion");
        // Within a price, the field is named from the price's root.
        let price: PriceDoc = serde_json::from_value(json!({"inputPerMillion": 1, "outputPerMillion": 1,
            "longContext": {"overInputTokens": 0, "inputPerMillion": 1, "outputPerMillion": 1}}))
        .unwrap();
        assert_eq!(
            price.to_price("models[2] (m).").unwrap_err().field,
            "models[2] (m).longContext.overInputTokens"
        );
    }
}
