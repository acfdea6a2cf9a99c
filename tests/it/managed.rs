//! The embedded default: a managed redis-server with AOF and noeviction on a unix socket.

use quota_gateway::managed_redis::ManagedRedis;

#[tokio::test]
async fn managed_redis_starts_durable_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("qg-managed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = ManagedRedis::start(&dir).await.expect("start the managed redis");
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let aof: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query_async(&mut conn)
        .await
        .unwrap();
    let policy: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(aof[1], "yes");
    assert_eq!(policy[1], "noeviction");
    let _: () = redis::cmd("SET")
        .arg("kept")
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(conn);
    redis.stop().await;
    assert!(!dir.join("redis.sock").exists(), "the socket is gone after stop");

    // Data written before the stop is there after the next start.
    let redis = ManagedRedis::start(&dir).await.expect("restart the managed redis");
    let kept = kept(redis.url()).await;
    assert_eq!(kept.as_deref(), Some("1"));
    redis.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of key "kept" on the server at `url`.
async fn kept(url: &str) -> Option<String> {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("GET").arg("kept").query_async(&mut conn).await.unwrap()
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, never reaped) still has a /proc entry, in state Z.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| !s.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
        .unwrap_or(false)
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| s.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
        .unwrap_or(false)
}

async fn server_pid(url: &str) -> Option<u32> {
    let mut conn = redis::Client::open(url)
        .ok()?
        .get_multiplexed_async_connection()
        .await
        .ok()?;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await.ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))?
        .trim()
        .parse()
        .ok()
}

#[tokio::test]
async fn a_managed_redis_that_dies_is_reaped_and_started_again_with_its_data() {
    let dir = std::env::temp_dir().join(format!("qg-supervised-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = ManagedRedis::start(&dir).await.expect("start the managed redis");
    let first = redis.pid();
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("kept")
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(conn);
    // appendfsync everysec: give the write its second, then kill the server without warning.
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert!(std::process::Command::new("kill")
        .arg("-9")
        .arg(first.to_string())
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut again = None;
    while std::time::Instant::now() < deadline {
        // The new server may answer a moment before the supervisor has recorded it.
        match server_pid(redis.url()).await {
            Some(pid) if pid != first && redis.pid() == pid => {
                again = Some(pid);
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let again = again.expect("a new redis-server, the supervisor's child, answers on the socket");
    assert!(!alive(first) && !zombie(first), "the dead child was reaped");
    let kept = kept(redis.url()).await;
    assert_eq!(kept.as_deref(), Some("1"));
    redis.stop().await;
    assert!(!alive(again) && !zombie(again));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn stopping_stops_only_the_server_it_started() {
    let dir = std::env::temp_dir().join(format!("qg-own-{}", std::process::id()));
    let other = std::env::temp_dir().join(format!("qg-other-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&other).unwrap();
    let redis = ManagedRedis::start(&dir).await.expect("start the managed redis");
    let own = redis.pid();
    // Someone else's server takes over the socket path.
    let socket = dir.join("redis.sock");
    let mut foreign = std::process::Command::new("redis-server")
        .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocket"])
        .arg(&socket)
        .arg("--dir")
        .arg(&other)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server_pid(redis.url()).await != Some(foreign.id()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(server_pid(redis.url()).await, Some(foreign.id()));
    let url = redis.url().to_string();
    redis.stop().await;
    assert_eq!(
        server_pid(&url).await,
        Some(foreign.id()),
        "the foreign server still runs"
    );
    assert!(
        !alive(own) && !zombie(own),
        "the gateway's own child was stopped and reaped"
    );
    let _ = foreign.kill();
    let _ = foreign.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}
