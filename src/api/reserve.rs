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

pub(crate) async fn reserve(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload).await?;
    let body: ReserveBody = body::parse(&bytes)?;
    if body.has_alternatives() {
        return reserve_first(key, state, &req, &bytes, body).await;
    }
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

/// A reserve of `alternatives`: the first that fits is held. The answer is a reserve's, of
/// the chosen one (of all of them when none fit), with `chosen` and each one denied before it.
async fn reserve_first(
    key: ApiKey,
    state: web::Data<AppState>,
    req: &HttpRequest,
    bytes: &[u8],
    body: ReserveBody,
) -> Result<HttpResponse, ApiError> {
    let (alternatives, ttl_ms) = body.validate_first()?;
    let idempotency = idempotency(req, "reserve", "", bytes)?;
    let project = key.project(&state).await?;
    let fit = boxed(|| {
        state
            .gateway
            .data()
            .reserve_first(&project, &alternatives, ttl_ms, idempotency.as_ref())
    })
    .await?;
    let user = alternatives[0].user.as_str();
    let decision = &fit.decision;
    let now_ms = decision.decided_at_ms;
    let mut response = HttpResponse::Ok();
    headers::rate_limit(&mut response, &decision.counters, now_ms);
    if !decision.allowed {
        headers::retry_after(&mut response, &decision.counters, &decision.denied_by, now_ms);
    }
    Ok(dto::direct::respond(
        dto::direct::reserve_first(&fit, &alternatives, user),
        response,
    ))
}

pub(crate) async fn check(
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
