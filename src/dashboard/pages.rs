//! The read-only pages so far: plans (their groups and documents) and webhooks (each
//! endpoint with its latest deliveries).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::layout::{html_response, page};
use super::session::{current, see_other};
use crate::api::dto::rfc3339;
use crate::api::{ApiError, AppState};

pub async fn plans(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let plans = state.gateway.plans(&session.project).await?;
    let body = html! {
        h1 { "Plans" }
        @for plan in &plans {
            div.card {
                h2 { code { (plan.id) } " " span.muted { "version " (plan.version) } }
                table {
                    thead { tr { th { "Group" } th { "Unit" } th.num { "Quota" } th { "Period" } th { "Alerts" } } }
                    tbody {
                        @for g in &plan.groups {
                            tr { td { (g.label) br; span.muted { (g.id) } } td { (g.unit.as_str()) } td.num { (g.quota) }
                                 td { (format!("{:?}", g.period.kind).to_lowercase()) } td { (g.alerts_arg) } }
                        }
                    }
                }
                details { summary { "JSON" } pre { (serde_json::to_string_pretty(&plan.doc).unwrap_or_default()) } }
            }
        }
        @if plans.is_empty() { p.muted { "No plan yet: PUT /v1/plans/{id} or quota-gateway apply." } }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&session, "Plans", "Plans", None, body),
    ))
}

pub async fn webhooks(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let endpoints = state.gateway.webhooks(&session.project).await?;
    let mut deliveries = Vec::new();
    for (id, _) in &endpoints {
        deliveries.push(state.gateway.webhook_deliveries(&session.project, id, 10).await?);
    }
    let body = html! {
        h1 { "Webhooks" }
        @for ((id, e), list) in endpoints.iter().zip(&deliveries) {
            div.card {
                h2 { code { (id) } " " (e.url) " "
                    @if e.enabled { span.pill.active { "enabled" } } @else { span.pill.blocked { "disabled" } } }
                @if let Some(reason) = &e.disabled_reason { p.muted { (reason) } }
                table {
                    thead { tr { th { "Delivery" } th { "Type" } th { "State" } th.num { "Attempts" } th { "Created" } } }
                    tbody {
                        @for (did, d) in list {
                            tr { td { code { (did) } } td { (d.kind) } td { (d.state) } td.num { (d.attempts.unwrap_or(0)) }
                                 td { (d.created.map(rfc3339).unwrap_or_default()) } }
                        }
                    }
                }
            }
        }
        @if endpoints.is_empty() { p.muted { "No endpoint yet: POST /v1/webhooks." } }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&session, "Webhooks", "Webhooks", None, body),
    ))
}
