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

/// Operators, sessions and sign-in over the node; cheap to clone.
#[derive(Clone)]
pub(crate) struct Console {
    node: Node,
}

impl Console {
    pub(super) fn new(node: Node) -> Console {
        Console { node }
    }
}
