//! What the API and the dashboard share, and nothing else: the state every handler gets,
//! errors as HTTP (problem+json with a stable code from one table), and the one reading of a
//! time either takes. Above the gateway, below both surfaces, so neither reaches into the other.

pub(crate) mod apart;
pub(crate) mod body;
mod codes;
pub(crate) mod cors;
mod error;
pub(crate) mod headers;
pub(crate) mod idempotency;
pub(crate) mod paths;
pub(crate) mod step;

pub(crate) use codes::Code;
pub(crate) use error::ApiError;

use std::sync::atomic::AtomicBool;

use crate::gateway::Gateway;

/// The id of the request being served, in its extensions: the API's error bodies and the
/// dashboard's error pages both name it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What every handler shares.
pub(crate) struct AppState {
    pub gateway: Gateway,
    /// Set on SIGTERM: `/readyz` answers 503 so load balancers move traffic away.
    pub draining: AtomicBool,
}

/// An RFC 3339 time in ms, as the API and the dashboard's forms take one; `field` names it in
/// the error.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.timestamp_millis())
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time like 2026-01-31T09:30:00Z"))
}

impl AppState {
    pub(crate) fn new(gateway: Gateway) -> AppState {
        AppState {
            gateway,
            draining: AtomicBool::new(false),
        }
    }
}
