//! The lab plane: the pricing lab's simulations (`simulations.rs`), which replay a cohort's
//! ledger under a candidate plan. It stands on the node (plans, prices, subscriptions and
//! ledgers read through it) and its own count of running simulations; it writes nothing but
//! its simulations' state, and touches no quota state and none of the other planes.

pub mod simulations;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use super::Node;

/// Simulations over the node; cheap to clone.
#[derive(Clone)]
pub struct Lab {
    node: Node,
    /// How many simulations this node runs.
    running: Arc<AtomicUsize>,
}

impl Lab {
    pub(super) fn new(node: Node) -> Lab {
        Lab {
            node,
            running: Arc::default(),
        }
    }
}
