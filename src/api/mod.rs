//! The only code that knows HTTP and JSON: the route table, wire types, auth and errors.

mod audit_log;
mod auth;
mod body;
mod codes;
pub mod connection;
mod cors;
mod daily_usage;
pub mod dto;
mod error;
mod event;
mod headers;
mod health;
mod idempotency;
mod ledger_csv;
pub mod openapi;
mod paths;
mod plans;
pub mod projects;
mod query;
pub mod request_id;
mod reservations;
mod reserve;
mod routes;
mod settle;
mod subscriptions;
mod track;
mod usage;
mod usage_events;
mod user_tokens;
mod users;
mod webhooks;

pub use codes::Code;
pub use error::ApiError;
pub use routes::routes;

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
