//! Liveness, readiness and request ids.

use reqwest::Method;
use serde_json::Value;

use crate::support::{redis, spawn_app};

#[tokio::test]
async fn livez_and_readyz_answer_when_redis_is_fine() {
    let app = spawn_app().await;
    for path in ["/livez", "/readyz"] {
        let res = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_that_errors_repeat() {
    let app = spawn_app().await;
    let ok = app.call(Method::GET, "/v1/plans", None).await;
    assert!(ok.headers().contains_key("x-request-id"));
    let missing = app.call(Method::GET, "/v1/nowhere", None).await;
    assert_eq!(missing.status(), 404);
    let id = missing.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["requestId"], id);
    assert_eq!(body["code"], "route_not_found");

    let traced = app
        .client
        .get(format!("{}/v1/plans/none", app.address))
        .bearer_auth(&app.key)
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "trace-123");
    let body: Value = traced.json().await.unwrap();
    assert_eq!(body["requestId"], "trace-123");
}

#[tokio::test]
async fn the_suite_runs_on_the_topology_it_was_asked_for() {
    let target = redis::shared().target();
    match std::env::var("QG_TEST_TOPOLOGY").as_deref() {
        Ok("cluster") => {
            assert_eq!(target.mode, quota_gateway::surface::store::RedisMode::Cluster);
            let info: String = redis::shared().query(&["CLUSTER", "INFO"]);
            assert!(info.contains("cluster_known_nodes:3"), "{info}");
        }
        _ => assert_eq!(target.mode, quota_gateway::surface::store::RedisMode::Standalone),
    }
    let app = spawn_app().await;
    let res = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(res.status(), 200, "ready on every primary");
}

/// A server that cannot run the gateway's functions (built without its Lua engine, or with the
/// commands renamed away, as here) is refused at start with what it lacks named, rather than
/// fail every decision later.
#[tokio::test]
async fn a_server_without_functions_is_refused_at_start_naming_what_it_lacks() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let own = redis::TestRedis::start_with(&["--rename-command", "FUNCTION", "", "--rename-command", "FCALL", ""]);
    let mut node = Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .env("QG_LISTEN", "127.0.0.1:0")
        .env("QG_REDIS_URL", own.url())
        .env("QG_REDIS_MODE", "standalone")
        .env("QG_ROOT_TOKEN", "root-of-a-refused-node")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the gateway binary");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = node.try_wait().expect("wait for the node") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = node.kill();
            panic!("a node on a server without functions kept running");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut node.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!status.success(), "it stops with an error: {said}");
    assert!(
        said.contains("lacks functions (FUNCTION, FCALL)") && !said.contains("scripting ("),
        "it names what is missing and only that: {said}"
    );
}
