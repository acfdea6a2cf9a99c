//! Root-token routes: projects and their keys.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::auth::Root;
use super::body;
use super::dto::{KeyAnswer, KeyInfo, ProjectAnswer};
use super::error::ApiError;
use super::AppState;
use crate::gateway::audit::Actor;
use crate::json::rfc3339;
use crate::quota::ids::check_id;
use crate::store::ProjectSettings;

const MAX_LABEL_BYTES: usize = 128;
const MAX_ORIGINS: usize = 32;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectBody {
    pub id: String,
    pub default_plan: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    /// Keep a usage ledger (default true).
    pub ledger: Option<bool>,
}

/// PATCH: an absent field stays, `null` clears it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectPatch {
    #[serde(default, deserialize_with = "present")]
    pub default_plan: Option<Option<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub ledger: Option<bool>,
}

/// Tells `"field": null` (Some(None)) from an absent field (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyBody {
    pub kind: String,
    pub label: Option<String>,
}

pub async fn create_project(
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
    };
    if !state.gateway.create_project(&body.id, &settings).await? {
        return Err(ApiError::ProjectExists(body.id));
    }
    Ok(HttpResponse::Created().json(ProjectAnswer::new(&body.id, settings)))
}

pub async fn list_projects(_: Root, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let projects = state.gateway.projects().await?;
    let data: Vec<_> = projects.into_iter().map(|(id, s)| ProjectAnswer::new(&id, s)).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

pub async fn patch_project(
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
    if !state.gateway.update_project(&id, &settings).await? {
        return Err(ApiError::ProjectNotFound(id));
    }
    let detail = json!({ "defaultPlan": settings.default_plan, "allowedOrigins": settings.allowed_origins, "ledger": settings.ledger });
    state
        .gateway
        .record_change(&id, &Actor::root(), "settings.patch", &id, None, detail)
        .await;
    Ok(HttpResponse::Ok().json(ProjectAnswer::new(&id, settings)))
}

pub async fn create_key(
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
    if label.len() > MAX_LABEL_BYTES || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "label",
            "must be at most 128 bytes without control characters",
        ));
    }
    let project = path.into_inner();
    if state.gateway.project_settings(&project).await?.is_none() {
        return Err(ApiError::ProjectNotFound(project));
    }
    let (record, key) = state.gateway.mint_key(&project, &body.kind, &label).await?;
    let detail = json!({ "kind": record.kind, "label": record.label });
    state
        .gateway
        .record_change(&project, &Actor::root(), "key.mint", &record.key_id, None, detail)
        .await;
    Ok(HttpResponse::Created().json(KeyAnswer {
        key_id: record.key_id,
        kind: record.kind,
        label: record.label,
        key,
    }))
}

pub async fn list_keys(_: Root, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let project = path.into_inner();
    if state.gateway.project_settings(&project).await?.is_none() {
        return Err(ApiError::ProjectNotFound(project));
    }
    let keys = state.gateway.keys(&project).await?;
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
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// Revokes a key: every node refuses it within a second.
pub async fn revoke_key(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key_id) = path.into_inner();
    if !state.gateway.revoke_key(&project, &key_id).await? {
        return Err(ApiError::KeyNotFound(key_id));
    }
    state
        .gateway
        .record_change(&project, &Actor::root(), "key.revoke", &key_id, None, json!({}))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

pub fn checked_default_plan(plan: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(plan) = &plan {
        check_id(plan).map_err(|d| ApiError::invalid("defaultPlan", d))?;
    }
    Ok(plan)
}

pub fn checked_origins(origins: Vec<String>) -> Result<Vec<String>, ApiError> {
    if origins.len() > MAX_ORIGINS {
        return Err(ApiError::invalid("allowedOrigins", "must have at most 32 origins"));
    }
    for (i, origin) in origins.iter().enumerate() {
        check_origin(origin).map_err(|d| ApiError::invalid(format!("allowedOrigins[{i}]"), d))?;
    }
    Ok(origins)
}

/// An origin as browsers send it (scheme, host and optional port, nothing else), or a
/// subdomain pattern whose host starts with `*.` (`https://*.example.com`).
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = match rest {
        Some(host) if !host.is_empty() && host.len() <= 253 && !host.contains(['/', '?', '#', ' ', ',', '@']) => host,
        _ => return Err("must be an origin like https://app.example.com"),
    };
    if host.contains('*') {
        let Some(domain) = host.strip_prefix("*.") else {
            return Err("may only use * as a whole first label, like https://*.example.com");
        };
        if domain.contains('*') || !domain.contains('.') {
            return Err("may only use * as a whole first label, like https://*.example.com");
        }
    }
    Ok(())
}
