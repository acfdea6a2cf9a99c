//! A team member's reserve whose team level does not answer in time (Redis stalled past the
//! command timeout, then running the queued script all the same): with an Idempotency-Key the
//! member's hold stays, and the client's retry replays both levels and commits. Released at the
//! failure, as the gateway did before, the retry was told "allowed" of a reservation that no
//! longer held, and its commit answered 409.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

async fn keyed_reserve(app: &TestApp, key: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/v1/reserve", app.address))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", key)
        .json(&json!({ "userId": "kim", "event": "render" }))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn a_retry_completes_a_reserve_whose_team_level_timed_out() {
    let own = redis::TestRedis::start_with(&["--enable-debug-command", "yes"]);
    // 300 ms between the member's level and the team's: time to stall Redis in between.
    let app = spawn_app_with(&own.target(), &unique_prefix(), None, |c| {
        c.test.level_pause_ms = 300;
        c.command_timeout_ms = 250;
    })
    .await;
    for id in ["plan_member", "plan_team"] {
        app.put_plan(json!({ "id": id, "periodType": "month", "groups": [
            { "id": "renders", "unit": "count", "quota": 10, "matches": [ { "event": "*" } ] } ] }))
            .await;
    }
    app.subscribe("team", "plan_team", None).await;
    let body = json!({ "planId": "plan_member", "parentId": "team" });
    assert_eq!(
        app.json(Method::PUT, "/v1/users/kim/subscription", Some(body)).await.0,
        200
    );

    // The member's level holds at once; then, while the node waits to reach the team's level,
    // Redis stalls for 600 ms: the team's call times out, and Redis runs it once it wakes.
    let port = own.port;
    let stall = async move {
        tokio::time::sleep(Duration::from_millis(120)).await;
        tokio::task::spawn_blocking(move || {
            let client = ::redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
            let mut conn = client.get_connection().unwrap();
            let _: () = ::redis::cmd("DEBUG").arg("SLEEP").arg("0.6").query(&mut conn).unwrap();
        })
        .await
        .unwrap();
    };
    let ((status, failed), ()) = tokio::join!(keyed_reserve(&app, "render-1"), stall);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{failed}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The member's level held before the stall, and its hold stays for the retry.
    let usage = app.usage("kim").await;
    assert_eq!(TestApp::counter(&usage, "renders")["reserved"], 1, "{usage}");

    let (status, retried) = keyed_reserve(&app, "render-1").await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["allowed"], true, "{retried}");
    let id = retried["reservationId"].as_str().unwrap();
    let (status, committed) = app.commit(id, None).await;
    assert_eq!(status, 200, "the retry's reservation still holds: {committed}");
    for subject in ["kim", "team"] {
        let usage = app.usage(subject).await;
        assert_eq!(TestApp::counter(&usage, "renders")["used"], 1, "{subject}: {usage}");
        assert_eq!(TestApp::counter(&usage, "renders")["reserved"], 0, "{subject}: {usage}");
    }
}
