//! The only code that knows HTTP and JSON: the route table, wire types, auth and errors.

mod auth;
mod body;
mod cors;
pub mod dto;
mod error;
mod event;
mod headers;
mod health;
mod idempotency;
pub mod openapi;
mod plans;
mod projects;
pub mod request_id;
mod reservations;
mod reserve;
mod settle;
mod subscriptions;
mod track;
mod usage;
mod user_tokens;
mod users;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder};

pub use error::ApiError;

use std::sync::atomic::AtomicBool;

use crate::gateway::Gateway;

/// What every handler shares.
pub struct AppState {
    pub gateway: Gateway,
    /// Set on SIGTERM: `/readyz` answers 503 so load balancers move traffic away.
    pub draining: AtomicBool,
}

impl AppState {
    pub fn new(gateway: Gateway) -> AppState {
        AppState {
            gateway,
            draining: AtomicBool::new(false),
        }
    }
}

/// Every route, in one table. Answers the (method, path) pairs it registered, so a test can
/// hold the OpenAPI document against it.
pub fn routes(cfg: &mut web::ServiceConfig) -> Vec<(&'static str, &'static str)> {
    let mut t = Table {
        cfg,
        registered: Vec::new(),
    };
    t.add("GET", "/livez", health::livez);
    t.add("GET", "/readyz", health::readyz);
    t.add("GET", "/openapi.json", openapi::openapi);
    t.add("GET", "/metrics", health::metrics);
    t.add("POST", "/v1/projects", projects::create_project);
    t.add("GET", "/v1/projects", projects::list_projects);
    t.add("PATCH", "/v1/projects/{projectId}", projects::patch_project);
    t.add("POST", "/v1/projects/{projectId}/keys", projects::create_key);
    t.add("GET", "/v1/projects/{projectId}/keys", projects::list_keys);
    t.add("DELETE", "/v1/projects/{projectId}/keys/{keyId}", projects::revoke_key);
    t.add("GET", "/v1/plans", plans::list_plans);
    t.add("PUT", "/v1/plans/{planId}", plans::put_plan);
    t.add("GET", "/v1/plans/{planId}", plans::get_plan);
    t.add("DELETE", "/v1/plans/{planId}", plans::delete_plan);
    t.add("GET", "/v1/users", users::list_users);
    t.add(
        "PUT",
        "/v1/users/{userId}/subscription",
        subscriptions::put_subscription,
    );
    t.add(
        "GET",
        "/v1/users/{userId}/subscription",
        subscriptions::get_subscription,
    );
    t.add(
        "DELETE",
        "/v1/users/{userId}/subscription",
        subscriptions::delete_subscription,
    );
    t.add("PUT", "/v1/users/{userId}/overrides/{groupId}", users::put_override);
    t.add(
        "DELETE",
        "/v1/users/{userId}/overrides/{groupId}",
        users::delete_override,
    );
    t.add("POST", "/v1/users/{userId}/block", users::block);
    t.add("POST", "/v1/users/{userId}/unblock", users::unblock);
    t.add("POST", "/v1/users/{userId}/adjustments", users::adjust);
    t.add("GET", "/v1/users/{userId}/adjustments", users::list_adjustments);
    t.add("GET", "/v1/users/{userId}/usage", usage::usage);
    t.add("OPTIONS", "/v1/users/{userId}/usage", cors::preflight);
    t.add("POST", "/v1/user-tokens", user_tokens::create_user_token);
    t.add("POST", "/v1/reserve", reserve::reserve);
    t.add("POST", "/v1/check", reserve::check);
    t.add("POST", "/v1/track", track::track);
    t.add("GET", "/v1/reservations/{reservationId}", reservations::get_reservation);
    t.add("POST", "/v1/reservations/{reservationId}/extend", reservations::extend);
    t.add("POST", "/v1/reservations/{reservationId}/commit", settle::commit);
    t.add("POST", "/v1/reservations/{reservationId}/release", settle::release);
    t.cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::RouteNotFound)
    }));
    t.registered
}

struct Table<'c> {
    cfg: &'c mut web::ServiceConfig,
    registered: Vec<(&'static str, &'static str)>,
}

impl Table<'_> {
    fn add<F, Args>(&mut self, method: &'static str, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        // Start-up only: the table above names only valid methods.
        let parsed = Method::from_bytes(method.as_bytes()).expect("a valid HTTP method");
        self.cfg.route(path, web::method(parsed).to(handler));
        self.registered.push((method, path));
    }
}
