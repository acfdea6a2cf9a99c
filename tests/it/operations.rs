//! The data-plane operations beyond reserve: check, track, extend, reading a reservation,
//! soft groups and unmatched events.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{node_after_steps, redis, spawn_app, spawn_app_stepped, TestApp};

async fn app_with(groups: Value, unmatched: &str) -> TestApp {
    plan_on(spawn_app().await, groups, unmatched).await
}

/// As `app_with`, on a Redis whose clock the test steps past a TTL.
async fn stepped_app_with(groups: Value, unmatched: &str) -> (TestApp, redis::Stepped) {
    let (app, clock) = spawn_app_stepped().await;
    (plan_on(app, groups, unmatched).await, clock)
}

async fn plan_on(app: TestApp, groups: Value, unmatched: &str) -> TestApp {
    app.put_plan(json!({ "id": "plan_ops", "periodType": "lifetime", "unmatched": unmatched, "groups": groups }))
        .await;
    app.subscribe("u", "plan_ops", None).await;
    app
}

fn slot_groups() -> Value {
    json!([ { "id": "slot", "unit": "count", "quota": 1, "matches": [ { "event": "e" } ] } ])
}

#[tokio::test]
async fn check_answers_like_reserve_and_changes_nothing() {
    let app = app_with(slot_groups(), "allow").await;
    let event = json!({ "userId": "u", "event": "e", "ttlSeconds": 1 });
    let (status, checked) = app.json(Method::POST, "/v1/check", Some(event.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(checked["allowed"], true, "{checked}");
    assert_eq!(checked["reservationId"], Value::Null);
    assert_eq!(TestApp::counter(&checked, "slot")["count"], 0, "nothing held");

    app.reserve(event.clone()).await;
    let (_, denied) = app.json(Method::POST, "/v1/check", Some(event.clone())).await;
    assert_eq!(
        (denied["allowed"].clone(), denied["reasons"].clone()),
        (json!(false), json!(["limit_reached"]))
    );

    // Once the hold expires, check sees it gone while Redis still holds it: check never writes.
    let field = format!("{}:{{default:u}}:ctr", app.prefix);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = Value::Null;
    while Instant::now() < deadline {
        after = app.json(Method::POST, "/v1/check", Some(event.clone())).await.1;
        if after["allowed"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(after["allowed"], true);
    let stored: String = redis::shared().query(&["HGET", &field, "slot@life:h"]);
    assert_eq!(stored, "1000", "the expired hold is still in Redis");
}

#[tokio::test]
async fn track_counts_past_the_quota_and_reports_it() {
    let app = app_with(slot_groups(), "allow").await;
    let (_, first) = app
        .json(Method::POST, "/v1/track", Some(json!({ "userId": "u", "event": "e" })))
        .await;
    assert_eq!(first["overQuota"], json!([]));
    let (_, second) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "u", "event": "e", "quantity": 2 })),
        )
        .await;
    assert_eq!(second["overQuota"], json!(["slot"]));
    let counter = TestApp::counter(&second, "slot");
    assert_eq!(
        (counter["used"].clone(), counter["exceeded"].clone()),
        (json!(3), json!(true))
    );
    let (status, body) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "u", "event": "e", "quantity": -1 })),
        )
        .await;
    assert_eq!((status.as_u16(), body["field"].clone()), (400, json!("quantity")));
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "u", "event": "e", "ttlSeconds": 5 })),
        )
        .await;
    assert_eq!(status, 400, "track takes no ttl");
}

#[tokio::test]
async fn soft_groups_never_deny_and_report_over_quota() {
    let groups =
        json!([ { "id": "soft_cap", "unit": "count", "quota": 1, "mode": "soft", "matches": [ { "event": "e" } ] } ]);
    let app = app_with(groups, "allow").await;
    for _ in 0..3 {
        let answer = app.reserve(json!({ "userId": "u", "event": "e" })).await;
        assert_eq!(answer["allowed"], true);
        let (_, committed) = app.commit(answer["reservationId"].as_str().unwrap(), None).await;
        assert_eq!(TestApp::counter(&committed, "soft_cap")["mode"], "soft");
    }
    let usage = app.usage("u").await;
    assert_eq!(TestApp::counter(&usage, "soft_cap")["used"], 3);
}

#[tokio::test]
async fn unmatched_events_are_denied_when_the_plan_says_so() {
    let app = app_with(slot_groups(), "deny").await;
    let answer = app.reserve(json!({ "userId": "u", "event": "other" })).await;
    assert_eq!(answer["reasons"], json!(["unmatched_event"]));
}

#[tokio::test]
async fn extend_moves_the_expiry_until_the_reservation_ends() {
    let (app, clock) = stepped_app_with(slot_groups(), "allow").await;
    let held = app
        .reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
        .await;
    let id = held["reservationId"].as_str().unwrap().to_string();
    let (status, extended) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{id}/extend"),
            Some(json!({ "ttlSeconds": 120 })),
        )
        .await;
    assert_eq!(status, 200, "{extended}");
    assert!(extended["expiresAt"].as_str().unwrap() > held["expiresAt"].as_str().unwrap());
    clock.step(1500);
    assert_eq!(
        app.reserve(json!({ "userId": "u", "event": "e" })).await["allowed"],
        false,
        "still held"
    );

    let (status, read) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (read["status"].clone(), read["userId"].clone(), read["event"].clone()),
        (json!("held"), json!("u"), json!("e"))
    );
    assert_eq!(read["holds"][0]["groupId"], "slot");
    assert_eq!(read["holds"][0]["amount"], 1);

    app.commit(&id, Some(json!({ "quantity": 0.5 }))).await;
    let (_, read) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
    assert_eq!(
        (read["status"].clone(), read["holds"][0]["committed"].clone()),
        (json!("committed"), json!(0.5))
    );
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{id}/extend"),
            Some(json!({ "ttlSeconds": 5 })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].clone()),
        (409, json!("reservation_committed"))
    );
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{id}/extend"),
            Some(json!({ "ttlSeconds": 0 })),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn extending_an_expired_reservation_is_gone() {
    let (first, clock) = stepped_app_with(slot_groups(), "allow").await;
    let held = first
        .reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
        .await;
    let id = held["reservationId"].as_str().unwrap().to_string();
    // A read judges the expiry by the node's estimate of Redis time, which lags a step until
    // a script finds it stale: the reads and the extend go to a node started after the step.
    clock.step(1_200);
    let app = node_after_steps(&clock, &first).await;
    let (_, read) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
    assert_eq!(read["status"], "expired");
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{id}/extend"),
            Some(json!({ "ttlSeconds": 5 })),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].clone()),
        (410, json!("reservation_expired"))
    );
    let (status, _) = app.json(Method::GET, "/v1/reservations/r_bm9ib2R5.AAAA", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_extension_is_capped_two_days_after_creation() {
    let (app, clock) = stepped_app_with(slot_groups(), "allow").await;
    let held = app
        .reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 86400 }))
        .await;
    let id = held["reservationId"].as_str().unwrap().to_string();
    let expiry = |answer: &Value| chrono::DateTime::parse_from_rfc3339(answer["expiresAt"].as_str().unwrap()).unwrap();
    let made_plus_day = expiry(&held);
    // Extended a day from 23 hours on: within two days of its creation, as asked.
    clock.step(23 * 3_600_000);
    let app = node_after_steps(&clock, &app).await;
    let path = format!("/v1/reservations/{id}/extend");
    let day = || Some(json!({ "ttlSeconds": 86400 }));
    let (_, once) = app.json(Method::POST, &path, day()).await;
    assert!(expiry(&once) > made_plus_day + chrono::Duration::hours(22), "{once}");
    // Again at 46 hours: a day from then would pass two days from its creation, where it stops.
    clock.step(23 * 3_600_000);
    let app = node_after_steps(&clock, &app).await;
    let (_, twice) = app.json(Method::POST, &path, day()).await;
    assert_eq!(expiry(&twice), made_plus_day + chrono::Duration::days(1), "{twice}");
}
