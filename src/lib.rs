//! quota-gateway: a Redis-backed atomic quota gateway for AI apps.
//! `api -> store -> quota`: HTTP in `api`, Redis in `store`, the domain in `quota`.

#![recursion_limit = "256"]

pub mod api;
pub mod apply;
pub mod bootstrap;
pub mod config;
pub mod managed_redis;
pub mod metrics;
pub mod quota;
pub mod secrets;
pub mod startup;
pub mod store;
