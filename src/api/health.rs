//! Liveness (the process answers) and readiness (Redis reachable and never evicting).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let reason = match state.store.readiness().await {
        Ok(Ok(())) => return HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(Err(reason)) => reason,
        Err(err) => err.to_string(),
    };
    tracing::warn!(reason, "not ready");
    HttpResponse::ServiceUnavailable().json(json!({"status": "not_ready", "reason": reason}))
}
