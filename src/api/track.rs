//! `POST /v1/track`: count usage that already happened, without checking quotas.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::boxed::boxed;
use super::dto;
use super::event::TrackBody;
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::http::AppState;

pub(crate) async fn track(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload).await?;
    let body: TrackBody = body::parse(&bytes)?;
    let outcome = body.outcome.clone();
    dto::outcome(outcome.as_deref())?;
    let input = body.validate()?;
    let idempotency = idempotency(&req, "track", "", &bytes)?;
    let record = key.secret(&state).await?;
    let tracked = boxed(|| {
        state.gateway.data().track(
            &record.project,
            &input,
            outcome.as_deref(),
            idempotency.as_ref(),
            &record.key_id,
        )
    })
    .await?;
    Ok(dto::direct::respond(
        dto::direct::track(&tracked.counters, tracked.run.as_ref(), input.user.as_str()),
        HttpResponse::Ok(),
    ))
}
