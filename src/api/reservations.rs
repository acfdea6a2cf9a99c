//! `GET /v1/reservations/{id}` and `POST /v1/reservations/{id}/extend`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{self, ExtendAnswer, ExtendBody, HoldAnswer, ReservationAnswer};
use super::error::ApiError;
use super::event::ttl_ms;
use super::{body, AppState};
use crate::store::keys::reservation_user;
use crate::store::Extension;

pub async fn get_reservation(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let project = key.project(&state).await?;
    let record = state
        .store
        .reservation(&project, &id)
        .await?
        .ok_or(ApiError::ReservationNotFound)?;
    let user_id = reservation_user(&id).ok_or(ApiError::ReservationNotFound)?;
    let expires_ms: i64 = record.expires_ms.parse().unwrap_or(0);
    // A held reservation past its expiry is expired, whether or not a script reclaimed it yet.
    let status = match record.state.as_str() {
        "held" if expires_ms <= state.store.clock().now_ms() => "expired".to_string(),
        other => other.to_string(),
    };
    let holds = record
        .holds
        .iter()
        .map(|h| HoldAnswer {
            group_id: h.g.clone(),
            amount: h.amount(),
            committed: h.committed(),
            period_start: h.period_start_ms().map(dto::rfc3339),
            resets_at: h.period_end_ms().map(dto::rfc3339),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ReservationAnswer {
        reservation_id: id,
        user_id,
        event: record.event,
        status,
        expires_at: dto::rfc3339(expires_ms),
        holds,
    }))
}

pub async fn extend(
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
    match state.store.extend(&project, &id, ttl_ms).await? {
        Extension::Extended { expires_ms } => Ok(HttpResponse::Ok().json(ExtendAnswer {
            reservation_id: id,
            expires_at: dto::rfc3339(expires_ms),
        })),
        Extension::NotFound => Err(ApiError::ReservationNotFound),
        Extension::Ended(state) => Err(ApiError::ended(&state)),
    }
}
