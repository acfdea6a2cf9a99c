//! Measures: what a limit group counts of an event. By default its quantity; or one metadata
//! number (`completion_tokens`); or a weighted sum of metadata numbers (a cents group priced
//! from token counts); or the quantity at a rate (10 credits a render). Weighted sums and rates
//! are computed exactly in integers and rounded up to a milli-unit. Or the model's price
//! (`price.rs`): a plan says `{"price": "catalog"}`, and each hold records the price it was
//! resolved to, so its commit prices the reported counts by the same.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::amount::{parse_scaled, AmountError, Milli, MAX_UNITS};
use super::dollars::decimal;
use super::event_numbers::metadata_number;
pub(crate) use super::event_numbers::MeasureError;
use super::price::{self, EventPrice, ModelPrice, PriceOrigin};
pub(crate) use super::priced::{PriceRule, Priced, PricedDoc};

/// Weights have at most 6 decimals: they are kept in millionths.
const WEIGHT_DECIMALS: u32 = 6;
const MAX_WEIGHT_MICRO: u64 = 1_000_000 * 1_000_000;
pub(crate) const MAX_WEIGHTS: usize = 32;

/// The measure as written in a plan, on a group or on one of its match rules: exactly one of
/// the three fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Map<String, Value>>,
    /// The quantity times this rate (at most 6 decimals): `{"rate": 10}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub rate: Option<Value>,
    /// Prices the call by its model: `"catalog"` (the project's override, else the catalog),
    /// or `"provider"` (the provider's reported `cost` when the commit has one, else as
    /// `catalog`). On a cents group, or a balance group with `creditsPerDollar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(catalog|provider)$")]
    pub price: Option<String>,
    /// With `price`: the price times this (at most 6 decimals, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub markup: Option<Value>,
    /// With `price` on a balance group: credits per US dollar.
    #[serde(default, rename = "creditsPerDollar", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub credits_per_dollar: Option<Value>,
    /// With `price`: `"allow"` lets a model with no price through at zero (visibly, in the
    /// ledger); by default such a call is denied with `unpriced_model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(deny|allow)$")]
    pub unpriced: Option<String>,
    /// A reservation's record of the price a hold was priced at (written by the gateway,
    /// refused in a plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub priced: Option<PricedDoc>,
}

/// A validated measure; it is also recorded in each hold, so a commit recomputes the
/// actual amount by the rule the reservation was made under. It is recorded as its document
/// (`to_doc`), never by its Rust names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    Quantity,
    Metadata(String),
    /// Metadata keys with their weights in millionths.
    Weights(Vec<(String, u64)>),
    /// The quantity times a rate in millionths.
    Rate(u64),
    /// The model's price, as a plan writes it: resolved per event into `Priced`.
    Price(PriceRule),
    /// A hold's resolved price.
    Priced(Box<Priced>),
}

impl MeasureDoc {
    /// Validates the document; the error says what is wrong with it.
    pub fn to_measure(&self) -> Result<Measure, String> {
        if let Some(priced) = &self.priced {
            return match (&self.metadata, &self.weights, &self.rate, &self.price) {
                (None, None, None, None) => priced.to_priced().map(|p| Measure::Priced(Box::new(p))),
                _ => Err("priced is a reservation's record and stands alone".into()),
            };
        }
        if let Some(source) = &self.price {
            if self.metadata.is_some() || self.weights.is_some() || self.rate.is_some() {
                return Err("must have exactly one of metadata, weights, rate or price".into());
            }
            let provider = match source.as_str() {
                "catalog" => false,
                "provider" => true,
                _ => return Err("price must be \"catalog\" or \"provider\"".into()),
            };
            let markup_micro = match &self.markup {
                None => 1_000_000,
                Some(m) => match weight("markup", m)? {
                    0 => return Err("markup must be above 0".into()),
                    m if m > 1_000_000_000 => return Err("markup must be at most 1000".into()),
                    m => m,
                },
            };
            let credits_per_dollar_micro = match &self.credits_per_dollar {
                None => None,
                Some(c) => match weight("creditsPerDollar", c)? {
                    0 => return Err("creditsPerDollar must be above 0".into()),
                    c if c > 1_000_000_000_000 => return Err("creditsPerDollar must be at most 1000000".into()),
                    c => Some(c),
                },
            };
            let unpriced_allow = match self.unpriced.as_deref() {
                None | Some("deny") => false,
                Some("allow") => true,
                Some(_) => return Err("unpriced must be \"deny\" or \"allow\"".into()),
            };
            return Ok(Measure::Price(PriceRule {
                provider,
                markup_micro,
                credits_per_dollar_micro,
                unpriced_allow,
            }));
        }
        if self.markup.is_some() || self.credits_per_dollar.is_some() || self.unpriced.is_some() {
            return Err("markup, creditsPerDollar and unpriced go with price".into());
        }
        match (&self.metadata, &self.weights, &self.rate) {
            (Some(key), None, None) if !key.is_empty() && key.len() <= 64 => Ok(Measure::Metadata(key.clone())),
            (Some(_), None, None) => Err("metadata must name a key of 1 to 64 bytes".into()),
            (None, None, Some(rate)) => Ok(Measure::Rate(weight("rate", rate)?)),
            (None, Some(weights), None) => {
                if weights.is_empty() || weights.len() > MAX_WEIGHTS {
                    return Err("weights must have 1 to 32 keys".into());
                }
                let mut parsed = Vec::with_capacity(weights.len());
                for (key, value) in weights {
                    parsed.push((key.clone(), weight(&format!("weights.{key}"), value)?));
                }
                Ok(Measure::Weights(parsed))
            }
            _ => Err("must have exactly one of metadata, weights, rate or price".into()),
        }
    }
}

/// A weight or a rate, in millionths; the error names `field`.
fn weight(field: &str, value: &Value) -> Result<u64, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        _ => return Err(format!("{field} must be a number")),
    };
    parse_scaled(&text, WEIGHT_DECIMALS, MAX_WEIGHT_MICRO).map_err(|e| format!("{field} {e}"))
}

impl Measure {
    /// The measure as a plan writes it, weights as exact decimals; None for the quantity.
    /// `to_measure` reads it back into the same measure.
    pub fn to_doc(&self) -> Option<MeasureDoc> {
        let none = MeasureDoc {
            metadata: None,
            weights: None,
            rate: None,
            price: None,
            markup: None,
            credits_per_dollar: None,
            unpriced: None,
            priced: None,
        };
        match self {
            Measure::Quantity => None,
            Measure::Metadata(key) => Some(MeasureDoc {
                metadata: Some(key.clone()),
                ..none
            }),
            Measure::Weights(weights) => Some(MeasureDoc {
                weights: Some(
                    weights
                        .iter()
                        .map(|(key, micro)| (key.clone(), decimal(*micro)))
                        .collect(),
                ),
                ..none
            }),
            Measure::Rate(micro) => Some(MeasureDoc {
                rate: Some(decimal(*micro)),
                ..none
            }),
            Measure::Price(rule) => Some(MeasureDoc {
                price: Some(if rule.provider { "provider" } else { "catalog" }.into()),
                markup: (rule.markup_micro != 1_000_000).then(|| decimal(rule.markup_micro)),
                credits_per_dollar: rule.credits_per_dollar_micro.map(decimal),
                unpriced: rule.unpriced_allow.then(|| "allow".into()),
                ..none
            }),
            Measure::Priced(priced) => Some(MeasureDoc {
                priced: Some(priced.to_doc()),
                ..none
            }),
        }
    }

    /// This measure for an event whose model's price is `price`: a plan's price rule becomes
    /// the price the hold records; None when the model has no price and the rule does not
    /// let it through (the event is denied `unpriced_model`). Other measures are themselves.
    pub fn resolve(&self, price: Option<&EventPrice>) -> Result<Option<std::borrow::Cow<'_, Measure>>, MeasureError> {
        let Measure::Price(rule) = self else {
            return Ok(Some(std::borrow::Cow::Borrowed(self)));
        };
        let Some(price) = price else {
            return Err(no_model());
        };
        let (origin, model_price) = match &price.found {
            Some(found) => (found.origin.clone(), found.price.clone()),
            None if rule.unpriced_allow => (PriceOrigin::Unpriced, ModelPrice::default()),
            None => return Ok(None),
        };
        Ok(Some(std::borrow::Cow::Owned(Measure::Priced(Box::new(Priced {
            rule: rule.clone(),
            model: price.model.clone(),
            origin,
            price: model_price,
        })))))
    }

    /// A hold's resolved price, for its ledger entry's provenance.
    pub fn priced(&self) -> Option<&Priced> {
        match self {
            Measure::Priced(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the amount follows the event's quantity (a commit's actual quantity re-measures
    /// it); else it follows the metadata, when it reads any.
    pub fn reads_quantity(&self) -> bool {
        matches!(self, Measure::Quantity | Measure::Rate(_))
    }

    /// What a hold this measure measured `held` commits: recomputed from the actual quantity
    /// when it reads the quantity (itself, or at a rate) and the commit gave one, from the
    /// actual metadata when it reads metadata and the commit gave that, else as held.
    pub fn committed(
        &self,
        quantity: Option<Milli>,
        metadata: Option<&Map<String, Value>>,
        held: Milli,
    ) -> Result<Milli, MeasureError> {
        match (quantity, metadata) {
            (Some(actual), _) if self.reads_quantity() => self.amount(actual, &Map::new()),
            (_, Some(metadata)) if !self.reads_quantity() => self.amount(Milli::ZERO, metadata),
            _ => Ok(held),
        }
    }

    /// The amount this measure counts for an event.
    pub fn amount(&self, quantity: Milli, metadata: &Map<String, Value>) -> Result<Milli, MeasureError> {
        match self {
            Measure::Quantity => Ok(quantity),
            Measure::Metadata(key) => metadata_number(metadata, key),
            Measure::Weights(weights) => {
                let mut total: u128 = 0;
                for (key, micro) in weights {
                    total += u128::from(metadata_number(metadata, key)?.0) * u128::from(*micro);
                }
                scaled(total, "metadata", "the weighted amount")
            }
            Measure::Rate(micro) => scaled(
                u128::from(quantity.0) * u128::from(*micro),
                "quantity",
                "the rated amount",
            ),
            Measure::Priced(priced) => priced.amount(metadata),
            // Resolved per event before any amount is asked (`resolve`).
            Measure::Price(_) => Err(no_model()),
        }
    }

    /// The amount as an exact fraction (numerator, denominator) whose ceiling `amount` is:
    /// what a clamped hold's curve (`curve.rs`) is drawn from, so the script can invert it.
    /// None where `amount` fails or the numerator passes what u128 holds.
    pub(crate) fn fraction(&self, quantity: Milli, metadata: &Map<String, Value>) -> Option<(u128, u128)> {
        let number = |key: &str| metadata_number(metadata, key).ok().map(|m| u128::from(m.0));
        match self {
            Measure::Quantity => Some((u128::from(quantity.0), 1)),
            Measure::Metadata(key) => Some((number(key)?, 1)),
            Measure::Weights(weights) => {
                let mut total: u128 = 0;
                for (key, micro) in weights {
                    total = total.checked_add(number(key)?.checked_mul(u128::from(*micro))?)?;
                }
                Some((total, 1_000_000))
            }
            Measure::Rate(micro) => Some((u128::from(quantity.0).checked_mul(u128::from(*micro))?, 1_000_000)),
            Measure::Priced(priced) => priced.fraction(metadata),
            Measure::Price(_) => None,
        }
    }

    /// The metadata keys this measure reads.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Measure::Quantity => Vec::new(),
            Measure::Metadata(key) => vec![key.as_str()],
            Measure::Weights(weights) => weights.iter().map(|(k, _)| k.as_str()).collect(),
            Measure::Rate(_) => Vec::new(),
            Measure::Price(_) | Measure::Priced(_) => vec![price::INPUT, price::OUTPUT],
        }
    }
}

/// An event with no model on a group that prices calls by their model.
fn no_model() -> MeasureError {
    MeasureError {
        field: "metadata.model".into(),
        detail: "is required: a limit group of the plan prices the call by its model".into(),
    }
}

/// Milli-units times millionths as milli-units: divided by a million, rounding up, so a
/// priced call never rounds to less than it cost.
fn scaled(total: u128, field: &str, what: &str) -> Result<Milli, MeasureError> {
    match u64::try_from(total.div_ceil(1_000_000)) {
        Ok(m) if m <= Milli::MAX.0 => Ok(Milli(m)),
        _ => Err(MeasureError {
            field: field.into(),
            detail: format!("{what} {}", AmountError::TooLarge { max: MAX_UNITS }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn measure(doc: Value) -> Measure {
        serde_json::from_value::<MeasureDoc>(doc).unwrap().to_measure().unwrap()
    }

    #[test]
    fn weighted_sums_are_exact_and_round_up() {
        let cents = measure(json!({"weights": {"prompt_tokens": 0.00025, "completion_tokens": 0.001}}));
        let m = meta(json!({"prompt_tokens": 1000, "completion_tokens": 333}));
        // 0.25 + 0.333 cents
        assert_eq!(cents.amount(Milli(0), &m), Ok(Milli(583)));
        let m = meta(json!({"prompt_tokens": 1, "completion_tokens": 0}));
        // 0.00025 cents rounds up to one milli-cent.
        assert_eq!(cents.amount(Milli(0), &m), Ok(Milli(1)));
    }

    #[test]
    fn a_missing_or_wrong_number_names_its_field() {
        let tokens = measure(json!({"metadata": "completion_tokens"}));
        let err = tokens.amount(Milli(0), &meta(json!({}))).unwrap_err();
        assert_eq!(err.field, "metadata.completion_tokens");
        let err = tokens
            .amount(Milli(0), &meta(json!({"completion_tokens": "12"})))
            .unwrap_err();
        assert_eq!(err.field, "metadata.completion_tokens");
        assert_eq!(
            tokens.amount(Milli(0), &meta(json!({"completion_tokens": 812}))),
            Ok(Milli(812_000))
        );
    }

    #[test]
    fn a_measure_reads_back_from_its_document() {
        for doc in [
            json!({"metadata": "completion_tokens"}),
            // As a plan's author writes it (json! would print the last weight as 1e-6).
            serde_json::from_str(
                r#"{"weights": {"completion_tokens": 1, "prompt_tokens": 0.00025, "x": 12.5, "y": 0.000001}}"#,
            )
            .unwrap(),
            serde_json::from_str(r#"{"rate": 0.000001}"#).unwrap(),
            json!({"rate": 10}),
        ] {
            let m = measure(doc.clone());
            let back = m.to_doc().unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap().to_string(), doc.to_string());
            assert_eq!(back.to_measure(), Ok(m));
        }
        assert_eq!(Measure::Quantity.to_doc(), None);
    }

    #[test]
    fn documents_need_exactly_one_rule() {
        let both: MeasureDoc = serde_json::from_value(json!({"metadata": "a", "weights": {"a": 1}})).unwrap();
        assert!(both.to_measure().is_err());
        let precise: MeasureDoc = serde_json::from_value(json!({"weights": {"a": 0.0000001}})).unwrap();
        assert!(precise.to_measure().unwrap_err().contains("6 decimal"));
        let two: MeasureDoc = serde_json::from_value(json!({"rate": 1, "metadata": "a"})).unwrap();
        assert!(two.to_measure().is_err());
        let text: MeasureDoc = serde_json::from_value(json!({"rate": "10"})).unwrap();
        assert_eq!(text.to_measure().unwrap_err(), "rate must be a number");
    }

    #[test]
    fn a_rate_prices_the_quantity_exactly_rounding_up() {
        let flux = measure(json!({"rate": 10}));
        assert_eq!(flux.amount(Milli(3_000), &Map::new()), Ok(Milli(30_000)));
        let cheap = measure(json!({"rate": 0.0025}));
        // 1,001 tokens at 0.0025: 2.5025 credits exactly.
        assert_eq!(cheap.amount(Milli(1_001_000), &Map::new()), Ok(Milli(2_503)));
        // One milli-unit at a millionth rounds up to one milli-credit, never to nothing.
        let tiny = measure(json!({"rate": 0.000001}));
        assert_eq!(tiny.amount(Milli(1), &Map::new()), Ok(Milli(1)));
        assert!(flux.reads_quantity() && !measure(json!({"metadata": "t"})).reads_quantity());
    }

    #[test]
    fn a_price_rule_and_a_resolved_price_read_back_from_their_documents() {
        for text in [
            r#"{"price":"catalog","markup":1.2}"#,
            r#"{"price":"provider","creditsPerDollar":1000,"unpriced":"allow"}"#,
        ] {
            let m = measure(serde_json::from_str(text).unwrap());
            assert_eq!(serde_json::to_string(&m.to_doc().unwrap()).unwrap(), text);
        }
        let rule = measure(json!({"price": "catalog", "markup": 1.5}));
        let price = EventPrice {
            model: "m".into(),
            found: Some(crate::quota::price::FoundPrice {
                price: ModelPrice {
                    input: 2_000_000,
                    output: 8_000_000,
                    ..ModelPrice::default()
                },
                origin: PriceOrigin::Catalog("v1".into()),
            }),
            max_output_tokens: None,
        };
        let priced = rule.resolve(Some(&price)).unwrap().unwrap().into_owned();
        let back = priced.to_doc().unwrap().to_measure().unwrap();
        assert_eq!(back, priced);
        // 1,000 in at $2/M and 1,000 out at $8/M: $0.01, 1 cent, 1.5 with the markup.
        let m = meta(json!({"input_tokens": 1000, "output_tokens": 1000}));
        assert_eq!(back.amount(Milli(0), &m), Ok(Milli(1_500)));
        // No model, no price: the field is named; a model with no price and no allowance: None.
        assert_eq!(rule.resolve(None).unwrap_err().field, "metadata.model");
        let none = EventPrice { found: None, ..price };
        assert!(rule.resolve(Some(&none)).unwrap().is_none());
        // A plan cannot write a resolved price itself, nor mix a price with a rate.
        assert!(
            serde_json::from_value::<MeasureDoc>(json!({"price": "catalog", "rate": 1}))
                .unwrap()
                .to_measure()
                .is_err()
        );
    }
}
