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
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let kept: Option<String> = redis::cmd("GET").arg("kept").query_async(&mut conn).await.unwrap();
    assert_eq!(kept.as_deref(), Some("1"));
    drop(conn);
    redis.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
