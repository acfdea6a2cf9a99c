//! Idempotency-Key: a repeat answers the first answer and counts nothing; another body is 422.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

async fn keyed(app: &TestApp, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

async fn app() -> TestApp {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_i", "periodType": "lifetime", "groups": [
        { "id": "g", "unit": "count", "quota": 3, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("u", "plan_i", None).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_repeats_create_one_reservation() {
    let app = app().await;
    let body = json!({ "userId": "u", "event": "e" });
    let calls = (0..10).map(|_| keyed(&app, "/v1/reserve", "render-42", Some(body.clone())));
    let answers = join_all(calls).await;
    let ids: std::collections::BTreeSet<_> = answers.iter().map(|(_, a)| a["reservationId"].to_string()).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(TestApp::counter(&app.usage("u").await, "g")["reserved"], 1);
}

#[tokio::test]
async fn a_repeat_with_another_body_is_refused() {
    let app = app().await;
    let (status, _) = keyed(&app, "/v1/reserve", "k1", Some(json!({ "userId": "u", "event": "e" }))).await;
    assert_eq!(status, 200);
    // Key order and spacing do not make a body different.
    let (status, _) = keyed(&app, "/v1/reserve", "k1", Some(json!({ "event": "e", "userId": "u" }))).await;
    assert_eq!(status, 200);
    let (status, body) = keyed(
        &app,
        "/v1/reserve",
        "k1",
        Some(json!({ "userId": "u", "event": "e", "quantity": 2 })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["code"].clone()),
        (422, json!("idempotency_key_reused"))
    );
    let (status, body) = keyed(&app, "/v1/reserve", "", Some(json!({ "userId": "u", "event": "e" }))).await;
    assert_eq!(
        (status.as_u16(), body["field"].clone()),
        (400, json!("Idempotency-Key"))
    );
}

#[tokio::test]
async fn repeated_denials_and_tracks_count_nothing_again() {
    let app = app().await;
    let big = json!({ "userId": "u", "event": "e", "quantity": 5 });
    let (_, first) = keyed(&app, "/v1/reserve", "deny-1", Some(big.clone())).await;
    assert_eq!(first["allowed"], false);
    let (_, again) = keyed(&app, "/v1/reserve", "deny-1", Some(big)).await;
    assert_eq!(first, again, "denials are answered again too");

    let track = json!({ "userId": "u", "event": "e", "quantity": 1 });
    let (_, t1) = keyed(&app, "/v1/track", "t-1", Some(track.clone())).await;
    let (_, t2) = keyed(&app, "/v1/track", "t-1", Some(track)).await;
    assert_eq!(t1, t2);
    assert_eq!(TestApp::counter(&app.usage("u").await, "g")["used"], 1);

    // The same key on another route is another request.
    let (status, _) = keyed(
        &app,
        "/v1/track",
        "deny-1",
        Some(json!({ "userId": "u", "event": "e" })),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_repeated_commit_answers_the_first_commit() {
    let app = app().await;
    let id = app.reserve(json!({ "userId": "u", "event": "e" })).await["reservationId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/reservations/{id}/commit");
    let (s1, first) = keyed(&app, &path, "c-1", Some(json!({ "quantity": 2 }))).await;
    let (s2, again) = keyed(&app, &path, "c-1", Some(json!({ "quantity": 2 }))).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert_eq!(first, again);
    let (status, _) = keyed(&app, &path, "c-1", Some(json!({ "quantity": 3 }))).await;
    assert_eq!(status, 422);
    assert_eq!(TestApp::counter(&app.usage("u").await, "g")["used"], 2);
}

#[tokio::test]
async fn numbers_in_a_repeated_body_compare_by_value() {
    let app = app().await;
    let send = |quantity: &'static str| {
        app.client
            .post(format!("{}/v1/track", app.address))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "same-amount")
            .header("Content-Type", "application/json")
            .body(format!(r#"{{"userId": "u", "event": "e", "quantity": {quantity}}}"#))
            .send()
    };
    for quantity in ["1", "1.0", "1.000", "0.1e1"] {
        assert_eq!(send(quantity).await.unwrap().status(), 200, "{quantity}");
    }
    assert_eq!(send("1.001").await.unwrap().status(), 422);
    assert_eq!(TestApp::counter(&app.usage("u").await, "g")["used"], 1);
}

/// An adjustment retried by a client whose answer was lost: twenty repeats of one key from two
/// nodes at once apply it once, in the counter, the user's trail and the project's audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_repeats_of_an_adjustment_on_two_nodes_apply_it_once() {
    let plan = json!({ "id": "plan_a", "periodType": "lifetime", "groups": [
        { "id": "g", "unit": "count", "quota": 100, "matches": [ { "event": "*" } ] } ] });
    let (one, two) = crate::support::two_nodes_with("u", plan).await;
    let body = json!({ "groupId": "g", "amount": 7, "reason": "refund of a failed render" });
    let calls = (0..20).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        keyed(app, "/v1/users/u/adjustments", "adjust-1", Some(body.clone()))
    });
    let answers = join_all(calls).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["applied"], 7, "{answer}");
    }
    assert_eq!(TestApp::counter(&one.usage("u").await, "g")["used"], 7);
    let (_, trail) = one.json(reqwest::Method::GET, "/v1/users/u/adjustments", None).await;
    assert_eq!(trail["data"].as_array().map(Vec::len), Some(1), "{trail}");
    let (_, log) = one.json(reqwest::Method::GET, "/v1/audit-log", None).await;
    let adjusts = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "usage.adjust")
        .count();
    assert_eq!(adjusts, 1, "{log}");
    // The same key with another amount is refused, and changes nothing.
    let (status, answer) = keyed(
        &one,
        "/v1/users/u/adjustments",
        "adjust-1",
        Some(json!({ "groupId": "g", "amount": 8, "reason": "refund of a failed render" })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), answer["code"].clone()),
        (422, json!("idempotency_key_reused"))
    );
    assert_eq!(TestApp::counter(&one.usage("u").await, "g")["used"], 7);
}
