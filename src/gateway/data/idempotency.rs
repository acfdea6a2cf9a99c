//! An Idempotency-Key as the verbs take it: the route and key digest the scripts store it
//! under, and the digest of the request it came with. The edge makes it; the scripts compare.

use crate::store;

/// A call's Idempotency-Key, made by the edge from the header, the route and the body.
#[derive(Debug, Clone)]
pub struct Idempotency(store::Idempotency);

impl Idempotency {
    /// `field` names the key within the user's keys (route and key digest); `body_digest` is
    /// what a repeat must match.
    pub(crate) fn new(field: String, body_digest: String) -> Idempotency {
        Idempotency(store::Idempotency { field, body_digest })
    }

    /// The same key at a parent's level for a call about `member`: one parent's members may
    /// use the same keys, so the member is part of the field there.
    pub(super) fn under(&self, member: &str) -> Idempotency {
        Idempotency(self.0.under(member))
    }

    /// The key's field within the user's keys: its route and digest.
    pub(crate) fn field(&self) -> &str {
        &self.0.field
    }

    /// What a repeat of the key must match.
    pub(crate) fn body_digest(&self) -> &str {
        &self.0.body_digest
    }

    /// As the scripts take it.
    pub(crate) fn stored(&self) -> &store::Idempotency {
        &self.0
    }
}
