//! quota-gateway: a Redis-backed atomic quota gateway for AI apps.
//! `api`/`dashboard -> http -> gateway -> store -> quota`: the HTTP API in `api`, the pages in
//! `dashboard`, the provider's front door in `proxy`, what they share in `http`, the service layer (one file per verb) in `gateway`,
//! Redis in `store`, the domain in `quota`. `tests/layers.rs` holds the full table.

#![recursion_limit = "256"]

pub mod api;
pub mod apply;
pub mod config;
pub mod dashboard;
pub mod export;
pub mod gateway;
pub mod http;
pub mod json;
pub mod managed_redis;
pub mod metrics;
pub mod proxy;
pub mod quota;
pub mod secrets;
pub mod simulate;
pub mod startup;
pub mod store;
pub mod webhooks;
