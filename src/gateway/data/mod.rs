//! The data plane: what a metered call does and what follows from its decision. Reserve,
//! check, track, commit, release and extend, through every parent's level (`levels.rs`,
//! `parents.rs`) or on leased slices (`slices.rs`, `slice_ends.rs`); usage, runs, outcomes,
//! rolling windows; credits and adjustments; approval requests; the ledger; and the alerts a
//! decision fires, moved to their project's deliveries (`alerts.rs`).
//!
//! It stands on the node, its lease settings and flights, and the start of the ledger index.
//! It holds nothing of the workers or the accounts plane, so no verb here can call up into
//! them: the hot path's dependencies are what this struct holds.

mod adjust;
mod alerts;
mod alternatives;
pub(crate) mod approvals;
mod chain;
mod changed;
mod closed_actions;
mod credits;
mod idempotency;
mod jobs;
mod ledger;
mod ledger_notes;
mod levels;
pub mod outputs;
mod parents;
mod parts;
mod reservations;
mod reserve;
mod resolve;
mod rolling;
mod route_fallbacks;
mod runs;
mod settle;
mod slice_ends;
mod slice_recalls;
mod slice_rounds;
mod slices;
mod track;
mod usage;

use std::sync::{Arc, OnceLock};

pub use adjust::Adjusted;
pub use credits::Granting;
pub use idempotency::Idempotency;
pub use ledger::{LedgerCursor, LedgerQuery, UsageEventPage};
pub(crate) use parts::{Alerts, Jobs, Leases, Parents};
pub use reservations::{Extension, ReservationView, MAX_LIFETIME_MS};
pub(crate) use resolve::Freshness;
pub use route_fallbacks::RouteFallbacks;
pub use runs::{RunView, MAX_LISTED_RUNS};
pub use settle::{Commit, Settled, Settlement};
pub use slices::LeaseSettings;
pub use usage::Usage;

use super::Node;
use crate::store::{DataStore, JobStore};

/// The data plane over the node; cheap to clone (the store's handle and `Arc`s), as a task
/// that outlives its request (a release tried again, slices ended) holds a clone.
#[derive(Clone)]
pub struct DataPlane {
    pub(super) node: Node,
    /// The data plane's view of the store, and its async jobs' (`store/planes.rs`).
    store: DataStore,
    job_store: JobStore,
    /// Whether members decide on leased slices of their parents' budgets (`slices.rs`).
    pub(super) leases: LeaseSettings,
    /// The takes of slices in flight on this node (`slices.rs`).
    leases_in_flight: Arc<slice_rounds::Flights>,
    /// The recalls of teams' slices in flight on this node (`slice_recalls.rs`).
    recalls: Arc<slice_recalls::Recalls>,
    /// What commits on slices fired, moved in batches (`ledger_notes.rs`).
    note_batches: Arc<ledger_notes::NoteBatches>,
    /// From when every ledger entry is in its project's ledger index, learnt at start.
    pub(super) ledger_since: Arc<OnceLock<i64>>,
    /// For tests only (`test-hooks`): a wait before each parent's level, and between a parent
    /// change's check and its write (`parents.rs`).
    #[cfg(feature = "test-hooks")]
    pub(super) level_pause: std::time::Duration,
    /// For tests only (`test-hooks`): fired alerts are never moved, as though the node died
    /// right after each script (`WebhookSettings::skip_moves`, copied by `Gateway::with_webhooks`).
    #[cfg(feature = "test-hooks")]
    pub(super) skip_alert_moves: bool,
}

impl DataPlane {
    pub(super) fn new(node: Node) -> DataPlane {
        DataPlane {
            store: DataStore::over(&node.store),
            job_store: JobStore::over(&node.store),
            node,
            leases: LeaseSettings::default(),
            leases_in_flight: Arc::default(),
            recalls: Arc::default(),
            note_batches: Arc::default(),
            ledger_since: Arc::default(),
            #[cfg(feature = "test-hooks")]
            level_pause: std::time::Duration::ZERO,
            #[cfg(feature = "test-hooks")]
            skip_alert_moves: false,
        }
    }

    /// The plane's views of the store taken again from the node's, after a builder changed it
    /// (its tracer), before any plane is used.
    pub(super) fn view_again(&mut self) {
        self.store = DataStore::over(&self.node.store);
        self.job_store = JobStore::over(&self.node.store);
    }

    /// Whether fired alerts are never moved (a test hook; never without `test-hooks`).
    fn skip_moves(&self) -> bool {
        #[cfg(feature = "test-hooks")]
        let skip = self.skip_alert_moves;
        #[cfg(not(feature = "test-hooks"))]
        let skip = false;
        skip
    }
}
