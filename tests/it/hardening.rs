//! What broke when the gateway was attacked as a careful adversary would: each defect found,
//! with the test that failed before its fix.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

/// A call with a raw body, as a client that does not go through a JSON library would send it.
async fn raw(app: &TestApp, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(&app.key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn one_group_plan(app: &TestApp) {
    app.put_plan(json!({ "id": "plan_h", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 100, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_h", None).await;
}

#[tokio::test]
async fn trailing_data_after_the_json_body_is_refused_and_counts_nothing() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    let one = r#"{"userId":"alice","event":"x"}"#;
    for body in [format!("{one}xyz"), format!("{one}{one}"), format!("{one} {one}")] {
        for path in ["/v1/reserve", "/v1/track"] {
            let (status, answer) = raw(&app, Method::POST, path, &body).await;
            assert_eq!(status, 400, "{path} {body}: {answer}");
            assert_eq!(answer["field"], "body", "{answer}");
        }
    }
    assert_eq!(TestApp::counter(&app.usage("alice").await, "g")["count"], 0);
    let (status, _) = raw(&app, Method::POST, "/v1/track", &format!("{one} \n")).await;
    assert_eq!(status, 200, "trailing space is not data");
}

#[tokio::test]
async fn error_bodies_speak_the_api_not_rust() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    let reserve = app.reserve(json!({ "userId": "alice", "event": "x" })).await;
    let id = reserve["reservationId"].as_str().unwrap().to_string();
    let cases = [
        (
            Method::POST,
            "/v1/reserve".to_string(),
            r#"{"userId":"alice","event":"x","ttlSeconds":1.5}"#,
            "ttlSeconds",
        ),
        (Method::POST, format!("/v1/reservations/{id}/commit"), "[]", "body"),
        (Method::POST, "/v1/reserve".to_string(), "{", "body"),
        (
            Method::POST,
            "/v1/reserve".to_string(),
            r#"{"userId":"alice"}"#,
            "event",
        ),
        (
            Method::PUT,
            "/v1/plans/p".to_string(),
            r#"{"periodType":"month","groups":{}}"#,
            "groups",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = raw(&app, method, &path, body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["field"], field, "{path} {body}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        for word in ["i64", "u64", "struct", "Body", "serde", "expected", "?", "deserialize"] {
            assert!(!detail.contains(word), "{path} {body}: {detail}");
        }
    }
    for (query, field) in [
        ("limit=x", "limit"),
        ("limit=0", "limit"),
        ("colour=red", "colour"),
        ("status=gone", "status"),
    ] {
        let (status, answer) = app.json(Method::GET, &format!("/v1/users?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert_eq!(answer["field"], field, "{query}: {answer}");
        assert!(!answer["detail"].as_str().unwrap().contains("deserialize"), "{answer}");
    }
}

#[tokio::test]
async fn the_weights_limit_is_stated_as_it_is_enforced() {
    let app = spawn_app().await;
    let plan = |weight: &str| {
        format!(
            r#"{{"periodType":"month","groups":[{{"id":"c","unit":"cents","quota":10,
            "measure":{{"weights":{{"tokens":{weight}}}}},"matches":[{{"event":"*"}}]}}]}}"#
        )
    };
    let (status, _) = raw(&app, Method::PUT, "/v1/plans/p_ok", &plan("1000000")).await;
    assert_eq!(status, 200);
    let (status, answer) = raw(&app, Method::PUT, "/v1/plans/p_big", &plan("1000001")).await;
    assert_eq!(status, 400);
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("at most 1000000") && !detail.contains("1000000000000"),
        "{detail}"
    );
}

#[tokio::test]
async fn metadata_numbers_no_double_can_hold_are_refused() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    for (path, body) in [
        (
            "/v1/reserve",
            r#"{"userId":"alice","event":"x","metadata":{"a":1e400}}"#,
        ),
        ("/v1/track", r#"{"userId":"alice","event":"x","metadata":{"a":-1e400}}"#),
    ] {
        let (status, answer) = raw(&app, Method::POST, path, body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["field"], "metadata.a", "{answer}");
    }
    let (status, _) = raw(
        &app,
        Method::POST,
        "/v1/track",
        r#"{"userId":"alice","event":"x","metadata":{"a":1e300}}"#,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn adjustments_of_an_in_flight_group_are_refused_and_never_lock_the_user_out() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_jobs", "periodType": "month",
        "groups": [ { "id": "jobs", "unit": "concurrent", "quota": 2, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_jobs", None).await;
    let (status, answer) = app
        .json(
            Method::POST,
            "/v1/users/alice/adjustments",
            Some(json!({ "groupId": "jobs", "amount": 5, "reason": "support" })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "groupId");
    let reserved = app.reserve(json!({ "userId": "alice", "event": "render" })).await;
    assert_eq!(reserved["allowed"], true, "{reserved}");
}
