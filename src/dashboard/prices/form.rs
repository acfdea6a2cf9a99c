//! The set-a-price form: drawn, and read back as the API's price document (the same fields,
//! the same checks, each refusal naming its field).

use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::{json, Map, Value};

use crate::dashboard::parts::layout::csrf;
use crate::gateway::console::sessions::Session;
use crate::quota::catalog::Catalog;
use crate::quota::price::PriceDoc;

/// The flat prices of a price document, each a field of the form by its own name.
const FLAT: [&str; 9] = [
    "inputPerMillion",
    "cachedInputPerMillion",
    "cacheWritePerMillion",
    "outputPerMillion",
    "audioInputPerMillion",
    "audioOutputPerMillion",
    "perSecond",
    "perMinute",
    "perMillionCharacters",
];

/// A price document's objects: each one's fields, and those it needs when any is given.
const OBJECTS: [(&str, &[&str], &[&str]); 2] = [
    (
        "longContext",
        &[
            "overInputTokens",
            "inputPerMillion",
            "cachedInputPerMillion",
            "cacheWritePerMillion",
            "outputPerMillion",
        ],
        &["overInputTokens", "inputPerMillion", "outputPerMillion"],
    ),
    (
        "batch",
        &["inputPerMillion", "outputPerMillion"],
        &["inputPerMillion", "outputPerMillion"],
    ),
];

/// The form that sets a price, models of the catalog offered as it is typed.
pub(super) fn set_form(session: &Session, catalog: &Catalog) -> Markup {
    html! {
        h2 { "Set a price" }
        p.muted { "USD per million tokens (audio: per million audio tokens, per second or minute of audio, per million characters of speech); it beats the catalog's on every node within a second. A negotiated rate, a fine-tuned or a self-hosted model. A long-context tier prices a whole call whose input tokens are more than its threshold; batch prices are kept, and price no call yet." }
        form method="post" action="/dashboard/prices" {
            (csrf(session))
            input type="hidden" name="do" value="set";
            p {
                label { "Model " input type="text" name="model" required maxlength="128" list="catalog-models"; } " "
                label { "Input " input type="text" name="inputPerMillion" required size="8" inputmode="decimal"; } " "
                label { "Cached input " input type="text" name="cachedInputPerMillion" size="8" inputmode="decimal"; } " "
                label { "Cache write " input type="text" name="cacheWritePerMillion" size="8" inputmode="decimal"; } " "
                label { "Output " input type="text" name="outputPerMillion" required size="8" inputmode="decimal"; } " "
            }
            p {
                label { "Audio input " input type="text" name="audioInputPerMillion" size="8" inputmode="decimal"; } " "
                label { "Audio output " input type="text" name="audioOutputPerMillion" size="8" inputmode="decimal"; } " "
                label { "Per second " input type="text" name="perSecond" size="8" inputmode="decimal"; } " "
                label { "Per minute " input type="text" name="perMinute" size="8" inputmode="decimal"; } " "
                label { "Per M characters " input type="text" name="perMillionCharacters" size="8" inputmode="decimal"; } " "
            }
            p {
                label { "Long context over input tokens " input type="text" name="longContext.overInputTokens" size="8" inputmode="numeric"; } " "
                label { "its input " input type="text" name="longContext.inputPerMillion" size="8" inputmode="decimal"; } " "
                label { "cached input " input type="text" name="longContext.cachedInputPerMillion" size="8" inputmode="decimal"; } " "
                label { "cache write " input type="text" name="longContext.cacheWritePerMillion" size="8" inputmode="decimal"; } " "
                label { "output " input type="text" name="longContext.outputPerMillion" size="8" inputmode="decimal"; } " "
            }
            p {
                label { "Batch input " input type="text" name="batch.inputPerMillion" size="8" inputmode="decimal"; } " "
                label { "Batch output " input type="text" name="batch.outputPerMillion" size="8" inputmode="decimal"; } " "
                button type="submit" { "Set price" }
            }
            datalist id="catalog-models" { @for m in &catalog.doc.models { option value=(m.model) {} } }
        }
    }
}

/// The price document the posted `fields` spell, checked as the API checks it; refused, the
/// field at fault and why.
pub(super) fn read(fields: &HashMap<String, String>) -> Result<PriceDoc, (String, String)> {
    let mut doc = Map::new();
    for name in FLAT {
        if let Some(v) = number(fields, name) {
            doc.insert(name.into(), v);
        }
    }
    // A tier's fields are posted as `longContext.inputPerMillion`: the object when any is given,
    // and each it needs named when missing.
    for (object, names, required) in OBJECTS {
        let mut inner = Map::new();
        for name in names {
            if let Some(v) = number(fields, &format!("{object}.{name}")) {
                inner.insert((*name).into(), v);
            }
        }
        if inner.is_empty() {
            continue;
        }
        if let Some(missing) = required.iter().find(|name| !inner.contains_key(**name)) {
            return Err((format!("{object}.{missing}"), "is required".into()));
        }
        doc.insert(object.into(), Value::Object(inner));
    }
    let price: PriceDoc = serde_json::from_value(json!(doc)).map_err(|err| ("price".to_string(), err.to_string()))?;
    price.to_price("").map_err(|e| (e.field, e.detail))?;
    Ok(price)
}

/// A posted price field as the API takes it: a JSON number, or absent when empty.
fn number(fields: &HashMap<String, String>, name: &str) -> Option<Value> {
    let text = fields.get(name).map(|v| v.trim()).unwrap_or("");
    if text.is_empty() {
        return None;
    }
    // Kept as typed (serde_json keeps a number's text); anything else is refused by name.
    Some(serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string())))
}
