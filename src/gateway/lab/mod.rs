//! The lab plane: the pricing lab's simulations (`simulations.rs`), which replay a cohort's
//! ledger under a candidate plan. It stands on the node (plans, prices, subscriptions and
//! ledgers read through it) and its own count of running simulations; it writes nothing but
//! its simulations' state, and touches no quota state and none of the other planes.

pub mod simulations;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use super::Node;
use crate::store::LabStore;

/// Simulations over the node; cheap to clone.
#[derive(Clone)]
pub struct Lab {
    node: Node,
    /// The lab's view of the store (`store/planes.rs`).
    store: LabStore,
    /// How many simulations this node runs.
    running: Arc<AtomicUsize>,
}

impl Lab {
    pub(super) fn new(node: Node) -> Lab {
        Lab {
            store: LabStore::over(&node.store),
            node,
            running: Arc::default(),
        }
    }
}
