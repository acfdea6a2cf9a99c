//! The parts of the data plane it hands out by name, as the store hands each plane a view:
//! its async jobs (`jobs.rs`), its leased slices (`slices.rs`, `slice_ends.rs`), the walk
//! through the parents' levels (`levels.rs`, `parents.rs`) and the alerts its decisions fire
//! (`alerts.rs`). A part borrows the plane and reaches the rest of it by
//! `Deref`, so a part's verb calls the plane's as before, and the plane's own type holds only
//! the metered calls and what they read.

use std::ops::Deref;

use super::DataPlane;

macro_rules! part {
    ($(#[$doc:meta])* $name:ident, $(#[$by_doc:meta])* $by:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub(crate) struct $name<'a>(&'a DataPlane);

        impl Deref for $name<'_> {
            type Target = DataPlane;

            fn deref(&self) -> &DataPlane {
                self.0
            }
        }

        impl DataPlane {
            $(#[$by_doc])*
            pub(crate) fn $by(&self) -> $name<'_> {
                $name(self)
            }
        }
    };
}

part! {
    /// The async jobs the proxy holds for their life: records, schedules, files and lists.
    Jobs,
    /// The async jobs' verbs.
    jobs
}
part! {
    /// Decisions on leased slices of the parents' budgets, and the slices' ends.
    Leases,
    /// The leased slices' verbs.
    leases
}
part! {
    /// The walk through a chain of budgets: a reserve and a check at every parent's level,
    /// and a new parent checked and written under the project's lease.
    Parents,
    /// The parents' levels' verbs.
    parents
}
part! {
    /// The alerts a decision fires, moved to their project's deliveries.
    Alerts,
    /// The alerts' verbs.
    alerts
}
