//! The service layer between HTTP and Redis: planes over one shared `Node` (`node.rs`: the
//! store, the node's caches, its clock, its metrics, the outcome subscribers, the retry driver
//! in `retry.rs`), with one file per verb. The data plane (`data/`: the metered calls), the
//! workers (`workers/`: the background jobs) and the accounts (`accounts/`: what operators
//! manage) stand one on the other in that order, each calling only those below it; the console
//! (`console/`) and the lab (`lab/`) stand on the node alone. It resolves plans, decides when a
//! cache may be trusted, assembles decisions; it knows nothing of HTTP or JSON wire types.

mod accounts;
pub mod audit;
mod cache;
mod clock;
pub(crate) mod console;
mod data;
mod epoch;
pub mod lab;
mod node;
pub mod outcome;
mod prices;
mod retry;
mod tokens;
mod workers;

use std::sync::Arc;

/// The model catalog a node prices by, built by start-up.
pub use crate::quota::catalog::Catalog;
pub use accounts::{
    webhooks, Accounts, Activity, FirstStart, KeyUser, Overview, ParentChange, SwitchRow, MAX_USER_KEYS,
};
pub use clock::Clock;
pub(crate) use console::{Console, Credential, SignIn};
pub(crate) use data::approvals;
pub use data::outputs;
pub use data::{
    Adjusted, Commit, DataPlane, Extension, Granting, Idempotency, LeaseSettings, LedgerCursor, LedgerQuery,
    ReservationView, RouteFallbacks, RunView, Settled, Settlement, Usage, UsageEventPage, MAX_LIFETIME_MS,
    MAX_LISTED_RUNS,
};
pub use epoch::EPOCH_POLL;
pub use lab::Lab;
pub use node::Node;
pub use outcome::{Effect, Outcome, Subscriber, Verb};
pub(crate) use workers::Workers;

use crate::quota::MeasureError;
use crate::store::{AccountsStore, ConsoleStore, StoreConfig, StoreError};
use crate::webhooks::WebhookSettings;

/// Could not decide. Being denied is a `Decision`, never an error.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("redis state did not settle after {0} attempts")]
    Unsettled(usize),
    #[error("the node has not reached redis yet")]
    Starting,
    /// The user's plan is gone (deleted while they were on it).
    #[error("plan {0} does not exist")]
    PlanMissing(String),
    /// A plan named by the request does not exist (or was deleted meanwhile).
    #[error("no plan {0} in this project")]
    PlanNotFound(String),
    /// The user has no plan of their own, which the change needs (an override).
    #[error("user {0} has no subscription")]
    NoSubscription(String),
    /// A group id (named by `field`) that the user's plan does not have.
    #[error("{field}: is not a group of plan {plan}")]
    NotAGroup { field: String, plan: String },
    /// The Idempotency-Key came before with another body.
    #[error("the Idempotency-Key was used before with another body")]
    IdempotencyReused,
    /// The change would take this group's counter past what it counts exactly.
    #[error("group {0} would pass 9007199254740.991, the most a counter counts exactly; nothing was counted")]
    CounterLimit(String),
    /// The event lacks a number a limit group of the user's plan measures.
    #[error(transparent)]
    Measure(#[from] MeasureError),
    /// A value that only the node's clock can judge (a start in the future).
    #[error("{field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    /// No webhook endpoint of this id in the project.
    #[error("no webhook endpoint {0} in this project")]
    WebhookNotFound(String),
    /// The project has as many webhook endpoints as it may.
    #[error("the project has {0} webhook endpoints, the most it may have")]
    WebhookLimit(usize),
    /// A delivery to a disabled endpoint was asked for.
    #[error("webhook endpoint {id} is disabled: {reason}")]
    WebhookDisabled { id: String, reason: String },
    /// As many replaced secrets still sign as may; the soonest stops at this ms.
    #[error("as many replaced secrets still sign as may, until {until_ms}")]
    RotationLimit { until_ms: i64 },
    /// A value could not be written as JSON: answered as an internal error and logged, never
    /// replaced by an empty text that would be stored, signed or sent.
    #[error("could not write {what} as JSON: {cause}")]
    Encode { what: &'static str, cause: String },
    /// The subject keeps as many overrides as it may.
    #[error("the user has {0} overrides, the most one may have")]
    OverrideLimit(usize),
    /// The user has as many keys as one may.
    #[error("the user has {0} user keys, the most one may have")]
    UserKeyLimit(usize),
    /// A simulation past one of its bounds (`simulations.rs`), named.
    #[error("{bound}: {detail}")]
    Bound { bound: &'static str, detail: String },
    /// A track of a model that a priced group has no price for.
    #[error("group {group} prices calls by their model, and model {model} has no price: set one with PUT /v1/prices/{model}")]
    UnpricedModel { group: String, model: String },
    /// The project has as many prices as it may.
    #[error("the project has {0} prices, the most it may have")]
    PriceLimit(usize),
    /// An operator with this email exists already.
    #[error("an operator with email {0} exists already")]
    OperatorExists(String),
    #[error("no operator {0}")]
    OperatorNotFound(String),
    #[error("the deployment has {0} operators, the most it may have")]
    OperatorLimit(usize),
}

impl GatewayError {
    /// A failed serialisation of `what`.
    pub(crate) fn encode(what: &'static str) -> impl FnOnce(serde_json::Error) -> GatewayError {
        move |err| GatewayError::Encode {
            what,
            cause: err.to_string(),
        }
    }
}

impl GatewayError {
    /// Whether Redis itself failed the call (unreachable, too slow, or a replica now): worth
    /// a retry shortly. An answer Redis gave that this code did not expect is not, nor is any
    /// other error.
    pub fn redis_failed(&self) -> bool {
        match self {
            GatewayError::Store(StoreError::Unavailable(_) | StoreError::Timeout(_) | StoreError::ReadOnly(_)) => true,
            GatewayError::Store(StoreError::Protocol(_))
            | GatewayError::Unsettled(_)
            | GatewayError::Starting
            | GatewayError::PlanMissing(_)
            | GatewayError::PlanNotFound(_)
            | GatewayError::NoSubscription(_)
            | GatewayError::NotAGroup { .. }
            | GatewayError::IdempotencyReused
            | GatewayError::CounterLimit(_)
            | GatewayError::Measure(_)
            | GatewayError::Invalid { .. }
            | GatewayError::WebhookNotFound(_)
            | GatewayError::WebhookLimit(_)
            | GatewayError::OverrideLimit(_)
            | GatewayError::UserKeyLimit(_)
            | GatewayError::WebhookDisabled { .. }
            | GatewayError::RotationLimit { .. }
            | GatewayError::Encode { .. }
            | GatewayError::Bound { .. }
            | GatewayError::UnpricedModel { .. }
            | GatewayError::PriceLimit(_)
            | GatewayError::OperatorExists(_)
            | GatewayError::OperatorNotFound(_)
            | GatewayError::OperatorLimit(_) => false,
        }
    }
}

/// The quota service of one node: its planes over one shared `Node`; cheap to clone, shared by
/// the server's threads. Callers name the plane: `gateway.data()` (the metered calls),
/// `gateway.workers()` (background jobs), `gateway.accounts()` (what operators manage),
/// `gateway.console()`, `gateway.lab()`.
#[derive(Clone)]
pub struct Gateway {
    /// The data plane, which holds the node the other planes stand on.
    data: DataPlane,
    /// Behind an `Arc`, as the lab: a `Gateway`'s clone copies no second data plane.
    workers: Arc<Workers>,
    /// Behind an `Arc`, so a `Gateway`'s clone copies no second node.
    lab: Arc<Lab>,
    /// The views of the store the accounts and the console borrow (behind an `Arc`, as the
    /// workers).
    lent: Arc<Lent>,
}

/// The views of the store the gateway lends with the planes it builds per call.
struct Lent {
    accounts: AccountsStore,
    console: ConsoleStore,
}

impl Lent {
    fn over(node: &Node) -> Arc<Lent> {
        Arc::new(Lent {
            accounts: AccountsStore::over(&node.store),
            console: ConsoleStore::over(&node.store),
        })
    }
}

impl Gateway {
    /// Builds the store; connections are made on first use, so a node can start before Redis.
    /// The node's metrics are the first outcome subscriber.
    pub fn new(config: &StoreConfig) -> Result<Gateway, StoreError> {
        let data = DataPlane::new(Node::new(config)?);
        Ok(Gateway {
            lab: Arc::new(Lab::new(data.node.clone())),
            workers: Arc::new(Workers::new(data.clone(), Arc::default())),
            lent: Lent::over(&data.node),
            data,
        })
    }

    /// How this node leases slices of parents' budgets.
    pub fn with_leases(mut self, leases: LeaseSettings) -> Gateway {
        self.data.leases = leases;
        self.with_workers_rebuilt()
    }

    /// Prices by `catalog` instead of the one built in.
    pub fn with_catalog(mut self, catalog: crate::quota::catalog::Catalog) -> Gateway {
        // Before any plane is used: the lab holds its own copy of the node.
        self.data.node.catalog = Arc::new(catalog);
        Gateway {
            lab: Arc::new(Lab::new(self.data.node.clone())),
            ..self
        }
        .with_workers_rebuilt()
    }

    /// Traces this node's requests, script calls and proxied calls (`metrics::traces`).
    pub(crate) fn with_traces(mut self, traces: Option<Arc<crate::metrics::traces::Traces>>) -> Gateway {
        // Before any plane is used, as the catalog: the lab holds its own copy of the node.
        self.data.node.store.set_traces(traces.clone());
        self.data.node.traces = traces;
        // Every view of the store is a copy of its handles: each taken again, with the tracer.
        self.data.view_again();
        Gateway {
            lab: Arc::new(Lab::new(self.data.node.clone())),
            lent: Lent::over(&self.data.node),
            ..self
        }
        .with_workers_rebuilt()
    }

    /// How this node delivers webhooks (the default: https to public addresses only).
    pub fn with_webhooks(self, settings: WebhookSettings) -> Gateway {
        #[cfg(feature = "test-hooks")]
        let data = {
            let mut data = self.data;
            data.skip_alert_moves = settings.skip_moves();
            data
        };
        #[cfg(not(feature = "test-hooks"))]
        let data = self.data;
        Gateway {
            workers: Arc::new(Workers::new(data.clone(), Arc::new(settings))),
            data,
            ..self
        }
    }

    /// For tests only (`test-hooks`; without it, nothing): waits this long before each
    /// parent's level of a call.
    pub fn with_level_pause(self, pause: std::time::Duration) -> Gateway {
        #[cfg(feature = "test-hooks")]
        let gateway = {
            let mut gateway = self;
            gateway.data.level_pause = pause;
            gateway.with_workers_rebuilt()
        };
        #[cfg(not(feature = "test-hooks"))]
        let gateway = {
            let _ = pause;
            self
        };
        gateway
    }

    /// The workers built again over the data plane as it is now, with their webhook settings:
    /// after a builder changed it, before any plane is used, as they hold a copy of it.
    fn with_workers_rebuilt(self) -> Gateway {
        Gateway {
            workers: Arc::new(Workers::new(self.data.clone(), self.workers.webhooks.clone())),
            ..self
        }
    }

    /// What every plane shares: the clock, the metrics, who a caller is, the cached plans and
    /// settings, readiness.
    pub fn node(&self) -> &Node {
        &self.data.node
    }

    /// Reserve, check, track, commit, release, extend, usage, runs, credits, approvals and the
    /// ledger: the metered calls and what follows from their decisions.
    pub fn data(&self) -> &DataPlane {
        &self.data
    }

    /// Webhook deliveries, the outbox sweep and slices ended in the background.
    pub(crate) fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Projects, keys, user keys, subscriptions, plans, prices, webhook endpoints, users, the
    /// overview, the audit log's pages and the first start: what operators manage.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(&self.data, &self.workers, &self.lent.accounts)
    }

    /// Operators, their invitations, dashboard sessions and sign-in.
    pub(crate) fn console(&self) -> Console<'_> {
        Console::new(&self.data.node, &self.lent.console)
    }

    /// The pricing lab's simulations.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }
}
