//! `POST /v1/reservations/{id}/commit` and `/release`: end a reservation exactly once.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::dto::{self, CommitAnswer, CommitBody, EmptyBody, ReleaseAnswer};
use super::error::ApiError;
use super::event::check_metadata;
use super::idempotency::idempotency;
use super::AppState;
use crate::store::{Settled, Settlement};

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
    let project = key.project(&state).await?;
    let commit = state.store.commit(
        &project,
        &id,
        body.quantity,
        body.metadata.as_ref(),
        idempotency.as_ref(),
    );
    let settled = settled(commit.await?)?;
    let outcome = if settled.late { "late" } else { "committed" };
    state
        .store
        .metrics()
        .count("qg_reservations_total", &[("outcome", outcome)]);
    Ok(HttpResponse::Ok().json(CommitAnswer {
        reservation_id: id,
        status: settled.status,
        late: settled.late,
        over_quota: dto::over_quota(&settled.counters),
        counters: dto::counters(&settled.counters),
    }))
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
    let settled = settled(state.store.release(&project, &id).await?)?;
    let outcome = if settled.status == "expired" {
        "expired"
    } else {
        "released"
    };
    state
        .store
        .metrics()
        .count("qg_reservations_total", &[("outcome", outcome)]);
    Ok(HttpResponse::Ok().json(ReleaseAnswer {
        reservation_id: id,
        status: settled.status,
        counters: dto::counters(&settled.counters),
    }))
}

fn settled(settlement: Settlement) -> Result<Settled, ApiError> {
    match settlement {
        Settlement::Settled(settled) => Ok(settled),
        Settlement::NotFound => Err(ApiError::ReservationNotFound),
        Settlement::Conflict(state) => Err(ApiError::ended(&state)),
    }
}
