//! Root-token routes: the operators who sign in to the dashboard under their own name, and
//! their roles per project. An invitation answers the link that sets the password, once.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::Root;
use super::body;
use crate::gateway::audit::Actor;
use crate::gateway::console::operators::{invite_path, Invitation, OperatorPatch};
use crate::http::{ApiError, AppState};
use crate::json::rfc3339;
use crate::quota::operator::{check_name, check_roles, checked_email, OperatorRecord, Role};
use crate::quota::Problem;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OperatorBody {
    /// Their address, which they sign in with (compared lower-cased).
    pub email: String,
    /// How pages and the audit log name them.
    pub name: String,
    /// Project id -> `owner`, `admin`, `support` or `viewer`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub roles: BTreeMap<String, String>,
}

/// PATCH: an absent field stays; `roles` replaces them all (an empty object removes the
/// operator).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OperatorPatchBody {
    pub name: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub roles: Option<BTreeMap<String, String>>,
}

/// An operator as answered: never their password.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperatorAnswer {
    /// `op_…`: what the audit log names as the actor.
    pub id: String,
    pub email: String,
    pub name: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub roles: BTreeMap<String, Role>,
    /// `invited` until they set a password, then `active`.
    pub status: String,
    pub created_at: String,
    /// Who invited them: `root`, or an operator's or key's id.
    pub invited_by: String,
}

impl From<OperatorRecord> for OperatorAnswer {
    fn from(o: OperatorRecord) -> Self {
        OperatorAnswer {
            status: o.status().to_string(),
            created_at: rfc3339(o.created_at_ms),
            id: o.id,
            email: o.email,
            name: o.name,
            roles: o.roles,
            invited_by: o.invited_by,
        }
    }
}

/// An invitation: the operator, and the link that sets their password.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvitationAnswer {
    pub operator: OperatorAnswer,
    /// The path (on this gateway) of the page where they choose their password; hand it to
    /// them. Shown only in this answer; it works once, until `expiresAt`.
    pub invite_path: String,
    pub expires_at: String,
}

impl From<Invitation> for InvitationAnswer {
    fn from(i: Invitation) -> Self {
        InvitationAnswer {
            invite_path: invite_path(&i.token),
            expires_at: rfc3339(i.expires_at_ms),
            operator: i.operator.into(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperatorList {
    pub data: Vec<OperatorAnswer>,
    pub next_cursor: Option<String>,
}

fn invalid(problem: Problem) -> ApiError {
    ApiError::invalid(problem.field, problem.detail)
}

/// Roles by project, each role known and each project existing.
async fn checked_roles(state: &AppState, roles: BTreeMap<String, String>) -> Result<BTreeMap<String, Role>, ApiError> {
    let mut checked = BTreeMap::new();
    for (project, role) in roles {
        let field = format!("roles.{project}");
        let role = Role::parse(&role)
            .ok_or_else(|| ApiError::invalid(&field, "must be \"owner\", \"admin\", \"support\" or \"viewer\""))?;
        checked.insert(project, role);
    }
    for project in checked.keys() {
        if state.gateway.node().project_settings(project).await?.is_none() {
            return Err(ApiError::invalid(format!("roles.{project}"), "is not a project"));
        }
    }
    Ok(checked)
}

pub(crate) async fn invite(
    _: Root,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: OperatorBody = body::parse(&body::read(&req, payload).await?)?;
    let email = checked_email(&body.email).map_err(invalid)?;
    check_name(&body.name).map_err(invalid)?;
    let roles = checked_roles(&state, body.roles).await?;
    check_roles(&roles).map_err(invalid)?;
    let invitation = state
        .gateway
        .console()
        .invite_operator(&email, body.name.trim(), roles, &Actor::root())
        .await?;
    Ok(HttpResponse::Created().json(InvitationAnswer::from(invitation)))
}

pub(crate) async fn list(_: Root, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let data = state
        .gateway
        .console()
        .operators()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(OperatorList {
        data,
        next_cursor: None,
    }))
}

pub(crate) async fn get(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let operator = state.gateway.console().operator(&path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OperatorAnswer::from(operator)))
}

pub(crate) async fn patch(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: OperatorPatchBody = body::parse(&body::read(&req, payload).await?)?;
    if let Some(name) = &body.name {
        check_name(name).map_err(invalid)?;
    }
    let roles = match body.roles {
        Some(roles) => Some(checked_roles(&state, roles).await?),
        None => None,
    };
    let patch = OperatorPatch {
        name: body.name.map(|n| n.trim().to_string()),
        roles,
        role_in: None,
    };
    let id = path.into_inner();
    match state
        .gateway
        .console()
        .update_operator(&id, patch, &Actor::root())
        .await?
    {
        Some(operator) => Ok(HttpResponse::Ok().json(OperatorAnswer::from(operator))),
        // Left with no role: removed, as DELETE would.
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

pub(crate) async fn remove(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .gateway
        .console()
        .remove_operator(&path.into_inner(), &Actor::root())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new invitation link (the last one stops working): an invitation that expired, or a
/// forgotten password. The current password keeps working until a new one is set.
pub(crate) async fn reinvite(
    _: Root,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _: super::dto::EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let invitation = state
        .gateway
        .console()
        .reinvite_operator(&path.into_inner(), &Actor::root())
        .await?;
    Ok(HttpResponse::Ok().json(InvitationAnswer::from(invitation)))
}
