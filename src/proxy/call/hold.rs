//! A call's hold as the phases pass it on: what its commit or release needs. Holding makes
//! it (`hold.rs`); only settling ends it (`settle.rs`).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use super::usage::Usage;
use super::Operation;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::quota::{Reservation, ReservationId};

/// A hold's time to live unless configured; a call that runs longer extends it every half of it.
pub(crate) const HOLD_TTL_MS: i64 = 120_000;
/// One call's hold, and what its commit needs.
#[derive(Clone)]
pub(crate) struct Hold {
    pub gateway: Arc<Gateway>,
    pub metrics: Arc<Metrics>,
    pub project: String,
    pub id: ReservationId,
    pub key_id: String,
    pub upstream: String,
    pub operation: Operation,
    pub ttl_ms: i64,
    /// The worst case held.
    pub worst: Usage,
    /// What the gateway measured of the call itself (a speech's characters, the seconds an
    /// audio's header states): counted where the provider reports none.
    pub measured: Usage,
    pub started: Instant,
    /// What the commit's entry carries beside the counts (a job's id and kind).
    pub labels: Map<String, Value>,
    /// The call's span, ended with the hold, when traced (`trace.rs`).
    pub trace: Option<opentelemetry::Context>,
    /// The record its reserve wrote, where that is provably the one Redis keeps
    /// (`Granted::record`): its commit reads none.
    pub record: Option<Arc<Reservation>>,
}

/// Stops extending a hold when dropped.
pub(crate) struct KeepAlive(pub tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
