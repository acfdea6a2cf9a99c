//! The freemium recipe end to end: reserve, commit, release, usage.

use reqwest::Method;
use serde_json::json;

use crate::support::{freemium_free_plan, spawn_app, TestApp};

fn render(user: &str) -> serde_json::Value {
    json!({ "userId": user, "event": "image.model_a", "metadata": { "variant": "1k" } })
}

#[tokio::test]
async fn third_lifetime_image_is_denied_with_limit_reached() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("alice", "plan_free", None).await;

    for _ in 0..2 {
        let answer = app.reserve(render("alice")).await;
        assert_eq!(answer["allowed"], true, "{answer}");
        let id = answer["reservationId"].as_str().unwrap();
        let (status, committed) = app.commit(id, None).await;
        assert_eq!(status, 200, "{committed}");
        assert_eq!(committed["status"], "committed");
    }

    let third = app.reserve(render("alice")).await;
    assert_eq!(third["allowed"], false);
    assert_eq!(third["reservationId"], serde_json::Value::Null);
    assert_eq!(third["reasons"], json!(["limit_reached"]));
    assert_eq!(third["deniedBy"], json!(["lg_free_model_a"]));
    let counter = TestApp::counter(&third, "lg_free_model_a");
    assert_eq!(counter["used"], 2);
    assert_eq!(counter["remaining"], 0);
    assert_eq!(counter["resetsAt"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_denied_event_changes_no_counter() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_two", "periodType": "lifetime",
        "groups": [
            { "id": "all_images", "unit": "count", "quota": 10, "matches": [ { "event": "image.*" } ] },
            { "id": "model_a", "unit": "count", "quota": 1, "matches": [ { "event": "image.model_a" } ] }
        ]
    }))
    .await;
    app.subscribe("bob", "plan_two", None).await;
    let first = app.reserve(json!({ "userId": "bob", "event": "image.model_a" })).await;
    assert_eq!(first["allowed"], true);
    let before = app.usage("bob").await;

    // model_a is full; all_images has room but must not be charged for a denied event.
    let denied = app.reserve(json!({ "userId": "bob", "event": "image.model_a" })).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["deniedBy"], json!(["model_a"]));
    assert_eq!(TestApp::counter(&denied, "all_images")["count"], 1);
    let after = app.usage("bob").await;
    assert_eq!(before["counters"], after["counters"]);
}

#[tokio::test]
async fn commit_makes_usage_and_release_gives_the_hold_back() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("carol", "plan_free", None).await;

    let held = app.reserve(render("carol")).await;
    assert_eq!(TestApp::counter(&held, "lg_free_model_a")["reserved"], 1);
    let usage = app.usage("carol").await;
    assert_eq!(usage["planId"], "plan_free");
    assert_eq!(usage["status"], "active");
    assert_eq!(TestApp::counter(&usage, "lg_free_model_a")["reserved"], 1);

    let (status, released) = app.release(held["reservationId"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(released["status"], "released");
    assert_eq!(TestApp::counter(&released, "lg_free_model_a")["count"], 0);

    let kept = app.reserve(render("carol")).await;
    let (_, committed) = app.commit(kept["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(committed["late"], false);
    assert_eq!(committed["overQuota"], json!([]));
    let usage = app.usage("carol").await;
    let counter = TestApp::counter(&usage, "lg_free_model_a");
    assert_eq!(
        (counter["used"].clone(), counter["reserved"].clone()),
        (json!(1), json!(0))
    );
}

#[tokio::test]
async fn unmatched_events_pass_with_a_reservation_that_holds_nothing() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("dave", "plan_free", None).await;
    let answer = app.reserve(json!({ "userId": "dave", "event": "image.model_b" })).await;
    assert_eq!(answer["allowed"], true);
    assert_eq!(answer["counters"], json!([]));
    let (status, committed) = app.commit(answer["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["counters"], json!([]));
}

#[tokio::test]
async fn a_user_without_subscription_or_default_plan_is_denied() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    let answer = app.reserve(render("nobody")).await;
    assert_eq!(answer["allowed"], false);
    assert_eq!(answer["reasons"], json!(["no_subscription"]));
    let usage = app.usage("nobody").await;
    assert_eq!(usage["status"], "no_subscription");
    let (status, _) = app.json(Method::GET, "/v1/users/nobody/subscription", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_exact_rule_with_other_metadata_does_not_match() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("erin", "plan_free", None).await;
    let answer = app
        .reserve(json!({ "userId": "erin", "event": "image.model_a", "metadata": { "variant": "2k" } }))
        .await;
    assert_eq!(answer["allowed"], true);
    assert_eq!(answer["counters"], json!([]));
}

#[tokio::test]
async fn user_ids_with_special_characters_stay_apart() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    // These would share keys or hash tags without escaping.
    let users = ["a:b", "a%3Ab", "a}{b", "a b", "user/with/slashes", "é"];
    for user in users {
        app.subscribe(user, "plan_free", None).await;
        let answer = app.reserve(render(user)).await;
        assert_eq!(answer["allowed"], true, "{user}: {answer}");
    }
    for user in users {
        let usage = app.usage(user).await;
        assert_eq!(usage["userId"], user);
        assert_eq!(TestApp::counter(&usage, "lg_free_model_a")["reserved"], 1, "{user}");
    }
}
