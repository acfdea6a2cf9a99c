//! The integration suite: one binary, real Redis, real HTTP.

#![recursion_limit = "256"]

mod admission;
mod apply;
mod approvals;
mod attribution;
mod audit;
mod contract;
mod control;
mod credits;
mod credits_alerts;
mod credits_model;
mod dashboard;
mod dashboard_credits;
mod errors;
mod exactness;
mod expiry;
mod faults;
mod freemium;
mod hardening;
mod health;
mod idempotency;
mod ledger;
mod lifecycle;
mod managed;
mod model;
mod observability;
mod openapi;
mod operations;
mod outcomes;
mod parents;
mod parents_model;
mod periods;
mod raw_http;
mod readme;
mod recipes_images;
mod recipes_llm;
mod recipes_scopes;
mod rollups;
mod security;
mod settle;
mod support;
mod users;
mod webhooks;
mod webhooks_endpoints;
mod webhooks_isolation;
