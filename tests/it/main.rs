//! The integration suite: one binary, real Redis, real HTTP.

mod admission;
mod control;
mod errors;
mod expiry;
mod freemium;
mod health;
mod managed;
mod periods;
mod settle;
mod support;
