//! The accounts plane: what operators and their tools manage. Projects (`projects.rs`), API
//! keys (`api_keys.rs`) and user keys (`user_keys.rs`), subscriptions (`subscriptions.rs`),
//! plans (`plans.rs`) and prices (`prices.rs`), webhook endpoints (`webhooks.rs`), the users
//! index (`users.rs`), the overview's activity (`activity.rs`), a plan switch's preview
//! (`switch_preview.rs`), the audit log's pages (`changes.rs`), and a node's first start
//! (`start.rs`).
//!
//! It is the top plane: a view over the data plane (a subscription's checks and caches, usage,
//! the ledger's start) and the workers (a plan's edit ends its slices in the background). No
//! plane below holds it, so nothing on the data path can reach a management verb.

mod activity;
mod api_keys;
mod changes;
mod plans;
mod prices;
mod projects;
mod start;
mod subscriptions;
mod switch_preview;
mod user_keys;
mod users;
pub mod webhooks;

pub use activity::{Activity, Overview};
pub use start::FirstStart;
pub use subscriptions::ParentChange;
pub use switch_preview::SwitchRow;
pub use user_keys::{KeyUser, MAX_USER_KEYS};

use super::{DataPlane, Workers};
use crate::store::AccountsStore;

/// The accounts' verbs over the data plane and the workers: a view the gateway lends
/// (`Gateway::accounts`), as the console is, so holding one costs nothing and a `Gateway`'s
/// clone copies nothing more.
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    data: &'a DataPlane,
    workers: &'a Workers,
    /// The accounts' view of the store (`store/planes.rs`), held by the gateway.
    store: &'a AccountsStore,
}

impl<'a> Accounts<'a> {
    pub(super) fn new(data: &'a DataPlane, workers: &'a Workers, store: &'a AccountsStore) -> Accounts<'a> {
        Accounts { data, workers, store }
    }
}
