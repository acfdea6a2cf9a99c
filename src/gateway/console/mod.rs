//! The console plane: operators and their invitations (`operators.rs`), dashboard sessions
//! (`sessions.rs`) and sign-in (`sign_in.rs`). It stands on the node alone: it recognises keys
//! and the root token, reads the store and writes the audit log through it, and touches no
//! quota state, no plan and none of the other planes.

mod operator_records;
pub(crate) mod operators;
pub(crate) mod sessions;
mod sign_in;

pub(crate) use sign_in::{Credential, SignIn};

use super::Node;

/// Operators, sessions and sign-in over the node: a view the gateway lends
/// (`Gateway::console`), so holding the console costs a `Gateway` nothing and cloning one
/// copies no second node.
#[derive(Clone, Copy)]
pub(crate) struct Console<'a> {
    node: &'a Node,
}

impl<'a> Console<'a> {
    pub(super) fn new(node: &'a Node) -> Console<'a> {
        Console { node }
    }
}
