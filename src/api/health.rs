//! Liveness (the process answers) and readiness (Redis reachable and never evicting).

use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::http::AppState;

/// `GET /metrics` in the Prometheus text format.
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.gateway.node().metrics().render())
}

pub(crate) async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.draining.load(Ordering::SeqCst) {
        return not_ready("draining: the node is shutting down".to_string());
    }
    if !state.gateway.node().started() {
        return not_ready("starting: redis has not been reached yet".to_string());
    }
    let reason = match state.gateway.node().readiness().await {
        Ok(Ok(())) => return HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(Err(reason)) => reason,
        Err(err) => err.to_string(),
    };
    not_ready(reason)
}

fn not_ready(reason: String) -> HttpResponse {
    tracing::warn!(reason, "not ready");
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "1"))
        .json(json!({"status": "not_ready", "reason": reason}))
}
