//! Root-token routes: `POST /v1/projects` and `POST /v1/projects/{id}/keys`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::Root;
use super::body;
use super::dto::{KeyAnswer, KeyBody, ProjectAnswer, ProjectBody};
use super::error::ApiError;
use super::AppState;
use crate::quota::ids::check_id;
use crate::store::ProjectSettings;

const MAX_LABEL_BYTES: usize = 128;

pub async fn create_project(
    _: Root,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ProjectBody = body::parse(&body::read(&req, payload).await?)?;
    check_id(&body.id).map_err(|d| ApiError::invalid("id", d))?;
    if let Some(plan) = &body.default_plan {
        check_id(plan).map_err(|d| ApiError::invalid("defaultPlan", d))?;
    }
    let origins = body.allowed_origins.unwrap_or_default();
    for (i, origin) in origins.iter().enumerate() {
        check_origin(origin).map_err(|d| ApiError::invalid(format!("allowedOrigins[{i}]"), d))?;
    }
    let settings = ProjectSettings {
        default_plan: body.default_plan,
        allowed_origins: origins,
    };
    if !state.store.create_project(&body.id, &settings).await? {
        return Err(ApiError::ProjectExists(body.id));
    }
    Ok(HttpResponse::Created().json(ProjectAnswer::new(&body.id, settings)))
}

pub async fn create_key(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: KeyBody = body::parse(&body::read(&req, payload).await?)?;
    if body.kind != "secret" {
        return Err(ApiError::invalid("kind", "must be \"secret\""));
    }
    let label = body.label.unwrap_or_default();
    if label.len() > MAX_LABEL_BYTES || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "label",
            "must be at most 128 bytes without control characters",
        ));
    }
    let project = path.into_inner();
    if state.store.project_settings(&project).await?.is_none() {
        return Err(ApiError::ProjectNotFound(project));
    }
    let (record, key) = state.store.mint_key(&project, &label).await?;
    Ok(HttpResponse::Created().json(KeyAnswer {
        key_id: record.key_id,
        kind: record.kind,
        label: record.label,
        key,
    }))
}

/// An origin as browsers send it: scheme, host and optional port, nothing else.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => Ok(()),
        _ => Err("must be an origin like https://app.example.com"),
    }
}
