//! Alerts and signed webhooks: each threshold crossing and first denial delivered once (by
//! `webhook-id`) under concurrency from two nodes, signed by Standard Webhooks, retried with
//! the same id, disabled by 410, never lost when a node dies after its script, and URLs
//! guarded against SSRF. A real HTTP receiver on loopback takes the deliveries.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::future::join_all;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::receiver::{Received, Receiver};
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// A node that delivers to loopback over http, with the retry schedule compressed 1000 times.
pub(crate) async fn node(prefix: &str, key: Option<&str>, skip_moves: bool) -> TestApp {
    spawn_app_with(&redis::shared().target(), prefix, key, |c| {
        c.webhook_allow_http = true;
        c.webhook_allow_private = true;
        c.webhook_retry_scale = 0.001;
        c.webhook_timeout_ms = 2_000;
        c.test.skip_alert_moves = skip_moves;
    })
    .await
}

pub(crate) async fn endpoint(app: &TestApp, url: &str) -> Value {
    let (status, answer) = app
        .json(Method::POST, "/v1/webhooks", Some(json!({ "url": url })))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer["secret"].as_str().unwrap().starts_with("whsec_"));
    answer
}

/// Standard Webhooks verification, written here from the specification.
pub(crate) fn verify(secret: &str, r: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let signed = format!(
        "{}.{}.{}",
        r.headers["webhook-id"], r.headers["webhook-timestamp"], r.body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.headers["webhook-signature"].split(' ').any(|s| s == expected)
}

/// Each distinct event (by `webhook-id`) with its body.
fn events(received: &[Received]) -> BTreeMap<String, Value> {
    received
        .iter()
        .map(|r| (r.headers["webhook-id"].clone(), serde_json::from_str(&r.body).unwrap()))
        .collect()
}

/// Two nodes of one project delivering to a receiver on loopback, with `plan` saved and alice
/// subscribed to it once every node knows the endpoint; answers the endpoint's secret too.
async fn two_nodes_delivering(plan: Value) -> (TestApp, TestApp, Receiver, String) {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    let receiver = Receiver::start().await;
    let secret = endpoint(&one, &receiver.url).await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let plan_id = plan["id"].as_str().unwrap().to_string();
    one.put_plan(plan).await;
    one.subscribe("alice", &plan_id, None).await;
    // Every node learns of a new endpoint within the config epoch's poll.
    tokio::time::sleep(quota_gateway::gateway::EPOCH_POLL * 3).await;
    (one, two, receiver, secret)
}

fn plan(quota: u32, alerts: Value) -> Value {
    json!({ "id": "plan_w", "periodType": "month", "alerts": alerts, "groups": [
        { "id": "renders", "label": "Renders", "unit": "count", "quota": quota, "matches": [ { "event": "render" } ] } ] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_crossing_is_delivered_once_under_parallel_calls_from_two_nodes() {
    let (one, two, receiver, secret) = two_nodes_delivering(plan(10, json!([50, 100]))).await;
    let nodes = [&one, &two];
    let calls = (0..200).map(|i| async move {
        let answer = nodes[i % 2]
            .reserve(json!({ "userId": "alice", "event": "render" }))
            .await;
        if answer["allowed"] == true {
            let id = answer["reservationId"].as_str().unwrap();
            assert_eq!(nodes[(i + 1) % 2].commit(id, None).await.0, 200);
        }
    });
    join_all(calls).await;
    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    // Anything more would come within a few polls.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received().len().max(received.len());
    let all = receiver.received();
    assert_eq!(received, 3, "{all:?}");
    assert!(all.iter().all(|r| verify(&secret, r)), "every signature verifies");
    let events = events(&all);
    let mut seen: Vec<(String, Value)> = events
        .values()
        .map(|e| (e["type"].as_str().unwrap().to_string(), e["data"]["threshold"].clone()))
        .collect();
    seen.sort_by_key(|(t, th)| (t.clone(), th.to_string()));
    assert_eq!(
        seen,
        [
            ("quota.limit_reached".to_string(), Value::Null),
            ("quota.threshold_crossed".to_string(), json!(100)),
            ("quota.threshold_crossed".to_string(), json!(50)),
        ]
    );
    let crossed_100 = events.values().find(|e| e["data"]["threshold"] == 100).unwrap();
    let data = &crossed_100["data"];
    assert_eq!(data["userId"], "alice");
    assert_eq!(data["planId"], "plan_w");
    assert_eq!(data["label"], "Renders");
    assert_eq!(data["unit"], "count");
    assert_eq!(data["quota"], 10);
    assert_eq!(data["used"], 10);
    assert!(data["resetsAt"].as_str().is_some());
}

/// An admit changes only holds: an in-flight group's open holds are its usage and cross its
/// thresholds on reserve; a metered group's holds are not usage and cross nothing until commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_flight_groups_cross_on_reserve_and_metered_groups_only_on_use() {
    let (one, two, receiver, _) = two_nodes_delivering(
        json!({ "id": "plan_w", "periodType": "month", "alerts": [50, 100], "groups": [
        { "id": "jobs", "unit": "concurrent", "quota": 4, "matches": [ { "event": "render" } ] },
        { "id": "renders", "unit": "count", "quota": 8, "matches": [ { "event": "render" } ] } ] }),
    )
    .await;
    let nodes = [&one, &two];
    // Never committed: 4 holds open in both groups, the in-flight limit reached.
    let calls = (0..40).map(|i| nodes[i % 2].reserve(json!({ "userId": "alice", "event": "render" })));
    let admitted = join_all(calls).await.iter().filter(|a| a["allowed"] == true).count();
    assert_eq!(admitted, 4);
    receiver.wait_for(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = receiver.received();
    let mut seen: Vec<(String, String, Value)> = events(&all)
        .values()
        .map(|e| {
            let data = &e["data"];
            (
                e["type"].as_str().unwrap().to_string(),
                data["groupId"].as_str().unwrap().to_string(),
                data["threshold"].clone(),
            )
        })
        .collect();
    seen.sort_by_key(|(t, g, th)| (t.clone(), g.clone(), th.to_string()));
    // Half of "renders" is held (4 of 8) but none of it is used: it fires nothing.
    assert_eq!(
        seen,
        [
            ("quota.limit_reached".to_string(), "jobs".to_string(), Value::Null),
            ("quota.threshold_crossed".to_string(), "jobs".to_string(), json!(100)),
            ("quota.threshold_crossed".to_string(), "jobs".to_string(), json!(50)),
        ],
        "{all:?}"
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_the_same_id_and_410_disables_the_endpoint() {
    let app = node(&unique_prefix(), None, false).await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();
    receiver.answer(&[503, 500]);
    let (status, test) = app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 202, "{test}");
    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3, "two failures, then the success");
    assert!(received
        .iter()
        .all(|r| r.headers["webhook-id"] == received[0].headers["webhook-id"]));
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["type"], "webhook.test");
    // The receiver has the third try before the node records its answer: read the log until it
    // does (at most 5 s).
    let mut log = Value::Null;
    for _ in 0..100 {
        log = app
            .json(Method::GET, &format!("/v1/webhooks/{id}/deliveries"), None)
            .await
            .1;
        if log["data"][0]["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivery = &log["data"][0];
    assert_eq!(delivery["state"], "succeeded", "{log}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["tries"][0]["status"], 503);

    // A retry by hand delivers again, with the same id.
    let delivery_id = delivery["id"].as_str().unwrap();
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/webhooks/{id}/deliveries/{delivery_id}/retry"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let again = receiver.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(again[3].headers["webhook-id"], received[0].headers["webhook-id"]);

    // 410 Gone disables the endpoint.
    receiver.answer(&[410]);
    app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    receiver.wait_for(5, Duration::from_secs(10)).await;
    let mut enabled = Value::Bool(true);
    for _ in 0..100 {
        let (_, hook) = app.json(Method::GET, &format!("/v1/webhooks/{id}"), None).await;
        enabled = hook["enabled"].clone();
        if enabled == false {
            assert!(hook["disabledReason"].as_str().unwrap().contains("410"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(enabled, false);
}

/// A node that decided a crossing and died before moving it (here: a node that never moves,
/// the same window) loses nothing: another node's sweeper delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_left_by_a_node_that_died_after_its_script_is_delivered_by_another() {
    let prefix = unique_prefix();
    let dying = node(&prefix, None, true).await;
    let receiver = Receiver::start().await;
    endpoint(&dying, &receiver.url).await;
    dying.put_plan(plan(4, json!([100]))).await;
    dying.subscribe("bob", "plan_w", None).await;
    let body = json!({ "userId": "bob", "event": "render", "quantity": 4 });
    assert_eq!(dying.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(receiver.received().is_empty(), "the dying node moved nothing");
    let _other = node(&prefix, Some(&dying.key), false).await;
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 1);
    let event: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(event["data"]["threshold"], 100);
    assert_eq!(event["data"]["userId"], "bob");
}

#[tokio::test]
async fn a_bumped_quota_can_be_crossed_again() {
    let app = node(&unique_prefix(), None, false).await;
    let receiver = Receiver::start().await;
    endpoint(&app, &receiver.url).await;
    app.put_plan(plan(5, json!([100]))).await;
    app.subscribe("carol", "plan_w", None).await;
    let track = |quantity: u32| {
        app.json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "carol", "event": "render", "quantity": quantity })),
        )
    };
    track(5).await;
    track(1).await;
    assert_eq!(receiver.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    let (status, _) = app
        .json(
            Method::PUT,
            "/v1/users/carol/overrides/renders",
            Some(json!({ "quota": 10 })),
        )
        .await;
    assert_eq!(status, 200);
    track(4).await;
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2, "{received:?}");
    let second: Value = serde_json::from_str(&receiver.received()[1].body).unwrap();
    assert_eq!(second["data"]["quota"], 10);
    assert_eq!(second["data"]["used"], 10);
}

/// The `standardwebhooks` package from PyPI (installed by `scripts/python-env`) verifies a real
/// delivery as the README's Python receiver does.
#[tokio::test]
async fn the_standardwebhooks_package_verifies_a_delivery() {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/target/py-venv/bin/python");
    if !std::path::Path::new(python).exists() {
        // A fresh clone's first `cargo test`: install the package as scripts/test does.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/python-env");
        let status = std::process::Command::new(script)
            .status()
            .expect("scripts/python-env runs");
        assert!(status.success(), "scripts/python-env failed");
    }
    let app = node(&unique_prefix(), None, false).await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();
    app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let r = &received[0];
    let check = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, headers, body = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
print(Webhook(secret).verify(body, headers)["type"])
"#;
    let run = |body: &str| {
        std::process::Command::new(python)
            .args(["-c", check, hook["secret"].as_str().unwrap()])
            .arg(serde_json::to_string(&r.headers).unwrap())
            .arg(body)
            .output()
            .unwrap()
    };
    let verified = run(&r.body);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&verified.stdout).trim(), "webhook.test");
    assert!(
        !run(&r.body.replace("test", "tset")).status.success(),
        "a changed body fails"
    );
}

#[tokio::test]
async fn urls_are_https_to_public_addresses_unless_allowed() {
    let strict = crate::support::spawn_app().await;
    for (url, why) in [
        ("http://example.com/hook", "https"),
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://[::1]/hook", "::1"),
        ("https://localhost/hook", "private, loopback"),
        ("https://10.0.0.8/hook", "10.0.0.8"),
        ("https://169.254.169.254/latest", "169.254.169.254"),
        // IPv4 inside IPv6 is judged by the IPv4 address, and every special-purpose range is out.
        ("https://[64:ff9b::a9fe:a9fe]/latest", "special-purpose"),
        ("https://[::7f00:1]/hook", "special-purpose"),
        ("https://[2002:a9fe:a9fe::1]/hook", "special-purpose"),
        ("https://[::ffff:0:7f00:1]/hook", "special-purpose"),
        ("https://[fec0::1]/hook", "special-purpose"),
        ("https://[2001:db8::1]/hook", "special-purpose"),
        ("https://198.18.0.1/hook", "198.18.0.1"),
        ("https://240.0.0.1/hook", "240.0.0.1"),
        ("https://192.0.0.1/hook", "192.0.0.1"),
        ("ftp://example.com", "http"),
    ] {
        let (status, problem) = strict
            .json(Method::POST, "/v1/webhooks", Some(json!({ "url": url })))
            .await;
        assert_eq!(status, 400, "{url}: {problem}");
        assert_eq!(problem["field"], "url", "{url}");
        assert!(problem["detail"].as_str().unwrap().contains(why), "{url}: {problem}");
    }
    let (status, problem) = strict
        .json(
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": "https://example.com", "events": ["quota.nope"] })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(problem["field"], "events[0]");
    let (status, _) = strict.json(Method::GET, "/v1/webhooks/wh_nope", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one() {
    let app = node(&unique_prefix(), None, false).await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url).await;
    let (id, old) = (hook["id"].as_str().unwrap(), hook["secret"].as_str().unwrap());
    let (status, rotated) = app
        .json(Method::POST, &format!("/v1/webhooks/{id}/rotate-secret"), None)
        .await;
    assert_eq!(status, 200);
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert!(verify(old, &received[0]) && verify(new, &received[0]));
    let (_, list) = app.json(Method::GET, "/v1/webhooks", None).await;
    assert!(list["data"][0].get("secret").is_none(), "never shown again");
    assert_eq!(
        app.call(Method::DELETE, &format!("/v1/webhooks/{id}"), None)
            .await
            .status(),
        204
    );
}
