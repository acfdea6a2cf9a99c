//! What only the root token may change, as in the API: the project's keys (minted, shown once;
//! revoked) and its settings (default plan, allowed origins, ledger). A key's session sees
//! both pages read-only.

use crate::quota::operator::Need;
use std::collections::HashMap;

use super::parts::numbers::when;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::confirm::{self, Ask};
use super::parts::layout::{csrf, html_response, page};
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::audit::Actor;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::account::check_key_label;
use crate::quota::project::{checked_default_plan, checked_origins};

async fn keys_page(state: &AppState, session: &Session, minted: Option<&str>) -> Result<Markup, ApiError> {
    let keys = state.gateway.accounts().keys(&session.project).await?;
    Ok(html! {
        h1 { "Keys" }
        @if let Some(key) = minted {
            div.flash { "The new key, shown only now: " code { (key) } }
        }
        @if session.root {
            form.inline method="post" action="/dashboard/keys" {
                (csrf(session))
                input type="hidden" name="do" value="mint";
                label { "Kind " select name="kind" { option value="secret" { "secret" } option value="publishable" { "publishable" } } }
                " "
                label { "Label " input type="text" name="label" placeholder="label" maxlength="128"; }
                button type="submit" { "Mint a key" }
            }
        } @else {
            p.muted { "Only the root token mints and revokes keys." }
        }
        table {
            thead { tr { th { "Key" } th { "Kind" } th { "Label" } th { "Created" } th { span.sr { "Actions" } } } }
            tbody {
                @for k in &keys {
                    tr {
                        td { code { (k.hint) } br; span.muted { (Shown(&k.key_id)) } }
                        td { (k.kind) } td { (Shown(&k.label)) } td { (when(k.created_at_ms)) }
                        td { @if session.root {
                            form.inline method="post" action="/dashboard/keys" {
                                (csrf(session))
                                input type="hidden" name="do" value="revoke";
                                input type="hidden" name="keyId" value=(k.key_id);
                                button.danger type="submit" { "Revoke" }
                            }
                        } }
                    }
                }
            }
        }
    })
}

pub(crate) async fn keys(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let body = keys_page(&state, &session, None).await?;
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Keys", "Keys", None, body).await?,
    ))
}

fn root_actor(session: &Session) -> Result<Actor, ApiError> {
    if !session.root {
        return Err(ApiError::Forbidden);
    }
    Ok(Actor::root())
}

fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map(|v| v.trim()).unwrap_or("")
}

/// `POST /dashboard/keys`: mint (the key is shown once, in this answer) or revoke.
pub(crate) async fn change_keys(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Configure).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let actor = root_actor(&session)?;
    let project = &session.project;
    if field(&fields, "do") == "revoke" {
        let key_id = field(&fields, "keyId");
        if !confirm::confirmed(&fields) {
            let keys = state.gateway.accounts().keys(project).await?;
            let key = keys
                .iter()
                .find(|k| k.key_id == key_id)
                .ok_or_else(|| ApiError::KeyNotFound(key_id.to_string()))?;
            let what = html! {
                p { "Key " code { (key.hint) } " (" (Shown(&key.label)) ", " (key.kind) ") stops working on every node within a second: "
                    "every integration and every dashboard session using it is refused from then on." }
                p.muted { "A revoked key cannot be restored; a new key is minted instead." }
            };
            let ask = Ask {
                section: "Keys",
                title: "Revoke this key?",
                action: "/dashboard/keys",
                what,
                reason: true,
                button: "Revoke the key",
                back: "/dashboard/keys",
            };
            return confirm::ask(&state, &session, &fields, ask).await;
        }
        let reason = confirm::reason(&fields)?;
        state
            .gateway
            .accounts()
            .revoke_key(project, key_id, Some(&reason), &actor)
            .await?;
        return Ok(see_other("/dashboard/keys"));
    }
    let kind = if field(&fields, "kind") == "publishable" {
        "publishable"
    } else {
        "secret"
    };
    let label = field(&fields, "label");
    check_key_label(label)?;
    let (_, key) = state.gateway.accounts().mint_key(project, kind, label, &actor).await?;
    // Answered here, not redirected: the key must not travel in a URL.
    let body = keys_page(&state, &session, Some(&key)).await?;
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Keys", "Keys", None, body).await?,
    ))
}

pub(crate) async fn settings(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let settings = state
        .gateway
        .node()
        .project_settings(&session.project)
        .await?
        .unwrap_or_default();
    let plans = state.gateway.accounts().plans(&session.project).await?;
    let body = html! {
        h1 { "Settings" }
        form method="post" action="/dashboard/settings" {
            (csrf(&session))
            p { label { "Default plan (users without a subscription) "
                select name="defaultPlan" disabled[!session.root] {
                    option value="" { "none" }
                    @for p in &plans { option value=(p.id) selected[settings.default_plan.as_deref() == Some(p.id.as_str())] { (Shown(&p.id)) } }
                } } }
            p { label { "Allowed origins for browser reads, one per line" br;
                textarea name="allowedOrigins" rows="4" cols="60" disabled[!session.root] { (settings.allowed_origins.join("\n")) } } }
            p { label { input type="checkbox" name="ledger" value="1" checked[settings.ledger] disabled[!session.root];
                " Keep a usage ledger (and daily rollups)" } }
            @if session.root { button type="submit" { "Save settings" } } @else { p.muted { "Only the root token changes settings." } }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Settings", "Settings", None, body).await?,
    ))
}

pub(crate) async fn change_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Configure).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let actor = root_actor(&session)?;
    let project = &session.project;
    let mut settings = state
        .gateway
        .node()
        .project_settings(project)
        .await?
        .unwrap_or_default();
    let default_plan = Some(field(&fields, "defaultPlan").to_string()).filter(|p| !p.is_empty());
    settings.default_plan = checked_default_plan(default_plan)?;
    let origins = field(&fields, "allowedOrigins")
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    settings.allowed_origins = checked_origins(origins.map(str::to_string).collect())?;
    settings.ledger = field(&fields, "ledger") == "1";
    state
        .gateway
        .accounts()
        .update_project(project, &settings, &actor)
        .await?;
    Ok(see_other("/dashboard/settings"))
}
