//! The embedded default: with no `QG_REDIS_URL`, the gateway runs its own `redis-server` child
//! (AOF on, `noeviction`, a unix socket, data under `QG_DATA_DIR`), supervises it (a child that
//! dies is reaped and started again with backoff, said in the log), and stops it on exit.
//! It only ever stops the server it started.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const INSTALL_HINT: &str = "redis-server is not installed: run scripts/serve (it installs it), or install it with `sudo apt-get install redis-server` (Debian, Ubuntu) or `brew install redis` (macOS), or set QG_REDIS_URL";
/// Unix socket paths are limited to about 108 bytes by the kernel.
const MAX_SOCKET_PATH: usize = 100;
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits between restarts: doubling from the first to the last, back to the first once a
/// child has run this long.
const RESTART_FIRST: Duration = Duration::from_millis(250);
const RESTART_MAX: Duration = Duration::from_secs(8);
const STABLE_RUN: Duration = Duration::from_secs(30);

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

/// A running, supervised `redis-server` owned by this process.
pub struct ManagedRedis {
    url: String,
    /// The pid of the current child (it changes when the child is restarted).
    pid: Arc<AtomicU32>,
    stop: oneshot::Sender<()>,
    supervisor: JoinHandle<()>,
}

/// Where the child lives: what it is started with, and how it is reached.
#[derive(Clone)]
struct Server {
    data_dir: PathBuf,
    socket: PathBuf,
    log: PathBuf,
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
        let server = Server {
            url: format!("redis+unix://{}", socket.display()),
            log: data_dir.join("redis.log"),
            data_dir,
            socket,
        };
        // A server left behind by a gateway that was killed still owns the data: stop it first,
        // so two servers never write one append-only file.
        if ping(&server.url).await {
            tracing::warn!(socket = %server.socket.display(), "stopping a redis-server left running by an earlier start");
            shutdown(&server.url, None).await;
        }
        let child = server.spawn().await?;
        let pid = Arc::new(AtomicU32::new(child.id().unwrap_or(0)));
        let (stop, stopped) = oneshot::channel();
        let supervisor = tokio::spawn(supervise(server.clone(), child, pid.clone(), stopped));
        Ok(ManagedRedis {
            url: server.url,
            pid,
            stop,
            supervisor,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id of the current child.
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// Stops the child this process started (it flushes its append-only file), and nothing else.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.supervisor.await;
    }
}

impl Server {
    /// Starts a child and waits until it answers.
    async fn spawn(&self) -> Result<Child, ManagedRedisError> {
        let mut child = Command::new("redis-server")
            .arg("--port")
            .arg("0")
            .arg("--unixsocket")
            .arg(&self.socket)
            .arg("--unixsocketperm")
            .arg("700")
            .arg("--dir")
            .arg(&self.data_dir)
            .arg("--appendonly")
            .arg("yes")
            .arg("--appendfsync")
            .arg("everysec")
            .arg("--maxmemory-policy")
            .arg("noeviction")
            // Ledger streams are one per user: smaller nodes cost a user with few entries 1.7 KB
            // instead of 4.7 KB, for about 20 % more per entry in long ledgers.
            .arg("--stream-node-max-bytes")
            .arg("1024")
            .arg("--save")
            .arg("")
            .arg("--logfile")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // If this process dies before stopping it, the child is killed rather than orphaned.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ManagedRedisError::NotInstalled,
                _ => ManagedRedisError::DidNotStart(self.log.clone()),
            })?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if ping(&self.url).await && served_by(&self.url, child.id()).await {
                return Ok(child);
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill().await;
        Err(ManagedRedisError::DidNotStart(self.log.clone()))
    }
}

/// Owns the child until asked to stop: a child that exits is reaped (`wait`) and started again,
/// with a doubling wait between attempts, each step said in the log.
async fn supervise(server: Server, mut child: Child, pid: Arc<AtomicU32>, mut stop: oneshot::Receiver<()>) {
    let mut backoff = RESTART_FIRST;
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            status = child.wait() => {
                if since.elapsed() >= STABLE_RUN {
                    backoff = RESTART_FIRST;
                }
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                tracing::error!(%status, restart_in_ms = backoff.as_millis() as u64, log = %server.log.display(),
                    "the managed redis-server exited; starting it again");
                loop {
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(RESTART_MAX);
                    match server.spawn().await {
                        Ok(next) => {
                            child = next;
                            pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
                            since = tokio::time::Instant::now();
                            tracing::info!(pid = child.id().unwrap_or(0), "the managed redis-server is running again");
                            break;
                        }
                        Err(err) => {
                            tracing::error!(%err, restart_in_ms = backoff.as_millis() as u64, "the managed redis-server did not start again");
                        }
                    }
                }
            }
        }
    }
    // Stop the child this process started: SHUTDOWN through the socket only when the server
    // there is that child (it flushes its append-only file); otherwise the child gets SIGKILL
    // and whatever else listens there is left alone.
    if !shutdown(&server.url, child.id()).await {
        let _ = child.start_kill();
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

async fn connection(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    client.get_multiplexed_async_connection().await.ok()
}

async fn ping(url: &str) -> bool {
    let attempt = async {
        redis::cmd("PING")
            .query_async::<String>(&mut connection(url).await?)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(500), attempt).await,
        Ok(Some(_))
    )
}

/// Whether the server answering at `url` is the process `pid`.
async fn served_by(url: &str, pid: Option<u32>) -> bool {
    let attempt = async {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut connection(url).await?)
            .await
            .ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|p| p.trim().parse::<u32>().ok())
    };
    match tokio::time::timeout(Duration::from_millis(500), attempt).await {
        Ok(Some(found)) => Some(found) == pid,
        _ => false,
    }
}

/// Asks the server at `url` to shut down and waits until it is gone; with `only`, only when
/// that server is the process `only`. False when it did not ask.
async fn shutdown(url: &str, only: Option<u32>) -> bool {
    if only.is_some() && !served_by(url, only).await {
        return false;
    }
    let attempt = async {
        // The server closes the connection instead of answering; that is the expected outcome.
        let _ = redis::cmd("SHUTDOWN")
            .query_async::<()>(&mut connection(url).await?)
            .await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), attempt).await;
    for _ in 0..100 {
        if !ping(url).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}
