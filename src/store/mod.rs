//! The only code that talks to Redis. Every call is bounded by the command timeout, so a slow
//! or absent Redis becomes `StoreError::Unavailable` quickly instead of a hung request.

mod adjust;
mod api_keys;
mod backend;
mod cache;
mod clock;
mod health;
mod holds;
pub mod keys;
mod plans;
mod projects;
mod record;
mod reservations;
mod reserve;
mod scripts;
mod settle;
mod subscriptions;
mod track;
mod usage;
mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use adjust::{Adjusted, AuditEntry};
pub use api_keys::KeyRecord;
pub use backend::RedisMode;
use backend::{Backend, Conn};
use cache::Cache;
pub use cache::EPOCH_POLL;
pub use clock::Clock;
pub use holds::EventInput;
pub use plans::PlanDeletion;
pub use projects::ProjectSettings;
pub use record::{Record, RecordHold};
pub use reservations::{Extension, MAX_LIFETIME_MS};
pub use scripts::Idempotency;
pub use settle::{Settled, Settlement};
pub use usage::Usage;
pub use users::{UserEntry, UserFilter, UserPage};

use keys::Keys;

use crate::metrics::{Fixed, Metrics};

/// Could not decide: Redis is unreachable, too slow, or answered something unexpected.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis is a replica now (failover?): {0}")]
    ReadOnly(String),
    #[error("redis state did not settle after {0} attempts")]
    Unsettled(usize),
    #[error("plan {0} does not exist")]
    PlanMissing(String),
    /// The Idempotency-Key came before with another body.
    #[error("the Idempotency-Key was used before with another body")]
    IdempotencyReused,
    /// The event lacks a number a limit group of the user's plan measures.
    #[error(transparent)]
    Measure(crate::quota::MeasureError),
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> Self {
        if err.code() == Some("READONLY") {
            return StoreError::ReadOnly(err.to_string());
        }
        if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() || err.is_timeout() {
            StoreError::Unavailable(err.to_string())
        } else {
            StoreError::Protocol(err.to_string())
        }
    }
}

impl From<deadpool_redis::PoolError> for StoreError {
    fn from(err: deadpool_redis::PoolError) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

fn corrupt(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Protocol(format!("stored {what} is not valid: {err}"))
}

/// How many times an operation re-reads state after a "stale" answer before giving up.
const MAX_ATTEMPTS: usize = 8;
/// How many "more to reclaim" answers one operation follows; each returns expired holds, so
/// only a user with a vast backlog of expired reservations comes near it.
const MAX_RECLAIM_ROUNDS: usize = 4096;

/// Bounds one operation's calls: a few after stale answers, many after "more to reclaim".
pub(super) struct Attempts {
    stale: usize,
    more: usize,
}

impl Attempts {
    pub fn new() -> Attempts {
        Attempts { stale: 0, more: 0 }
    }

    /// Whether to call again after a stale answer.
    pub fn after_stale(&mut self) -> bool {
        self.stale += 1;
        self.stale < MAX_ATTEMPTS
    }

    /// Whether to call again after a "more to reclaim" answer.
    pub fn after_more(&mut self) -> bool {
        self.more += 1;
        self.more < MAX_RECLAIM_ROUNDS
    }

    pub fn exhausted(&self) -> StoreError {
        StoreError::Unsettled(self.stale + self.more)
    }
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
}

/// Quota state in Redis, shared by all workers of a node.
#[derive(Clone)]
pub struct QuotaStore {
    backend: Backend,
    /// The configured URL (seeds in cluster mode), for reaching each primary by itself.
    redis_url: String,
    keys: Keys,
    timeout: Duration,
    retention_ms: i64,
    clock: Clock,
    cache: Arc<Cache>,
    metrics: Arc<Metrics>,
    wait_replicas: u32,
}

impl QuotaStore {
    /// Builds the pool; connections are made on first use, so a node can start before Redis.
    pub fn new(config: &StoreConfig) -> Result<QuotaStore, StoreError> {
        let backend = Backend::new(config.redis_mode, &config.redis_url, &config.sentinel_master)?;
        Ok(QuotaStore {
            backend,
            redis_url: config.redis_url.clone(),
            keys: Keys::new(&config.key_prefix),
            timeout: config.command_timeout,
            retention_ms: i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX),
            clock: Clock::with_skew(config.clock_skew_ms),
            cache: Arc::default(),
            metrics: Arc::default(),
            wait_replicas: config.wait_replicas,
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The node's metrics, shared with the HTTP layer.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// After a writing script, on the same connection: with `QG_REDIS_WAIT_REPLICAS`, waits
    /// until that many replicas have the write, and refuses to acknowledge it (503) otherwise,
    /// so a failover cannot lose an acknowledged write.
    async fn replicate(&self, conn: &mut Conn) -> Result<(), StoreError> {
        if self.wait_replicas == 0 {
            return Ok(());
        }
        let wait_ms = (self.timeout.as_millis() / 2).max(1) as u64;
        let acked: u32 = redis::cmd("WAIT")
            .arg(self.wait_replicas)
            .arg(wait_ms)
            .query_async(conn)
            .await?;
        if acked < self.wait_replicas {
            return Err(StoreError::Unavailable(format!(
                "the write reached {acked} of {} replicas in time",
                self.wait_replicas
            )));
        }
        Ok(())
    }

    /// As `run`, timing the call for the script latency histogram.
    async fn run_script<T, F, Fut>(&self, script: &'static str, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let started = std::time::Instant::now();
        let result = self.run(op).await;
        if result.is_ok() {
            self.metrics.observe_script(script, started.elapsed());
        }
        result
    }

    /// Runs one Redis interaction on a pooled connection within the command timeout.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.metrics.bump(Fixed::RedisCalls);
        let attempt = async {
            let conn = self.backend.get().await?;
            op(conn).await
        };
        let result = tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| StoreError::Timeout(self.timeout));
        let result = result.and_then(|inner| inner);
        if let Err(StoreError::ReadOnly(_)) = &result {
            // A primary that became a replica: reconnect through the current topology.
            self.backend.forget_idle();
        }
        if let Err(err) = &result {
            let kind = match err {
                StoreError::Timeout(_) => "timeout",
                StoreError::Unavailable(_) | StoreError::Unsettled(_) | StoreError::ReadOnly(_) => "unavailable",
                _ => "protocol",
            };
            self.metrics.count("qg_redis_errors_total", &[("kind", kind)]);
        }
        result
    }

    /// Brings the node's clock in step with Redis `TIME`.
    pub async fn sync_clock(&self) -> Result<(), StoreError> {
        let clock = self.clock.clone();
        self.run(|mut conn| async move {
            let before = clock.machine_ms();
            let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await?;
            let after = clock.machine_ms();
            clock.set_redis_ms(secs * 1000 + micros / 1000, before, after);
            Ok(())
        })
        .await
    }
}
