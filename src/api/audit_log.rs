//! `GET /v1/audit-log?userId=&action=&actorId=&cursor=&limit=`: every change made by a key
//! or operator of the project (through the API or the dashboard), newest first; with `userId`
//! those concerning that user, with `action` those of one action (`user.block`) or resource
//! (`user`), with `actorId` those of one key or operator.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{ChangeAnswer, ChangePage};
use super::query;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::ids::check_id;
use crate::quota::{check_action, ChangeFilter, UserId};

pub(crate) async fn audit_log(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [user, action, actor, cursor, limit] =
        query::params(req.query_string(), ["userId", "action", "actorId", "cursor", "limit"])?;
    if let Some(u) = &user {
        UserId::parse(u).map_err(|d| ApiError::invalid("userId", d))?;
    }
    if let Some(a) = &action {
        check_action(a).map_err(|d| ApiError::invalid("action", d))?;
    }
    if let Some(a) = &actor {
        check_id(a).map_err(|d| ApiError::invalid("actorId", d))?;
    }
    let filter = ChangeFilter { user, action, actor };
    let cursor = cursor
        .map(|c| {
            query::stream_position(&c)
                .is_some()
                .then_some(c)
                .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API gave"))
        })
        .transpose()?;
    let limit = query::limit(limit.as_deref(), 50, 500)?;
    let project = key.project(&state).await?;
    let (changes, next) = state
        .gateway
        .accounts()
        .changes(&project, cursor.as_deref(), &filter, limit)
        .await?;
    Ok(HttpResponse::Ok().json(ChangePage {
        data: changes.iter().map(ChangeAnswer::from).collect(),
        next_cursor: next,
    }))
}
