//! `/dashboard/prices`: the model catalog the node prices by, and the project's own prices
//! beside it (set, replaced, removed, each audited as in the API). The tables are drawn in
//! `tables.rs`, the form that sets a price drawn and read in `form.rs`.

mod form;
mod tables;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::layout::{html_response, page};
use super::parts::notice;
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::catalog::check_model;
use crate::quota::operator::Need;
use crate::quota::price::MAX_PROJECT_PRICES;

async fn prices_page(state: &AppState, session: &Session) -> Result<Markup, ApiError> {
    let catalog = state.gateway.node().catalog();
    let own = state.gateway.node().project_prices(&session.project).await?;
    Ok(html! {
        h1 { "Prices" }
        p.muted { "Groups with " code { "\"measure\": {\"price\": \"catalog\"}" } " price each call by its model: the project's own price below when it has one, else the catalog's (version " code { (Shown(catalog.version())) } "). A model priced by neither is denied with " code { "unpriced_model" } "." }
        (tables::own_prices(session, &own, catalog))
        @if session.may(Need::Configure) { (form::set_form(session, catalog)) }
        (tables::catalog_table(catalog))
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
    if let Err(detail) = check_model(&model) {
        return Err(ApiError::invalid("model", detail.to_string()));
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
    let problem = |field: String, detail: String| notice::error(&format!("{field}: {detail}"));
    let price = match form::read(&fields) {
        Ok(price) => price,
        Err((field, detail)) => return again(&state, &session, problem(field, detail)).await,
    };
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
