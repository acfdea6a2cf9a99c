//! The prices page's tables: the project's own prices (each removable) and the catalog's, in
//! USD per million tokens, with audio, long-context and batch prices in a cell each.

use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::parts::layout::csrf;
use crate::dashboard::parts::numbers::when;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::quota::catalog::Catalog;
use crate::quota::operator::Need;
use crate::quota::price::{PriceDoc, ProjectPrices};

/// The project's own prices, by model, each beside the catalog's.
pub(super) fn own_prices(session: &Session, own: &ProjectPrices, catalog: &Catalog) -> Markup {
    let mut own_models: Vec<&String> = own.by_model.keys().collect();
    own_models.sort();
    html! {
        h2 { "The project's own prices" }
        @if own_models.is_empty() {
            p.muted { "None: the catalog prices every model." }
        } @else {
            table {
                thead { tr { th { "Model" } th { "Input / M" } th { "Cached / M" } th { "Cache write / M" } th { "Output / M" } th { "Audio" } th { "Long context, batch" } th { "Catalog input / output" } th { "Updated" } th { span.sr { "Actions" } } } }
                tbody {
                    @for model in &own_models {
                        @let (_, stored) = &own.by_model[*model];
                        @let listed = catalog.find(model);
                        tr {
                            td { code { (Shown(model)) } }
                            td { (usd(&stored.price.input_per_million)) }
                            td { (usd(stored.price.cached_input_per_million.as_ref().unwrap_or(&Value::Null))) }
                            td { (usd(stored.price.cache_write_per_million.as_ref().unwrap_or(&Value::Null))) }
                            td { (usd(&stored.price.output_per_million)) }
                            td { (audio(&stored.price)) }
                            td { (tiers(&stored.price)) }
                            td { @match listed {
                                Some(l) => { (usd(&l.entry.input_per_million)) " / " (usd(&l.entry.output_per_million)) }
                                None => span.muted { "not listed" }
                            } }
                            td { (when(stored.updated_at_ms)) }
                            td { @if session.may(Need::Configure) {
                                form.inline method="post" action="/dashboard/prices" {
                                    (csrf(session))
                                    input type="hidden" name="do" value="delete";
                                    input type="hidden" name="model" value=(model);
                                    button.danger type="submit" { "Remove" }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// The catalog's models, with their aliases and where each price was read.
pub(super) fn catalog_table(catalog: &Catalog) -> Markup {
    html! {
        h2 { "The catalog" }
        table {
            thead { tr { th { "Model" } th { "Provider" } th { "Input / M" } th { "Cached / M" } th { "Cache write / M" } th { "Output / M" } th { "Audio" } th { "Long context, batch" } th { "Context" } th { "Max output" } th { "Read" } } }
            tbody {
                @for m in &catalog.doc.models {
                    tr {
                        td { code { (Shown(&m.model)) } @if !m.aliases.is_empty() { br; span.muted { (Shown(&m.aliases.join(", "))) } } }
                        td { (Shown(&m.provider)) }
                        td { (usd(&m.input_per_million)) }
                        td { (usd(m.cached_input_per_million.as_ref().unwrap_or(&Value::Null))) }
                        td { (usd(m.cache_write_per_million.as_ref().unwrap_or(&Value::Null))) }
                        td { (usd(&m.output_per_million)) }
                        td { (audio(&m.price_doc())) }
                        td { (tiers(&m.price_doc())) }
                        td { (m.context_window) }
                        td { (m.max_output_tokens) }
                        td { a href=(m.source) rel="noreferrer" { (Shown(&m.as_of)) } }
                    }
                }
            }
        }
    }
}

/// A price in USD; a dash when there is none.
fn usd(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        other => format!("${other}"),
    }
}

/// A price's audio prices in one cell: audio tokens in and out per million, per second or
/// minute of audio, per million characters; a dash when it has none.
fn audio(doc: &PriceDoc) -> String {
    let priced = [
        (&doc.audio_input_per_million, "/M audio in"),
        (&doc.audio_output_per_million, "/M audio out"),
        (&doc.per_second, "/s"),
        (&doc.per_minute, "/min"),
        (&doc.per_million_characters, "/M chars"),
    ];
    let parts: Vec<String> = priced
        .iter()
        .filter_map(|(v, unit)| v.as_ref().filter(|v| !v.is_null()).map(|v| format!("{}{unit}", usd(v))))
        .collect();
    match parts.is_empty() {
        true => "—".into(),
        false => parts.join(" · "),
    }
}

/// A price's long-context tier and batch prices in one cell; a dash when it has neither.
fn tiers(doc: &PriceDoc) -> String {
    let priced = |parts: &[(Option<&Value>, &str)]| {
        parts
            .iter()
            .filter_map(|(v, what)| v.filter(|v| !v.is_null()).map(|v| format!("{} {what}", usd(v))))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let mut cells = Vec::new();
    if let Some(t) = &doc.long_context {
        let prices = priced(&[
            (Some(&t.input_per_million), "in"),
            (t.cached_input_per_million.as_ref(), "cached"),
            (t.cache_write_per_million.as_ref(), "cache write"),
            (Some(&t.output_per_million), "out"),
        ]);
        cells.push(format!("over {} input tokens: {prices}", t.over_input_tokens));
    }
    if let Some(b) = &doc.batch {
        let prices = priced(&[(Some(&b.input_per_million), "in"), (Some(&b.output_per_million), "out")]);
        cells.push(format!("batch: {prices}"));
    }
    match cells.is_empty() {
        true => "—".into(),
        false => cells.join("; "),
    }
}
