//! Prices of models and what a call costs by them, exactly: prices are integer micro-dollars
//! (per million tokens or characters, per image, per second or minute of audio), a call's cost
//! integer femto-dollars (its tokens at the long-context tier's prices when its input passes
//! the tier's threshold), and a group's amount its cost times the markup in the group's unit,
//! rounded up once to a milli-unit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::amount::parse_scaled;
use super::amount::Milli;
use super::dollars::optional_micro;
pub(crate) use super::dollars::{dollars, micro_dollars, PriceError};
use super::price_tiers::{BatchDoc, BatchPrice, LongContext, LongContextDoc};

/// A provider's reported cost has at most 9 decimals of a dollar.
const COST_DECIMALS: u32 = 9;
/// The counts a price reads, by their metadata names (the proxy's token names).
pub(crate) const INPUT: &str = "input_tokens";
pub(crate) const CACHED_INPUT: &str = "cached_input_tokens";
pub(crate) const CACHE_WRITE: &str = "cache_write_tokens";
pub(crate) const OUTPUT: &str = "output_tokens";
pub(crate) const IMAGES: &str = "images";
pub(crate) const AUDIO_INPUT: &str = "audio_input_tokens";
pub(crate) const AUDIO_OUTPUT: &str = "audio_output_tokens";
pub(crate) const AUDIO_SECONDS: &str = "audio_seconds";
pub(crate) const INPUT_CHARACTERS: &str = "input_characters";
pub(crate) const VIDEO_SECONDS: &str = "video_seconds";
/// The provider's own cost of a call in USD (OpenRouter's `usage.cost`).
pub(crate) const COST: &str = "cost";
/// At most this many image prices per model.
const MAX_IMAGE_PRICES: usize = 32;

/// One model's prices in micro-dollars: per million input, cached input, cache-write and
/// output tokens, per image by `"<quality>/<size>"`, and for audio per million audio input and
/// output tokens, per second or minute of input audio and per million input characters. A
/// missing cached, cache-write or audio input price is the input's, a missing audio output
/// price the output's; a missing price per second, minute or character is nothing. A
/// long-context tier prices the tokens of a call whose input passes its threshold; batch
/// prices are kept, and price no call yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelPrice {
    pub input: u64,
    pub cached_input: Option<u64>,
    pub cache_write: Option<u64>,
    pub output: u64,
    pub per_image: BTreeMap<String, u64>,
    pub audio_input: Option<u64>,
    pub audio_output: Option<u64>,
    pub per_second: Option<u64>,
    /// A video model's prices per second by the video's size (`"1280x720"`), where priced so.
    pub per_second_by_size: BTreeMap<String, u64>,
    pub per_minute: Option<u64>,
    pub per_million_characters: Option<u64>,
    pub long_context: Option<LongContext>,
    pub batch: Option<BatchPrice>,
}

/// `perSecond` as the API writes it: one price, or a video model's prices by the video's size.
/// (The document's shape; the field is read as `Value` and checked by `to_price`.)
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
// Only the schema's: a document's value is read as `Value`, so no variant is ever built.
#[allow(dead_code)]
pub(crate) enum PerSecond {
    One(f64),
    BySize(BTreeMap<String, f64>),
}

/// Prices as the API, the catalog and the records write them: USD as decimals.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PriceDoc {
    /// USD per million input tokens (cached and cache-write tokens included unless priced apart).
    #[schema(value_type = f64)]
    pub input_per_million: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_million: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_million: Option<Value>,
    #[schema(value_type = f64)]
    pub output_per_million: Value,
    /// USD per image by `"<quality>/<size>"` (`"standard/1024x1024"`), where priced so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, f64>>)]
    pub per_image: Option<Map<String, Value>>,
    /// USD per million audio input tokens (within the input tokens), where priced apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_input_per_million: Option<Value>,
    /// USD per million audio output tokens (within the output tokens), where priced apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_output_per_million: Option<Value>,
    /// USD per second of input audio (`audio_seconds`) or of video (`video_seconds`); for a
    /// video model, an object of prices by the video's size (`{"1280x720": 0.3}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PerSecond>)]
    pub per_second: Option<Value>,
    /// USD per minute of input audio; at most one of `perSecond` and `perMinute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub per_minute: Option<Value>,
    /// USD per million input characters (`input_characters`, a speech call's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub per_million_characters: Option<Value>,
    /// Prices for a call whose input tokens pass a threshold (Gemini 2.5 Pro's over 200k
    /// tokens): the whole call at them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextDoc>,
    /// Prices of the provider's batch API; kept and shown, no call is priced by them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchDoc>,
}

/// Prices by key (an image's quality and size, a video's size) in micro-dollars: each key 1 to
/// 64 bytes without control characters (`keys` says what a key is, for the error), each price
/// one as `micro_dollars` reads it, named `<field>.<key>`.
fn by_key(field: &str, prices: &Map<String, Value>, keys: &str) -> Result<BTreeMap<String, u64>, PriceError> {
    let mut read = BTreeMap::new();
    for (key, value) in prices {
        if key.is_empty() || key.len() > 64 || key.chars().any(char::is_control) {
            return Err(PriceError::new(field, format!("keys must be {keys}, 1 to 64 bytes")));
        }
        read.insert(key.clone(), micro_dollars(&format!("{field}.{key}"), value)?);
    }
    Ok(read)
}

/// Prices by key as the API writes them: USD.
fn dollars_by_key(prices: &BTreeMap<String, u64>) -> Map<String, Value> {
    prices.iter().map(|(k, v)| (k.clone(), dollars(*v))).collect()
}

/// The price of `key`, else the dearest (what is not known is priced at its worst); None when
/// none is priced.
fn keyed_or_dearest(prices: &BTreeMap<String, u64>, key: Option<&str>) -> Option<u64> {
    key.and_then(|k| prices.get(k))
        .copied()
        .or_else(|| prices.values().copied().max())
}

impl PriceDoc {
    /// The prices it writes; `at` prefixes the field an error names (`prices.`, `models[3].`).
    pub fn to_price(&self, at: &str) -> Result<ModelPrice, PriceError> {
        let field = |name: &str| format!("{at}{name}");
        let per_image = match &self.per_image {
            Some(images) if images.len() > MAX_IMAGE_PRICES => {
                return Err(PriceError::new(field("perImage"), "must have at most 32 prices"))
            }
            Some(images) => by_key(&field("perImage"), images, "\"<quality>/<size>\"")?,
            None => BTreeMap::new(),
        };
        // Per second: one price (audio, or a video of any size), or a video's by its size.
        let mut per_second_by_size = BTreeMap::new();
        let per_second = match &self.per_second {
            Some(Value::Object(sizes)) => {
                if sizes.is_empty() || sizes.len() > MAX_IMAGE_PRICES {
                    return Err(PriceError::new(field("perSecond"), "must have 1 to 32 sizes"));
                }
                per_second_by_size = by_key(&field("perSecond"), sizes, "sizes (\"1280x720\")")?;
                None
            }
            other => optional_micro(&field("perSecond"), other)?,
        };
        let per_minute = optional_micro(&field("perMinute"), &self.per_minute)?;
        if (per_second.is_some() || !per_second_by_size.is_empty()) && per_minute.is_some() {
            return Err(PriceError::new(
                field("perMinute"),
                "must not be given beside perSecond",
            ));
        }
        Ok(ModelPrice {
            input: micro_dollars(&field("inputPerMillion"), &self.input_per_million)?,
            cached_input: optional_micro(&field("cachedInputPerMillion"), &self.cached_input_per_million)?,
            cache_write: optional_micro(&field("cacheWritePerMillion"), &self.cache_write_per_million)?,
            output: micro_dollars(&field("outputPerMillion"), &self.output_per_million)?,
            per_image,
            audio_input: optional_micro(&field("audioInputPerMillion"), &self.audio_input_per_million)?,
            audio_output: optional_micro(&field("audioOutputPerMillion"), &self.audio_output_per_million)?,
            per_second,
            per_second_by_size,
            per_minute,
            per_million_characters: optional_micro(&field("perMillionCharacters"), &self.per_million_characters)?,
            long_context: match &self.long_context {
                Some(tier) => Some(tier.to_tier(&field("longContext."))?),
                None => None,
            },
            batch: match &self.batch {
                Some(batch) => Some(batch.to_batch(&field("batch."))?),
                None => None,
            },
        })
    }
}

impl ModelPrice {
    /// The prices as the API writes them.
    pub fn to_doc(&self) -> PriceDoc {
        PriceDoc {
            input_per_million: dollars(self.input),
            cached_input_per_million: self.cached_input.map(dollars),
            cache_write_per_million: self.cache_write.map(dollars),
            output_per_million: dollars(self.output),
            per_image: (!self.per_image.is_empty()).then(|| dollars_by_key(&self.per_image)),
            audio_input_per_million: self.audio_input.map(dollars),
            audio_output_per_million: self.audio_output.map(dollars),
            per_second: match self.per_second_by_size.is_empty() {
                true => self.per_second.map(dollars),
                false => Some(Value::Object(dollars_by_key(&self.per_second_by_size))),
            },
            per_minute: self.per_minute.map(dollars),
            per_million_characters: self.per_million_characters.map(dollars),
            long_context: self.long_context.as_ref().map(LongContext::to_doc),
            batch: self.batch.as_ref().map(BatchPrice::to_doc),
        }
    }

    /// The price of one image of `key` ("<quality>/<size>"), else the dearest: a call whose
    /// size or quality is not known is priced at its worst.
    fn image(&self, key: Option<&str>) -> u64 {
        keyed_or_dearest(&self.per_image, key).unwrap_or(0)
    }

    /// The price of a second of video of `size`, else the dearest size's (a video of a size
    /// not priced is priced at its worst), else the one price per second.
    fn video_second(&self, size: Option<&str>) -> u64 {
        keyed_or_dearest(&self.per_second_by_size, size)
            .or(self.per_second)
            .unwrap_or(0)
    }

    /// The prices of a call made through the provider's batch API: its batch prices for input
    /// and output, and every other token price scaled as its input is (cached input at the
    /// batch's share of its price). A model without batch prices keeps its own: never less.
    pub fn for_batch(&self) -> ModelPrice {
        let Some(batch) = &self.batch else {
            return self.clone();
        };
        let scaled = |price: u64| match self.input {
            0 => price,
            input => (u128::from(price) * u128::from(batch.input)).div_ceil(u128::from(input)) as u64,
        };
        ModelPrice {
            input: batch.input,
            output: batch.output,
            cached_input: self.cached_input.map(scaled),
            cache_write: self.cache_write.map(scaled),
            audio_input: self.audio_input.map(scaled),
            // The batch's flat prices bill every call, long or not.
            long_context: None,
            batch: None,
            ..self.clone()
        }
    }

    /// The prices of a call's tokens: the long-context tier's when its input passes the
    /// tier's threshold (the providers bill the whole call so), else the base ones.
    fn token_prices(&self, input_milli: u64) -> TokenPrices {
        let (input, cached_input, cache_write, output) = match &self.long_context {
            Some(tier) if tier.applies(input_milli) => (tier.input, tier.cached_input, tier.cache_write, tier.output),
            _ => (self.input, self.cached_input, self.cache_write, self.output),
        };
        TokenPrices {
            input,
            cached_input: cached_input.unwrap_or(input),
            cache_write: cache_write.unwrap_or(input),
            audio_input: self.audio_input.unwrap_or(input),
            output,
            audio_output: self.audio_output.unwrap_or(output),
        }
    }

    /// What `counts` cost, in femto-dollars (10^-15 USD), exactly; None past what u128 holds.
    /// Cached, cache-write and audio tokens are parts of the input (audio output tokens of the
    /// output); counts whose parts pass their whole (a hold's worst case holds each part at the
    /// whole) price the whole at the dearest of its prices. A hold's worst-case input and a
    /// settlement's reported input each choose their own tier.
    pub fn cost_femto(&self, counts: &Counts) -> Option<u128> {
        let p = self.token_prices(counts.input);
        let input_cost = whole_and_parts(
            (counts.input, p.input),
            &[
                (counts.cached_input, p.cached_input),
                (counts.cache_write, p.cache_write),
                (counts.audio_input, p.audio_input),
            ],
        )?;
        let output_cost = whole_and_parts((counts.output, p.output), &[(counts.audio_output, p.audio_output)])?;
        // Milli-images times micro-dollars per image is 10^-9 USD.
        let image_cost = u128::from(counts.images)
            .checked_mul(u128::from(self.image(counts.image_key.as_deref())))?
            .checked_mul(1_000_000)?;
        // Milli-seconds times micro-dollars a second is 10^-9 USD; a minute's price per second
        // rounds up, once.
        let seconds = u128::from(counts.audio_seconds);
        let audio_cost = match (self.per_second, self.per_minute) {
            (Some(price), _) => seconds.checked_mul(u128::from(price))?.checked_mul(1_000_000)?,
            (None, Some(price)) => seconds
                .checked_mul(u128::from(price))?
                .checked_mul(1_000_000)?
                .div_ceil(60),
            (None, None) => 0,
        };
        let video_cost = u128::from(counts.video_seconds)
            .checked_mul(u128::from(self.video_second(counts.video_size.as_deref())))?
            .checked_mul(1_000_000)?;
        // Milli-characters times micro-dollars per million characters is femto-dollars.
        let character_cost =
            u128::from(counts.characters).checked_mul(u128::from(self.per_million_characters.unwrap_or(0)))?;
        input_cost
            .checked_add(output_cost)?
            .checked_add(image_cost)?
            .checked_add(audio_cost)?
            .checked_add(video_cost)?
            .checked_add(character_cost)
    }
}

/// The prices a call's tokens are counted at, in micro-dollars per million.
struct TokenPrices {
    input: u64,
    cached_input: u64,
    cache_write: u64,
    audio_input: u64,
    output: u64,
    audio_output: u64,
}

/// Milli-tokens of a whole and its parts, each part at its own price and the rest at the
/// whole's (milli-tokens times micro-dollars per million tokens is femto-dollars); parts that
/// pass their whole price the whole at the dearest price.
fn whole_and_parts((whole, price): (u64, u64), parts: &[(u64, u64)]) -> Option<u128> {
    let in_parts: u128 = parts.iter().map(|(count, _)| u128::from(*count)).sum();
    let whole = u128::from(whole);
    if in_parts > whole {
        let dearest = parts
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(_, p)| *p)
            .fold(price, u64::max);
        return whole.checked_mul(u128::from(dearest));
    }
    let mut cost = (whole - in_parts).checked_mul(u128::from(price))?;
    for (count, part_price) in parts {
        cost = cost.checked_add(u128::from(*count).checked_mul(u128::from(*part_price))?)?;
    }
    Some(cost)
}

/// The counts of a call a price reads, in milli-units, from its metadata (the proxy's names);
/// a missing count is 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counts {
    pub input: u64,
    pub cached_input: u64,
    pub cache_write: u64,
    pub output: u64,
    pub images: u64,
    /// The images' "<quality>/<size>", from the metadata's `quality` and `size`.
    pub image_key: Option<String>,
    pub audio_input: u64,
    pub audio_output: u64,
    pub audio_seconds: u64,
    pub characters: u64,
    pub video_seconds: u64,
    /// A video's size, from the metadata's `size`.
    pub video_size: Option<String>,
}

/// A project's own price of a model, as stored and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ProjectPrice {
    pub price: PriceDoc,
    #[serde(rename = "updatedAt")]
    pub updated_at_ms: i64,
}

/// A project's prices as a node keeps them: each model's, parsed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProjectPrices {
    pub by_model: std::collections::HashMap<String, (ModelPrice, ProjectPrice)>,
}

/// At most this many prices per project.
pub(crate) const MAX_PROJECT_PRICES: usize = 1_000;

/// Where a hold's price came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceOrigin {
    /// The project's own price of the model.
    Override,
    /// The catalog of this version.
    Catalog(String),
    /// No price anywhere, and the group lets it through at zero.
    Unpriced,
}

impl PriceOrigin {
    pub fn as_str(&self) -> &'static str {
        match self {
            PriceOrigin::Override => "override",
            PriceOrigin::Catalog(_) => "catalog",
            PriceOrigin::Unpriced => "unpriced",
        }
    }
}

/// A model's price as a project sees it: its override, else the catalog's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPrice {
    pub price: ModelPrice,
    pub origin: PriceOrigin,
}

/// The price an event's model has in its project, looked up once per request: `found` None
/// when neither the project nor the catalog prices `model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPrice {
    pub model: String,
    pub found: Option<FoundPrice>,
    /// The model's output limit, from the catalog.
    pub max_output_tokens: Option<u64>,
}

/// Every price a project's calls may find, by model name: what a replay prices by, where no
/// Redis can be asked per event.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    pub by_model: std::collections::HashMap<String, EventPrice>,
}

impl PriceBook {
    /// The price of the model `metadata` names; None when it names none.
    pub fn of(&self, metadata: &Map<String, Value>) -> Option<EventPrice> {
        let model = metadata.get("model")?.as_str()?;
        Some(self.by_model.get(model).cloned().unwrap_or_else(|| EventPrice {
            model: model.to_string(),
            found: None,
            max_output_tokens: None,
        }))
    }
}

/// Femto-dollars times micro-units per dollar times a markup in millionths per milli-unit.
pub(crate) const MILLI_PER_FEMTO_FACTOR: u128 = 1_000_000_000_000_000_000_000_000;

/// Femto-dollars times micro-units per dollar times a markup in millionths, as milli-units:
/// divided by 10^24, rounding up, so a priced call never rounds to less than it cost.
pub(crate) fn femto_to_milli(femto: u128, units_per_dollar_micro: u64, markup_micro: u64) -> Option<Milli> {
    let factor = u128::from(units_per_dollar_micro).checked_mul(u128::from(markup_micro))?;
    let scaled = femto.checked_mul(factor)?;
    let milli = u64::try_from(scaled.div_ceil(MILLI_PER_FEMTO_FACTOR)).ok()?;
    (milli <= Milli::MAX.0).then_some(Milli(milli))
}

/// A reported cost in USD (up to 9 decimals) as femto-dollars; the error names `field`.
pub(crate) fn cost_femto(field: &str, value: &Value) -> Result<u128, PriceError> {
    match value {
        Value::Number(n) => parse_scaled(&n.to_string(), COST_DECIMALS, u64::MAX / 2)
            .map(|nano| u128::from(nano) * 1_000_000)
            .map_err(|e| PriceError::new(field, format!("{e}"))),
        _ => Err(PriceError::new(field, "must be a number of US dollars")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn price(doc: Value) -> ModelPrice {
        serde_json::from_value::<PriceDoc>(doc).unwrap().to_price("").unwrap()
    }

    #[test]
    fn a_call_costs_its_counts_at_their_prices_exactly() {
        let gpt = price(json!({"inputPerMillion": 2.5, "cachedInputPerMillion": 1.25, "outputPerMillion": 10}));
        let counts = Counts {
            input: 1_000_000,
            cached_input: 400_000,
            output: 500_000,
            ..Counts::default()
        };
        // 600 input at $2.50/M, 400 cached at $1.25/M, 500 output at $10/M: $0.007.
        let femto = gpt.cost_femto(&counts).unwrap();
        assert_eq!(femto, 7_000_000_000_000);
        // In cents at cost: 0.7 cents, and at a 1.2 markup 0.84 cents.
        assert_eq!(femto_to_milli(femto, 100_000_000, 1_000_000), Some(Milli(700)));
        assert_eq!(femto_to_milli(femto, 100_000_000, 1_200_000), Some(Milli(840)));
        // In credits at 1,000 a dollar: 7 credits.
        assert_eq!(femto_to_milli(femto, 1_000_000_000, 1_000_000), Some(Milli(7_000)));
    }

    #[test]
    fn a_worst_case_prices_the_whole_input_at_the_dearest_input_price() {
        let claude = price(json!({"inputPerMillion": 3, "cachedInputPerMillion": 0.3,
            "cacheWritePerMillion": 3.75, "outputPerMillion": 15}));
        let worst = Counts {
            input: 1_000_000,
            cached_input: 1_000_000,
            cache_write: 1_000_000,
            ..Counts::default()
        };
        // 1,000 tokens at $3.75/M.
        assert_eq!(claude.cost_femto(&worst), Some(3_750_000_000_000));
    }

    #[test]
    fn a_tiny_call_rounds_up_to_a_milli_unit_never_to_nothing() {
        let cheap = price(json!({"inputPerMillion": 0.075, "outputPerMillion": 0.3}));
        let one = Counts {
            input: 1_000,
            ..Counts::default()
        };
        let femto = cheap.cost_femto(&one).unwrap();
        assert_eq!(femto, 75_000_000);
        assert_eq!(femto_to_milli(femto, 100_000_000, 1_000_000), Some(Milli(1)));
    }

    #[test]
    fn images_price_by_quality_and_size_else_at_the_dearest() {
        let dalle = price(json!({"inputPerMillion": 0, "outputPerMillion": 0,
            "perImage": {"standard/1024x1024": 0.04, "hd/1024x1792": 0.12}}));
        let mut two = Counts {
            images: 2_000,
            image_key: Some("standard/1024x1024".into()),
            ..Counts::default()
        };
        assert_eq!(dalle.cost_femto(&two), Some(80_000_000_000_000));
        two.image_key = None;
        assert_eq!(dalle.cost_femto(&two), Some(240_000_000_000_000));
    }

    #[test]
    fn prices_read_back_from_their_document_and_name_their_field() {
        let doc = json!({"inputPerMillion": 0.075, "cachedInputPerMillion": 0.01875, "outputPerMillion": 0.3});
        let p = price(doc.clone());
        assert_eq!(serde_json::to_value(p.to_doc()).unwrap().to_string(), doc.to_string());
        let bad: PriceDoc = serde_json::from_value(json!({"inputPerMillion": -1, "outputPerMillion": 1})).unwrap();
        assert_eq!(
            bad.to_price("models[2].").unwrap_err().field,
            "models[2].inputPerMillion"
        );
        let precise: PriceDoc =
            serde_json::from_value(json!({"inputPerMillion": 0.0000001, "outputPerMillion": 1})).unwrap();
        assert!(precise.to_price("").is_err());
    }

    #[test]
    fn audio_prices_by_its_seconds_minutes_characters_and_audio_tokens() {
        // whisper-1 at $0.006 a minute: 90 s is $0.009; 1 s rounds up to a femto-dollar's whole.
        let whisper = price(json!({"inputPerMillion": 0, "outputPerMillion": 0, "perMinute": 0.006}));
        let ninety = Counts {
            audio_seconds: 90_000,
            ..Counts::default()
        };
        assert_eq!(whisper.cost_femto(&ninety), Some(9_000_000_000_000));
        let by_second = price(json!({"inputPerMillion": 0, "outputPerMillion": 0, "perSecond": 0.0001}));
        assert_eq!(by_second.cost_femto(&ninety), Some(9_000_000_000_000));
        // gpt-4o-transcribe: 1,000 audio tokens at $6/M and 100 prompt tokens at $2.50/M within
        // 1,100 input tokens, 200 output tokens at $10/M: $0.00825.
        let transcribe = price(json!({"inputPerMillion": 2.5, "audioInputPerMillion": 6, "outputPerMillion": 10}));
        let call = Counts {
            input: 1_100_000,
            audio_input: 1_000_000,
            output: 200_000,
            ..Counts::default()
        };
        assert_eq!(transcribe.cost_femto(&call), Some(8_250_000_000_000));
        // tts-1 at $15 per million characters: 1,000 characters, $0.015.
        let tts = price(json!({"inputPerMillion": 0, "outputPerMillion": 0, "perMillionCharacters": 15}));
        let speech = Counts {
            characters: 1_000_000,
            ..Counts::default()
        };
        assert_eq!(tts.cost_femto(&speech), Some(15_000_000_000_000));
        // gpt-4o-mini-tts: its output is audio, at $12/M.
        let mini_tts = price(json!({"inputPerMillion": 0.6, "outputPerMillion": 10, "audioOutputPerMillion": 12}));
        let spoken = Counts {
            input: 10_000,
            output: 1_000_000,
            audio_output: 1_000_000,
            ..Counts::default()
        };
        assert_eq!(mini_tts.cost_femto(&spoken), Some(12_006_000_000_000));
        let both: PriceDoc = serde_json::from_value(
            json!({"inputPerMillion": 0, "outputPerMillion": 0, "perSecond": 0.0001, "perMinute": 0.006}),
        )
        .unwrap();
        assert_eq!(both.to_price("").unwrap_err().field, "perMinute");
        let doc =
            json!({"inputPerMillion": 2.5, "outputPerMillion": 10, "audioInputPerMillion": 6, "perMinute": 0.006});
        assert_eq!(serde_json::to_value(price(doc.clone()).to_doc()).unwrap(), doc);
    }

    #[test]
    fn a_reported_cost_is_femto_dollars() {
        assert_eq!(cost_femto("metadata.cost", &json!(0.00014)).unwrap(), 140_000_000_000);
        assert!(cost_femto("metadata.cost", &json!("1")).is_err());
    }

    #[test]
    fn a_batch_call_is_priced_at_its_batch_prices_and_a_model_without_any_at_its_own() {
        let mini = price(
            json!({"inputPerMillion": 0.15, "cachedInputPerMillion": 0.075, "outputPerMillion": 0.6,
            "batch": {"inputPerMillion": 0.075, "outputPerMillion": 0.3}}),
        );
        let counts = Counts {
            input: 1_000_000_000,
            cached_input: 400_000_000,
            output: 500_000_000,
            ..Counts::default()
        };
        // Half of everything: 600k input at $0.075/M, 400k cached at $0.0375/M, 500k output at $0.30/M.
        let batch = mini.for_batch();
        assert_eq!(mini.cost_femto(&counts), Some(2 * batch.cost_femto(&counts).unwrap()));
        assert_eq!(batch.cached_input, Some(37_500));
        let plain = price(json!({"inputPerMillion": 1, "outputPerMillion": 2}));
        assert_eq!(plain.for_batch(), plain, "no batch prices: never less than its own");
    }

    #[test]
    fn a_video_is_priced_by_its_seconds_at_its_sizes_price_else_the_dearest() {
        let pro = price(json!({"inputPerMillion": 0, "outputPerMillion": 0,
            "perSecond": {"720x1280": 0.3, "1024x1792": 0.5}}));
        let video = |size: Option<&str>| Counts {
            video_seconds: 8_000,
            video_size: size.map(str::to_string),
            ..Counts::default()
        };
        // 8 s at $0.30: $2.40; at $0.50: $4.00; a size not priced at the dearest.
        assert_eq!(pro.cost_femto(&video(Some("720x1280"))), Some(2_400_000_000_000_000));
        assert_eq!(pro.cost_femto(&video(Some("1024x1792"))), Some(4_000_000_000_000_000));
        assert_eq!(pro.cost_femto(&video(None)), Some(4_000_000_000_000_000));
        assert_eq!(
            pro.to_doc().per_second,
            Some(json!({"1024x1792": 0.5, "720x1280": 0.3}))
        );
        let bad: PriceDoc = serde_json::from_value(json!({"inputPerMillion": 0, "outputPerMillion": 0,
            "perSecond": {"720x1280": "cheap"}}))
        .unwrap();
        assert_eq!(bad.to_price("").unwrap_err().field, "perSecond.720x1280");
    }
}
