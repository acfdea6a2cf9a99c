//! quota-gateway: a Redis-backed atomic quota gateway for AI apps.
//! `api`/`dashboard -> http -> gateway -> store -> quota`: the HTTP API in `api`, the pages in
//! `dashboard`, the provider's front door in `proxy`, what they share in `http`, the service layer (one file per verb) in `gateway`,
//! Redis in `store`, the domain in `quota`. `tests/layers.rs` holds the full table.

#![recursion_limit = "256"]
// What no caller outside the crate can reach says so (`pub(crate)`), so a reader knows what is
// the library's surface (the binary's and tests/it's) and what is internal.
#![warn(unreachable_pub)]

pub mod api;
pub mod apply;
pub mod config;
mod dashboard;
pub mod export;
pub mod gateway;
mod http;
mod json;
pub mod managed_redis;
mod metrics;
mod proxy;
pub mod quota;
mod secrets;
pub mod simulate;
pub mod startup;
pub mod store;
mod webhooks;
