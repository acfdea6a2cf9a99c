//! `/v1/catalog` and `/v1/prices`: the model catalog the node prices by, and the project's own
//! prices of models, which beat it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use super::auth::ApiKey;
use super::body;
use crate::http::{ApiError, AppState};
use crate::json::rfc3339;
use crate::quota::catalog::{check_model, CatalogEntry};
use crate::quota::price::{PriceDoc, ProjectPrice, MAX_PROJECT_PRICES};
use crate::quota::price_tiers::{BatchDoc, LongContextDoc};

/// `GET /v1/catalog`: the catalog's version and every model in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CatalogAnswer {
    /// The catalog's version: the day it was compiled, or the loaded file's.
    pub version: String,
    pub models: Vec<CatalogEntry>,
}

/// A price the project set for a model: its fields as `PriceDoc` has them (written out here,
/// not flattened: a document that refuses unknown fields cannot be part of a larger one).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceAnswer {
    pub model: String,
    #[schema(value_type = f64)]
    pub input_per_million: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_million: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_million: Option<Value>,
    #[schema(value_type = f64)]
    pub output_per_million: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, f64>>)]
    pub per_image: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_input_per_million: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_output_per_million: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::quota::price::PerSecond>)]
    pub per_second: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub per_minute: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub per_million_characters: Option<Value>,
    /// The whole call at these prices when its input tokens pass `overInputTokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextDoc>,
    /// The provider's batch prices; no call is priced by them yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchDoc>,
    pub updated_at: String,
    /// What the catalog prices the model at, for comparison (null when it does not list it).
    pub catalog: Option<PriceDoc>,
}

/// `GET /v1/prices`: every price the project set, by model name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceList {
    pub data: Vec<PriceAnswer>,
    /// Always null: a project has at most 1,000 prices, all in one page.
    pub next_cursor: Option<String>,
}

pub(crate) async fn catalog(key: ApiKey, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    key.project(&state).await?;
    let catalog = state.gateway.node().catalog();
    Ok(HttpResponse::Ok().json(CatalogAnswer {
        version: catalog.version().to_string(),
        models: catalog.doc.models.clone(),
    }))
}

fn answer(state: &AppState, model: String, stored: ProjectPrice) -> PriceAnswer {
    let catalog = state.gateway.node().catalog().find(&model).map(|c| c.entry.price_doc());
    let price = stored.price;
    PriceAnswer {
        model,
        input_per_million: price.input_per_million,
        cached_input_per_million: price.cached_input_per_million,
        cache_write_per_million: price.cache_write_per_million,
        output_per_million: price.output_per_million,
        per_image: price.per_image,
        audio_input_per_million: price.audio_input_per_million,
        audio_output_per_million: price.audio_output_per_million,
        per_second: price.per_second,
        per_minute: price.per_minute,
        per_million_characters: price.per_million_characters,
        long_context: price.long_context,
        batch: price.batch,
        updated_at: rfc3339(stored.updated_at_ms),
        catalog,
    }
}

fn model_of(path: web::Path<String>) -> Result<String, ApiError> {
    let model = path.into_inner();
    check_model(&model).map_err(|d| ApiError::invalid("model", d))?;
    Ok(model)
}

pub(crate) async fn list_prices(key: ApiKey, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let project = key.project(&state).await?;
    let prices = state.gateway.node().project_prices(&project).await?;
    let mut data: Vec<PriceAnswer> = prices
        .by_model
        .iter()
        .map(|(model, (_, stored))| answer(&state, model.clone(), stored.clone()))
        .collect();
    data.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(HttpResponse::Ok().json(PriceList {
        data,
        next_cursor: None,
    }))
}

pub(crate) async fn get_price(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = model_of(path)?;
    let project = key.project(&state).await?;
    let prices = state.gateway.node().project_prices(&project).await?;
    let (_, stored) = prices
        .by_model
        .get(&model)
        .ok_or_else(|| ApiError::PriceNotFound(model.clone()))?;
    let stored = stored.clone();
    Ok(HttpResponse::Ok().json(answer(&state, model, stored)))
}

pub(crate) async fn put_price(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let model = model_of(path)?;
    let doc: PriceDoc = body::parse(&body::read(&req, payload).await?)?;
    // Checked whole before anything is written; the error names the field.
    doc.to_price("").map_err(|e| ApiError::invalid(e.field, e.detail))?;
    let (project, actor) = key.actor(&state).await?;
    let stored = state
        .gateway
        .accounts()
        .put_price(&project, &model, &doc, &actor)
        .await?
        .ok_or(ApiError::PriceLimit(MAX_PROJECT_PRICES))?;
    Ok(HttpResponse::Ok().json(answer(&state, model, stored)))
}

pub(crate) async fn delete_price(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = model_of(path)?;
    let (project, actor) = key.actor(&state).await?;
    if !state.gateway.accounts().delete_price(&project, &model, &actor).await? {
        return Err(ApiError::PriceNotFound(model));
    }
    Ok(HttpResponse::NoContent().finish())
}
