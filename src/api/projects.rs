//! Root-token routes: projects and their keys.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::auth::Root;
use super::body;
use super::dto::{KeyAnswer, KeyInfo, ProjectAnswer};
use crate::gateway::audit::Actor;
use crate::http::ApiError;
use crate::http::AppState;
use crate::json::rfc3339;
use crate::quota::account::check_key_label;
use crate::quota::ids::check_id;
use crate::quota::project::{checked_default_plan, checked_origins};
use crate::quota::ProjectSettings;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ProjectBody {
    pub id: String,
    pub default_plan: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    /// Keep a usage ledger (default true).
    pub ledger: Option<bool>,
    /// Name the end user in a proxied call's trace (`enduser.id`; default false).
    pub trace_users: Option<bool>,
}

/// PATCH: an absent field stays, `null` clears it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ProjectPatch {
    #[serde(default, deserialize_with = "present")]
    pub default_plan: Option<Option<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub ledger: Option<bool>,
    pub trace_users: Option<bool>,
}

/// Tells `"field": null` (Some(None)) from an absent field (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct KeyBody {
    pub kind: String,
    pub label: Option<String>,
}

pub(crate) async fn create_project(
    _: Root,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ProjectBody = body::parse(&body::read(&req, payload).await?)?;
    check_id(&body.id).map_err(|d| ApiError::invalid("id", d))?;
    let settings = ProjectSettings {
        default_plan: checked_default_plan(body.default_plan)?,
        allowed_origins: checked_origins(body.allowed_origins.unwrap_or_default())?,
        ledger: body.ledger.unwrap_or(true),
        trace_users: body.trace_users.unwrap_or(false),
    };
    if !state.gateway.accounts().create_project(&body.id, &settings).await? {
        return Err(ApiError::ProjectExists(body.id));
    }
    Ok(HttpResponse::Created().json(ProjectAnswer::new(&body.id, settings)))
}

pub(crate) async fn list_projects(_: Root, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let projects = state.gateway.accounts().projects().await?;
    let data: Vec<_> = projects.into_iter().map(|(id, s)| ProjectAnswer::new(&id, s)).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "nextCursor": null })))
}

pub(crate) async fn patch_project(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patch: ProjectPatch = body::parse(&body::read(&req, payload).await?)?;
    let id = path.into_inner();
    let default_plan = patch.default_plan.map(checked_default_plan).transpose()?;
    let origins = patch.allowed_origins.map(checked_origins).transpose()?;
    let mut settings = state
        .gateway
        .node()
        .project_settings(&id)
        .await?
        .ok_or_else(|| ApiError::ProjectNotFound(id.clone()))?;
    if let Some(default_plan) = default_plan {
        settings.default_plan = default_plan;
    }
    if let Some(origins) = origins {
        settings.allowed_origins = origins;
    }
    if let Some(ledger) = patch.ledger {
        settings.ledger = ledger;
    }
    if let Some(trace_users) = patch.trace_users {
        settings.trace_users = trace_users;
    }
    if !state
        .gateway
        .accounts()
        .update_project(&id, &settings, &Actor::root())
        .await?
    {
        return Err(ApiError::ProjectNotFound(id));
    }
    Ok(HttpResponse::Ok().json(ProjectAnswer::new(&id, settings)))
}

pub(crate) async fn create_key(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: KeyBody = body::parse(&body::read(&req, payload).await?)?;
    if body.kind != "secret" && body.kind != "publishable" {
        return Err(ApiError::invalid("kind", "must be \"secret\" or \"publishable\""));
    }
    let label = body.label.unwrap_or_default();
    check_key_label(&label)?;
    let project = path.into_inner();
    if state.gateway.node().project_settings(&project).await?.is_none() {
        return Err(ApiError::ProjectNotFound(project));
    }
    let (record, key) = state
        .gateway
        .accounts()
        .mint_key(&project, &body.kind, &label, &Actor::root())
        .await?;
    Ok(HttpResponse::Created().json(KeyAnswer {
        key_id: record.key_id,
        kind: record.kind,
        label: record.label,
        key,
    }))
}

pub(crate) async fn list_keys(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project = path.into_inner();
    if state.gateway.node().project_settings(&project).await?.is_none() {
        return Err(ApiError::ProjectNotFound(project));
    }
    let keys = state.gateway.accounts().keys(&project).await?;
    let data: Vec<_> = keys
        .into_iter()
        .map(|k| KeyInfo {
            key_id: k.key_id,
            kind: k.kind,
            label: k.label,
            hint: k.hint,
            created_at: rfc3339(k.created_at_ms),
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "nextCursor": null })))
}

/// Revokes a key: every node refuses it within a second.
pub(crate) async fn revoke_key(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key_id) = path.into_inner();
    if !state
        .gateway
        .accounts()
        .revoke_key(&project, &key_id, None, &Actor::root())
        .await?
    {
        return Err(ApiError::KeyNotFound(key_id));
    }
    Ok(HttpResponse::NoContent().finish())
}
