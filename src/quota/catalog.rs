//! The model catalog: each model's prices, limits and where they were read, as data with a
//! version. The binary carries `catalog/models.json`; a node may load a newer file. Parsed
//! whole or refused, naming the entry at fault, so a bad price never starts serving.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::price::{ModelPrice, PriceDoc, PriceError};
use super::price_tiers::{BatchDoc, LongContextDoc};

/// The catalog this binary was built with.
pub const BUILT_IN: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/catalog/models.json"));

/// Enough for the community's whole price list, with room.
const MAX_MODELS: usize = 20_000;

/// One model as the catalog file and `GET /v1/catalog` write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CatalogEntry {
    pub model: String,
    pub provider: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[schema(value_type = f64)]
    pub input_per_million: Value,
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_million: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_million: Option<Value>,
    #[schema(value_type = f64)]
    pub output_per_million: Value,
    /// USD per image by `"<quality>/<size>"`, where priced so.
    #[schema(value_type = Option<std::collections::BTreeMap<String, f64>>)]
    pub per_image: Option<Map<String, Value>>,
    /// USD per million audio input tokens, where priced apart from the input's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_input_per_million: Option<Value>,
    /// USD per million audio output tokens, where priced apart from the output's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_output_per_million: Option<Value>,
    /// USD per second of input audio or of video (then an object of prices by size), where priced so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::quota::price::PerSecond>)]
    pub per_second: Option<Value>,
    /// USD per minute of input audio, where priced so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub per_minute: Option<Value>,
    /// USD per million input characters, where priced so (speech).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub per_million_characters: Option<Value>,
    /// Prices for a call whose input tokens pass a threshold, the whole call at them, where
    /// the provider charges more for long prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextDoc>,
    /// Prices of the provider's batch API, where it has one; no call is priced by them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchDoc>,
    pub context_window: u64,
    pub max_output_tokens: u64,
    /// The day the prices were read (YYYY-MM-DD).
    pub as_of: String,
    /// The public page they were read from.
    pub source: String,
}

impl CatalogEntry {
    /// Its prices as a price document (the fields an override sets).
    pub fn price_doc(&self) -> PriceDoc {
        PriceDoc {
            input_per_million: self.input_per_million.clone(),
            cached_input_per_million: self.cached_input_per_million.clone().filter(|v| !v.is_null()),
            cache_write_per_million: self.cache_write_per_million.clone().filter(|v| !v.is_null()),
            output_per_million: self.output_per_million.clone(),
            per_image: self.per_image.clone(),
            audio_input_per_million: self.audio_input_per_million.clone().filter(|v| !v.is_null()),
            audio_output_per_million: self.audio_output_per_million.clone().filter(|v| !v.is_null()),
            per_second: self.per_second.clone().filter(|v| !v.is_null()),
            per_minute: self.per_minute.clone().filter(|v| !v.is_null()),
            per_million_characters: self.per_million_characters.clone().filter(|v| !v.is_null()),
            long_context: self.long_context.clone(),
            batch: self.batch.clone(),
        }
    }
}

/// The catalog file: `{version, models}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogDoc {
    pub version: String,
    pub models: Vec<CatalogEntry>,
}

/// A validated catalog, its models found by any of their names.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub doc: CatalogDoc,
    prices: Vec<ModelPrice>,
    by_name: HashMap<String, usize>,
}

/// One model's price in the catalog.
pub struct CatalogPrice<'c> {
    pub entry: &'c CatalogEntry,
    pub price: &'c ModelPrice,
}

/// A model name: `[A-Za-z0-9_.:/-]{1,128}`.
pub(crate) fn check_model(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'));
    match ok {
        true => Ok(()),
        false => Err("must be a model name: 1 to 128 of A-Z a-z 0-9 _ . : / -"),
    }
}

/// A provider's name: `[a-z0-9][a-z0-9_.-]{0,63}` (`openai`, `vertex_ai-language-models`).
pub(crate) fn check_provider(name: &str) -> Result<(), &'static str> {
    let ok = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    match ok {
        true => Ok(()),
        false => Err("must be a provider's name: 1 to 64 of a-z 0-9 _ . -, starting with a letter or digit"),
    }
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// One entry as a catalog takes it, alone (names given twice are the whole catalog's to
/// find): its price, or the error naming its field after `at`.
pub(super) fn check_entry(m: &CatalogEntry, at: &str) -> Result<ModelPrice, PriceError> {
    let field = |name: &str| format!("{at}{name}");
    check_provider(&m.provider).map_err(|detail| PriceError::new(field("provider"), detail))?;
    if !is_date(&m.as_of) {
        return Err(PriceError::new(field("asOf"), "must be a date, YYYY-MM-DD"));
    }
    if !m.source.starts_with("https://") || m.source.len() > 512 {
        return Err(PriceError::new(
            field("source"),
            "must be the https address the prices were read from",
        ));
    }
    if m.max_output_tokens > m.context_window.max(1) * 2 || m.context_window > 100_000_000 {
        return Err(PriceError::new(
            field("maxOutputTokens"),
            "must fit the model's context window",
        ));
    }
    let price = m.price_doc().to_price(at)?;
    for (j, name) in std::iter::once(&m.model).chain(&m.aliases).enumerate() {
        let name_field = match j {
            0 => field("model"),
            _ => field(&format!("aliases[{}]", j - 1)),
        };
        check_model(name).map_err(|detail| PriceError::new(name_field, detail))?;
    }
    Ok(price)
}

impl Catalog {
    /// Parses and checks a catalog file; the error names the entry and field at fault.
    pub fn parse(text: &str) -> Result<Catalog, PriceError> {
        let doc: CatalogDoc = serde_json::from_str(text).map_err(|e| {
            PriceError::new(
                format!("line {} column {}", e.line(), e.column()),
                format!("is not a catalog: {e}"),
            )
        })?;
        Catalog::from_doc(doc)
    }

    pub fn from_doc(doc: CatalogDoc) -> Result<Catalog, PriceError> {
        if doc.version.is_empty() || doc.version.len() > 64 || doc.version.chars().any(char::is_control) {
            return Err(PriceError::new("version", "must be 1 to 64 bytes"));
        }
        if doc.models.len() > MAX_MODELS {
            return Err(PriceError::new("models", "must list at most 20,000 models"));
        }
        let mut prices = Vec::with_capacity(doc.models.len());
        let mut by_name = HashMap::new();
        for (i, m) in doc.models.iter().enumerate() {
            let at = format!("models[{i}] ({}).", m.model);
            prices.push(check_entry(m, &at)?);
            for (j, name) in std::iter::once(&m.model).chain(&m.aliases).enumerate() {
                if by_name.insert(name.clone(), i).is_some() {
                    let name_field = match j {
                        0 => format!("{at}model"),
                        _ => format!("{at}aliases[{}]", j - 1),
                    };
                    return Err(PriceError::new(name_field, format!("names {name} a second time")));
                }
            }
        }
        Ok(Catalog { doc, prices, by_name })
    }

    /// The catalog this binary was built with.
    pub fn built_in() -> Catalog {
        // A test checks the file parses, so this is only ever reached with a good one.
        Catalog::parse(BUILT_IN).unwrap_or_else(|_| Catalog {
            doc: CatalogDoc {
                version: "none".into(),
                models: Vec::new(),
            },
            prices: Vec::new(),
            by_name: HashMap::new(),
        })
    }

    pub fn version(&self) -> &str {
        &self.doc.version
    }

    /// A model by its name or an alias.
    pub fn find(&self, name: &str) -> Option<CatalogPrice<'_>> {
        let i = *self.by_name.get(name)?;
        Some(CatalogPrice {
            entry: &self.doc.models[i],
            price: &self.prices[i],
        })
    }
}

/// One difference between two catalogs, for a person to review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    /// A model's field, before and after.
    Changed {
        model: String,
        field: &'static str,
        before: String,
        after: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(model) => write!(f, "+ {model}"),
            Change::Removed(model) => write!(f, "- {model}"),
            Change::Changed {
                model,
                field,
                before,
                after,
            } => write!(f, "~ {model} {field}: {before} -> {after}"),
        }
    }
}

/// Every model added, removed, or whose price, limit or alias changed from `old` to `new`, by
/// model name.
pub fn diff(old: &Catalog, new: &Catalog) -> Vec<Change> {
    let mut changes = Vec::new();
    let names = |c: &Catalog| {
        let mut v: Vec<String> = c.doc.models.iter().map(|m| m.model.clone()).collect();
        v.sort();
        v
    };
    let (before, after) = (names(old), names(new));
    for model in &before {
        if !after.contains(model) {
            changes.push(Change::Removed(model.clone()));
        }
    }
    for model in &after {
        let (Some(n), Some(o)) = (new.find(model), old.find(model).filter(|o| &o.entry.model == model)) else {
            changes.push(Change::Added(model.clone()));
            continue;
        };
        let mut fields: Vec<(&'static str, String, String)> = price_fields(o.price)
            .into_iter()
            .zip(price_fields(n.price))
            .map(|((field, before), (_, after))| (field, before, after))
            .collect();
        fields.extend([
            (
                "contextWindow",
                o.entry.context_window.to_string(),
                n.entry.context_window.to_string(),
            ),
            (
                "maxOutputTokens",
                o.entry.max_output_tokens.to_string(),
                n.entry.max_output_tokens.to_string(),
            ),
            ("aliases", o.entry.aliases.join(","), n.entry.aliases.join(",")),
        ]);
        for (field, before, after) in fields {
            if before != after {
                changes.push(Change::Changed {
                    model: model.clone(),
                    field,
                    before,
                    after,
                });
            }
        }
    }
    changes
}

/// Every price of a model by its field's name, as a diff shows it (`none` where it has none).
fn price_fields(p: &ModelPrice) -> Vec<(&'static str, String)> {
    let show = |v: Option<u64>| v.map_or("none".to_string(), |m| super::price::dollars(m).to_string());
    let keyed = |prices: &std::collections::BTreeMap<String, u64>| {
        prices
            .iter()
            .map(|(k, v)| format!("{k}={}", super::price::dollars(*v)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let images = keyed(&p.per_image);
    let tier = p.long_context.as_ref();
    let batch = p.batch.as_ref();
    vec![
        ("inputPerMillion", show(Some(p.input))),
        ("cachedInputPerMillion", show(p.cached_input)),
        ("cacheWritePerMillion", show(p.cache_write)),
        ("outputPerMillion", show(Some(p.output))),
        ("perImage", images),
        ("audioInputPerMillion", show(p.audio_input)),
        ("audioOutputPerMillion", show(p.audio_output)),
        (
            "perSecond",
            match p.per_second_by_size.is_empty() {
                true => show(p.per_second),
                false => keyed(&p.per_second_by_size),
            },
        ),
        ("perMinute", show(p.per_minute)),
        ("perMillionCharacters", show(p.per_million_characters)),
        (
            "longContext.overInputTokens",
            tier.map_or("none".into(), |t| t.over_input_tokens.to_string()),
        ),
        ("longContext.inputPerMillion", show(tier.map(|t| t.input))),
        (
            "longContext.cachedInputPerMillion",
            show(tier.and_then(|t| t.cached_input)),
        ),
        (
            "longContext.cacheWritePerMillion",
            show(tier.and_then(|t| t.cache_write)),
        ),
        ("longContext.outputPerMillion", show(tier.map(|t| t.output))),
        ("batch.inputPerMillion", show(batch.map(|b| b.input))),
        ("batch.outputPerMillion", show(batch.map(|b| b.output))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{"version": "t1", "models": [
        {"model": "gpt-x", "provider": "openai", "aliases": ["gpt-x-2026-01-01"],
         "inputPerMillion": 2.5, "cachedInputPerMillion": 1.25, "cacheWritePerMillion": null,
         "outputPerMillion": 10, "perImage": null, "contextWindow": 128000, "maxOutputTokens": 16384,
         "asOf": "2026-11-20", "source": "https://example.com/pricing"}
    ]}"#;

    #[test]
    fn the_built_in_catalog_parses_and_finds_models_by_alias() {
        let built = Catalog::parse(BUILT_IN).expect("catalog/models.json must be a valid catalog");
        assert!(!built.doc.models.is_empty());
        let small = Catalog::parse(SMALL).unwrap();
        assert_eq!(small.find("gpt-x-2026-01-01").unwrap().entry.model, "gpt-x");
        assert_eq!(small.find("gpt-x").unwrap().price.output, 10_000_000);
        assert!(small.find("gpt-y").is_none());
    }

    #[test]
    fn a_malformed_entry_is_refused_naming_it() {
        let bad = SMALL.replace("\"outputPerMillion\": 10", "\"outputPerMillion\": \"ten\"");
        let err = Catalog::parse(&bad).unwrap_err();
        assert_eq!(err.field, "models[0] (gpt-x).outputPerMillion");
        let twice = SMALL.replace("gpt-x-2026-01-01", "gpt-x");
        assert_eq!(
            Catalog::parse(&twice).unwrap_err().field,
            "models[0] (gpt-x).aliases[0]"
        );
        let date = SMALL.replace("2026-11-20", "last week");
        assert_eq!(Catalog::parse(&date).unwrap_err().field, "models[0] (gpt-x).asOf");
        let tier = SMALL.replace(
            "\"perImage\": null,",
            r#""perImage": null, "longContext": {"overInputTokens": 0, "inputPerMillion": 5, "outputPerMillion": 15},"#,
        );
        assert_eq!(
            Catalog::parse(&tier).unwrap_err().field,
            "models[0] (gpt-x).longContext.overInputTokens"
        );
        let batch = SMALL.replace(
            "\"perImage\": null,",
            r#""perImage": null, "batch": {"inputPerMillion": 1},"#,
        );
        assert!(Catalog::parse(&batch).unwrap_err().detail.contains("outputPerMillion"));
    }

    #[test]
    fn a_diff_lists_every_changed_price() {
        let old = Catalog::parse(SMALL).unwrap();
        let new = Catalog::parse(&SMALL.replace("\"outputPerMillion\": 10", "\"outputPerMillion\": 8")).unwrap();
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "~ gpt-x outputPerMillion: 10 -> 8");
        assert!(diff(&old, &old).is_empty());
        // A long-context tier and batch prices added, then changed.
        let tiered = SMALL.replace(
            "\"perImage\": null,",
            r#""perImage": null, "longContext": {"overInputTokens": 200000, "inputPerMillion": 5,
               "outputPerMillion": 15}, "batch": {"inputPerMillion": 1.25, "outputPerMillion": 5},"#,
        );
        let tiered = Catalog::parse(&tiered).unwrap();
        let shown: Vec<String> = diff(&old, &tiered).iter().map(Change::to_string).collect();
        assert_eq!(
            shown,
            [
                "~ gpt-x longContext.overInputTokens: none -> 200000",
                "~ gpt-x longContext.inputPerMillion: none -> 5",
                "~ gpt-x longContext.outputPerMillion: none -> 15",
                "~ gpt-x batch.inputPerMillion: none -> 1.25",
                "~ gpt-x batch.outputPerMillion: none -> 5",
            ]
        );
        let mut doc = tiered.doc.clone();
        doc.models[0].long_context.as_mut().unwrap().over_input_tokens = 128_000.into();
        doc.models[0].batch.as_mut().unwrap().output_per_million = 4.into();
        doc.models[0].per_minute = Some(0.006.into());
        let shown: Vec<String> = diff(&tiered, &Catalog::from_doc(doc).unwrap())
            .iter()
            .map(Change::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "~ gpt-x perMinute: none -> 0.006",
                "~ gpt-x longContext.overInputTokens: 200000 -> 128000",
                "~ gpt-x batch.outputPerMillion: 5 -> 4",
            ]
        );
    }
}
