//! `/v1/user-keys`: keys the app's server mints for one end user, so a browser or phone can
//! call the provider through the proxy as that user, and only through the proxy.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::ApiKey;
use super::dto::{UserKeyAnswer, UserKeyList};
use super::{body, query};
use crate::http::{parse_time, ApiError, AppState};
use crate::quota::account::check_key_label;
use crate::quota::UserId;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UserKeyBody {
    #[schema(min_length = 1, max_length = 256)]
    pub user_id: String,
    #[schema(max_length = 128)]
    pub label: Option<String>,
    /// When the key stops working (RFC 3339); never when absent.
    pub expires_at: Option<String>,
}

pub(crate) async fn create_user_key(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: UserKeyBody = body::parse(&body::read(&req, payload).await?)?;
    let user = UserId::parse(&body.user_id).map_err(|d| ApiError::invalid("userId", d))?;
    let label = body.label.unwrap_or_default();
    check_key_label(&label)?;
    let expires_at_ms = body
        .expires_at
        .as_deref()
        .map(|t| parse_time("expiresAt", t))
        .transpose()?;
    let (project, actor) = key.actor(&state).await?;
    let (record, key) = state
        .gateway
        .accounts()
        .mint_user_key(&project, &user, &label, expires_at_ms, &actor)
        .await?;
    Ok(HttpResponse::Created().json(UserKeyAnswer::of(record, Some(key))))
}

pub(crate) async fn list_user_keys(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [user] = query::params(req.query_string(), ["userId"])?;
    let user = user.ok_or_else(|| ApiError::invalid("userId", "is required"))?;
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.project(&state).await?;
    let keys = state.gateway.accounts().user_keys(&project, &user).await?;
    Ok(HttpResponse::Ok().json(UserKeyList {
        data: keys.into_iter().map(|k| UserKeyAnswer::of(k, None)).collect(),
        next_cursor: None,
    }))
}

pub(crate) async fn revoke_user_key(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (project, actor) = key.actor(&state).await?;
    if !state.gateway.accounts().revoke_user_key(&project, &id, &actor).await? {
        return Err(ApiError::KeyNotFound(id));
    }
    Ok(HttpResponse::NoContent().finish())
}
