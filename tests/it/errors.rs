//! Bad input gets a 4xx naming the field and never reaches Redis; a Redis that does not
//! answer gets a fast 503, never a hang and never an allow.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::proxy::Proxy;
use crate::support::{freemium_free_plan, redis, spawn_app, spawn_app_on, unique_prefix};

#[tokio::test]
async fn invalid_reserve_fields_are_named() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "userId": "u", "event": "e", "quantity": -1 }), "quantity"),
        (json!({ "userId": "u", "event": "e", "quantity": 0.0001 }), "quantity"),
        (json!({ "userId": "u", "event": "e", "quantity": "5" }), "quantity"),
        (json!({ "userId": "u", "event": "e", "quantity": 1e13 }), "quantity"),
        (json!({ "userId": "u", "event": "e", "ttlSeconds": 0 }), "ttlSeconds"),
        (
            json!({ "userId": "u", "event": "e", "ttlSeconds": 86401 }),
            "ttlSeconds",
        ),
        (json!({ "userId": "u", "event": "bad event" }), "event"),
        (json!({ "userId": "", "event": "e" }), "userId"),
        (json!({ "userId": "a\u{0007}b", "event": "e" }), "userId"),
        (
            json!({ "userId": "u", "event": "e", "metadata": { "k": { "nested": 1 } } }),
            "metadata.k",
        ),
        (json!({ "userId": "u", "event": "e", "surprise": true }), "surprise"),
        (json!({ "event": "e" }), "userId"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.json(Method::POST, "/v1/reserve", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["code"], "invalid_request");
        assert_eq!(answer["field"], field, "{body} -> {answer}");
    }
    let res = app
        .client
        .post(format!("{}/v1/reserve", app.address))
        .bearer_auth(&app.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn bodies_over_64_kib_are_answered_with_413() {
    let app = spawn_app().await;
    let big = json!({ "userId": "u", "event": "e", "metadata": { "pad": "x".repeat(70 * 1024) } });
    let res = app.call(Method::POST, "/v1/reserve", Some(big)).await;
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn a_silent_redis_gives_503_then_recovers_and_bad_input_never_waits_for_it() {
    let own = redis::TestRedis::start();
    let proxy = Proxy::start(own.port).await;
    let app = spawn_app_on(&proxy.target(), &unique_prefix(), None).await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("u", "plan_free", None).await;
    let render = json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } });

    proxy.freeze();
    let res = app.call(Method::POST, "/v1/reserve", Some(render.clone())).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "backend_unavailable");
    assert!(
        !body.to_string().contains("redis://"),
        "no internals in the body: {body}"
    );

    // Validation happens before any Redis call, so a bad request is answered at once.
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "u", "event": "bad event" })),
        )
        .await;
    assert_eq!(status, 400);
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.thaw();
    let mut answer = Value::Null;
    for _ in 0..50 {
        let res = app.call(Method::POST, "/v1/reserve", Some(render.clone())).await;
        if res.status() == 200 {
            answer = res.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer["allowed"], true, "recovered without a restart");
}

#[tokio::test]
async fn a_stopped_redis_gives_503_not_an_allow() {
    let own = redis::TestRedis::start();
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("u", "plan_free", None).await;
    own.stop();
    let res = app
        .call(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "u", "event": "image.model_a", "metadata": { "variant": "1k" } })),
        )
        .await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "backend_unavailable");
}
