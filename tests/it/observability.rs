//! Metrics after a known sequence, and logs that carry each request and no secret.

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::redis::free_port;
use crate::support::{redis, spawn_app, spawn_app_stepped, TestApp};

fn metric(text: &str, series: &str) -> u64 {
    TestApp::metric(text, series)
}

#[tokio::test]
async fn metrics_count_a_known_sequence() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(json!({ "id": "plan_m", "periodType": "lifetime",
        "groups": [ { "id": "g", "unit": "count", "quota": 3, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("u", "plan_m", None).await;
    let first = app.reserve(json!({ "userId": "u", "event": "e" })).await;
    let second = app.reserve(json!({ "userId": "u", "event": "e" })).await;
    let short = app
        .reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
        .await;
    let denied = app.reserve(json!({ "userId": "u", "event": "e" })).await;
    assert_eq!(denied["allowed"], false);
    app.commit(first["reservationId"].as_str().unwrap(), None).await;
    app.release(second["reservationId"].as_str().unwrap()).await;
    clock.step(1_200);
    app.release(short["reservationId"].as_str().unwrap()).await;
    app.reserve(json!({ "userId": "nobody", "event": "e" })).await;
    let (status, _) = app
        .json(Method::POST, "/v1/check", Some(json!({ "userId": "u", "event": "e" })))
        .await;
    assert_eq!(status, 200);

    let text = app.metrics().await;
    assert_eq!(
        metric(&text, r#"qg_decisions_total{result="allowed",reason=""}"#),
        4,
        "{text}"
    );
    assert_eq!(
        metric(&text, r#"qg_decisions_total{result="denied",reason="limit_reached"}"#),
        1
    );
    assert_eq!(
        metric(&text, r#"qg_decisions_total{result="denied",reason="no_subscription"}"#),
        1
    );
    assert_eq!(metric(&text, r#"qg_reservations_total{outcome="committed"}"#), 1);
    assert_eq!(metric(&text, r#"qg_reservations_total{outcome="released"}"#), 1);
    assert_eq!(metric(&text, r#"qg_reservations_total{outcome="expired"}"#), 1);
    assert_eq!(
        metric(&text, r#"qg_requests_total{route="/v1/reserve",status="200"}"#),
        5
    );
    assert_eq!(
        metric(
            &text,
            r#"qg_requests_total{route="/v1/reservations/{reservationId}/release",status="200"}"#
        ),
        2
    );
    assert_eq!(
        metric(&text, r#"qg_script_duration_seconds_count{script="reserve"}"#),
        4
    );
    // A check is timed as its own script, though it writes nothing.
    assert_eq!(
        metric(&text, r#"qg_script_duration_seconds_count{script="check"}"#),
        1,
        "{text}"
    );
    assert!(metric(&text, r#"qg_redis_calls_total"#) >= 10, "{text}");
    assert!(metric(&text, r#"qg_cache_total{cache="plan",result="hit"}"#) >= 3);
    assert!(text.contains("# TYPE qg_script_duration_seconds histogram"));
}

#[tokio::test]
async fn logs_carry_every_request_and_no_secret() {
    let app = spawn_app().await;
    let port = free_port();
    let log = std::env::temp_dir().join(format!("qg-log-{}-{port}.jsonl", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .env("QG_LISTEN", format!("127.0.0.1:{port}"))
        .env("QG_REDIS_URL", redis::shared().target().url)
        .env(
            "QG_REDIS_MODE",
            if redis::shared().target().mode == quota_gateway::surface::store::RedisMode::Cluster {
                "cluster"
            } else {
                "standalone"
            },
        )
        .env("QG_KEY_PREFIX", &app.prefix)
        .env("QG_ROOT_TOKEN", &app.root_token)
        .env("QG_DRAIN_MS", "0")
        .env("QG_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let node = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        ..app.clone_for_node()
    };
    crate::support::until_ready(&node.client, &node.address).await;
    // A full round of what carries secrets: keys, tokens, idempotency keys, bodies.
    let minted: Value = node
        .call_as(
            &node.root_token,
            Method::POST,
            "/v1/projects/default/keys",
            Some(json!({ "kind": "publishable" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let publishable = minted["key"].as_str().unwrap().to_string();
    node.put_plan(json!({ "id": "plan_l", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 5, "matches": [ { "event": "*" } ] } ] }))
        .await;
    node.subscribe("logged-user", "plan_l", None).await;
    let token: Value = node
        .json(
            Method::POST,
            "/v1/user-tokens",
            Some(json!({ "userId": "logged-user" })),
        )
        .await
        .1;
    let token = token["token"].as_str().unwrap().to_string();
    let read = node
        .client
        .get(format!("{}/v1/users/logged-user/usage", node.address))
        .bearer_auth(&publishable)
        .header("X-User-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    node.client
        .post(format!("{}/v1/reserve", node.address))
        .bearer_auth(&node.key)
        .header("Idempotency-Key", "idem-secret-123")
        .json(&json!({ "userId": "logged-user", "event": "e" }))
        .send()
        .await
        .unwrap();
    node.call_as(
        "qg_sk_wrongwrongwrongwrongwrongwrong000000",
        Method::GET,
        "/v1/plans",
        None,
    )
    .await;

    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        node.key.as_str(),
        node.root_token.as_str(),
        publishable.as_str(),
        token.as_str(),
        "idem-secret-123",
    ] {
        assert!(!text.contains(secret), "a secret is in the log");
    }
    let requests: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() >= 7, "{text}");
    for line in &requests {
        let span = &line["span"];
        assert!(span["request_id"].is_string() && span["route"].is_string(), "{line}");
        assert!(span["status"].is_number() && span["latency_ms"].is_number(), "{line}");
    }
    assert!(
        requests
            .iter()
            .any(|l| l["span"]["route"] == "/v1/users/{userId}/usage"),
        "routes are patterns"
    );
    assert!(!text.contains("logged-user"), "paths naming users are not logged");
    let _ = std::fs::remove_file(&log);
}
