//! `PUT`/`GET /v1/plans/{planId}` and `GET /v1/plans`: the metering rules of a project.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::auth::ApiKey;
use super::body;
use super::query;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::ids::check_id;
use crate::quota::PlanDeletion;
use crate::quota::{Plan, PlanDoc, MAX_OWNER};

pub(crate) async fn put_plan(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let doc: PlanDoc = body::parse(&body::read(&req, payload).await?)?;
    let mut plan = Plan::from_doc(&path, doc).map_err(ApiError::InvalidPlan)?;
    let (project, actor) = key.actor(&state).await?;
    let version = state.gateway.accounts().put_plan(&project, &plan, &actor).await?;
    plan.doc.version = Some(version);
    Ok(HttpResponse::Ok().json(&plan.doc))
}

pub(crate) async fn get_plan(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project = key.project(&state).await?;
    let plan = state
        .gateway
        .node()
        .plan(&project, &path)
        .await?
        .ok_or_else(|| ApiError::PlanNotFound(path.clone()))?;
    Ok(HttpResponse::Ok().json(&plan.doc))
}

/// `GET /v1/plans?owner=`: every plan, or those where `owner` owns the plan or one of its
/// groups (the owner's budgets to review).
pub(crate) async fn list_plans(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [owner] = query::params(req.query_string(), ["owner"])?;
    if owner.as_ref().is_some_and(|o| o.is_empty() || o.len() > MAX_OWNER) {
        return Err(ApiError::invalid("owner", "must be 1 to 128 bytes"));
    }
    let project = key.project(&state).await?;
    let plans = state.gateway.accounts().plans(&project).await?;
    let docs: Vec<&PlanDoc> = plans
        .iter()
        .filter(|p| owner.as_deref().is_none_or(|o| p.owned_by(o)))
        .map(|p| &p.doc)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": docs, "nextCursor": null })))
}

/// `DELETE /v1/plans/{planId}`: refused while users are on the plan or it is the default plan.
pub(crate) async fn delete_plan(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    check_id(&id).map_err(|d| ApiError::invalid("planId", d))?;
    let (project, actor) = key.actor(&state).await?;
    let settings = state
        .gateway
        .node()
        .project_settings(&project)
        .await?
        .unwrap_or_default();
    if settings.default_plan.as_deref() == Some(id.as_str()) {
        return Err(ApiError::PlanInUse(format!("plan {id} is the project's default plan")));
    }
    match state.gateway.accounts().delete_plan(&project, &id, &actor).await? {
        PlanDeletion::Deleted => Ok(HttpResponse::NoContent().finish()),
        PlanDeletion::NotFound => Err(ApiError::PlanNotFound(id)),
        PlanDeletion::InUse(1) => Err(ApiError::PlanInUse(format!("1 user is on plan {id}"))),
        PlanDeletion::InUse(users) => Err(ApiError::PlanInUse(format!("{users} users are on plan {id}"))),
    }
}
