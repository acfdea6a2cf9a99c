//! `POST /v1/reservations/{id}/commit` and `/release`: end a reservation exactly once.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::dto::{self, CommitBody, EmptyBody};
use super::event::check_metadata;
use super::idempotency::idempotency;
use crate::gateway::{Settled, Settlement};
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::ReservationId;

pub async fn commit(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload).await?;
    let body: CommitBody = body::parse_optional(&bytes)?;
    if let Some(metadata) = &body.metadata {
        check_metadata(metadata)?;
    }
    let id = path.into_inner();
    let idempotency = idempotency(&req, "commit", &id, &bytes)?;
    let reservation = ReservationId::parse_reservation(&id);
    let record = key.secret(&state).await?;
    let reservation = reservation.ok_or(ApiError::ReservationNotFound)?;
    let commit = state.gateway.commit(
        &record.project,
        &reservation,
        body.quantity,
        body.metadata.as_ref(),
        idempotency.as_ref(),
        &record.key_id,
    );
    let settled = settled(commit.await?)?;
    Ok(dto::direct::respond(
        dto::direct::commit(&id, &settled, reservation.user().as_str()),
        HttpResponse::Ok(),
    ))
}

pub async fn release(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _: EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let reservation = ReservationId::parse_reservation(&id).ok_or(ApiError::ReservationNotFound)?;
    let settled = settled(state.gateway.release(&project, &reservation).await?)?;
    Ok(dto::direct::respond(
        dto::direct::release(&id, &settled, reservation.user().as_str()),
        HttpResponse::Ok(),
    ))
}

fn settled(settlement: Settlement) -> Result<Settled, ApiError> {
    match settlement {
        Settlement::Settled(settled) => Ok(settled),
        Settlement::NotFound => Err(ApiError::ReservationNotFound),
        Settlement::Conflict(state) => Err(ApiError::ended(state)),
    }
}
