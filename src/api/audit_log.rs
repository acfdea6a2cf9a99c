//! `GET /v1/audit-log?userId=&cursor=&limit=`: every change made by a key of the project
//! (through the API or the dashboard), newest first; with `userId`, those concerning that user.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{ChangeAnswer, ChangePage};
use super::query;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::UserId;

pub async fn audit_log(key: ApiKey, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let [user, cursor, limit] = query::params(req.query_string(), ["userId", "cursor", "limit"])?;
    let user = user
        .as_deref()
        .map(|u| UserId::parse(u).map_err(|d| ApiError::invalid("userId", d)))
        .transpose()?;
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
        .changes(&project, cursor.as_deref(), user.as_ref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(ChangePage {
        data: changes.iter().map(ChangeAnswer::from).collect(),
        next_cursor: next,
    }))
}
