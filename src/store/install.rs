//! The data plane's function library in Redis: loaded on every primary when a node starts (and
//! again by a call that finds it missing, scripts/call.rs), and other builds' libraries of this
//! version or older removed, so a rolling upgrade leaves one library behind, not one per build.
//! A node of an older build that still runs loads its own again on its next call; see
//! docs/decisions/0057-data-plane-function-library.md.

use std::collections::HashMap;

use redis::aio::ConnectionLike;

use super::scripts::library::{self, LIBRARY};
use super::{AccountsStore, Failure, StoreError};

impl AccountsStore {
    /// Loads this build's library on every primary and removes the other builds' libraries
    /// this build supersedes (`library::removes`). Answers the names it removed.
    pub(crate) async fn install_library(&self) -> Result<Vec<String>, StoreError> {
        let mut removed = Vec::new();
        if self.backend.is_cluster() {
            for (node, client) in self.primaries().await? {
                let install = async {
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    install(&mut conn).await
                };
                let gone = tokio::time::timeout(self.timeout, install)
                    .await
                    .map_err(|_| StoreError::Timeout(self.timeout))?
                    .map_err(|e| StoreError::Unavailable(Failure::redis_in(format!("{node}: {e}"), &e)))?;
                removed.extend(gone);
            }
        } else {
            removed = self
                .run(|mut conn| async move { Ok(install(&mut conn).await?) })
                .await?;
        }
        removed.sort();
        removed.dedup();
        Ok(removed)
    }
}

/// Loads the library on the server `conn` reaches, then removes the libraries it supersedes.
async fn install(conn: &mut impl ConnectionLike) -> redis::RedisResult<Vec<String>> {
    let mut load = redis::cmd("FUNCTION");
    load.arg("LOAD").arg("REPLACE").arg(&LIBRARY.text);
    let _: redis::Value = load.query_async(conn).await?;
    // Each library as a map of its fields (redis reads RESP2's flat list of them as one too).
    let listed: Vec<HashMap<String, redis::Value>> = redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("LIBRARYNAME")
        .arg("qg_*")
        .query_async(conn)
        .await?;
    let mut removed = Vec::new();
    let names = listed
        .iter()
        .filter_map(|l| redis::from_redis_value_ref::<String>(l.get("library_name")?).ok());
    for name in names {
        if library::removes(&name) {
            // (Another node may have removed it first: that is as good.)
            let gone: redis::RedisResult<()> = redis::cmd("FUNCTION").arg("DELETE").arg(&name).query_async(conn).await;
            if gone.is_ok() {
                removed.push(name);
            }
        }
    }
    Ok(removed)
}
