//! Holds return by themselves: expired reservations are reclaimed by the next call for the user.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{spawn_app, TestApp};

async fn one_slot_app() -> TestApp {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_slot", "periodType": "lifetime",
        "groups": [ { "id": "slot", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ]
    }))
    .await;
    app.subscribe("u", "plan_slot", None).await;
    app
}

/// Reserves until one is allowed, within a bound.
async fn reserve_until_allowed(app: &TestApp, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let answer = app.reserve(json!({ "userId": "u", "event": "e" })).await;
        if answer["allowed"] == true || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_one_second_hold_is_reclaimed_without_touching_its_reservation() {
    let app = one_slot_app().await;
    let held = app
        .reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
        .await;
    assert_eq!(held["allowed"], true);
    let denied = app.reserve(json!({ "userId": "u", "event": "e" })).await;
    assert_eq!(denied["allowed"], false, "the hold counts while it lasts");

    let again = reserve_until_allowed(&app, Duration::from_secs(10)).await;
    assert_eq!(again["allowed"], true, "the expired hold went back: {again}");
    assert_eq!(TestApp::counter(&again, "slot")["reserved"], 1);

    let (status, released) = app.release(held["reservationId"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(released["status"], "expired");
}

#[tokio::test]
async fn usage_leaves_out_expired_holds_before_any_write() {
    let app = one_slot_app().await;
    app.reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reserved = json!(1);
    while Instant::now() < deadline {
        reserved = TestApp::counter(&app.usage("u").await, "slot")["reserved"].clone();
        if reserved == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reserved, 0);
}

#[tokio::test]
async fn commit_after_expiry_counts_usage_and_says_late() {
    let app = one_slot_app().await;
    let held = app
        .reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
        .await;
    // Another reservation takes the slot once the first has expired.
    let second = reserve_until_allowed(&app, Duration::from_secs(10)).await;
    assert_eq!(second["allowed"], true);

    let (status, late) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["late"], true);
    assert_eq!(
        late["overQuota"],
        json!(["slot"]),
        "the AI call happened, so it counts past the quota"
    );
    let counter = TestApp::counter(&late, "slot").clone();
    assert_eq!(
        (counter["used"].clone(), counter["reserved"].clone()),
        (json!(1), json!(1))
    );

    let (_, repeat) = app.commit(held["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(repeat["late"], true, "a repeat answers the first answer");
    assert_eq!(TestApp::counter(&repeat, "slot")["used"], 1, "and counts nothing again");
}
