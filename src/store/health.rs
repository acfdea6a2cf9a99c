//! Readiness of the Redis side: reachable, scripts runnable, and `maxmemory-policy` exactly
//! `noeviction` on every primary (eviction silently resets quotas).

use redis::{ConnectionAddr, IntoConnectionInfo};

use super::{Failure, Store, StoreError};

impl Store {
    /// `Ok(Ok(()))` when ready, `Ok(Err(reason))` when Redis answers but must not be used,
    /// `Err` when it does not answer.
    pub(crate) async fn readiness(&self) -> Result<Result<(), String>, StoreError> {
        self.run(|mut conn| async move {
            let one: i64 = redis::cmd("EVAL").arg("return 1").arg(0).query_async(&mut conn).await?;
            Ok(one)
        })
        .await?;
        let policies = if self.backend.is_cluster() {
            self.primary_policies().await?
        } else {
            vec![self.policy().await?]
        };
        for (node, policy) in policies {
            match policy.as_deref() {
                Some("noeviction") => {}
                Some(other) => {
                    return Ok(Err(format!(
                        "redis {node} has maxmemory-policy {other}; it must be noeviction, or eviction silently resets quotas"
                    )))
                }
                None => return Ok(Err(format!("redis {node} did not report its maxmemory-policy"))),
            }
        }
        Ok(Ok(()))
    }

    async fn policy(&self) -> Result<(String, Option<String>), StoreError> {
        self.run(|mut conn| async move {
            let reply: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("maxmemory-policy")
                .query_async(&mut conn)
                .await?;
            Ok(("server".to_string(), reply.get(1).cloned()))
        })
        .await
    }

    /// Each primary's policy, asked of the primary itself: a cluster answers CONFIG per node.
    async fn primary_policies(&self) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let mut policies = Vec::new();
        for (node, client) in self.primaries().await? {
            let ask = async {
                let mut conn = client.get_multiplexed_async_connection().await?;
                let reply: Vec<String> = redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("maxmemory-policy")
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, redis::RedisError>(reply.get(1).cloned())
            };
            let policy = tokio::time::timeout(self.timeout, ask)
                .await
                .map_err(|_| StoreError::Timeout(self.timeout))??;
            policies.push((node, policy));
        }
        Ok(policies)
    }

    /// A client of each primary of the cluster that is not failing, with its address, for
    /// what must be asked of or done on every primary itself.
    pub(super) async fn primaries(&self) -> Result<Vec<(String, redis::Client)>, StoreError> {
        let nodes: String = self
            .run(|mut conn| async move { Ok(redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn).await?) })
            .await?;
        let seed = self.redis_url.split(',').next().unwrap_or_default().trim().to_string();
        let mut primaries = Vec::new();
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else {
                continue;
            };
            if !flags.contains("master") || flags.contains("fail") {
                continue;
            }
            let host_port = address.split('@').next().unwrap_or_default();
            let Some((host, port)) = host_port.rsplit_once(':') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else { continue };
            // Same credentials and TLS as the seed, another address.
            let info = seed
                .as_str()
                .into_connection_info()
                .map_err(|e| StoreError::Unavailable(Failure::redis(&e)))?
                .set_addr(ConnectionAddr::Tcp(host.to_string(), port));
            let client = redis::Client::open(info).map_err(|e| StoreError::Unavailable(Failure::redis(&e)))?;
            primaries.push((host_port.to_string(), client));
        }
        Ok(primaries)
    }
}
