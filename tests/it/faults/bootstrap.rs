//! A gateway started before Redis is not ready, then ready once Redis appears, without a restart.

use std::time::{Duration, Instant};

use quota_gateway::startup::Application;
use reqwest::StatusCode;

use crate::support::redis::{free_port, TestRedis};
use crate::support::{test_config, unique_prefix};

#[tokio::test]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn a_gateway_started_before_redis_becomes_ready_when_redis_appears() {
    let port = free_port();
    let config = test_config(&unique_prefix(), "root-token");
    let mut app = Application::build(&config, &format!("redis://127.0.0.1:{port}"))
        .await
        .expect("starts without redis");
    let address = format!("http://127.0.0.1:{}", app.port());
    let started = app.started();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    let res = client.get(format!("{address}/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        client.get(format!("{address}/livez")).send().await.unwrap().status(),
        200
    );
    // Root routes need the bootstrap; until then they are a 503, not a 401.
    let projects = client
        .get(format!("{address}/v1/projects"))
        .bearer_auth("root-token")
        .send()
        .await
        .unwrap();
    assert_eq!(projects.status(), StatusCode::SERVICE_UNAVAILABLE);

    let dir = std::env::temp_dir().join(format!("qg-late-redis-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _redis = TestRedis::spawn(port, dir, &[]).expect("redis on the port the gateway waits for");
    let first = tokio::time::timeout(Duration::from_secs(20), started)
        .await
        .expect("bootstraps")
        .expect("first start");
    assert!(first.default_key.is_some());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    while Instant::now() < deadline && status != StatusCode::OK {
        status = client.get(format!("{address}/readyz")).send().await.unwrap().status();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::OK);
    let projects = client
        .get(format!("{address}/v1/projects"))
        .bearer_auth("root-token")
        .send()
        .await
        .unwrap();
    assert_eq!(projects.status(), StatusCode::OK);
}
