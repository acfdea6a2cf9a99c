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

/// A reserve and a track of a team's member, each repeated with its Idempotency-Key after Redis
/// time (a fast clock) crossed a minute boundary: each repeat answers the first answer, windows
/// included, at the member's level and the team's, and counts nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_after_a_window_ended_answers_in_the_first_calls_windows() {
    use std::time::{Duration, Instant};

    use quota_gateway::gateway::Clock;

    use crate::support::redis::TestRedis;
    use crate::support::{spawn_app_with, unique_prefix};

    // Redis time starts 30 s before a minute boundary (5 s of the machine's: room for the set-up
    // on a slow machine) and runs six times as fast.
    let next_minute_ms = (Clock::local_ms() / 60_000 + 1) * 60_000;
    let own = TestRedis::start_fast_clock(next_minute_ms - 30_000, 6);
    let redis_minute = || own.query::<Vec<String>>(&["TIME"])[0].parse::<i64>().unwrap() / 60;
    let app = spawn_app_with(&own.target(), &unique_prefix(), None, |_| {}).await;
    for id in ["plan_member", "plan_team"] {
        app.put_plan(json!({ "id": id, "periodType": "minute", "groups": [
            { "id": "calls", "unit": "count", "quota": 100, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    app.subscribe("team", "plan_team", None).await;
    let body = json!({ "planId": "plan_member", "parentId": "team" });
    assert_eq!(
        app.json(reqwest::Method::PUT, "/v1/users/kim/subscription", Some(body))
            .await
            .0,
        200
    );
    let start = redis_minute();
    let reserve = json!({ "userId": "kim", "event": "e" });
    let track = json!({ "userId": "kim", "event": "e", "quantity": 2 });
    let first_reserve = keyed(&app, "/v1/reserve", "r-1", Some(reserve.clone())).await;
    let first_track = keyed(&app, "/v1/track", "t-1", Some(track.clone())).await;
    assert_eq!((first_reserve.0, first_track.0), (StatusCode::OK, StatusCode::OK));
    assert_eq!(redis_minute(), start, "both first calls before the boundary");
    let deadline = Instant::now() + Duration::from_secs(20);
    while redis_minute() == start {
        assert!(Instant::now() < deadline, "Redis time crosses the boundary");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The node's estimate of Redis time falls behind the fast clock until it measures it again:
    // a call after it fell more than 2 s behind is told stale, and the node measures it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    app.subscribe("probe", "plan_member", None).await;
    assert_eq!(
        app.reserve(json!({ "userId": "probe", "event": "e" })).await["allowed"],
        true
    );
    assert_eq!(keyed(&app, "/v1/reserve", "r-1", Some(reserve)).await, first_reserve);
    assert_eq!(keyed(&app, "/v1/track", "t-1", Some(track)).await, first_track);
    let windows: Vec<&Value> = first_reserve.1["counters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["periodStart"])
        .collect();
    assert_eq!(windows.len(), 2, "the member's window and the team's");
    assert_eq!(windows[0], windows[1]);
}

/// A member's reserve denied by the team's pool, repeated with its key after the member's usage
/// moved on, answers the first answer: the member's counters as they were, not as they are.
#[tokio::test]
async fn a_repeated_denial_by_a_parent_answers_the_first_answer() {
    let app = spawn_app().await;
    for (id, quota) in [("plan_member", 100), ("plan_team", 1)] {
        app.put_plan(json!({ "id": id, "periodType": "month", "groups": [
            { "id": "renders", "unit": "count", "quota": quota, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    app.subscribe("team", "plan_team", None).await;
    for member in ["lee", "kim"] {
        let body = json!({ "planId": "plan_member", "parentId": "team" });
        let path = format!("/v1/users/{member}/subscription");
        assert_eq!(app.json(reqwest::Method::PUT, &path, Some(body)).await.0, 200);
    }
    assert_eq!(
        app.reserve(json!({ "userId": "lee", "event": "e" })).await["allowed"],
        true
    );
    let body = json!({ "userId": "kim", "event": "e" });
    let first = keyed(&app, "/v1/reserve", "kim-1", Some(body.clone())).await;
    assert_eq!(first.1["allowed"], false, "{}", first.1);
    assert_eq!(first.1["counters"][0]["used"], 0, "{}", first.1);
    assert_eq!(first.1["counters"][0]["reserved"], 0, "{}", first.1);
    let tracked = app.json(
        reqwest::Method::POST,
        "/v1/track",
        Some(json!({ "userId": "kim", "event": "e", "quantity": 5 })),
    );
    assert_eq!(tracked.await.0, 200);
    assert_eq!(keyed(&app, "/v1/reserve", "kim-1", Some(body)).await, first);
}
