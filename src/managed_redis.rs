//! The embedded default: with no `QG_REDIS_URL`, the gateway runs its own `redis-server` child
//! (AOF on, `noeviction`, a unix socket, data under `QG_DATA_DIR`) and stops it on exit.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

const INSTALL_HINT: &str = "redis-server is not installed: run scripts/serve (it installs it), or install it with `sudo apt-get install redis-server` (Debian, Ubuntu) or `brew install redis` (macOS), or set QG_REDIS_URL";
/// Unix socket paths are limited to about 108 bytes by the kernel.
const MAX_SOCKET_PATH: usize = 100;
const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ManagedRedisError {
    #[error("{INSTALL_HINT}")]
    NotInstalled,
    #[error("cannot prepare the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("the redis socket path {0} is too long; choose a shorter QG_DATA_DIR")]
    SocketPathTooLong(PathBuf),
    #[error("redis-server did not start; see {0}")]
    DidNotStart(PathBuf),
}

/// A running `redis-server` owned by this process.
pub struct ManagedRedis {
    child: Child,
    url: String,
}

impl ManagedRedis {
    pub async fn start(data_dir: &Path) -> Result<ManagedRedis, ManagedRedisError> {
        let data_dir = std::path::absolute(data_dir).map_err(|e| ManagedRedisError::DataDir(data_dir.into(), e))?;
        tokio::fs::create_dir_all(&data_dir)
            .await
            .map_err(|e| ManagedRedisError::DataDir(data_dir.clone(), e))?;
        let socket = data_dir.join("redis.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(ManagedRedisError::SocketPathTooLong(socket));
        }
        let url = format!("redis+unix://{}", socket.display());
        // A server left behind by a gateway that was killed still owns the data: stop it first,
        // so two servers never write one append-only file.
        if ping(&url).await {
            tracing::warn!(socket = %socket.display(), "stopping a redis-server left running by an earlier start");
            shutdown(&url).await;
        }
        let log = data_dir.join("redis.log");
        let child = Command::new("redis-server")
            .arg("--port")
            .arg("0")
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--unixsocketperm")
            .arg("700")
            .arg("--dir")
            .arg(&data_dir)
            .arg("--appendonly")
            .arg("yes")
            .arg("--appendfsync")
            .arg("everysec")
            .arg("--maxmemory-policy")
            .arg("noeviction")
            .arg("--save")
            .arg("")
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // If this process dies before stopping it, the child is killed rather than orphaned.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ManagedRedisError::NotInstalled,
                _ => ManagedRedisError::DidNotStart(log.clone()),
            })?;
        let mut redis = ManagedRedis { child, url };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if ping(&redis.url).await {
                return Ok(redis);
            }
            if let Ok(Some(_)) = redis.child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = redis.child.kill().await;
        Err(ManagedRedisError::DidNotStart(log))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the server to shut down (it flushes its append-only file), then waits for it.
    pub async fn stop(mut self) {
        shutdown(&self.url).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn ping(url: &str) -> bool {
    let attempt = async {
        let client = redis::Client::open(url).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(500), attempt).await,
        Ok(Some(_))
    )
}

async fn shutdown(url: &str) {
    let attempt = async {
        let client = redis::Client::open(url).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        // The server closes the connection instead of answering; that is the expected outcome.
        let _ = redis::cmd("SHUTDOWN").query_async::<()>(&mut conn).await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), attempt).await;
    for _ in 0..100 {
        if !ping(url).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
