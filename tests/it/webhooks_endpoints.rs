//! Webhook endpoints as an operator manages them: URLs stored normalised and refused with
//! control characters, at most 20 per project under parallel creation, made once per
//! Idempotency-Key, secrets rotated in one step on any node, and disabled endpoints refusing
//! tests and retries until enabled again.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::{unique_prefix, TestApp};
use crate::webhooks::{endpoint, node, verify};

/// `POST /v1/webhooks` with an Idempotency-Key.
async fn create_with_key(app: &TestApp, key: &str, body: &Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/v1/webhooks", app.address))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

async fn hook_count(app: &TestApp) -> usize {
    let (_, list) = app.json(Method::GET, "/v1/webhooks", None).await;
    list["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn urls_are_stored_normalised_and_control_characters_are_refused() {
    let app = node(&unique_prefix(), None, false).await;
    let hook = endpoint(&app, "HTTP://127.0.0.1:9/a/../Hook?x=1#part").await;
    assert_eq!(hook["url"], "http://127.0.0.1:9/Hook?x=1");
    let (_, read) = app
        .json(
            Method::GET,
            &format!("/v1/webhooks/{}", hook["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(read["url"], "http://127.0.0.1:9/Hook?x=1", "stored as normalised");
    for smuggled in [
        "http://127.0.0.1:9/hook\r\nX-Injected: 1",
        "http://127.0.0.1:9/ho\nok",
        "http://127.0.0.1:9/hook\t",
        "http://127.0.0.1:9/hook\u{0}",
        "http://127.0.0.1:9/hook\u{1b}[31m",
    ] {
        let (status, problem) = app
            .json(Method::POST, "/v1/webhooks", Some(json!({ "url": smuggled })))
            .await;
        assert_eq!(status, 400, "{smuggled:?}: {problem}");
        assert_eq!(problem["field"], "url");
        assert!(
            problem["detail"].as_str().unwrap().contains("control characters"),
            "{problem}"
        );
    }
    assert_eq!(hook_count(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_has_at_most_20_endpoints_under_parallel_creation_on_two_nodes() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    let nodes = [&one, &two];
    let calls = (0..30).map(|i| {
        let url = format!("http://127.0.0.1:9/hook/{i}");
        nodes[i % 2].json(Method::POST, "/v1/webhooks", Some(json!({ "url": url })))
    });
    let answers = join_all(calls).await;
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    let full: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 409).map(|(_, p)| p).collect();
    assert_eq!((made, full.len()), (20, 10), "{answers:?}");
    assert!(full.iter().all(|p| p["code"] == "webhook_limit"));
    assert!(full[0]["detail"].as_str().unwrap().contains("20"), "{}", full[0]);
    assert_eq!(hook_count(&one).await, 20);
    // Room again once one is deleted.
    let (_, list) = one.json(Method::GET, "/v1/webhooks", None).await;
    let first = list["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        one.call(Method::DELETE, &format!("/v1/webhooks/{first}"), None)
            .await
            .status(),
        204
    );
    endpoint(&two, "http://127.0.0.1:9/hook/again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_makes_one_endpoint_under_parallel_repeats_on_two_nodes() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    let nodes = [&one, &two];
    let body = json!({ "url": "http://127.0.0.1:9/hook", "events": ["quota.limit_reached"] });
    let answers = join_all((0..10).map(|i| create_with_key(nodes[i % 2], "create-hook-1", &body))).await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    let first = &answers[0].1;
    assert!(first["secret"].as_str().unwrap().starts_with("whsec_"));
    for (_, answer) in &answers {
        assert_eq!(answer["id"], first["id"], "every repeat answers the same endpoint");
        assert_eq!(
            answer["secret"], first["secret"],
            "and its secret, which the lost answer carried"
        );
    }
    assert_eq!(hook_count(&one).await, 1);
    // Key order and spacing do not make a repeat look different.
    let reordered = json!({ "events": ["quota.limit_reached"], "url": "http://127.0.0.1:9/hook" });
    let (status, again) = create_with_key(&two, "create-hook-1", &reordered).await;
    assert_eq!((status.as_u16(), &again["id"]), (201, &first["id"]));
    // The same key with another body is refused; another key makes another endpoint.
    let other = json!({ "url": "http://127.0.0.1:9/other" });
    let (status, problem) = create_with_key(&one, "create-hook-1", &other).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "idempotency_key_reused");
    let (status, second) = create_with_key(&one, "create-hook-2", &other).await;
    assert_eq!(status, 201);
    assert_ne!(second["id"], first["id"]);
    assert_eq!(hook_count(&one).await, 2);
    // The key's endpoint deleted, a repeat says so and makes none.
    let id = first["id"].as_str().unwrap();
    one.call(Method::DELETE, &format!("/v1/webhooks/{id}"), None).await;
    let (status, problem) = create_with_key(&one, "create-hook-1", &body).await;
    assert_eq!(
        (status.as_u16(), problem["code"].as_str()),
        (404, Some("webhook_not_found"))
    );
    assert_eq!(hook_count(&one).await, 1);
}

/// A second rotation within 24 hours keeps the first's promise: the secret it replaced still
/// signs. Two replaced secrets may sign beside the current one; a third rotation waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_rotations_on_two_nodes_keep_every_replaced_secret_signing() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&one, &receiver.url).await;
    let (id, original) = (hook["id"].as_str().unwrap(), hook["secret"].as_str().unwrap());
    let path = format!("/v1/webhooks/{id}/rotate-secret");
    let nodes = [&one, &two];
    let answers = join_all((0..3).map(|i| nodes[i % 2].json(Method::POST, &path, None))).await;
    let rotated: Vec<&str> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, a)| a["secret"].as_str().unwrap())
        .collect();
    let refused: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 409).map(|(_, p)| p).collect();
    assert_eq!((rotated.len(), refused.len()), (2, 1), "{answers:?}");
    assert_eq!(refused[0]["code"], "secret_rotation_limit");
    assert!(
        refused[0]["detail"].as_str().unwrap().contains("rotate again after"),
        "{}",
        refused[0]
    );
    one.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let delivery = &received[0];
    assert_eq!(delivery.headers["webhook-signature"].split(' ').count(), 3);
    for secret in [original, rotated[0], rotated[1]] {
        assert!(
            verify(secret, delivery),
            "every secret a rotation answered or replaced signs"
        );
    }
}

/// Disabled by a 410, an endpoint refuses tests and retries (nothing would deliver them) until
/// it is enabled again; enabling and disabling by hand are in the audit log.
#[tokio::test]
async fn a_disabled_endpoint_refuses_tests_and_retries_until_it_is_enabled() {
    let app = node(&unique_prefix(), None, false).await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();
    receiver.answer(&[410]);
    let (status, first) = app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 202);
    let delivery = first["deliveryId"].as_str().unwrap().to_string();
    let mut hook = Value::Null;
    for _ in 0..200 {
        hook = app.json(Method::GET, &format!("/v1/webhooks/{id}"), None).await.1;
        if hook["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hook["enabled"], false, "{hook}");

    let retry = format!("/v1/webhooks/{id}/deliveries/{delivery}/retry");
    for path in [format!("/v1/webhooks/{id}/test"), retry.clone()] {
        let (status, problem) = app.json(Method::POST, &path, None).await;
        assert_eq!(status, 409, "{path}: {problem}");
        assert_eq!(problem["code"], "webhook_disabled");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("410") && detail.contains("/enable"), "{detail}");
    }

    let (status, enabled) = app.json(Method::POST, &format!("/v1/webhooks/{id}/enable"), None).await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!(
        (enabled["enabled"].clone(), enabled["disabledReason"].clone()),
        (json!(true), Value::Null)
    );
    let (status, _) = app.json(Method::POST, &retry, None).await;
    assert_eq!(status, 202);
    let (status, _) = app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 202);
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 3, "the retry and the new test are delivered");

    let (status, disabled) = app
        .json(Method::POST, &format!("/v1/webhooks/{id}/disable"), None)
        .await;
    assert_eq!((status.as_u16(), &disabled["enabled"]), (200, &json!(false)));
    assert!(disabled["disabledReason"].as_str().unwrap().starts_with("disabled by"));
    let (status, _) = app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 409);
    let (status, _) = app.json(Method::POST, "/v1/webhooks/wh_nope/enable", None).await;
    assert_eq!(status, 404);

    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["target"] == id)
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["webhook.disable", "webhook.enable", "webhook.create"],
        "newest first"
    );
}
