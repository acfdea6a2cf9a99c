//! The store as each plane of the gateway sees it: one backend (`Store`: the connections, the
//! key layout, the command timeout, the metrics) and a view per plane holding only the verbs
//! that plane asks, so a plane's store is the size of its work and no plane reaches another's
//! records by accident. What several planes read (a subscription, the users index, the ledger,
//! the project ids) and what the node itself loads (plans, prices, settings, keys, the epoch,
//! readiness, the audit log's append) stay on `Store`, which every view reaches by `Deref`.
//! A view is a clone of the backend's handles: holding one costs what holding the store did.

use std::ops::Deref;

use super::Store;

macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub(crate) struct $name(Store);

        impl $name {
            /// This plane's view of `store`.
            pub(crate) fn over(store: &Store) -> $name {
                $name(store.clone())
            }
        }

        impl Deref for $name {
            type Target = Store;

            fn deref(&self) -> &Store {
                &self.0
            }
        }
    };
}

view! {
    /// The data plane's: the metered calls' scripts, credits, approvals, leased slices, the
    /// ledger index, the slot outboxes' moves.
    DataStore
}
view! {
    /// The data plane's async jobs: their records, schedules, files and the lists that find
    /// them again.
    JobStore
}
view! {
    /// The accounts plane's: projects, keys, user keys, subscriptions, plans, prices, webhook
    /// endpoints, users' pages, the overview, the first start.
    AccountsStore
}
view! {
    /// The console's: operators, their invitations, dashboard sessions, sign-in attempts.
    ConsoleStore
}
view! {
    /// The workers': webhook deliveries' claims, the outbox sweep, the teams a plan edit ends
    /// slices of.
    WorkersStore
}
view! {
    /// The lab's: simulations and the ledger's length they replay.
    LabStore
}
