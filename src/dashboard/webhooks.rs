//! Webhooks: the project's endpoints, each with its latest deliveries; an admin adds one (its
//! secret shown in that answer only), sends a test, retries a delivery, enables, disables and
//! deletes one (asked first, with a reason).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::confirm::{self, Ask};
use super::parts::forms::nonce;
use super::parts::layout::{csrf, html_response, page};
use super::parts::numbers::{when, when_or};
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{GatewayError, Idempotency};
use crate::http::{ApiError, AppState};
use crate::quota::operator::Need;
use crate::quota::DeliveryRecord;
use crate::secrets::digest_hex;

async fn webhooks_page(state: &AppState, session: &Session, flash: Option<Markup>) -> Result<Markup, ApiError> {
    let endpoints = state.gateway.accounts().webhooks(&session.project).await?;
    let now = state.gateway.node().now_ms();
    let mut deliveries = Vec::new();
    for (id, _) in &endpoints {
        deliveries.push(
            state
                .gateway
                .accounts()
                .webhook_deliveries(&session.project, id, 10)
                .await?,
        );
    }
    Ok(html! {
        h1 { "Webhooks" }
        @if let Some(flash) = flash { (flash) }
        @let may = session.may(Need::Configure);
        @if !may { p.muted { "An admin of the project adds, tests and removes endpoints." } }
        @if may { form.inline method="post" action="/dashboard/webhooks" {
            (csrf(session))
            // This form's own id: posted again (a reload of the answer that shows the secret,
            // a double click) it answers the endpoint it made, and makes no second one.
            input type="hidden" name="nonce" value=(nonce());
            label { "Endpoint URL " input type="url" name="url" placeholder="https://example.com/hooks/quota" required size="40"; }
            label { input type="checkbox" name="threshold" value="1" checked; " threshold crossings" }
            label { input type="checkbox" name="limit" value="1" checked; " limits reached" }
            label { input type="checkbox" name="low_balance" value="1" checked; " low balances" }
            label { input type="checkbox" name="depleted" value="1" checked; " balances depleted" }
            button type="submit" { "Add an endpoint" }
        } }
        @for ((id, e), list) in endpoints.iter().zip(&deliveries) {
            div.card {
                h2 { code { (id) } " " (e.url) " "
                    @if e.enabled { span.pill.active { "enabled" } } @else { span.pill.blocked { "disabled" } } }
                @if let Some(reason) = &e.disabled_reason { p.muted { (reason) } }
                @if !may {} @else if e.enabled {
                    form.inline method="post" action=(format!("/dashboard/webhooks/{id}/test")) {
                        (csrf(session)) button.plain type="submit" { "Send a test event" }
                    }
                    form.inline method="post" action=(format!("/dashboard/webhooks/{id}/disable")) {
                        (csrf(session)) button.plain type="submit" { "Disable the endpoint" }
                    }
                } @else {
                    form.inline method="post" action=(format!("/dashboard/webhooks/{id}/enable")) {
                        (csrf(session)) button type="submit" { "Enable the endpoint" }
                    }
                }
                @if may { form.inline method="post" action=(format!("/dashboard/webhooks/{id}/delete")) {
                    (csrf(session)) button.danger type="submit" { "Delete the endpoint" }
                } }
                table {
                    thead { tr { th { "Delivery" } th { "Type" } th { "State" } th.num { "Attempts" } th { "Last attempt" } th { "Next attempt" } th { "Created" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for (did, d) in list {
                            tr { td { code { (did) } } td { (d.kind) } td { (d.state) } td.num { (d.attempts.unwrap_or(0)) }
                                 td { (last_attempt(d)) }
                                 td { @match d.next_attempt_ms {
                                     // Overdue in a backlog, or being tried: due now.
                                     Some(at) if at <= now => { "due now" }
                                     Some(at) => { (when(at)) }
                                     None => { "none" }
                                 } }
                                 td { (when_or(d.created, "")) }
                                 td { @if e.enabled && may { form.inline method="post" action=(format!("/dashboard/webhooks/{id}/retry")) {
                                     (csrf(session)) input type="hidden" name="deliveryId" value=(did);
                                     button.plain type="submit" { "Retry" } } } } }
                        }
                    }
                }
            }
        }
        @if endpoints.is_empty() { p.muted { "No endpoint yet." } }
    })
}

/// A delivery's last attempt: when, and the status the endpoint answered or why no answer
/// came (the error the next attempt is retrying).
fn last_attempt(d: &DeliveryRecord) -> Markup {
    let Some(last) = d.tries.last() else {
        return html! { span.muted { "none yet" } };
    };
    html! {
        @if let Some(at) = last.at { (when(at)) br; }
        @if !last.status.is_empty() { "HTTP " (last.status) " " }
        @if !last.error.is_empty() { span.muted { (Shown(&last.error)) } }
    }
}

pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let body = webhooks_page(&state, &session, None).await?;
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Webhooks", "Webhooks", None, body).await?,
    ))
}

/// `POST /dashboard/webhooks`: a new endpoint; its secret is shown in this answer only.
pub(crate) async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Configure).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let url = fields.get("url").map(|u| u.trim().to_string()).unwrap_or_default();
    let mut events = Vec::new();
    for (field, kind) in [
        ("threshold", "quota.threshold_crossed"),
        ("limit", "quota.limit_reached"),
        ("low_balance", "credits.low_balance"),
        ("depleted", "credits.depleted"),
    ] {
        if fields.contains_key(field) {
            events.push(kind.to_string());
        }
    }
    // The API reads no events as every event; two unchecked boxes mean none, which is no endpoint.
    // A refused form answers 400 (409 at the limit), as every other form of the dashboard does.
    let (status, flash) = if events.is_empty() {
        (
            StatusCode::BAD_REQUEST,
            html! { div.flash.error { "Choose at least one event to send: threshold crossings, limits reached, low or depleted balances." } },
        )
    } else {
        let nonce = fields.get("nonce").map(String::as_str).unwrap_or("");
        let once = (!nonce.is_empty()).then(|| {
            let body = format!("{url}\n{}", events.join(","));
            Idempotency::new(format!("dashboard-webhooks:{}", digest_hex(nonce)), digest_hex(&body))
        });
        match state
            .gateway
            .accounts()
            .create_webhook(
                &session.project,
                &url,
                events,
                String::new(),
                once.as_ref(),
                &session.actor(),
            )
            .await
        {
            Ok(made) => (
                StatusCode::OK,
                html! { div.flash { "Endpoint " code { (made.id) } " added. Its signing secret, shown only now: " code { (made.record.secret) } } },
            ),
            Err(GatewayError::Invalid { field, detail }) => (
                StatusCode::BAD_REQUEST,
                html! { div.flash.error { (field) " " (detail) } },
            ),
            Err(err @ GatewayError::WebhookLimit(_)) => (
                StatusCode::CONFLICT,
                html! { div.flash.error { (ApiError::from(err)) } },
            ),
            Err(err) => return Err(err.into()),
        }
    };
    let body = webhooks_page(&state, &session, Some(flash)).await?;
    Ok(html_response(
        status,
        page(&state, &session, "Webhooks", "Webhooks", None, body).await?,
    ))
}

/// `POST /dashboard/webhooks/{id}/test`, `.../delete`, `.../enable`, `.../disable`, and
/// `.../retry` (with `deliveryId`). A refusal (a disabled endpoint) is shown on the page.
pub(crate) async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Configure).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (id, action) = path.into_inner();
    let project = &session.project;
    match action.as_str() {
        "test" => {
            if let Err(err) = state.gateway.accounts().test_webhook(project, &id).await {
                return refused(&state, &session, err).await;
            }
        }
        "enable" | "disable" => {
            let enabled = action == "enable";
            state
                .gateway
                .accounts()
                .set_webhook_enabled(project, &id, enabled, &session.actor())
                .await?;
        }
        "delete" => {
            if !confirm::confirmed(&fields) {
                return ask_to_delete(&state, &session, &fields, &id).await;
            }
            let reason = confirm::reason(&fields)?;
            if !state
                .gateway
                .accounts()
                .delete_webhook(project, &id, Some(&reason), &session.actor())
                .await?
            {
                return Err(ApiError::WebhookNotFound(id));
            }
        }
        "retry" => {
            let delivery = fields.get("deliveryId").cloned().unwrap_or_default();
            match state.gateway.accounts().retry_delivery(project, &id, &delivery).await {
                Ok(true) => {}
                Ok(false) => return Err(ApiError::DeliveryNotFound(delivery)),
                Err(err) => return refused(&state, &session, err).await,
            }
        }
        _ => return Err(ApiError::RouteNotFound),
    }
    Ok(see_other("/dashboard/webhooks"))
}

/// The page again with the refusal of a disabled endpoint above it; any other error as is.
async fn refused(state: &AppState, session: &Session, err: GatewayError) -> Result<HttpResponse, ApiError> {
    let flash = match err {
        GatewayError::WebhookDisabled { id, reason } => {
            html! { div.flash.error { "Endpoint " code { (id) } " is disabled (" (reason) "); enable it first." } }
        }
        err => return Err(ApiError::from(err)),
    };
    let body = webhooks_page(state, session, Some(flash)).await?;
    Ok(html_response(
        StatusCode::CONFLICT,
        page(state, session, "Webhooks", "Webhooks", None, body).await?,
    ))
}

/// The page that asks to confirm deleting endpoint `id`, with what goes with it.
async fn ask_to_delete(
    state: &AppState,
    session: &Session,
    fields: &HashMap<String, String>,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let endpoint = state
        .gateway
        .accounts()
        .webhook(&session.project, id)
        .await?
        .ok_or_else(|| ApiError::WebhookNotFound(id.to_string()))?;
    let what = html! {
        p { "Endpoint " code { (id) } " (" (endpoint.url) ") is deleted with its signing secret: "
            "its pending deliveries are dropped, and no alert goes there again." }
        p.muted { "A deleted endpoint cannot be restored; adding the address again makes a new endpoint with a new secret." }
    };
    let action = format!("/dashboard/webhooks/{id}/delete");
    let ask = Ask {
        section: "Webhooks",
        title: "Delete this endpoint?",
        action: &action,
        what,
        reason: true,
        button: "Delete the endpoint",
        back: "/dashboard/webhooks",
    };
    confirm::ask(state, session, fields, ask).await
}
