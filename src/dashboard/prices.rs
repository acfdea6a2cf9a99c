//! `/dashboard/prices`: the model catalog the node prices by, and the project's own prices
//! beside it (set, replaced, removed, each audited as in the API).

use crate::quota::operator::Need;
use std::collections::HashMap;

use super::parts::numbers::when;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::parts::layout::{csrf, html_response, page};
use super::parts::notice;
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::catalog::check_model;
use crate::quota::price::{PriceDoc, MAX_PROJECT_PRICES};

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

async fn prices_page(state: &AppState, session: &Session) -> Result<Markup, ApiError> {
    let catalog = state.gateway.node().catalog();
    let own = state.gateway.node().project_prices(&session.project).await?;
    let mut own_models: Vec<&String> = own.by_model.keys().collect();
    own_models.sort();
    Ok(html! {
        h1 { "Prices" }
        p.muted { "Groups with " code { "\"measure\": {\"price\": \"catalog\"}" } " price each call by its model: the project's own price below when it has one, else the catalog's (version " code { (Shown(catalog.version())) } "). A model priced by neither is denied with " code { "unpriced_model" } "." }
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
        @if session.may(Need::Configure) {
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
    })
}

pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let body = prices_page(&state, &session).await?;
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Prices", "Prices", None, body).await?,
    ))
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

/// `POST /dashboard/prices`: set or remove one of the project's prices.
pub(crate) async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Configure).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let model = fields.get("model").map(|m| m.trim().to_string()).unwrap_or_default();
    let refused = |detail: String| -> Result<HttpResponse, ApiError> { Err(ApiError::invalid("model", detail)) };
    if let Err(detail) = check_model(&model) {
        return refused(detail.to_string());
    }
    let actor = session.actor();
    if fields.get("do").map(String::as_str) == Some("delete") {
        state
            .gateway
            .accounts()
            .delete_price(&session.project, &model, &actor)
            .await?;
        return Ok(see_other("/dashboard/prices"));
    }
    let mut doc = Map::new();
    for name in [
        "inputPerMillion",
        "cachedInputPerMillion",
        "cacheWritePerMillion",
        "outputPerMillion",
        "audioInputPerMillion",
        "audioOutputPerMillion",
        "perSecond",
        "perMinute",
        "perMillionCharacters",
    ] {
        if let Some(v) = number(&fields, name) {
            doc.insert(name.into(), v);
        }
    }
    let problem = |field: String, detail: String| notice::error(&format!("{field}: {detail}"));
    // A tier's fields are posted as `longContext.inputPerMillion`: the object when any is given,
    // and each it needs named when missing.
    for (object, names, required) in [
        (
            "longContext",
            &[
                "overInputTokens",
                "inputPerMillion",
                "cachedInputPerMillion",
                "cacheWritePerMillion",
                "outputPerMillion",
            ][..],
            &["overInputTokens", "inputPerMillion", "outputPerMillion"][..],
        ),
        (
            "batch",
            &["inputPerMillion", "outputPerMillion"][..],
            &["inputPerMillion", "outputPerMillion"][..],
        ),
    ] {
        let mut inner = Map::new();
        for name in names {
            if let Some(v) = number(&fields, &format!("{object}.{name}")) {
                inner.insert((*name).into(), v);
            }
        }
        if inner.is_empty() {
            continue;
        }
        if let Some(missing) = required.iter().find(|name| !inner.contains_key(**name)) {
            return again(
                &state,
                &session,
                problem(format!("{object}.{missing}"), "is required".into()),
            )
            .await;
        }
        doc.insert(object.into(), Value::Object(inner));
    }
    let price: PriceDoc = match serde_json::from_value(json!(doc)) {
        Ok(price) => price,
        Err(err) => return again(&state, &session, problem("price".into(), err.to_string())).await,
    };
    if let Err(e) = price.to_price("") {
        return again(&state, &session, problem(e.field, e.detail)).await;
    }
    if state
        .gateway
        .accounts()
        .put_price(&session.project, &model, &price, &actor)
        .await?
        .is_none()
    {
        let detail = format!("the project has {MAX_PROJECT_PRICES} prices, the most it may have; remove one first");
        return again(&state, &session, problem("model".into(), detail)).await;
    }
    Ok(see_other("/dashboard/prices"))
}

async fn again(state: &AppState, session: &Session, flash: Markup) -> Result<HttpResponse, ApiError> {
    let body = prices_page(state, session).await?;
    Ok(html_response(
        StatusCode::BAD_REQUEST,
        page(state, session, "Prices", "Prices", Some(flash), body).await?,
    ))
}
