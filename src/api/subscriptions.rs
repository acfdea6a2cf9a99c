//! `PUT`/`GET /v1/users/{userId}/subscription`: which plan a user is on, since when.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::DateTime;

use super::auth::SecretKey;
use super::body;
use super::dto::{SubscriptionAnswer, SubscriptionBody};
use super::error::ApiError;
use super::AppState;
use crate::quota::ids::{check_id, check_user_id};

/// Clocks of callers and Redis differ a little; a start this far ahead still counts as now.
const FUTURE_TOLERANCE_MS: i64 = 5_000;

pub async fn put_subscription(
    key: SecretKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = path.into_inner();
    check_user_id(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let body: SubscriptionBody = body::parse(&body::read(&req, payload).await?)?;
    check_id(&body.plan_id).map_err(|d| ApiError::invalid("planId", d))?;
    let started_ms = match &body.started_at {
        Some(text) => {
            let at = DateTime::parse_from_rfc3339(text).map_err(|_| {
                ApiError::invalid(
                    "startedAt",
                    "must be an RFC 3339 time like 2026-01-31T09:30:00Z",
                )
            })?;
            let ms = at.timestamp_millis();
            if ms > state.store.clock().now_ms() + FUTURE_TOLERANCE_MS {
                return Err(ApiError::invalid("startedAt", "must not be in the future"));
            }
            Some(ms)
        }
        None => None,
    };
    let project = key.project(&state).await?;
    if state.store.plan(&project, &body.plan_id).await?.is_none() {
        return Err(ApiError::PlanNotFound(body.plan_id));
    }
    let sub = state
        .store
        .subscribe(&project, &user, &body.plan_id, started_ms)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

pub async fn get_subscription(
    key: SecretKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = path.into_inner();
    check_user_id(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.project(&state).await?;
    let sub = state.store.user_state(&project, &user).await?.subscription;
    let sub = sub.ok_or(ApiError::SubscriptionNotFound(user))?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}
