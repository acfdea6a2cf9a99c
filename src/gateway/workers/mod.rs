//! The workers: what a node does in the background, apart from any request. Webhook deliveries
//! (`deliver.rs`), the sweep of the slots' outboxes for what a dead node left there
//! (`sweep.rs`), and the slices ended after a plan's edit (`slice_ends.rs`).
//!
//! It stands on the data plane (moving alerts, settling the leases' notes and ending slices are
//! the data plane's verbs, which the data path calls too) and the webhook settings. It holds
//! nothing of the accounts plane, so a worker cannot reach a project's or a key's management.

mod deliver;
mod slice_ends;
mod sweep;

use std::sync::Arc;

use super::DataPlane;
use crate::store::WorkersStore;
use crate::webhooks::WebhookSettings;

/// The background jobs over the data plane; cheap to clone, as each attempt's task holds one.
#[derive(Clone)]
pub(crate) struct Workers {
    pub(super) data: DataPlane,
    /// The workers' view of the store (`store/planes.rs`).
    store: WorkersStore,
    /// How this node delivers webhooks and how often it sweeps (`QG_WEBHOOK_*`).
    pub(super) webhooks: Arc<WebhookSettings>,
}

impl Workers {
    pub(super) fn new(data: DataPlane, webhooks: Arc<WebhookSettings>) -> Workers {
        Workers {
            store: WorkersStore::over(&data.node.store),
            data,
            webhooks,
        }
    }
}
