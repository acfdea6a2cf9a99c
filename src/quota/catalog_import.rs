//! A catalog from the community's price list (the `model_prices_and_context_window.json`
//! format many gateways share: an object of models, each with per-token prices, limits and a
//! provider). Each price is converted exactly (its decimal text shifted, never through a
//! float), each imported model names where its prices came from, and nothing is guessed: a
//! model the catalog cannot price as written is left out with the reason, and every field the
//! catalog does not carry is reported with how many models had it. Prices above a number of
//! input tokens (`input_cost_per_token_above_200k_tokens`) become the model's long-context tier
//! over that many; `*_batches` prices its batch prices.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::amount::{parse_scaled, AmountError};
use super::catalog::{check_entry, check_model, Catalog, CatalogDoc, CatalogEntry};
use super::dollars::{dollars, MAX_PRICE_MICRO, PRICE_DECIMALS};
use super::price_tiers::{BatchDoc, LongContextDoc};

/// What an import made: the catalog, the models left out and why, and the fields not carried.
#[derive(Debug)]
pub struct Imported {
    pub catalog: Catalog,
    pub skipped: Vec<(String, String)>,
    /// Field name -> how many models had it.
    pub not_carried: BTreeMap<String, usize>,
}

/// Where the prices came from and as of when: the catalog's `asOf` and `source` for every
/// model whose entry names no `https` source of its own.
pub struct Provenance<'a> {
    pub version: &'a str,
    pub as_of: &'a str,
    pub source: &'a str,
}

/// The fields an import reads; any other is reported as not carried.
const READ: [&str; 16] = [
    "litellm_provider",
    "mode",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "input_cost_per_audio_token",
    "output_cost_per_audio_token",
    "input_cost_per_second",
    "input_cost_per_character",
    "input_cost_per_token_batches",
    "output_cost_per_token_batches",
    "max_input_tokens",
    "max_output_tokens",
    "max_tokens",
    "source",
];

/// The per-token prices a long-context tier reads, each with its field in the tier.
const TIERED: [(&str, &str); 4] = [
    ("input_cost_per_token", "inputPerMillion"),
    ("output_cost_per_token", "outputPerMillion"),
    ("cache_read_input_token_cost", "cachedInputPerMillion"),
    ("cache_creation_input_token_cost", "cacheWritePerMillion"),
];

/// A price above a threshold of input tokens, by its name: `<price>_above_<N>k_tokens` (N
/// thousand tokens: 128k, 200k) of a price `TIERED` lists. None for any other field.
fn above(field: &str) -> Option<(&'static str, u64)> {
    let (price, threshold) = field.strip_suffix("k_tokens")?.rsplit_once("_above_")?;
    let (_, tier_field) = TIERED.iter().find(|(name, _)| *name == price)?;
    let thousands: u64 = match threshold.len() {
        1..=5 if threshold.bytes().all(|b| b.is_ascii_digit()) => threshold.parse().ok()?,
        _ => return None,
    };
    Some((*tier_field, thousands * 1000)).filter(|(_, tokens)| *tokens > 0)
}

/// Capabilities and notes, which price nothing: neither read nor reported.
fn descriptive(field: &str) -> bool {
    field.starts_with("supports_")
        || matches!(
            field,
            "deprecation_date"
                | "supported_endpoints"
                | "supported_modalities"
                | "supported_output_modalities"
                | "metadata"
                | "comment"
                | "output_vector_size"
                | "tpm"
                | "rpm"
        )
}

/// Converts the text of a price list. Err names what made the whole file unreadable; a model
/// the catalog cannot hold is skipped, with the reason.
pub fn import(text: &str, provenance: &Provenance<'_>) -> Result<Imported, String> {
    let list: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| format!("not a price list (an object of models): {e}"))?;
    let mut models = Vec::new();
    let mut skipped = Vec::new();
    let mut not_carried: BTreeMap<String, usize> = BTreeMap::new();
    for (name, entry) in &list {
        // The list's first entry documents its fields.
        if name == "sample_spec" {
            continue;
        }
        let Value::Object(entry) = entry else {
            skipped.push((name.clone(), "is not an object".to_string()));
            continue;
        };
        for field in entry.keys() {
            if !READ.contains(&field.as_str()) && above(field).is_none() && !descriptive(field) {
                *not_carried.entry(field.clone()).or_default() += 1;
            }
        }
        // What the catalog would refuse of the entry (a limit past its bound) leaves out this
        // model, not the list.
        let checked = model(name, entry, provenance)
            .and_then(|m| check_entry(&m, "").map(|_| m).map_err(|e| format!("as converted, {e}")));
        match checked {
            Ok(m) => models.push(m),
            Err(reason) => skipped.push((name.clone(), reason)),
        }
    }
    // A name the list gives twice (after it is checked) is kept once, the first.
    let mut seen = std::collections::HashSet::new();
    models.retain(|m: &CatalogEntry| {
        let first = seen.insert(m.model.clone());
        if !first {
            skipped.push((m.model.clone(), "is named twice".to_string()));
        }
        first
    });
    let doc = CatalogDoc {
        version: provenance.version.to_string(),
        models,
    };
    let catalog = Catalog::from_doc(doc).map_err(|e| format!("the converted catalog is refused: {e}"))?;
    Ok(Imported {
        catalog,
        skipped,
        not_carried,
    })
}

/// One model of the list as a catalog entry, or why it cannot be one.
fn model(name: &str, entry: &Map<String, Value>, provenance: &Provenance<'_>) -> Result<CatalogEntry, String> {
    // Vertex AI names a model's version after `@` (`vertex_ai/claude-haiku-4-5@20251001`), where
    // the gateway reads it as Anthropic's `-` (a vertex upstream's calls are named so too).
    let name = &name.replace('@', "-");
    check_model(name).map_err(|d| format!("its name {d}"))?;
    let provider = entry
        .get("litellm_provider")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .filter(|p| super::catalog::check_provider(p).is_ok())
        .ok_or("names no provider the catalog can hold (litellm_provider)")?;
    let per_million = |field: &str| -> Result<Option<Value>, String> {
        let per = match field.ends_with("per_character") {
            true => "per million characters",
            false => "per million tokens",
        };
        match entry.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => price(field, &n.to_string(), 6, per).map(Some),
            Some(other) => Err(format!("{field} is not a number: {}", cut(&other.to_string()))),
        }
    };
    let input = per_million("input_cost_per_token")?;
    let output = per_million("output_cost_per_token")?;
    // Audio priced by its length or its text's characters needs no price per token: the
    // tokens it reports (if any) are then free.
    let per_second = per_unit("input_cost_per_second", entry)?;
    let per_million_characters = per_million("input_cost_per_character")?;
    let audio = per_second.is_some() || per_million_characters.is_some();
    let (input, output) =
        match (input, output) {
            (Some(input), Some(output)) => (input, output),
            (input, output) if audio => (input.unwrap_or(0.into()), output.unwrap_or(0.into())),
            _ => return Err(
                "has no price per input and output token, second or character (priced otherwise: per image or request)"
                    .into(),
            ),
        };
    let long_context = long_context(entry, &input, &output, &per_million)?;
    // Batch prices where the list gives one of them; the other is the model's standard price.
    let batch = match (
        per_million("input_cost_per_token_batches")?,
        per_million("output_cost_per_token_batches")?,
    ) {
        (None, None) => None,
        (batch_input, batch_output) => Some(BatchDoc {
            input_per_million: batch_input.unwrap_or_else(|| input.clone()),
            output_per_million: batch_output.unwrap_or_else(|| output.clone()),
        }),
    };
    let (context_window, max_output_tokens) = limits(entry, audio)?;
    let source = entry
        .get("source")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("https://") && s.len() <= 512 && !s.contains(char::is_whitespace))
        .unwrap_or(provenance.source);
    Ok(CatalogEntry {
        model: name.to_string(),
        provider,
        aliases: Vec::new(),
        input_per_million: input,
        cached_input_per_million: per_million("cache_read_input_token_cost")?,
        cache_write_per_million: per_million("cache_creation_input_token_cost")?,
        output_per_million: output,
        per_image: None,
        audio_input_per_million: per_million("input_cost_per_audio_token")?,
        audio_output_per_million: per_million("output_cost_per_audio_token")?,
        per_second,
        per_minute: None,
        per_million_characters,
        long_context,
        batch,
        context_window,
        max_output_tokens,
        as_of: provenance.as_of.to_string(),
        source: source.to_string(),
    })
}

/// The model's context window and output limit; a model priced by its audio's length or
/// characters may name neither (both 0 then).
fn limits(entry: &Map<String, Value>, audio: bool) -> Result<(u64, u64), String> {
    let limit = |field: &str| entry.get(field).and_then(Value::as_u64);
    let context_window = limit("max_input_tokens").or_else(|| limit("max_tokens"));
    let max_output_tokens = limit("max_output_tokens").or_else(|| limit("max_tokens"));
    match (context_window, max_output_tokens) {
        (Some(c), Some(o)) => Ok((c, o)),
        (None, None) if audio => Ok((0, 0)),
        (None, _) => Err("names no context window (max_input_tokens or max_tokens)".into()),
        (Some(_), None) => Err("names no output limit (max_output_tokens or max_tokens)".into()),
    }
}

/// The long-context tier of the prices above a threshold (`*_above_200k_tokens`), or None when
/// the list gives none. A tier price the list does not give is its price below the threshold,
/// the list saying nothing changes; prices above two thresholds are refused, the catalog
/// holding one tier.
fn long_context(
    entry: &Map<String, Value>,
    input: &Value,
    output: &Value,
    per_million: &dyn Fn(&str) -> Result<Option<Value>, String>,
) -> Result<Option<LongContextDoc>, String> {
    let mut threshold = None;
    let mut tier: BTreeMap<&str, Value> = BTreeMap::new();
    for field in entry.keys() {
        let Some((tier_field, tokens)) = above(field) else {
            continue;
        };
        let Some(price) = per_million(field)? else {
            continue;
        };
        match threshold {
            Some(other) if other != tokens => {
                return Err(format!(
                    "has prices above {other} and above {tokens} input tokens; the catalog holds one long-context tier"
                ))
            }
            _ => threshold = Some(tokens),
        }
        tier.insert(tier_field, price);
    }
    let Some(over) = threshold else {
        return Ok(None);
    };
    let price = |name: &str| tier.get(name).cloned();
    Ok(Some(LongContextDoc {
        over_input_tokens: over.into(),
        input_per_million: price("inputPerMillion").unwrap_or_else(|| input.clone()),
        cached_input_per_million: price("cachedInputPerMillion").or(per_million("cache_read_input_token_cost")?),
        cache_write_per_million: price("cacheWritePerMillion").or(per_million("cache_creation_input_token_cost")?),
        output_per_million: price("outputPerMillion").unwrap_or_else(|| output.clone()),
    }))
}

/// A price per unit (a second of audio) as the catalog writes it: in dollars, at most six
/// decimals, exactly.
fn per_unit(field: &str, entry: &Map<String, Value>) -> Result<Option<Value>, String> {
    match entry.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => price(field, &n.to_string(), 0, "per second").map(Some),
        Some(other) => Err(format!("{field} is not a number: {}", cut(&other.to_string()))),
    }
}

/// A price of the list (`text`, a JSON number's as written) times 10^`places` in dollars (a
/// price per token is `places` 6 from a price per million), exactly, as the catalog writes it;
/// or why not, naming `field` (`per` says the catalog's unit). Read by `parse_scaled`, which
/// neither panics nor allocates by an exponent's size; an exponent past what it reads is first
/// brought within it (`within_reach`).
fn price(field: &str, text: &str, places: u32, per: &str) -> Result<Value, String> {
    let shown = cut(text);
    parse_scaled(&within_reach(text), PRICE_DECIMALS + places, MAX_PRICE_MICRO)
        .map(dollars)
        .map_err(|e| match e {
            AmountError::TooLarge { .. } => {
                format!("{field} {shown} is above the dearest price the catalog holds ($1,000,000 {per})")
            }
            AmountError::TooPrecise(_) => {
                format!("{field} {shown} is finer than the catalog holds (micro-dollars {per})")
            }
            AmountError::Negative => format!("{field} {shown} is negative"),
            AmountError::NotANumber => format!("{field} {shown} is not a number the catalog can read"),
        })
}

/// `text` with an exponent of more than 9 digits (past an `i32`, which `parse_scaled` reads)
/// made ±999,999,999: the same outcome (too large, too fine, or zero for a zero mantissa),
/// since a price shifted by more than a few dozen places is already one of them.
fn within_reach(text: &str) -> std::borrow::Cow<'_, str> {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return text.into();
    };
    let (sign, digits) = match exponent.as_bytes().first() {
        Some(b'-') => ("-", &exponent[1..]),
        Some(b'+') => ("", &exponent[1..]),
        _ => ("", exponent),
    };
    let digits = digits.trim_start_matches('0');
    match digits.len() > 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
        true => format!("{mantissa}e{sign}999999999").into(),
        false => text.into(),
    }
}

/// A number's text as a reason quotes it: at most 32 characters, cut with an ellipsis.
fn cut(text: &str) -> String {
    match text.char_indices().nth(32) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provenance() -> Provenance<'static> {
        Provenance {
            version: "imported-2026-11-28",
            as_of: "2026-11-28",
            source: "https://example.com/prices.json",
        }
    }

    /// The clouds' entries keep the names the clouds' paths give their models: Bedrock's model
    /// ids and inference profiles, Azure's and Vertex AI's prefixed names.
    #[test]
    fn the_clouds_entries_import_under_the_names_their_paths_use() {
        let list = json!({
            "us.anthropic.claude-haiku-4-5-20251001-v1:0": {"input_cost_per_token": 1.1e-6, "output_cost_per_token": 5.5e-6,
                "litellm_provider": "bedrock_converse", "mode": "chat", "max_input_tokens": 200000, "max_output_tokens": 64000},
            "amazon.nova-lite-v1:0": {"input_cost_per_token": 6e-8, "output_cost_per_token": 2.4e-7,
                "litellm_provider": "bedrock_converse", "mode": "chat", "max_input_tokens": 300000, "max_output_tokens": 10000},
            "azure/gpt-4o-mini": {"input_cost_per_token": 1.65e-7, "output_cost_per_token": 6.6e-7,
                "litellm_provider": "azure", "mode": "chat", "max_input_tokens": 128000, "max_output_tokens": 16384},
            "vertex_ai/claude-haiku-4-5@20251001": {"input_cost_per_token": 1e-6, "output_cost_per_token": 5e-6,
                "litellm_provider": "vertex_ai-anthropic_models", "mode": "chat", "max_input_tokens": 200000,
                "max_output_tokens": 64000}
        });
        let imported = import(&list.to_string(), &provenance()).unwrap();
        let profile = imported
            .catalog
            .find("us.anthropic.claude-haiku-4-5-20251001-v1:0")
            .unwrap_or_else(|| panic!("a Bedrock inference profile, by its id: {:?}", imported.skipped));
        assert_eq!(profile.entry.provider, "bedrock_converse");
        assert_eq!(profile.entry.input_per_million.to_string(), "1.1");
        assert!(imported.catalog.find("amazon.nova-lite-v1:0").is_some());
        assert!(imported.catalog.find("azure/gpt-4o-mini").is_some());
        // Vertex's `@` version is read as Anthropic's `-`, as a vertex upstream names its calls.
        assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
        let vertex = imported.catalog.find("vertex_ai/claude-haiku-4-5-20251001").unwrap();
        assert_eq!(vertex.entry.provider, "vertex_ai-anthropic_models");
    }

    #[test]
    fn per_token_prices_become_per_million_exactly() {
        let per_million = |text: &str| price("p", text, 6, "per million tokens").map(|v| v.to_string());
        for (given, want) in [
            ("2.5e-7", "0.25"),
            ("1.5e-07", "0.15"),
            ("0.0000025", "2.5"),
            ("3e-06", "3"),
            ("0", "0"),
            ("1.25E-5", "12.5"),
            ("7.5e-10", "0.00075"),
            ("0.00003", "30"),
            ("1", "1000000"),
        ] {
            assert_eq!(per_million(given), Ok(want.to_string()), "{given}");
        }
        assert!(
            per_million("1.234567e-13").is_err(),
            "more than micro-dollars per million"
        );
        assert!(per_million("-1e-6").is_err());
    }

    /// Exponents at the ends of what a number's text can say: no panic, nothing allocated by
    /// the exponent's size, and each model with such a price left out naming its field while
    /// the rest are imported.
    #[test]
    fn a_price_out_of_range_leaves_out_its_model_alone_naming_the_field() {
        let model = |price: &str| {
            format!(
                r#"{{"max_tokens": 1000, "input_cost_per_token": {price}, "output_cost_per_token": 1e-6,
                    "litellm_provider": "openai", "mode": "chat"}}"#
            )
        };
        let prices = [
            ("huge", "1e9223372036854775807"),
            ("past-i64", "1e92233720368547758070"),
            ("tiny", "1e-9223372036854775808"),
            ("far", "1e100000000"),
            ("far-below", "1e-100000000"),
            ("float-range", "1e400"),
            ("dearest-plus", "1.000001"),
            ("zero-far", "0e99999999999999999999"),
            ("good", "2.5e-7"),
        ];
        let text = format!(
            "{{{}}}",
            prices
                .iter()
                .map(|(name, price)| format!("\"{name}\": {}", model(price)))
                .collect::<Vec<_>>()
                .join(",")
        );
        let imported = import(&text, &provenance()).unwrap();
        let names: Vec<&str> = imported.catalog.doc.models.iter().map(|m| m.model.as_str()).collect();
        assert_eq!(names, ["good", "zero-far"]);
        let skipped: BTreeMap<&str, &str> = imported
            .skipped
            .iter()
            .map(|(m, why)| (m.as_str(), why.as_str()))
            .collect();
        for name in ["huge", "past-i64", "far", "float-range", "dearest-plus"] {
            assert!(
                skipped[name].starts_with("input_cost_per_token") && skipped[name].contains("dearest"),
                "{name}: {skipped:?}"
            );
        }
        for name in ["tiny", "far-below"] {
            assert!(
                skipped[name].starts_with("input_cost_per_token") && skipped[name].contains("micro-dollars"),
                "{name}: {skipped:?}"
            );
        }
        // The reason quotes a long number cut short, never whole.
        assert!(skipped.values().all(|why| why.len() < 200), "{skipped:?}");
    }

    /// What the catalog refuses of an entry (a context window past its bound) leaves out that
    /// model, naming the field, not the whole list.
    #[test]
    fn a_model_the_catalog_refuses_is_left_out_and_the_rest_imported() {
        let text = r#"{
            "vast": {"max_input_tokens": 900000000, "max_output_tokens": 10, "input_cost_per_token": 1e-6,
                "output_cost_per_token": 1e-6, "litellm_provider": "openai"},
            "fine": {"max_tokens": 10, "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
                "litellm_provider": "openai"}
        }"#;
        let imported = import(text, &provenance()).unwrap();
        assert_eq!(imported.catalog.doc.models.len(), 1);
        assert_eq!(imported.skipped.len(), 1, "{:?}", imported.skipped);
        assert_eq!(imported.skipped[0].0, "vast");
        assert!(
            imported.skipped[0].1.contains("maxOutputTokens"),
            "{:?}",
            imported.skipped
        );
    }

    #[test]
    fn a_list_imports_what_the_catalog_holds_and_says_what_it_left_out() {
        let text = r#"{
            "sample_spec": {"max_tokens": "set to max_output_tokens"},
            "gpt-4o-mini": {"max_tokens": 16384, "max_input_tokens": 128000, "max_output_tokens": 16384,
                "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 7.5e-08,
                "input_cost_per_token_batches": 7.5e-08, "litellm_provider": "openai", "mode": "chat",
                "supports_vision": true},
            "gemini/gemini-2.5-pro": {"max_input_tokens": 1048576, "max_output_tokens": 65535,
                "input_cost_per_token": 1.25e-06, "input_cost_per_token_above_200k_tokens": 2.5e-06,
                "output_cost_per_token": 1e-05, "litellm_provider": "gemini", "mode": "chat",
                "source": "https://ai.google.dev/pricing"},
            "whisper-1": {"mode": "audio_transcription", "input_cost_per_second": 0.0001, "output_cost_per_second": 0.0001,
                "litellm_provider": "openai"},
            "gpt-4o-transcribe": {"mode": "audio_transcription", "input_cost_per_token": 2.5e-06,
                "input_cost_per_audio_token": 6e-06, "output_cost_per_token": 1e-05, "max_input_tokens": 16000,
                "max_output_tokens": 2000, "litellm_provider": "openai"},
            "tts-1": {"mode": "audio_speech", "input_cost_per_character": 1.5e-05, "litellm_provider": "openai"},
            "gpt-4o-mini-tts": {"mode": "audio_speech", "input_cost_per_token": 6e-07, "output_cost_per_token": 1e-05,
                "output_cost_per_audio_token": 1.2e-05, "max_input_tokens": 2000, "max_output_tokens": 2000,
                "litellm_provider": "openai"},
            "dall-e-3": {"mode": "image_generation", "input_cost_per_pixel": 4.0054321e-08, "litellm_provider": "openai"},
            "broken": "not an object",
            "nameless provider": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06, "max_tokens": 10}
        }"#;
        let imported = import(text, &provenance()).unwrap();
        let catalog = &imported.catalog;
        assert_eq!(catalog.doc.models.len(), 6);
        let mini = catalog.find("gpt-4o-mini").unwrap().entry;
        assert_eq!(mini.input_per_million.to_string(), "0.15");
        assert_eq!(
            mini.cached_input_per_million.as_ref().map(|v| v.to_string()),
            Some("0.075".into())
        );
        assert_eq!((mini.context_window, mini.max_output_tokens), (128_000, 16_384));
        assert_eq!(mini.source, "https://example.com/prices.json");
        let pro = catalog.find("gemini/gemini-2.5-pro").unwrap().entry;
        assert_eq!(
            (pro.provider.as_str(), pro.source.as_str()),
            ("gemini", "https://ai.google.dev/pricing")
        );
        let skipped: Vec<&str> = imported.skipped.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(skipped, ["broken", "dall-e-3", "nameless provider"]);
        assert!(
            imported.skipped[1].1.contains("priced otherwise"),
            "{:?}",
            imported.skipped
        );
        // Audio: by the second, by the character, by audio tokens, each exactly.
        let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        let whisper = catalog.find("whisper-1").unwrap().entry;
        assert_eq!(text(&whisper.per_second), Some("0.0001".into()));
        assert_eq!(
            (whisper.input_per_million.to_string(), whisper.context_window),
            ("0".into(), 0)
        );
        let transcribe = catalog.find("gpt-4o-transcribe").unwrap().entry;
        assert_eq!(text(&transcribe.audio_input_per_million), Some("6".into()));
        assert_eq!(
            text(&catalog.find("tts-1").unwrap().entry.per_million_characters),
            Some("15".into())
        );
        let mini_tts = catalog.find("gpt-4o-mini-tts").unwrap().entry;
        assert_eq!(text(&mini_tts.audio_output_per_million), Some("12".into()));
        assert_eq!(imported.not_carried.get("output_cost_per_second"), Some(&1));
        assert!(!imported.not_carried.contains_key("input_cost_per_token_batches"));
        assert!(!imported
            .not_carried
            .contains_key("input_cost_per_token_above_200k_tokens"));
        assert!(!imported.not_carried.contains_key("supports_vision"));
        assert!(import("[1, 2]", &provenance()).is_err());
    }

    #[test]
    fn prices_above_a_threshold_become_a_long_context_tier_and_batches_batch_prices() {
        let text = r#"{
            "gemini/gemini-2.5-pro": {"max_input_tokens": 1048576, "max_output_tokens": 65535,
                "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-07,
                "input_cost_per_token_above_200k_tokens": 2.5e-06, "output_cost_per_token_above_200k_tokens": 1.5e-05,
                "cache_read_input_token_cost_above_200k_tokens": 2.5e-07, "input_cost_per_token_batches": 6.25e-07,
                "output_cost_per_token_batches": 5e-06, "litellm_provider": "gemini", "mode": "chat"},
            "gemini/gemini-1.5-pro": {"max_input_tokens": 2097152, "max_output_tokens": 8192,
                "input_cost_per_token": 1.25e-06, "output_cost_per_token": 5e-06,
                "input_cost_per_token_above_128k_tokens": 2.5e-06, "litellm_provider": "gemini", "mode": "chat"},
            "claude-sonnet-4": {"max_input_tokens": 1000000, "max_output_tokens": 64000,
                "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "cache_read_input_token_cost": 3e-07,
                "cache_creation_input_token_cost": 3.75e-06, "input_cost_per_token_above_200k_tokens": 6e-06,
                "output_cost_per_token_above_200k_tokens": 2.25e-05,
                "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06,
                "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
                "litellm_provider": "anthropic", "mode": "chat"},
            "text-embedding-3-small": {"max_input_tokens": 8191, "max_output_tokens": 8191,
                "input_cost_per_token": 2e-08, "output_cost_per_token": 0, "input_cost_per_token_batches": 1e-08,
                "litellm_provider": "openai", "mode": "embedding"},
            "two-tiers": {"max_tokens": 300000, "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                "input_cost_per_token_above_128k_tokens": 2e-06, "input_cost_per_token_above_200k_tokens": 3e-06,
                "litellm_provider": "openai", "mode": "chat"},
            "gpt-5.4": {"max_input_tokens": 1050000, "max_output_tokens": 128000,
                "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1.5e-05,
                "input_cost_per_token_above_272k_tokens": 5e-06, "output_cost_per_token_flex_above_272k_tokens": 1.1e-05,
                "litellm_provider": "openai", "mode": "chat"}
        }"#;
        let imported = import(text, &provenance()).unwrap();
        let doc = |model: &str| {
            let entry = imported.catalog.find(model).unwrap().entry;
            (
                serde_json::to_value(&entry.long_context).unwrap(),
                serde_json::to_value(&entry.batch).unwrap(),
            )
        };
        // Every price above 200k, each exactly; batch prices as listed.
        assert_eq!(
            doc("gemini/gemini-2.5-pro"),
            (
                json!({"overInputTokens": 200000, "inputPerMillion": 2.5, "cachedInputPerMillion": 0.25,
                    "outputPerMillion": 15}),
                json!({"inputPerMillion": 0.625, "outputPerMillion": 5})
            )
        );
        // The threshold is the name's: 128k is 128,000 tokens, 272k 272,000. A price the list
        // does not give above it is the price below it.
        assert_eq!(
            doc("gemini/gemini-1.5-pro").0,
            json!({"overInputTokens": 128000, "inputPerMillion": 2.5, "outputPerMillion": 5})
        );
        assert_eq!(
            doc("gpt-5.4").0,
            json!({"overInputTokens": 272000, "inputPerMillion": 5, "outputPerMillion": 15})
        );
        assert_eq!(
            doc("claude-sonnet-4").0,
            json!({"overInputTokens": 200000, "inputPerMillion": 6, "cachedInputPerMillion": 0.3,
                "cacheWritePerMillion": 7.5, "outputPerMillion": 22.5})
        );
        // A batch price the list gives alone; the other is the standard one.
        assert_eq!(
            doc("text-embedding-3-small"),
            (Value::Null, json!({"inputPerMillion": 0.01, "outputPerMillion": 0}))
        );
        // Two thresholds cannot be one tier: the model is left out, saying so.
        assert_eq!(imported.skipped.len(), 1);
        assert_eq!(imported.skipped[0].0, "two-tiers");
        assert!(
            imported.skipped[0].1.contains("one long-context tier"),
            "{:?}",
            imported.skipped
        );
        // A tier of a tier (an hour's cache, flex) is not carried, and says so.
        let not_carried: Vec<&str> = imported.not_carried.keys().map(String::as_str).collect();
        assert_eq!(
            not_carried,
            [
                "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
                "output_cost_per_token_flex_above_272k_tokens"
            ]
        );
        // What a priced call of it costs: 200,001 input tokens at $2.50/M.
        let pro = imported.catalog.find("gemini/gemini-2.5-pro").unwrap().price;
        let counts = crate::quota::price::Counts {
            input: 200_001_000,
            ..Default::default()
        };
        assert_eq!(pro.cost_femto(&counts), Some(500_002_500_000_000));
        for (field, want) in [
            (
                "input_cost_per_token_above_200k_tokens",
                Some(("inputPerMillion", 200_000)),
            ),
            (
                "cache_read_input_token_cost_above_128k_tokens",
                Some(("cachedInputPerMillion", 128_000)),
            ),
            ("input_cost_per_token_above_0k_tokens", None),
            ("input_cost_per_token_above_k_tokens", None),
            ("input_cost_per_token_above_1hr", None),
            ("output_cost_per_reasoning_token_above_200k_tokens", None),
        ] {
            assert_eq!(above(field), want, "{field}");
        }
    }
}
