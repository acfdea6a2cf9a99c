//! The only code that knows HTTP and JSON: the route table, wire types, auth and errors.

mod approvals;
mod audit_log;
mod auth;
pub mod body;
pub mod connection;
mod cors;
mod credits;
mod daily_usage;
pub mod dto;
pub mod event;
pub mod headers;
mod health;
pub mod idempotency;
mod ledger_csv;
pub mod openapi;
mod paths;
mod plans;
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

pub use routes::routes;
