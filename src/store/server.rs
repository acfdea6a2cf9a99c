//! What the server must be able to do before a node uses it: run Lua scripts and function
//! libraries. Redis 7 and Valkey 8 can; a server built or configured without its Lua engine,
//! or with those commands renamed away, cannot, and a node would otherwise fail at its first
//! decision rather than at start.

use redis::aio::ConnectionLike;

use super::{Failure, Store, StoreError};

/// The commands every decision needs, by what they are.
const NEEDED: [(&str, &[&str]); 2] = [
    ("scripting", &["EVAL", "EVALSHA", "SCRIPT"]),
    ("functions", &["FUNCTION", "FCALL", "FCALL_RO"]),
];

impl Store {
    /// What the server (every primary of a cluster) lacks of `NEEDED`, named with its
    /// commands, e.g. "functions (FUNCTION, FCALL, FCALL_RO)"; empty when it has it all.
    pub(crate) async fn missing_capabilities(&self) -> Result<Vec<String>, StoreError> {
        let mut missing = Vec::new();
        if self.backend.is_cluster() {
            for (node, client) in self.primaries().await? {
                let probe = async {
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    lacks(&mut conn).await
                };
                let lacked = tokio::time::timeout(self.timeout, probe)
                    .await
                    .map_err(|_| StoreError::Timeout(self.timeout))?
                    .map_err(|e| StoreError::Unavailable(Failure::redis_in(format!("{node}: {e}"), &e)))?;
                missing.extend(lacked.into_iter().map(|what| format!("{what} on {node}")));
            }
        } else {
            missing = self.run(|mut conn| async move { Ok(lacks(&mut conn).await?) }).await?;
        }
        Ok(missing)
    }
}

/// `COMMAND INFO` answers nil for a command the server does not know.
async fn lacks(conn: &mut impl ConnectionLike) -> redis::RedisResult<Vec<String>> {
    let mut missing = Vec::new();
    for (what, commands) in NEEDED {
        let mut info = redis::cmd("COMMAND");
        info.arg("INFO").arg(commands);
        let known: Vec<redis::Value> = info.query_async(conn).await?;
        let absent: Vec<&str> = commands
            .iter()
            .zip(
                known
                    .iter()
                    .map(|k| matches!(k, redis::Value::Nil))
                    .chain(std::iter::repeat(true)),
            )
            .filter_map(|(command, nil)| nil.then_some(*command))
            .collect();
        if !absent.is_empty() {
            missing.push(format!("{what} ({})", absent.join(", ")));
        }
    }
    Ok(missing)
}
