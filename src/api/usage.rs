//! `GET /v1/users/{userId}/usage`: every group of the user's plan, read-only.

use actix_web::{web, HttpResponse};

use super::auth::SecretKey;
use super::dto::{self, UsageAnswer};
use super::error::ApiError;
use super::{headers, AppState};
use crate::quota::ids::check_user_id;
use crate::quota::Status;

pub async fn usage(
    key: SecretKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = path.into_inner();
    check_user_id(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.project(&state).await?;
    let usage = state.store.usage(&project, &user).await?;
    let status = match (&usage.plan_id, usage.status) {
        (_, Status::Blocked) => "blocked",
        (None, Status::Active) => "no_subscription",
        (Some(_), Status::Active) => "active",
    };
    let mut response = HttpResponse::Ok();
    headers::rate_limit(&mut response, &usage.counters, state.store.clock().now_ms());
    Ok(response.json(UsageAnswer {
        user_id: user,
        plan_id: usage.plan_id,
        status,
        period: usage.period.map(Into::into),
        counters: dto::counters(&usage.counters),
    }))
}
