//! The only code that knows HTTP and JSON: the route table, wire types, auth and errors.

mod auth;
mod body;
pub mod dto;
mod error;
mod event;
mod headers;
mod health;
mod plans;
mod projects;
pub mod request_id;
mod reservations;
mod reserve;
mod settle;
mod subscriptions;
mod track;
mod usage;

use actix_web::web;

pub use error::ApiError;

use crate::store::QuotaStore;

/// What every handler shares.
pub struct AppState {
    pub store: QuotaStore,
    /// SHA-256 of the root token; the token itself is never kept.
    pub root_digest: [u8; 32],
}

/// Every route, in one table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/livez", web::get().to(health::livez))
        .route("/readyz", web::get().to(health::readyz))
        .route("/v1/projects", web::post().to(projects::create_project))
        .route(
            "/v1/projects/{projectId}/keys",
            web::post().to(projects::create_key),
        )
        .route("/v1/plans", web::get().to(plans::list_plans))
        .route("/v1/plans/{planId}", web::put().to(plans::put_plan))
        .route("/v1/plans/{planId}", web::get().to(plans::get_plan))
        .route(
            "/v1/users/{userId}/subscription",
            web::put().to(subscriptions::put_subscription),
        )
        .route(
            "/v1/users/{userId}/subscription",
            web::get().to(subscriptions::get_subscription),
        )
        .route("/v1/users/{userId}/usage", web::get().to(usage::usage))
        .route("/v1/reserve", web::post().to(reserve::reserve))
        .route("/v1/check", web::post().to(reserve::check))
        .route("/v1/track", web::post().to(track::track))
        .route(
            "/v1/reservations/{reservationId}",
            web::get().to(reservations::get_reservation),
        )
        .route(
            "/v1/reservations/{reservationId}/extend",
            web::post().to(reservations::extend),
        )
        .route(
            "/v1/reservations/{reservationId}/commit",
            web::post().to(settle::commit),
        )
        .route(
            "/v1/reservations/{reservationId}/release",
            web::post().to(settle::release),
        )
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::RouteNotFound)
        }));
}
