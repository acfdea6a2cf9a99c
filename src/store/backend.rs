//! The connection to Redis: one server (standalone), a Redis Cluster, or the primary that
//! Sentinel names. Every script touches one slot, so the rest of the store does not care which;
//! the cluster client follows MOVED and ASK and refreshes the topology itself.

use deadpool_redis::{cluster, sentinel, Runtime};
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::StoreError;

/// How the gateway reaches Redis (`QG_REDIS_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RedisMode {
    Standalone,
    Cluster,
    /// The primary Sentinel names; `QG_REDIS_URL` lists the sentinels.
    Sentinel,
}

#[derive(Clone)]
pub enum Backend {
    Standalone(deadpool_redis::Pool),
    Cluster(cluster::Pool),
    Sentinel(sentinel::Pool),
}

/// A pooled connection of any kind.
pub enum Conn {
    Standalone(deadpool_redis::Connection),
    Cluster(cluster::Connection),
    Sentinel(sentinel::Connection),
}

impl Backend {
    /// Builds the pool; connections are made on first use, so a node can start before Redis.
    /// In cluster mode `url` is a comma-separated list of seed nodes.
    pub fn new(mode: RedisMode, url: &str, master: &str) -> Result<Backend, StoreError> {
        let unavailable = |e: &dyn std::fmt::Display| StoreError::Unavailable(e.to_string());
        match mode {
            RedisMode::Standalone => deadpool_redis::Config::from_url(url)
                .create_pool(Some(Runtime::Tokio1))
                .map(Backend::Standalone)
                .map_err(|e| unavailable(&e)),
            RedisMode::Cluster => {
                let urls: Vec<String> = url
                    .split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                // Every call is bounded by the command timeout in `QuotaStore::run`, whatever the
                // cluster client is doing (following MOVED, refreshing the topology).
                cluster::Config::from_urls(urls)
                    .create_pool(Some(Runtime::Tokio1))
                    .map(Backend::Cluster)
                    .map_err(|e| unavailable(&e))
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
                    .map_err(|e| unavailable(&e))
            }
        }
    }

    /// Drops every idle connection: after a failover some may reach a primary that became a
    /// replica, which answers every write with READONLY.
    pub fn forget_idle(&self) {
        match self {
            Backend::Standalone(pool) => {
                pool.retain(|_, _| false);
            }
            Backend::Cluster(pool) => {
                pool.retain(|_, _| false);
            }
            Backend::Sentinel(pool) => {
                pool.retain(|_, _| false);
            }
        }
    }

    pub async fn get(&self) -> Result<Conn, StoreError> {
        match self {
            Backend::Standalone(pool) => Ok(Conn::Standalone(pool.get().await?)),
            Backend::Cluster(pool) => Ok(Conn::Cluster(
                pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )),
            Backend::Sentinel(pool) => Ok(Conn::Sentinel(
                pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Backend::Cluster(_))
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Standalone(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
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
            Conn::Standalone(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Standalone(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
        }
    }
}
