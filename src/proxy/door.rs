//! The door service: what every phase of a call shares, as one struct whose methods the phases
//! are (Pingora's `ProxyHttp` read the same way: phases as methods over one per-call context,
//! the sequence owning their order). The node's upstreams, the gateway it holds and settles in,
//! its metrics, and the bounds the node sets on bodies, holds, drains and jobs. Each phase's
//! file adds its methods to `Door`; no phase names another, and `mod.rs` and `jobs/` order them.

use std::sync::Arc;
use std::time::Duration;

use super::budget::Budget;
use super::call::jobs::JobSettings;
use super::call::upstream::Upstreams;
use super::counting::Counting;
use super::drains::Drains;
use crate::gateway::Gateway;
use crate::metrics::Metrics;

/// The door: one per node, shared by every call.
pub(crate) struct Door {
    pub upstreams: Upstreams,
    /// Shared with every hold (`Hold::gateway`): a `Gateway` by value is half a kilobyte and
    /// a score of counted references, copied into every call's future.
    pub gateway: Arc<Gateway>,
    pub metrics: Arc<Metrics>,
    pub drains: Drains,
    /// Large bodies are counted here, off the request threads, a project at a time.
    pub counting: Counting,
    pub max_body_bytes: usize,
    pub max_upload_bytes: u64,
    pub hold_ttl_ms: i64,
    pub jobs: JobSettings,
    /// How long a body read before its hold may go quiet.
    pub read_idle: Duration,
    /// What the node keeps of bodies read before their hold, shared fairly by users.
    pub read_budget: Arc<Budget>,
}

/// The node's proxy settings beside its upstreams.
pub struct ProxySettings {
    /// Streams the node keeps reading after their caller left, at most at once.
    pub drains: usize,
    /// How long one such drain may read.
    pub drain_for: Duration,
    /// The largest request body read whole (and what an upload may keep before its hold).
    pub max_body_bytes: usize,
    /// The largest upload streamed through.
    pub max_upload_bytes: u64,
    pub hold_ttl_ms: i64,
    /// How async jobs are held and polled.
    pub jobs: JobSettings,
    /// How long a body read before its hold may go quiet before the call is refused (408).
    pub read_idle: Duration,
    /// The bytes of bodies read before their hold the node keeps at most, a quarter of it at
    /// most for one user; past it a call is refused with 503 and Retry-After.
    pub read_budget_bytes: usize,
}

impl Door {
    pub(crate) fn new(upstreams: Upstreams, settings: &ProxySettings, gateway: Gateway) -> Door {
        // Loading the tokenizers takes a moment: not on a caller's time.
        std::thread::spawn(super::call::tokens::warm);
        Door {
            upstreams,
            metrics: gateway.node().metrics().clone(),
            gateway: Arc::new(gateway),
            drains: Drains::new(settings.drains, settings.drain_for),
            // One thread: counting large bodies takes at most a core's spare time.
            counting: Counting::start(1),
            max_body_bytes: settings.max_body_bytes,
            max_upload_bytes: settings.max_upload_bytes,
            hold_ttl_ms: settings.hold_ttl_ms,
            jobs: settings.jobs,
            read_idle: settings.read_idle,
            read_budget: Budget::new(settings.read_budget_bytes),
        }
    }
}
