//! The connection to Redis: one server (standalone), a Redis Cluster, or the primary that
//! Sentinel names. Every script touches one slot, so the rest of the store does not care which;
//! the cluster client follows MOVED and ASK and refreshes the topology itself.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{sentinel, Runtime};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Arg, Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::OnceCell;

use super::pipe::Pipe;
use super::progress::Progress;
use super::{Failure, StoreError};

/// How the gateway reaches Redis (`QG_REDIS_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisMode {
    Standalone,
    Cluster,
    /// The primary Sentinel names; `QG_REDIS_URL` lists the sentinels.
    Sentinel,
}

impl RedisMode {
    /// Every mode, in the order `--help` lists them.
    pub const ALL: [RedisMode; 3] = [RedisMode::Standalone, RedisMode::Cluster, RedisMode::Sentinel];

    /// The mode's name in `QG_REDIS_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisMode::Standalone => "standalone",
            RedisMode::Cluster => "cluster",
            RedisMode::Sentinel => "sentinel",
        }
    }
}

impl std::str::FromStr for RedisMode {
    type Err = String;

    fn from_str(name: &str) -> Result<RedisMode, String> {
        RedisMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == name)
            .ok_or_else(|| format!("no redis mode {name}: standalone, cluster or sentinel"))
    }
}

impl std::fmt::Display for RedisMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pipelined connections for standalone and cluster Redis: requests share them, so a reserve
/// is one round trip (a pool would add a PING per checkout).
/// Sentinel keeps a pool, whose fresh connections ask the sentinels for the current primary.
#[derive(Clone)]
pub(crate) enum Backend {
    Standalone(Arc<Standalone>),
    Cluster(Arc<LazyCluster>),
    Sentinel(sentinel::Pool),
}

/// A connection of any kind; cloning a multiplexed one is cheap.
pub(crate) enum Conn {
    /// The data plane's commands go over the thread's pipe, the rest over its manager.
    Standalone(Arc<Standalone>, Pipe),
    /// With the wait for replicas asked of this call's writes (`Conn::wait_after_writes`).
    Cluster(ClusterConnection, Option<ReplicaWait>),
    Sentinel(sentinel::Connection),
}

/// The wait for replicas a Cluster call's writing script takes with it, and what the last one
/// answered.
#[derive(Clone, Copy)]
pub(crate) struct ReplicaWait {
    replicas: u32,
    ms: u32,
    acked: Option<u32>,
}

/// A standalone server: per worker thread, made on first use on that thread's runtime (so a
/// request never hands its Redis call to another thread), a pipe for the data plane's
/// scripts (`pipe/`) and redis's multiplexed connection manager for everything else.
pub(crate) struct Standalone {
    id: usize,
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Marked by each pipe's reader as replies arrive (`Store::run`).
    progress: Arc<Progress>,
}

thread_local! {
    /// This thread's connections, by `Standalone::id` (tests run several stores per thread).
    static CONNECTIONS: RefCell<HashMap<usize, ConnectionManager>> = RefCell::new(HashMap::new());
    static PIPES: RefCell<HashMap<usize, Pipe>> = RefCell::new(HashMap::new());
}

impl Standalone {
    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        CONNECTIONS.with(|connections| {
            let mut connections = connections.borrow_mut();
            if let Some(connection) = connections.get(&self.id) {
                return Ok(connection.clone());
            }
            let connection = ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
                .map_err(|e| StoreError::Unavailable(Failure::redis(&e)))?;
            connections.insert(self.id, connection.clone());
            Ok(connection)
        })
    }

    /// This thread's pipe, connected again when the last one failed.
    async fn pipe(&self) -> Result<Pipe, StoreError> {
        let current = PIPES.with(|pipes| pipes.borrow().get(&self.id).filter(|pipe| pipe.is_usable()).cloned());
        if let Some(pipe) = current {
            return Ok(pipe);
        }
        // Boxed for the same reason as connecting to a cluster (see `get`).
        let pipe = Box::pin(Pipe::connect(self.client.get_connection_info(), self.progress.clone()))
            .await
            .map_err(|e| StoreError::Unavailable(Failure::redis(&e)))?;
        PIPES.with(|pipes| pipes.borrow_mut().insert(self.id, pipe.clone()));
        Ok(pipe)
    }
}

/// The commands the data plane sends one at a time with short replies: functions, scripts, and the
/// `TIME` and `WAIT` around them (`WAIT` must follow its script on the same connection).
fn lean(cmd: &Cmd) -> bool {
    matches!(
        cmd.args_iter().next(),
        Some(Arg::Simple(b"FCALL" | b"EVALSHA" | b"EVAL" | b"TIME" | b"WAIT"))
    )
}

/// Commands that only read: asked again after their connection closed under them, they change
/// nothing however often they ran.
fn read_only(cmd: &Cmd) -> bool {
    let Some(Arg::Simple(name)) = cmd.args_iter().next() else {
        return false;
    };
    const READS: [&[u8]; 28] = [
        b"FCALL_RO",
        b"EVALSHA_RO",
        b"EVAL_RO",
        b"GET",
        b"MGET",
        b"HGET",
        b"HMGET",
        b"HGETALL",
        b"HKEYS",
        b"HLEN",
        b"HSCAN",
        b"SMEMBERS",
        b"SISMEMBER",
        b"SCARD",
        b"SSCAN",
        b"ZRANGE",
        b"ZRANGEBYLEX",
        b"ZRANGEBYSCORE",
        b"ZREVRANGE",
        b"ZSCORE",
        b"ZCARD",
        b"XRANGE",
        b"XREVRANGE",
        b"XLEN",
        b"EXISTS",
        b"PTTL",
        b"TIME",
        b"PING",
    ];
    READS.iter().any(|read| name.eq_ignore_ascii_case(read))
}

/// The cluster connection, made on first use so a node can start before the cluster; the
/// connection then follows MOVED, ASK and topology changes itself.
pub(crate) struct LazyCluster {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

impl Backend {
    /// Builds the pool; connections are made on first use, so a node can start before Redis.
    /// In cluster mode `url` is a comma-separated list of seed nodes.
    pub(crate) fn new(
        mode: RedisMode,
        url: &str,
        master: &str,
        command_timeout: Duration,
        progress: &Arc<Progress>,
    ) -> Result<Backend, StoreError> {
        let unavailable = |e: &RedisError| StoreError::Unavailable(Failure::redis(e));
        match mode {
            RedisMode::Standalone => {
                let client = redis::Client::open(url).map_err(|e| unavailable(&e))?;
                // Reconnects by itself after a failure; every call is bounded by the command
                // timeout in `Store::run`, and so is its answer here (redis-rs would otherwise
                // give up on one after its own 500 ms, whatever the operator configured).
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(command_timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let id = NEXT.fetch_add(1, Ordering::Relaxed);
                Ok(Backend::Standalone(Arc::new(Standalone {
                    id,
                    client,
                    config,
                    progress: progress.clone(),
                })))
            }
            RedisMode::Cluster => {
                let urls: Vec<String> = url
                    .split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                // A node that dies makes the client refresh its map of the slots, and every
                // call waits for it. A connection attempt is bounded by the command timeout, and
                // a call is retried twice (enough to follow a redirect after a failover), not
                // sixteen times, each retry to a dead node another refresh: the dead shard's
                // calls answer 503 at once, and the other shards' calls are not held behind a
                // storm of refreshes. No response timeout: the client would send a slow write
                // again, and `Store::run` bounds the wait itself.
                let client = ClusterClient::builder(urls)
                    .connection_timeout(command_timeout)
                    .retries(2)
                    .build()
                    .map_err(|e| unavailable(&e))?;
                Ok(Backend::Cluster(Arc::new(LazyCluster {
                    client,
                    connection: OnceCell::new(),
                })))
            }
            RedisMode::Sentinel => {
                let urls: Vec<String> = url
                    .split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                // Each new connection asks the sentinels for the current primary, so after a
                // failover the pool's fresh connections reach the new one.
                sentinel::Config::from_urls(urls, master.to_string(), sentinel::SentinelServerType::Master)
                    .create_pool(Some(Runtime::Tokio1))
                    .map(Backend::Sentinel)
                    .map_err(|e| StoreError::Unavailable(e.to_string().into()))
            }
        }
    }

    /// Drops every idle connection: after a failover some may reach a primary that became a
    /// replica, which answers every write with READONLY.
    pub(crate) fn forget_idle(&self) {
        // The multiplexed connections reconnect by themselves.
        if let Backend::Sentinel(pool) = self {
            pool.retain(|_, _| false);
        }
    }

    pub(crate) async fn get(&self) -> Result<Conn, StoreError> {
        match self {
            Backend::Standalone(standalone) => Ok(Conn::Standalone(standalone.clone(), standalone.pipe().await?)),
            // Connecting is boxed: its future is kilobytes, and unboxed it would be part of
            // (and copied with) the future of every Redis call, standalone ones included.
            Backend::Cluster(lazy) => {
                if let Some(connection) = lazy.connection.get() {
                    return Ok(Conn::Cluster(connection.clone(), None));
                }
                let connection =
                    Box::pin(lazy.connection.get_or_try_init(|| lazy.client.get_async_connection())).await?;
                Ok(Conn::Cluster(connection.clone(), None))
            }
            Backend::Sentinel(pool) => Ok(Conn::Sentinel(Box::pin(pool.get()).await.map_err(StoreError::from)?)),
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Backend::Cluster(_))
    }
}

impl Conn {
    /// Sends a command already encoded (RESP, in parts) where the connection takes it as it
    /// is; elsewhere sends the same command built by `cmd`. On a Cluster call that waits for
    /// replicas, the wait goes with the command (`with_wait`).
    pub(crate) async fn send_packed(
        &mut self,
        parts: &[&[u8]],
        cmd: impl FnOnce() -> Cmd,
    ) -> redis::RedisResult<Value> {
        match self {
            Conn::Standalone(_, pipe) => pipe.send_packed(parts).await,
            Conn::Cluster(c, Some(wait)) => with_wait(c, cmd(), wait).await,
            _ => {
                let cmd = cmd();
                self.req_packed_command(&cmd).await
            }
        }
    }

    /// Has this call's writing scripts wait for `replicas` replicas (at most `ms`). Only a
    /// Cluster connection takes the wait with each script (`with_wait`); the others wait after
    /// it on the same connection (`wait_replicas`).
    pub(crate) fn wait_after_writes(&mut self, replicas: u32, ms: u32) {
        if let Conn::Cluster(_, wait) = self {
            *wait = Some(ReplicaWait {
                replicas,
                ms,
                acked: None,
            });
        }
    }

    /// How many replicas have this call's last write, waiting at most `ms` for `replicas` of
    /// them. On one server (or Sentinel's primary) a `WAIT` after it on the same connection; on
    /// a Cluster what the `WAIT` sent with the script answered (none when none was sent).
    pub(crate) async fn wait_replicas(&mut self, replicas: u32, ms: u32) -> redis::RedisResult<u32> {
        match self {
            Conn::Cluster(_, wait) => Ok(wait.and_then(|w| w.acked).unwrap_or(0)),
            _ => redis::cmd("WAIT").arg(replicas).arg(ms).query_async(self).await,
        }
    }
}

/// A writing script and `WAIT` after it, as one pipeline: the Cluster client sends both to the
/// node that owns the script's slot, on one connection, and when it must send them again (a
/// connection dropped, a MOVED after a failover) it sends both again, together, to the node it
/// then finds. Sent apart, a `WAIT` retried after its master died would reach the promoted
/// replica, which never had the write but, asked on a connection that wrote nothing there,
/// answers at once with its own replicas: a lost write would be acknowledged. (A `WAIT` without
/// a key would go to every master and answer the least of them: one shard's trouble would stop
/// every shard's writes.)
async fn with_wait(c: &mut ClusterConnection, cmd: Cmd, wait: &mut ReplicaWait) -> redis::RedisResult<Value> {
    let mut pipeline = redis::pipe();
    pipeline.add_command(cmd).cmd("WAIT").arg(wait.replicas).arg(wait.ms);
    let mut answers = c.req_packed_commands(&pipeline, 0, 2).await?.into_iter();
    let (Some(answer), Some(waited)) = (answers.next(), answers.next()) else {
        return Err(RedisError::from((
            redis::ErrorKind::Client,
            "a script and its wait answered fewer than two replies",
        )));
    };
    // A wait that failed confirms nothing.
    wait.acked = redis::from_redis_value(waited).ok();
    Ok(answer)
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Standalone(_, pipe) if lean(cmd) => Box::pin(pipe.send_cmd(cmd)),
            Conn::Standalone(standalone, _) => Box::pin(async move {
                let mut manager = standalone.connection().map_err(unavailable)?;
                match manager.req_packed_command(cmd).await {
                    // The connection the manager last tried to make was refused (Redis was
                    // away then), or the one it held was closed (Redis restarted): it connects
                    // again now. Asked once more, a command the refusal never sent, or one that
                    // only reads, reaches the Redis that is back (a write that may have run is
                    // not repeated).
                    Err(err) if err.is_connection_refusal() || (err.is_connection_dropped() && read_only(cmd)) => {
                        manager.req_packed_command(cmd).await
                    }
                    answer => answer,
                }
            }),
            Conn::Cluster(c, _) => c.req_packed_command(cmd),
            Conn::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Standalone(standalone, _) => Box::pin(async move {
                let mut manager = standalone.connection().map_err(unavailable)?;
                // As for one command: a refused connection sent nothing.
                let reads = cmd.cmd_iter().all(read_only);
                match manager.req_packed_commands(cmd, offset, count).await {
                    Err(err) if err.is_connection_refusal() || (err.is_connection_dropped() && reads) => {
                        manager.req_packed_commands(cmd, offset, count).await
                    }
                    answer => answer,
                }
            }),
            Conn::Cluster(c, _) => c.req_packed_commands(cmd, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Standalone(_, pipe) => pipe.db(),
            Conn::Cluster(c, _) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
        }
    }
}

fn unavailable(err: StoreError) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::NotConnected, err.to_string()))
}
