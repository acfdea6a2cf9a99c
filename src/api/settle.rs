//! `POST /v1/reservations/{id}/commit` and `/release`: end a reservation exactly once.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::boxed::boxed;
use super::dto::{self, CommitBody, EmptyBody, OutcomeAnswer, OutcomeBody};
use super::event::check_metadata;
use crate::gateway::outputs::Said;
use crate::gateway::Commit;
use crate::gateway::{Settled, Settlement};
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::ReservationId;

pub(crate) async fn commit(
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
    let outcome = dto::outcome(body.outcome.as_deref())?;
    let id = path.into_inner();
    let idempotency = idempotency(&req, "commit", &id, &bytes)?;
    let reservation = ReservationId::parse_reservation(&id);
    let record = key.secret(&state).await?;
    let reservation = reservation.ok_or(ApiError::ReservationNotFound)?;
    let commit = boxed(|| {
        let commit = Commit {
            quantity: body.quantity,
            metadata: body.metadata.as_ref(),
            outcome,
            idempotency: idempotency.as_ref(),
            key_id: &record.key_id,
            priced_as: None,
            record: None,
        };
        state.gateway.data().commit(&record.project, &reservation, commit)
    });
    let settled = settled(commit.await?)?;
    Ok(dto::direct::respond(
        dto::direct::commit(&id, &settled, reservation.user().as_str()),
        HttpResponse::Ok(),
    ))
}

/// `POST /v1/reservations/{id}/outcome {outcome}`: what a committed call's output came to,
/// said after its commit; said again it changes nothing, a new word replaces the old.
pub(crate) async fn set_outcome(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: OutcomeBody = body::parse(&body::read(&req, payload).await?)?;
    let outcome = dto::outcome(Some(&body.outcome))?.unwrap_or_default();
    let id = path.into_inner();
    let record = key.secret(&state).await?;
    let reservation = ReservationId::parse_reservation(&id).ok_or(ApiError::ReservationNotFound)?;
    match state
        .gateway
        .data()
        .set_outcome(&record.project, &reservation, outcome, &record.key_id)
        .await?
    {
        Said::NotFound => Err(ApiError::ReservationNotFound),
        Said::NotCommitted(s) => Err(ApiError::ReservationNotCommitted(s.as_str())),
        Said::Judged => Err(ApiError::OutcomeChangedEnough),
        Said::Said { previous } => Ok(HttpResponse::Ok().json(OutcomeAnswer {
            reservation_id: id,
            outcome: outcome.to_string(),
            previous,
        })),
    }
}

pub(crate) async fn release(
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
    let settled = settled(boxed(|| state.gateway.data().release(&project, &reservation)).await?)?;
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
