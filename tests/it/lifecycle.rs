//! The subscription lifecycle: plan changes without gaming, cancel, overrides, blocking,
//! adjustments and plan deletion.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{redis, spawn_app, spawn_app_on, two_nodes_with, unique_prefix, TestApp};

fn free_plan() -> Value {
    json!({ "id": "plan_free", "periodType": "lifetime", "groups": [
        { "id": "free_images", "unit": "count", "quota": 2, "onPlanChange": "block",
          "matches": [ { "event": "image.render" } ] } ] })
}

fn pro_plan() -> Value {
    json!({ "id": "plan_pro", "periodType": "month", "groups": [
        { "id": "pro_images", "unit": "count", "quota": 100, "matches": [ { "event": "image.render" } ] } ] })
}

async fn lifecycle_app() -> TestApp {
    let app = spawn_app().await;
    app.put_plan(free_plan()).await;
    app.put_plan(pro_plan()).await;
    app
}

async fn render(app: &TestApp, user: &str) -> Value {
    app.reserve(json!({ "userId": user, "event": "image.render" })).await
}

#[tokio::test]
async fn free_pro_free_gives_no_fresh_free_quota() {
    let app = lifecycle_app().await;
    app.subscribe("cycler", "plan_free", None).await;
    assert_eq!(
        render(&app, "cycler").await["allowed"],
        true,
        "the first subscription is never pre-filled"
    );
    app.subscribe("cycler", "plan_pro", None).await;
    app.subscribe("cycler", "plan_free", None).await;
    let again = render(&app, "cycler").await;
    assert_eq!(again["deniedBy"], json!(["free_images"]), "{again}");
    assert_eq!(TestApp::counter(&app.usage("cycler").await, "free_images")["used"], 2);
}

#[tokio::test]
async fn free_pro_cancel_free_gives_no_fresh_free_quota() {
    let app = lifecycle_app().await;
    app.subscribe("canceller", "plan_free", None).await;
    app.subscribe("canceller", "plan_pro", None).await;
    let (status, canceled) = app.json(Method::DELETE, "/v1/users/canceller/subscription", None).await;
    assert_eq!(status, 200);
    assert_eq!(canceled["planId"], Value::Null);
    let (status, _) = app.json(Method::GET, "/v1/users/canceller/subscription", None).await;
    assert_eq!(status, 404);
    app.subscribe("canceller", "plan_free", None).await;
    assert_eq!(render(&app, "canceller").await["allowed"], false);
}

#[tokio::test]
async fn reset_empties_the_period_but_never_open_holds() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_a", "periodType": "lifetime", "groups": [
        { "id": "shared", "unit": "count", "quota": 10, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.put_plan(json!({ "id": "plan_b", "periodType": "lifetime", "groups": [
        { "id": "shared", "unit": "count", "quota": 10, "onPlanChange": "reset", "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("r", "plan_a", None).await;
    app.json(
        Method::POST,
        "/v1/track",
        Some(json!({ "userId": "r", "event": "e", "quantity": 4 })),
    )
    .await;
    let held = app.reserve(json!({ "userId": "r", "event": "e", "quantity": 3 })).await;
    app.subscribe("r", "plan_b", None).await;
    let counter = TestApp::counter(&app.usage("r").await, "shared").clone();
    assert_eq!(
        (counter["used"].clone(), counter["reserved"].clone()),
        (json!(0), json!(3))
    );
    app.commit(held["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(TestApp::counter(&app.usage("r").await, "shared")["used"], 3);
}

#[tokio::test]
async fn a_cancelled_user_falls_back_to_the_default_plan() {
    let app = spawn_app().await;
    let created = app
        .call_as(
            &app.root_token.clone(),
            Method::POST,
            "/v1/projects",
            Some(json!({ "id": "withdefault", "defaultPlan": "plan_free" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let key: Value = app
        .call_as(
            &app.root_token.clone(),
            Method::POST,
            "/v1/projects/withdefault/keys",
            Some(json!({ "kind": "secret" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut other = spawn_app_on(&redis::shared().target(), &app.prefix, Some(&app.key)).await;
    other.key = key["key"].as_str().unwrap().to_string();
    other.put_plan(free_plan()).await;
    other.put_plan(pro_plan()).await;
    other.subscribe("d", "plan_pro", None).await;
    assert_eq!(other.usage("d").await["planId"], "plan_pro");
    other.json(Method::DELETE, "/v1/users/d/subscription", None).await;
    let usage = other.usage("d").await;
    assert_eq!(
        (usage["planId"].clone(), usage["status"].clone()),
        (json!("plan_free"), json!("active"))
    );
    // The default plan cannot be deleted while it is the default.
    let (status, body) = other.json(Method::DELETE, "/v1/plans/plan_free", None).await;
    assert_eq!((status.as_u16(), body["code"].clone()), (409, json!("plan_in_use")));
}

#[tokio::test]
async fn overrides_raise_a_quota_until_they_expire() {
    let app = lifecycle_app().await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, sub) = app
        .json(
            Method::PUT,
            "/v1/users/vip/subscription",
            Some(json!({ "planId": "plan_free",
            "overrides": { "free_images": { "quota": 5, "expiresAt": future } } })),
        )
        .await;
    assert_eq!(status, 200, "{sub}");
    assert_eq!(sub["overrides"]["free_images"]["quota"], 5);
    assert_eq!(TestApp::counter(&render(&app, "vip").await, "free_images")["quota"], 5);

    let (status, _) = app
        .json(
            Method::PUT,
            "/v1/users/vip/overrides/free_images",
            Some(json!({ "quota": 9, "expiresAt": past })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        TestApp::counter(&app.usage("vip").await, "free_images")["quota"],
        2,
        "an expired override is not in force"
    );
    app.json(
        Method::PUT,
        "/v1/users/vip/overrides/free_images",
        Some(json!({ "quota": 9 })),
    )
    .await;
    assert_eq!(TestApp::counter(&app.usage("vip").await, "free_images")["quota"], 9);
    let (status, sub) = app
        .json(Method::DELETE, "/v1/users/vip/overrides/free_images", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(sub["overrides"], json!({}));
    assert_eq!(TestApp::counter(&app.usage("vip").await, "free_images")["quota"], 2);

    let (status, body) = app
        .json(Method::PUT, "/v1/users/vip/overrides/nope", Some(json!({ "quota": 1 })))
        .await;
    assert_eq!((status.as_u16(), body["field"].clone()), (400, json!("groupId")));
}

#[tokio::test]
async fn a_reserve_decides_by_the_override_in_force_on_a_node_that_cached_the_user_before() {
    let (a, b) = two_nodes_with("vip", pro_plan()).await;
    let set_override = async |body: Value| {
        let path = "/v1/users/vip/overrides/pro_images";
        let (status, sub) = b.json(Method::PUT, path, Some(body)).await;
        assert_eq!(status, 200, "{sub}");
    };
    // Whether a render on node a is allowed, and the quota in force it answers.
    let render_on_a = async || {
        let answer = render(&a, "vip").await;
        (
            answer["allowed"].as_bool().unwrap(),
            TestApp::counter(&answer, "pro_images")["quota"].clone(),
        )
    };
    // Node a caches the subscription as it stands: no override.
    assert_eq!(render_on_a().await, (true, json!(100)));
    set_override(json!({ "quota": 2 })).await;
    // The node passes the overrides of the subscription it decided with, and the script's
    // version check sends node a back for the new one.
    assert_eq!(render_on_a().await, (true, json!(2)));
    assert_eq!(render_on_a().await, (false, json!(2)));
    // A track counts without deciding, and answers the same quota in force.
    let track = json!({ "userId": "vip", "event": "image.render" });
    let (status, tracked) = a.json(Method::POST, "/v1/track", Some(track)).await;
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(TestApp::counter(&tracked, "pro_images")["quota"], 2, "{tracked}");
    // An override past its expiry (by Redis time) is not in force on a reserve either.
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    set_override(json!({ "quota": 1, "expiresAt": past })).await;
    assert_eq!(render_on_a().await, (true, json!(100)));
}

#[tokio::test]
async fn a_blocked_user_is_denied_on_every_node_until_unblocked() {
    let prefix = unique_prefix();
    let a = spawn_app_on(&redis::shared().target(), &prefix, None).await;
    let b = spawn_app_on(&redis::shared().target(), &prefix, Some(&a.key)).await;
    a.put_plan(pro_plan()).await;
    a.subscribe("abuser", "plan_pro", None).await;
    assert_eq!(render(&a, "abuser").await["allowed"], true);
    let (status, body) = b.json(Method::POST, "/v1/users/abuser/block", Some(json!({}))).await;
    assert_eq!((status.as_u16(), body["field"].clone()), (400, json!("reason")));
    let (_, blocked) = b
        .json(
            Method::POST,
            "/v1/users/abuser/block",
            Some(json!({ "reason": "scripted renders" })),
        )
        .await;
    assert_eq!(
        (blocked["status"].clone(), blocked["reason"].clone()),
        (json!("blocked"), json!("scripted renders"))
    );
    let denied = render(&a, "abuser").await;
    assert_eq!(denied["reasons"], json!(["user_blocked"]));
    assert_eq!(a.usage("abuser").await["status"], "blocked");
    b.json(Method::POST, "/v1/users/abuser/unblock", None).await;
    assert_eq!(render(&a, "abuser").await["allowed"], true);
}

#[tokio::test]
async fn adjustments_never_go_below_zero_and_are_audited() {
    let app = lifecycle_app().await;
    app.subscribe("s", "plan_pro", None).await;
    app.json(
        Method::POST,
        "/v1/track",
        Some(json!({ "userId": "s", "event": "image.render", "quantity": 3 })),
    )
    .await;
    let (status, refund) = app
        .json(
            Method::POST,
            "/v1/users/s/adjustments",
            Some(json!({ "groupId": "pro_images", "amount": -5, "reason": "failed renders" })),
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(
        (refund["applied"].clone(), refund["counter"]["used"].clone()),
        (json!(-3), json!(0))
    );
    app.json(
        Method::POST,
        "/v1/users/s/adjustments",
        Some(json!({ "groupId": "pro_images", "amount": 1.5, "reason": "correction" })),
    )
    .await;
    let (_, trail) = app.json(Method::GET, "/v1/users/s/adjustments", None).await;
    let entries = trail["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0]["reason"].clone(), entries[0]["after"].clone()),
        (json!("correction"), json!(1.5))
    );
    assert_eq!(
        (entries[1]["amount"].clone(), entries[1]["applied"].clone()),
        (json!(-5), json!(-3))
    );
    let (status, body) = app
        .json(
            Method::POST,
            "/v1/users/s/adjustments",
            Some(json!({ "groupId": "pro_images", "amount": 1, "reason": "" })),
        )
        .await;
    assert_eq!((status.as_u16(), body["field"].clone()), (400, json!("reason")));
}

#[tokio::test]
async fn a_plan_with_users_cannot_be_deleted() {
    let app = lifecycle_app().await;
    app.subscribe("p1", "plan_pro", None).await;
    app.subscribe("p2", "plan_pro", None).await;
    let (status, body) = app.json(Method::DELETE, "/v1/plans/plan_pro", None).await;
    assert_eq!((status.as_u16(), body["code"].clone()), (409, json!("plan_in_use")));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("2 users are on plan plan_pro"),
        "{body}"
    );
    app.subscribe("p1", "plan_free", None).await;
    let (_, body) = app.json(Method::DELETE, "/v1/plans/plan_pro", None).await;
    assert!(
        body["detail"].as_str().unwrap().contains("1 user is on plan plan_pro"),
        "one, as a person says it: {body}"
    );
    app.json(Method::DELETE, "/v1/users/p2/subscription", None).await;
    let res = app.call(Method::DELETE, "/v1/plans/plan_pro", None).await;
    assert_eq!(res.status(), 204);
    let (status, _) = app.json(Method::GET, "/v1/plans/plan_pro", None).await;
    assert_eq!(status, 404);
}
