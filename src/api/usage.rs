//! `GET /v1/users/{userId}/usage`: every group of the user's plan, read-only.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{self, UsageAnswer};
use super::error::ApiError;
use super::{cors, headers, AppState};
use crate::quota::{Status, UserId};

pub async fn usage(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    match read(&state, &path, &req).await {
        Ok(response) => Ok(response),
        Err(err) => cors::problem_for_browser(&state, &req, err).await,
    }
}

async fn read(state: &AppState, user: &str, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    // The key is read here rather than as an extractor, so its 401 gets CORS headers too.
    let key = ApiKey::from_request(req, &mut Payload::None).await?;
    let user = UserId::parse(user).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.reader_project(state, req, &user).await?;
    let usage = state.gateway.usage(&project, &user).await?;
    let status = match (&usage.plan_id, usage.status) {
        (_, Status::Blocked) => "blocked",
        (None, Status::Active) => "no_subscription",
        (Some(_), Status::Active) => "active",
    };
    let mut response = HttpResponse::Ok();
    let settings = state.gateway.project_settings(&project).await?.unwrap_or_default();
    cors::allow(req, &settings, &mut response);
    headers::rate_limit(&mut response, &usage.counters, usage.read_at_ms);
    Ok(response.json(UsageAnswer {
        user_id: user.into_string(),
        plan_id: usage.plan_id,
        status,
        period: usage.period.map(Into::into),
        counters: dto::counters(&usage.counters),
    }))
}
