//! The only code that knows HTTP and JSON: the route table, wire types, auth and errors.

mod approvals;
mod audit_log;
mod auth;
mod boxed;
pub mod connection;
mod cors;
mod credits;
mod daily_usage;
pub mod dto;
pub mod event;
mod health;
mod ledger_csv;
pub mod openapi;
mod operators;
mod plans;
mod prices;
mod projects;
mod query;
pub mod request_id;
mod reservations;
mod reserve;
mod route;
mod routes;
mod runs;
mod settle;
mod simulations;
mod subscriptions;
mod track;
mod usage;
mod usage_events;
mod user_keys;
mod user_tokens;
mod users;
mod webhooks;

// Shared with the proxy, so they live in `http`; named here as the handlers always have.
use crate::http::{body, headers, paths};

pub use routes::routes;
