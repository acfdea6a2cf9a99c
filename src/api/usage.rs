//! `GET /v1/users/{userId}/usage`: every group of the user's plan, read-only.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{self, UsageAnswer};
use super::error::ApiError;
use super::{cors, headers, AppState};
use crate::quota::{Status, UserId};

pub async fn usage(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let user = UserId::parse(&path.into_inner()).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.reader_project(&state, &req, &user).await?;
    let usage = state.gateway.usage(&project, &user).await?;
    let status = match (&usage.plan_id, usage.status) {
        (_, Status::Blocked) => "blocked",
        (None, Status::Active) => "no_subscription",
        (Some(_), Status::Active) => "active",
    };
    let mut response = HttpResponse::Ok();
    let settings = state.gateway.project_settings(&project).await?.unwrap_or_default();
    cors::allow(&req, &settings, &mut response);
    headers::rate_limit(&mut response, &usage.counters, usage.read_at_ms);
    Ok(response.json(UsageAnswer {
        user_id: user.into_string(),
        plan_id: usage.plan_id,
        status,
        period: usage.period.map(Into::into),
        counters: dto::counters(&usage.counters),
    }))
}
