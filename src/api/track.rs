//! `POST /v1/track`: count usage that already happened, without checking quotas.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::SecretKey;
use super::dto::{self, TrackAnswer};
use super::error::ApiError;
use super::event::TrackBody;
use super::{body, AppState};

pub async fn track(
    key: SecretKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: TrackBody = body::parse(&body::read(&req, payload).await?)?;
    let input = body.validate()?;
    let project = key.project(&state).await?;
    let counters = state.store.track(&project, &input).await?;
    Ok(HttpResponse::Ok().json(TrackAnswer {
        over_quota: dto::over_quota(&counters),
        counters: dto::counters(&counters),
    }))
}
