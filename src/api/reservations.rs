//! `GET /v1/reservations/{id}` and `POST /v1/reservations/{id}/extend`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::dto::{ExtendAnswer, ExtendBody, HoldAnswer, ReservationAnswer};
use super::event::ttl_ms;
use crate::gateway::Extension;
use crate::http::ApiError;
use crate::http::AppState;
use crate::json::rfc3339;
use crate::quota::ReservationId;

pub(crate) async fn get_reservation(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let id = ReservationId::parse_reservation(&id).ok_or(ApiError::ReservationNotFound)?;
    let view = state
        .gateway
        .data()
        .reservation(&project, &id)
        .await?
        .ok_or(ApiError::ReservationNotFound)?;
    let record = view.reservation;
    let levels = std::iter::once((id.user(), &record)).chain(view.parents.iter().map(|(p, r)| (p, r)));
    let holds = levels
        .flat_map(|(subject, level)| {
            level.holds.iter().map(move |h| HoldAnswer {
                subject_id: subject.to_string(),
                group_id: h.group.clone(),
                amount: h.amount,
                committed: h.committed,
                period_start: h.window.end_ms.map(|_| rfc3339(h.window.start_ms)),
                resets_at: h.window.end_ms.map(rfc3339),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(ReservationAnswer {
        reservation_id: id.to_string(),
        user_id: id.user().to_string(),
        event: record.event,
        quantity: record.quantity,
        metadata: record.metadata,
        status: view.state.as_str(),
        expires_at: rfc3339(record.expires_ms),
        holds,
    }))
}

pub(crate) async fn extend(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ExtendBody = body::parse(&body::read(&req, payload).await?)?;
    let ttl_ms = ttl_ms(Some(body.ttl_seconds))?;
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let id = ReservationId::parse_reservation(&id).ok_or(ApiError::ReservationNotFound)?;
    match state.gateway.data().extend(&project, &id, ttl_ms).await? {
        Extension::Extended { expires_ms, .. } => Ok(HttpResponse::Ok().json(ExtendAnswer {
            reservation_id: id.to_string(),
            expires_at: rfc3339(expires_ms),
        })),
        Extension::NotFound => Err(ApiError::ReservationNotFound),
        Extension::Ended(state) => Err(ApiError::ended(state)),
    }
}
