//! What one route of the table is: method, path and handler, who may call it, what it takes
//! and answers, and which error codes it may give. The table itself is `routes.rs`'s; the
//! OpenAPI document (`openapi.rs`) is made from it.

use actix_web::http::Method;
use actix_web::web;

use crate::http::Code;

/// Who may call a route.
#[derive(Clone, Copy)]
pub enum Key {
    None,
    Root,
    Secret,
    /// A secret key, or a publishable key with `X-User-Token`.
    Reader,
}

/// One route of the table.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub key: Key,
    /// The request body's schema.
    pub body: Option<&'static str>,
    /// The success status and its schema.
    pub ok: (u16, Option<&'static str>),
    pub errors: &'static [Code],
    /// Query parameters (all optional strings; the handler names a bad one in its 400).
    pub query: &'static [&'static str],
    /// Request headers the route reads beyond authorization (all optional): `Idempotency-Key`
    /// where a repeat is answered as the first call.
    pub headers: &'static [&'static str],
    pub(super) register: fn(&mut web::ServiceConfig, Method),
}
