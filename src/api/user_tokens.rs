//! `POST /v1/user-tokens`: a short-lived token that lets a browser with the project's
//! publishable key read one user's usage (minted and checked beside the other secrets).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::ApiKey;
use super::body;
use crate::http::ApiError;
use crate::http::AppState;
use crate::json::rfc3339;
use crate::quota::UserId;

const DEFAULT_TTL_SECONDS: i64 = 15 * 60;
const MAX_TTL_SECONDS: i64 = 86_400;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UserTokenBody {
    pub user_id: String,
    pub ttl_seconds: Option<i64>,
}

pub(crate) async fn create_user_token(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: UserTokenBody = body::parse(&body::read(&req, payload).await?)?;
    let user = UserId::parse(&body.user_id).map_err(|d| ApiError::invalid("userId", d))?;
    let ttl_seconds = body.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
        return Err(ApiError::invalid("ttlSeconds", "must be 1 to 86400"));
    }
    let project = key.project(&state).await?;
    let (token, expires_ms) = state.gateway.node().mint_user_token(&project, &user, ttl_seconds)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "token": token, "expiresAt": rfc3339(expires_ms) })))
}
