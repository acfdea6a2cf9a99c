//! The image recipes: subscription-anchored buckets, the unmetered-model loophole, falling back
//! between models, a shared pool, stacked windows and a premium sub-quota.

use chrono::{Duration, Months, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_stepped, TestApp};

fn image(user: &str, model: &str) -> Value {
    json!({ "userId": user, "event": format!("image.{model}"), "metadata": { "variant": "1k" } })
}

fn at(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reserves and commits `n` times; returns how many were allowed.
async fn use_n(app: &TestApp, body: Value, n: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..n {
        let answer = app.reserve(body.clone()).await;
        if let Some(id) = answer["reservationId"].as_str() {
            app.commit(id, None).await;
            allowed += 1;
        }
    }
    allowed
}

fn pro_plan() -> Value {
    json!({
        "id": "plan_pro", "name": "Pro", "periodType": "monthly", "periodAnchor": "subscription_start",
        "groups": [
            { "id": "lg_pro_model_a", "label": "Model A (1k) - 20/mo", "unit": "count", "quota": 20,
              "matches": [ { "event": "image.model_a", "metadata": { "variant": "1k" } } ] },
            { "id": "lg_pro_model_b", "label": "Model B (1k) - 50/mo", "unit": "count", "quota": 50,
              "matches": [ { "event": "image.model_b", "metadata": { "variant": "1k" } } ] }
        ]
    })
}

#[tokio::test]
async fn pro_buckets_run_from_the_purchase_date_and_reset_a_calendar_month_later() {
    let app = spawn_app().await;
    app.put_plan(pro_plan()).await;
    let now = Utc::now();
    let bought = now - Duration::days(21);
    app.subscribe("pro", "plan_pro", Some(&at(bought))).await;
    assert_eq!(use_n(&app, image("pro", "model_a"), 21).await, 20);

    // 21 days in, the purchase's period is still running and holds all the usage.
    let usage = app.usage("pro").await;
    let a = TestApp::counter(&usage, "lg_pro_model_a");
    assert_eq!(a["used"], 20);
    assert_eq!(a["periodStart"], at(bought));
    assert_eq!(a["resetsAt"], at(bought.checked_add_months(Months::new(1)).unwrap()));
    assert_eq!(TestApp::counter(&usage, "lg_pro_model_b")["used"], 0);

    // Anchored a calendar month and a day earlier, the same moment is in the next period: fresh.
    let earlier = now.checked_sub_months(Months::new(1)).unwrap() - Duration::days(1);
    app.subscribe("pro", "plan_pro", Some(&at(earlier))).await;
    let usage = app.usage("pro").await;
    let a = TestApp::counter(&usage, "lg_pro_model_a");
    assert_eq!(
        a["periodStart"],
        at(earlier.checked_add_months(Months::new(1)).unwrap())
    );
    assert_eq!(a["used"], 0);
    assert_eq!(app.reserve(image("pro", "model_a")).await["allowed"], true);
}

#[tokio::test]
async fn an_unmetered_model_passes_until_a_zero_quota_group_closes_it() {
    let app = spawn_app().await;
    let mut plan = json!({
        "id": "plan_free", "periodType": "lifetime", "unmatched": "allow",
        "groups": [ { "id": "model_a", "unit": "count", "quota": 2, "matches": [ { "event": "image.model_a" } ] } ]
    });
    app.put_plan(plan.clone()).await;
    app.subscribe("u", "plan_free", None).await;
    // The loophole: model B matches no group, so it goes through unmetered.
    assert_eq!(use_n(&app, image("u", "model_b"), 5).await, 5);

    plan["groups"].as_array_mut().unwrap().push(
        json!({ "id": "model_b_closed", "unit": "count", "quota": 0, "matches": [ { "event": "image.model_b" } ] }),
    );
    app.put_plan(plan).await;
    let denied = app.reserve(image("u", "model_b")).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["deniedBy"], json!(["model_b_closed"]));
    // Even a zero quantity is refused by a zero quota.
    let mut zero = image("u", "model_b");
    zero["quantity"] = json!(0);
    assert_eq!(app.reserve(zero).await["allowed"], false);
}

#[tokio::test]
async fn an_app_falls_back_to_model_b_when_model_a_is_exhausted() {
    let app = spawn_app().await;
    app.put_plan(pro_plan()).await;
    app.subscribe("f", "plan_pro", None).await;
    assert_eq!(use_n(&app, image("f", "model_a"), 20).await, 20);
    let a = app.reserve(image("f", "model_a")).await;
    assert_eq!(a["deniedBy"], json!(["lg_pro_model_a"]), "{a}");
    let b = app.reserve(image("f", "model_b")).await;
    assert_eq!(b["allowed"], true, "model B has its own bucket: {b}");
}

#[tokio::test]
async fn two_models_share_one_pool_of_40() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_pool", "periodType": "month",
        "groups": [ { "id": "pool", "label": "Any model - 40/mo", "unit": "count", "quota": 40,
            "matches": [ { "event": "image.model_a" }, { "event": "image.model_b" } ] } ]
    }))
    .await;
    app.subscribe("p", "plan_pool", None).await;
    assert_eq!(use_n(&app, image("p", "model_a"), 25).await, 25);
    assert_eq!(use_n(&app, image("p", "model_b"), 20).await, 15);
    assert_eq!(TestApp::counter(&app.usage("p").await, "pool")["used"], 40);
}

#[tokio::test]
async fn a_minute_window_stacks_on_a_monthly_cap() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(json!({
        "id": "plan_stacked", "periodType": "monthly", "periodAnchor": "calendar",
        "groups": [
            { "id": "monthly", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] },
            { "id": "anti_abuse", "label": "3 requests / minute", "unit": "count", "quota": 3,
              "period": { "type": "minute" }, "matches": [ { "event": "*" } ] }
        ]
    }))
    .await;
    app.subscribe("s", "plan_stacked", None).await;
    // Four calls must fall in one minute: started late in one, they begin 5 s into the next
    // (a step of more than the 2 s a node's instant may be off, so the node measures Redis's
    // clock again before it decides).
    let into_minute = clock.now_ms() % 60_000;
    if into_minute >= 50_000 {
        clock.step(60_000 - into_minute + 5_000);
    }
    assert_eq!(use_n(&app, image("s", "model_a"), 3).await, 3);
    let res = app
        .call(reqwest::Method::POST, "/v1/reserve", Some(image("s", "model_a")))
        .await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry after the minute: {retry}");
    let policy = res.headers()["ratelimit-policy"].to_str().unwrap().to_string();
    assert!(policy.starts_with("\"monthly\";q=1000;w="), "{policy}");
    assert!(policy.ends_with(", \"anti_abuse\";q=3;w=60"), "{policy}");
    let limit = res.headers()["ratelimit"].to_str().unwrap().to_string();
    assert!(
        limit.starts_with("\"monthly\";r=997;t=") && limit.contains("\"anti_abuse\";r=0;t="),
        "{limit}"
    );
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["deniedBy"], json!(["anti_abuse"]));
    assert_eq!(
        TestApp::counter(&answer, "monthly")["used"],
        3,
        "the denial counted nothing"
    );
}

#[tokio::test]
async fn a_premium_render_takes_from_both_groups_or_from_neither() {
    let app = spawn_app().await;
    app.put_plan(json!({
        "id": "plan_studio", "periodType": "month",
        "groups": [
            { "id": "all_renders", "unit": "count", "quota": 10, "matches": [ { "event": "image.*" } ] },
            { "id": "premium", "unit": "count", "quota": 1, "matches": [ { "event": "image.render", "metadata": { "tier": "premium" } } ] }
        ]
    }))
    .await;
    app.subscribe("st", "plan_studio", None).await;
    let premium = json!({ "userId": "st", "event": "image.render", "metadata": { "tier": "premium" } });
    let first = app.reserve(premium.clone()).await;
    assert_eq!(first["allowed"], true);
    assert_eq!(TestApp::counter(&first, "all_renders")["reserved"], 1);
    assert_eq!(TestApp::counter(&first, "premium")["reserved"], 1);
    let second = app.reserve(premium).await;
    assert_eq!(second["deniedBy"], json!(["premium"]));
    assert_eq!(
        TestApp::counter(&second, "all_renders")["reserved"],
        1,
        "all or nothing"
    );
    let standard = app
        .reserve(json!({ "userId": "st", "event": "image.render", "metadata": { "tier": "standard" } }))
        .await;
    assert_eq!(standard["allowed"], true);
    assert_eq!(standard["counters"].as_array().unwrap().len(), 1);
}
