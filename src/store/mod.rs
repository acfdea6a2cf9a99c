//! The only code that talks to Redis: connections, the key layout, the scripts with their typed
//! replies, the record codecs, readiness. It knows nothing of plans' meaning, caches or HTTP.
//! Every call is bounded by the command timeout, counted while Redis answers nothing
//! (`progress.rs`), so a stalled or absent Redis becomes `StoreError::Unavailable` or `Timeout`
//! quickly instead of a hung request, and a call queued behind the node's own waits its turn.

mod adjust;
mod alternatives;
mod api_keys;
mod approvals;
mod audit_log;
mod backend;
mod closed_actions;
mod credits;
mod data;
mod deployment;
mod failure;
mod health;
mod install;
mod jobs;
pub(crate) mod layout;
mod ledger;
mod ledger_index;
mod listed;
mod locks;
mod operators;
mod outbox;
mod outbox_moves;
mod overview;
mod pipe;
mod planes;
mod plans;
mod prices;
mod progress;
mod projects;
mod record;
mod rollups;
mod route_fallbacks;
pub(crate) mod run_fields;
mod scripts;
mod server;
mod sessions;
mod sign_in;
mod simulations;
mod slices;
pub(crate) mod slots;
mod subscriptions;
mod upload_keys;
mod upload_sessions;
mod user_keys;
mod users;
mod webhooks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use approvals::{ApprovalPage, Decision as ApprovalDecision};
pub use backend::RedisMode;
use backend::{Backend, Conn};
pub(crate) use credits::GrantMade;
pub(crate) use failure::Failure;
pub(crate) use jobs::{ENDED_KEPT_MS, FILE_KEPT_MS};
pub(crate) use listed::ListOf;
pub(crate) use outbox::{LeaseNote, LeaseNoteKind, OutboxEntry, Outboxed};
pub(crate) use planes::{AccountsStore, ConsoleStore, DataStore, JobStore, LabStore, WorkersStore};
use progress::Progress;
pub(crate) use scripts::library;
pub(crate) use scripts::{asked_text, Alternative, Asked, Weighed};
pub use scripts::{contract, every_script};
pub(crate) use scripts::{
    AdjustArgs, Decided, Ending, Extended, FallbackArgs, Fired, Held, Idempotency, Lease, LedgerEntry, OutcomeReply,
    ParentChange, PlanChangeRule, Reply, ReserveArgs, Reserved, SettleReply, Short, SliceEnded, Statement,
    SubscribeArgs, Take, TakeLease, Taken, UsageField,
};
pub(crate) use webhooks::{Attempted, Claimed, DeliveryOutcome, EndpointMade, Redelivered, SecretRotated};

use layout::Layout;

use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::KeyValue;

use crate::metrics::traces::Traces;
use crate::metrics::{Fixed, Metrics};

/// Redis could not be asked, or answered something this code did not expect. Each keeps the
/// kind and code of the error Redis reported, if it reported one (`StoreError::redis_kind`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis unavailable: {0}")]
    Unavailable(Failure),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis is a replica now (failover?): {0}")]
    ReadOnly(Failure),
    #[error("unexpected reply from redis: {0}")]
    Protocol(Failure),
}

impl StoreError {
    fn failure(&self) -> Option<&Failure> {
        match self {
            StoreError::Unavailable(failure) | StoreError::ReadOnly(failure) | StoreError::Protocol(failure) => {
                Some(failure)
            }
            StoreError::Timeout(_) => None,
        }
    }

    /// The kind of the error Redis reported; None for a timeout or what this code found itself.
    pub fn redis_kind(&self) -> Option<redis::ErrorKind> {
        self.failure().and_then(Failure::kind)
    }

    /// The server's error code (`ERR`, `BUSY`, `READONLY`), when Redis answered with an error.
    pub fn redis_code(&self) -> Option<&str> {
        self.failure().and_then(Failure::code)
    }
}

/// Error codes by which Redis says it cannot serve now but will soon (loading its data after a
/// restart, a script running too long, a primary or cluster being chosen, a primary left with
/// fewer replicas than its `min-replicas-to-write`, a redirect the Cluster client stopped
/// following while slots move in a failover): answered as an unreachable Redis is, 503 with
/// Retry-After, never as an internal error.
const NOT_NOW: [&str; 8] = [
    "LOADING",
    "BUSY",
    "MASTERDOWN",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "NOREPLICAS",
    "MOVED",
    "ASK",
];

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> Self {
        let failure = Failure::redis(&err);
        if err.code() == Some("READONLY") {
            return StoreError::ReadOnly(failure);
        }
        let not_now = err.code().is_some_and(|code| NOT_NOW.contains(&code));
        if not_now
            || err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_timeout()
        {
            StoreError::Unavailable(failure)
        } else {
            StoreError::Protocol(failure)
        }
    }
}

impl From<deadpool_redis::PoolError> for StoreError {
    fn from(err: deadpool_redis::PoolError) -> Self {
        // A connection Redis refused keeps Redis's kind; the pool's own (a timeout, closed)
        // has none.
        let failure = match &err {
            deadpool_redis::PoolError::Backend(redis) => Failure::redis_in(err.to_string(), redis),
            _ => Failure::from(err.to_string()),
        };
        StoreError::Unavailable(failure)
    }
}

fn corrupt(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Protocol(format!("stored {what} is not valid: {err}").into())
}

/// Connection settings of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub redis_mode: RedisMode,
    pub redis_url: String,
    pub key_prefix: String,
    /// For tests only: how wrong the machine's clock pretends to be.
    pub clock_skew_ms: i64,
    /// In sentinel mode, the name of the primary the sentinels watch.
    pub sentinel_master: String,
    /// After each write, wait until this many replicas have it (0: do not wait).
    pub wait_replicas: u32,
    pub command_timeout: Duration,
    pub retention: Duration,
    /// How long the usage ledger keeps entries.
    pub ledger_retention: Duration,
}

/// Redis, as one node reaches it; cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    backend: Backend,
    /// The configured URL (seeds in cluster mode), for reaching each primary by itself.
    redis_url: String,
    keys: Layout,
    timeout: Duration,
    /// When Redis last answered this node: what bounds a call's wait (`run`).
    progress: Arc<Progress>,
    retention_ms: i64,
    ledger_retention_ms: i64,
    /// Redis calls, errors and script latencies are counted here, where they happen.
    metrics: Arc<Metrics>,
    wait_replicas: u32,
    /// Each script call a child span of the request's, when traces are on.
    traces: Option<Arc<Traces>>,
}

impl Store {
    /// Builds the connections lazily, so a node can start before Redis.
    pub(crate) fn new(config: &StoreConfig, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let progress = Arc::new(Progress::new());
        let backend = Backend::new(
            config.redis_mode,
            &config.redis_url,
            &config.sentinel_master,
            config.command_timeout,
            &progress,
        )?;
        Ok(Store {
            backend,
            redis_url: config.redis_url.clone(),
            keys: Layout::new(&config.key_prefix),
            timeout: config.command_timeout,
            progress,
            retention_ms: i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX),
            ledger_retention_ms: i64::try_from(config.ledger_retention.as_millis()).unwrap_or(i64::MAX),
            metrics,
            wait_replicas: config.wait_replicas,
            traces: None,
        })
    }

    /// Traces each script call as a child of the request's span.
    pub(crate) fn set_traces(&mut self, traces: Option<Arc<Traces>>) {
        self.traces = traces;
    }

    /// How long a write waits for its replicas (`QG_REDIS_WAIT_REPLICAS`): half the command
    /// timeout, so a refusal comes before the call is given up.
    fn replica_wait_ms(&self) -> u32 {
        u32::try_from(self.timeout.as_millis() / 2).unwrap_or(u32::MAX).max(1)
    }

    /// After a writing script, on the same connection: with `QG_REDIS_WAIT_REPLICAS`, waits
    /// until that many replicas of the shard that took the write have it, and refuses to
    /// acknowledge it (503) otherwise, so a failover cannot lose an acknowledged write. Only
    /// that shard's users wait when its replicas lag.
    async fn replicate(&self, conn: &mut Conn) -> Result<(), StoreError> {
        if self.wait_replicas == 0 {
            return Ok(());
        }
        // A wait that fails (its node became a replica in a failover) confirms nothing: the
        // write is not acknowledged, and a retry with its Idempotency-Key answers it.
        // Boxed: unboxed it would be part of (and copied with) every write's future,
        // unreplicated ones included.
        let acked = Box::pin(conn.wait_replicas(self.wait_replicas, self.replica_wait_ms()))
            .await
            .map_err(|e| StoreError::Unavailable(Failure::redis(&e)))?;
        if acked < self.wait_replicas {
            return Err(StoreError::Unavailable(
                format!("the write reached {acked} of {} replicas in time", self.wait_replicas).into(),
            ));
        }
        Ok(())
    }

    /// A writing script: timed for the latency histogram, then replicated when configured.
    async fn write<T, F, Fut>(&self, script: &'static str, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<(T, Conn), StoreError>>,
    {
        self.timed(script, |mut conn| async move {
            if self.wait_replicas > 0 {
                conn.wait_after_writes(self.wait_replicas, self.replica_wait_ms());
            }
            let (reply, mut conn) = op(conn).await?;
            self.replicate(&mut conn).await?;
            Ok(reply)
        })
        .await
    }

    /// As `run`, timing the call for the script latency histogram.
    async fn timed<T, F, Fut>(&self, script: &'static str, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let started = std::time::Instant::now();
        let span = self.traces.as_ref().and_then(|t| {
            t.child(
                format!("FCALL {script}"),
                SpanKind::Client,
                vec![
                    KeyValue::new("db.system.name", "redis"),
                    KeyValue::new("db.operation.name", "FCALL"),
                    KeyValue::new("db.stored_procedure.name", script),
                ],
            )
        });
        let result = self.run(op).await;
        if result.is_ok() {
            self.metrics.observe_script(script, started.elapsed());
        }
        if let Some(cx) = span {
            let span = cx.span();
            if let Err(err) = &result {
                span.set_status(opentelemetry::trace::Status::error(err.to_string()));
            }
            span.end();
        }
        result
    }

    /// Runs one Redis interaction on a connection: given up (`Timeout`) when Redis has answered
    /// this node nothing for the command timeout since it began, a Redis down or stalled; a call
    /// that waits behind the node's other calls while Redis answers them waits its turn, up to
    /// `QUEUE_TIMEOUTS` command timeouts in all.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.metrics.bump(Fixed::RedisCalls);
        // Pinned where it is made and lent to the bound: a script's future is kilobytes, and
        // handing it over by value would copy it once more at every layer.
        let attempt = std::pin::pin!(async {
            let conn = self.backend.get().await?;
            op(conn).await
        });
        let longest = self.timeout.saturating_mul(progress::QUEUE_TIMEOUTS);
        let result = self
            .progress
            .bound(self.timeout, longest, attempt)
            .await
            .ok_or(StoreError::Timeout(self.timeout));
        let result = result.and_then(|inner| inner);
        // An answer of Redis, an error reply included, is progress (the pipe's reader marks
        // its own as it reads them; other connections' are marked here).
        if matches!(&result, Ok(_) | Err(StoreError::Protocol(_) | StoreError::ReadOnly(_))) {
            self.progress.answered();
        }
        if let Err(err) = &result {
            if let StoreError::ReadOnly(_) = err {
                // A primary that became a replica: reconnect through the current topology.
                self.backend.forget_idle();
            }
            let kind = match err {
                StoreError::Timeout(_) => "timeout",
                StoreError::Unavailable(_) | StoreError::ReadOnly(_) => "unavailable",
                StoreError::Protocol(_) => "protocol",
            };
            self.metrics.count("qg_redis_errors_total", &[("kind", kind)]);
        }
        result
    }

    /// Redis `TIME` in Unix milliseconds.
    pub(crate) async fn time_ms(&self) -> Result<i64, StoreError> {
        self.run(|mut conn| async move {
            let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await?;
            Ok(secs * 1000 + micros / 1000)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use redis::{ErrorKind, RedisError, ServerErrorKind};

    use super::StoreError;

    #[test]
    fn a_redis_that_cannot_serve_yet_is_unavailable_not_broken() {
        for kind in [
            ServerErrorKind::BusyLoading,
            ServerErrorKind::TryAgain,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::MasterDown,
        ] {
            let err = RedisError::from((ErrorKind::Server(kind), "not now"));
            assert!(err.code().is_some(), "{kind:?} has a code");
            assert!(matches!(StoreError::from(err), StoreError::Unavailable(_)), "{kind:?}");
        }
        let other = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "wrong number of arguments",
        ));
        assert!(matches!(StoreError::from(other), StoreError::Protocol(_)));
    }

    /// A reply as Redis sends it, read as redis-rs reads one.
    fn reply_error(reply: &str) -> RedisError {
        redis::parse_redis_value(reply.as_bytes())
            .and_then(|value| value.extract_error())
            .unwrap_err()
    }

    #[test]
    fn an_error_redis_reported_keeps_its_kind_and_code_in_the_same_words() {
        let script = reply_error("-ERR qg contract: expected 10 keys\r\n");
        let words = script.to_string();
        let err = StoreError::from(script);
        assert!(matches!(err, StoreError::Protocol(_)));
        assert_eq!(
            err.redis_kind(),
            Some(ErrorKind::Server(ServerErrorKind::ResponseError))
        );
        assert_eq!(err.redis_code(), Some("ERR"));
        assert_eq!(err.to_string(), format!("unexpected reply from redis: {words}"));
        // A code redis-rs has no kind of its own for keeps its code.
        let busy = StoreError::from(reply_error("-BUSY Redis is busy running a script.\r\n"));
        assert!(matches!(busy, StoreError::Unavailable(_)));
        assert_eq!(
            (busy.redis_kind(), busy.redis_code()),
            (Some(ErrorKind::Extension), Some("BUSY"))
        );
        let replica = StoreError::from(reply_error(
            "-READONLY You can't write against a read only replica.\r\n",
        ));
        assert_eq!(replica.redis_kind(), Some(ErrorKind::Server(ServerErrorKind::ReadOnly)));
        // What this code found itself has no kind, and says what it said.
        let found = StoreError::Protocol("script reply too short".into());
        assert_eq!((found.redis_kind(), found.redis_code()), (None, None));
        assert_eq!(found.to_string(), "unexpected reply from redis: script reply too short");
        assert_eq!(StoreError::Timeout(Duration::from_millis(5)).redis_kind(), None);
    }
}
