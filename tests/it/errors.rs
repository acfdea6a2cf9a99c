//! Bad input gets a 4xx naming the field, and bodies over 64 KiB a 413, before anything reaches Redis.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::spawn_app;

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
