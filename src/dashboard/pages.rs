//! The read-only pages: webhooks (each endpoint with its latest deliveries) and the project's
//! audit log.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::layout::{html_response, page};
use super::session::{current, see_other};
use crate::api::dto::rfc3339;
use crate::api::{ApiError, AppState};
use crate::store::ChangeEntry;

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

/// Changes as a table, newest first.
pub fn changes_table(changes: &[ChangeEntry]) -> Markup {
    html! {
        table {
            thead { tr { th { "Time" } th { "Who" } th { "What" } th { "On" } th { "Details" } } }
            tbody {
                @for c in changes {
                    tr {
                        td { (rfc3339(c.at_ms)) }
                        td { (c.actor_label) br; span.muted { (c.actor_id) } }
                        td { code { (c.action) } }
                        td { (c.target) }
                        td { code { (c.detail) } }
                    }
                }
                @if changes.is_empty() { tr { td colspan="5" .muted { "No change recorded." } } }
            }
        }
    }
}

pub async fn audit(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let (changes, _) = state.gateway.changes(&session.project, None, None, 100).await?;
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Every change made by a key of this project, through the API or here; the newest 100." }
        (changes_table(&changes))
    };
    Ok(html_response(
        StatusCode::OK,
        page(&session, "Audit log", "Audit log", None, body),
    ))
}
