//! `POST /v1/reserve` holds quota before the AI provider is called; `POST /v1/check` answers
//! the same question without holding anything.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::boxed::boxed;
use super::dto;
use super::event::ReserveBody;
use super::{body, headers};
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::Decision;

pub async fn reserve(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload).await?;
    let body: ReserveBody = body::parse(&bytes)?;
    let (input, ttl_ms) = body.validate()?;
    let idempotency = idempotency(&req, "reserve", "", &bytes)?;
    let project = key.project(&state).await?;
    let decision = boxed(|| {
        state
            .gateway
            .data()
            .reserve(&project, &input, ttl_ms, idempotency.as_ref())
    })
    .await?;
    Ok(answer(decision, input.user.as_str()))
}

pub async fn check(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ReserveBody = body::parse(&body::read(&req, payload).await?)?;
    // The ttl is checked like reserve's, so a check and its reserve fail alike.
    let input = body.validate_check()?;
    let project = key.project(&state).await?;
    let decision = boxed(|| state.gateway.data().check(&project, &input)).await?;
    Ok(answer(decision, input.user.as_str()))
}

fn answer(decision: Decision, user: &str) -> HttpResponse {
    let now_ms = decision.decided_at_ms;
    let mut response = HttpResponse::Ok();
    headers::rate_limit(&mut response, &decision.counters, now_ms);
    if !decision.allowed {
        headers::retry_after(&mut response, &decision.counters, &decision.denied_by, now_ms);
    }
    dto::direct::respond(dto::direct::reserve(&decision, user), response)
}
