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

/// A body declared as a form or as text is 415, never read as JSON by accident; JSON with
/// parameters, a `+json` type, or no declaration at all is read.
#[tokio::test]
async fn bodies_declared_as_anything_but_json_are_answered_with_415() {
    let app = spawn_app().await;
    let body = r#"{"id":"plan_c","periodType":"month","groups":[{"id":"g","unit":"count","quota":1,"matches":[{"event":"*"}]}]}"#;
    let put = |content_type: Option<&'static str>| {
        let mut req = app
            .client
            .put(format!("{}/v1/plans/plan_c", app.address))
            .bearer_auth(&app.key)
            .body(body);
        if let Some(value) = content_type {
            req = req.header("Content-Type", value);
        }
        req.send()
    };
    for refused in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let res = put(Some(refused)).await.unwrap();
        assert_eq!(res.status(), 415, "{refused}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "unsupported_media_type", "{refused}");
    }
    for read in [
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
        Some("application/merge-patch+json"),
        None,
    ] {
        let res = put(read).await.unwrap();
        assert!(res.status().is_success(), "{read:?}: {}", res.status());
    }
}

/// HEAD reads as GET does, without a body; the Allow header of a 405 names it.
#[tokio::test]
async fn head_is_answered_on_every_get_route() {
    let app = spawn_app().await;
    for path in ["/livez", "/openapi.json", "/v1/plans"] {
        let res = app
            .client
            .head(format!("{}{path}", app.address))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.bytes().await.unwrap().is_empty(), "{path}");
    }
    let res = app.call(Method::DELETE, "/livez", None).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
}
