//! What the API and the dashboard share, and nothing else: the state every handler gets, and
//! errors as HTTP (problem+json with a stable code from one table). Above the gateway, below
//! both surfaces, so neither reaches into the other.

mod codes;
mod error;

pub use codes::Code;
pub use error::ApiError;

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
