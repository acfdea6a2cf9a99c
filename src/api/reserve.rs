//! `POST /v1/reserve`: hold quota before calling the AI provider.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::auth::SecretKey;
use super::body;
use super::dto::{self, ReserveAnswer, ReserveBody};
use super::error::ApiError;
use super::AppState;
use crate::quota::ids::{check_event, check_user_id};
use crate::quota::Milli;
use crate::store::ReserveInput;

const MAX_METADATA_KEYS: usize = 32;
const MAX_METADATA_KEY_BYTES: usize = 64;
const MAX_METADATA_STRING_BYTES: usize = 256;
const DEFAULT_TTL_SECONDS: i64 = 60;
const MAX_TTL_SECONDS: i64 = 86_400;

pub async fn reserve(
    key: SecretKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ReserveBody = body::parse(&body::read(&req, payload).await?)?;
    let input = reserve_input(body)?;
    let project = key.project(&state).await?;
    let decision = state.store.reserve(&project, &input).await?;
    Ok(HttpResponse::Ok().json(ReserveAnswer {
        allowed: decision.allowed(),
        reservation_id: decision.granted.as_ref().map(|g| g.reservation_id.clone()),
        expires_at: decision
            .granted
            .as_ref()
            .map(|g| dto::rfc3339(g.expires_at_ms)),
        reasons: decision.reasons.iter().map(|r| r.code()).collect(),
        denied_by: decision.denied_by,
        counters: dto::counters(&decision.counters),
    }))
}

/// Checks every field before anything reaches Redis.
fn reserve_input(body: ReserveBody) -> Result<ReserveInput, ApiError> {
    check_user_id(&body.user_id).map_err(|d| ApiError::invalid("userId", d))?;
    check_event(&body.event).map_err(|d| ApiError::invalid("event", d))?;
    let metadata = body.metadata.unwrap_or_default();
    check_metadata(&metadata)?;
    let ttl_seconds = body.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
        return Err(ApiError::invalid("ttlSeconds", "must be 1 to 86400"));
    }
    Ok(ReserveInput {
        user: body.user_id,
        event: body.event,
        quantity: body.quantity.unwrap_or(Milli::from_units(1)),
        metadata,
        ttl_ms: ttl_seconds * 1000,
    })
}

pub fn check_metadata(metadata: &Map<String, Value>) -> Result<(), ApiError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ApiError::invalid("metadata", "must have at most 32 keys"));
    }
    for (key, value) in metadata {
        let field = || format!("metadata.{key}");
        if key.len() > MAX_METADATA_KEY_BYTES {
            return Err(ApiError::invalid(field(), "keys must be at most 64 bytes"));
        }
        match value {
            Value::Array(_) | Value::Object(_) => {
                return Err(ApiError::invalid(
                    field(),
                    "must be a string, number, boolean or null",
                ))
            }
            Value::String(s) if s.len() > MAX_METADATA_STRING_BYTES => {
                return Err(ApiError::invalid(field(), "must be at most 256 bytes"))
            }
            _ => {}
        }
    }
    Ok(())
}
