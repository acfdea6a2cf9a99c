//! Approval requests: an approval group's first denial of a user in a period opens one (in
//! the script that denies); operators list them and approve (a new quota for the rest of the
//! period or until a time) or decline them.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::dto::{ApprovalAnswer, ApprovalList, ApproveBody, DeclineBody};
use super::query;
use crate::gateway::approvals::{Deciding, Verdict};
use crate::http::AppState;
use crate::http::{parse_time, ApiError};
use crate::quota::{ApprovalStatus, ReasonText, UserId};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// `GET /v1/approvals?status=&userId=&cursor=&limit=`: requests oldest first (a queue), of one
/// status (`pending`, `approved`, `declined`) or all, of one user or all.
pub(crate) async fn list_approvals(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [status, user, cursor, limit] = query::params(req.query_string(), ["status", "userId", "cursor", "limit"])?;
    let status = status
        .as_deref()
        .map(|s| {
            ApprovalStatus::parse(s).ok_or_else(|| ApiError::invalid("status", "must be pending, approved or declined"))
        })
        .transpose()?;
    let user = user
        .as_deref()
        .map(|u| UserId::parse(u).map_err(|d| ApiError::invalid("userId", d)))
        .transpose()?;
    let after = cursor.as_deref().map(parse_cursor).transpose()?;
    let limit = query::limit(limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let project = key.project(&state).await?;
    let (page, next) = state
        .gateway
        .data()
        .approvals(&project, status, user.as_ref(), after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(ApprovalList {
        data: page.iter().map(ApprovalAnswer::of).collect(),
        next_cursor: next.map(|(ms, id)| format!("{ms}.{id}")),
    }))
}

/// A page's cursor: "<requested ms>.<approval id>" of the last request it listed.
fn parse_cursor(text: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::invalid("cursor", "must be a nextCursor this endpoint answered");
    let (ms, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((ms.parse().map_err(|_| bad())?, id.to_string()))
}

/// `GET /v1/approvals/{approvalId}`: one request.
pub(crate) async fn get_approval(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let project = key.project(&state).await?;
    match state.gateway.data().approval(&project, &id).await? {
        Some(a) => Ok(HttpResponse::Ok().json(ApprovalAnswer::of(&a))),
        None => Err(ApiError::ApprovalNotFound(id)),
    }
}

/// `POST /v1/approvals/{approvalId}/approve {quota, expiresAt?}`: the user's quota of the
/// group becomes `quota` for the rest of the request's period (or until `expiresAt`), as an
/// override; audited, and told as `quota.approval_decided`.
pub(crate) async fn approve(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ApproveBody = body::parse(&body::read(&req, payload).await?)?;
    let verdict = Verdict::Approve {
        quota: body.quota,
        expires_ms: body
            .expires_at
            .as_deref()
            .map(|t| parse_time("expiresAt", t))
            .transpose()?,
    };
    decide(key, state, path.into_inner(), verdict).await
}

/// `POST /v1/approvals/{approvalId}/decline {reason}`: the group stays hard for the rest of
/// the period; audited, and told as `quota.approval_decided`.
pub(crate) async fn decline(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: DeclineBody = body::parse(&body::read(&req, payload).await?)?;
    let reason = ReasonText::parse(&body.reason).map_err(|d| ApiError::invalid("reason", d))?;
    let verdict = Verdict::Decline {
        reason: reason.as_str().to_string(),
    };
    decide(key, state, path.into_inner(), verdict).await
}

async fn decide(
    key: ApiKey,
    state: web::Data<AppState>,
    id: String,
    verdict: Verdict,
) -> Result<HttpResponse, ApiError> {
    let (project, actor) = key.actor(&state).await?;
    match state
        .gateway
        .data()
        .decide_approval(&project, &id, &verdict, &actor)
        .await?
    {
        Deciding::Done(a) => Ok(HttpResponse::Ok().json(ApprovalAnswer::of(&a))),
        Deciding::Already(a) => Err(ApiError::ApprovalDecided {
            id,
            status: a.status.as_str(),
        }),
        Deciding::NotFound => Err(ApiError::ApprovalNotFound(id)),
    }
}
