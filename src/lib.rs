//! quota-gateway: a Redis-backed atomic quota gateway for AI apps.
//! `api`/`dashboard -> http -> gateway -> store -> quota`: the HTTP API in `api`, the pages in
//! `dashboard`, the provider's front door in `proxy`, what they share in `http`, the service layer (one file per verb) in `gateway`,
//! Redis in `store`, the domain in `quota`. `tests/layers.rs` holds the full table.

#![recursion_limit = "256"]
// What no caller outside the crate can reach says so (`pub(crate)`), so a reader knows what is
// the library's surface (the binary's and tests/it's) and what is internal.
#![warn(unreachable_pub)]

pub mod api;
pub mod apply;
pub mod config;
mod dashboard;
pub mod export;
pub mod gateway;
mod http;
mod json;
pub mod managed_redis;
mod metrics;
mod proxy;
mod quota;
mod secrets;
pub mod simulate;
pub mod startup;
mod store;
mod webhooks;

/// What the binary and `tests/` reach of the domain (`quota`) and of Redis (`store`), which are
/// otherwise the crate's own: the values the gateway's verbs take and answer that tests build,
/// the catalog tools of the command line, the replay, the scripts' contract and the key layout
/// the Lua tests read. `pub` elsewhere in `quota` and `store` means only this, or the gateway's
/// own public verbs.
#[doc(hidden)]
pub mod surface {
    /// The domain's values the tests and the command line use.
    pub mod quota {
        pub use crate::quota::amount::Milli;
        pub use crate::quota::credit::{Category, GrantInput};
        pub use crate::quota::decision::{Decision, Denial, Reason};
        pub use crate::quota::event::{EventInput, FallbackOf};
        pub use crate::quota::ids::{ReasonText, ReservationId, UserId};
        pub use crate::quota::ledger::UsageEvent;
        pub use crate::quota::plan::Plan;
        pub use crate::quota::run::{RunLimits, RunState, Step, StepKind};

        /// The model catalog: built in, parsed, compared.
        pub mod catalog {
            pub use crate::quota::catalog::{diff, Catalog, BUILT_IN};
        }

        /// A community price list read into a catalog.
        pub mod catalog_import {
            pub use crate::quota::catalog_import::{import, Provenance};
        }

        /// A ledger decided again under a candidate plan.
        pub mod replay {
            pub use crate::quota::replay::{replay, Outcome, PlanSpan, Subject, Timeline};
        }
    }

    /// What of Redis the tests read: the connection settings, the scripts and their contract,
    /// the key layout.
    pub mod store {
        pub use crate::store::{contract, every_script, RedisMode, StoreConfig};

        /// The Redis key layout.
        pub mod layout {
            pub use crate::store::layout::{Layout, UserKeys};
        }

        /// The data plane's function library.
        pub mod library {
            pub use crate::store::library::{function_name, LIBRARY};
        }
    }
}
