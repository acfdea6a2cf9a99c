//! One proxied call as the phases learn it: the target the path names (upstream, wire format,
//! operation) and who pays, known before its body is read; then its attempt (a routed call's
//! target changes from one attempt to the next, `chain.rs`). Each phase takes
//! the context and what the phase before it made, so the sequence in `mod.rs` reads as the
//! call goes.

use std::sync::Arc;
use std::time::Instant;

use super::caller::Caller;
use super::upstream::Upstream;
use super::wire::{Route, Wire};
use super::Operation;

/// Where the path sends a call: known from the path alone.
#[derive(Clone)]
pub(crate) struct Target {
    pub upstream: Arc<Upstream>,
    pub wire: &'static dyn Wire,
    pub route: Route,
    /// The path after `/proxy/{upstream}/`, normalized, as forwarded.
    pub path: String,
}

/// A call, once its caller is known.
pub(crate) struct Ctx {
    pub target: Target,
    pub caller: Caller,
    /// When the gateway took the call, for the ledger's `duration_ms`.
    pub started: Instant,
    /// Which attempt of the call this is, from 1 (a routed call makes one per target).
    pub attempt: u32,
    /// A routed call's attempt: the call it is one of, its target and why the one before gave way.
    pub fallback: Option<Fallback>,
}

impl Ctx {
    pub(crate) fn new(target: Target, caller: Caller) -> Ctx {
        Ctx {
            target,
            caller,
            started: Instant::now(),
            attempt: 1,
            fallback: None,
        }
    }

    pub(crate) fn upstream(&self) -> &Upstream {
        &self.target.upstream
    }

    pub(crate) fn wire(&self) -> &'static dyn Wire {
        self.target.wire
    }

    pub(crate) fn operation(&self) -> Operation {
        self.target.route.operation
    }
}

/// What an attempt of a routed call tells its hold, for the ledger.
#[derive(Debug, Clone)]
pub(crate) struct Fallback {
    /// The call's id, the same for each of its attempts.
    pub of: String,
    /// `<upstream>/<model>` of this attempt.
    pub target: String,
    /// Why the attempt before this one gave way (None for the first).
    pub reason: Option<&'static str>,
}
