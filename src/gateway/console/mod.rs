//! The console plane: operators and their invitations (`operators.rs`), dashboard sessions
//! (`sessions.rs`) and sign-in (`sign_in.rs`). It stands on the node alone: it recognises keys
//! and the root token, reads the store and writes the audit log through it, and touches no
//! quota state, no plan and none of the other planes.

mod credential;
mod operator_records;
pub(crate) mod operators;
pub(crate) mod sessions;
mod sign_in;

pub(crate) use credential::Credential;
pub(crate) use sign_in::SignIn;

use super::Node;
use crate::store::ConsoleStore;

/// Operators, sessions and sign-in over the node: a view the gateway lends
/// (`Gateway::console`), so holding the console costs a `Gateway` nothing and cloning one
/// copies no second node.
#[derive(Clone, Copy)]
pub(crate) struct Console<'a> {
    node: &'a Node,
    /// The console's view of the store (`store/planes.rs`), held by the gateway.
    store: &'a ConsoleStore,
}

impl<'a> Console<'a> {
    pub(super) fn new(node: &'a Node, store: &'a ConsoleStore) -> Console<'a> {
        Console { node, store }
    }
}
