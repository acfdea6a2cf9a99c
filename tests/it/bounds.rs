//! No size a client controls can break a user: every list a script reads whole is bounded, and
//! a user written with more than a script could once unpack is still served.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::redis::shared;
use crate::support::{spawn_app, spawn_app_with, unique_prefix, TestApp};

fn per_model_plan() -> Value {
    json!({ "id": "plan_pv", "periodType": "month", "groups": [
        { "id": "premium", "unit": "count", "quota": 10, "per": "model",
          "matches": [ { "event": "render" } ] } ] })
}

/// Writes `n` overrides of values of group `premium` straight into the user's subscription,
/// as a user who set them one by one would have them.
fn seed_overrides(app: &TestApp, user: &str, n: usize) {
    let sub = quota_gateway::surface::store::layout::Layout::new(&app.prefix)
        .user("default", user)
        .sub()
        .to_string();
    let mut args: Vec<String> = vec!["HSET".into(), sub];
    for i in 0..n {
        args.push(format!("ov:premium~seeded-{i}"));
        args.push("5000|".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let added: i64 = shared().query(&args);
    assert_eq!(added, n as i64);
}

async fn put_override(app: &TestApp, user: &str, value: &str) -> (StatusCode, Value) {
    app.json(
        Method::PUT,
        &format!("/v1/users/{user}/overrides/premium?value={value}"),
        Some(json!({ "quota": 20 })),
    )
    .await
}

/// A user keeps at most 1,000 overrides, however many are set at once: of 30 new ones set in
/// parallel with 990 kept, exactly 10 are kept, the others answer 409 naming the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_keeps_at_most_a_thousand_overrides_under_parallel_sets() {
    // Thirty reads of a 990-override subscription at once queue behind each other on a debug
    // build: the Redis call timeout is raised so the limit is what is tested, not the latency.
    let app = spawn_app_with(&shared().target(), &unique_prefix(), None, |c| {
        c.command_timeout_ms = 5_000
    })
    .await;
    app.put_plan(per_model_plan()).await;
    app.subscribe("ov", "plan_pv", None).await;
    seed_overrides(&app, "ov", 990);
    let sets = (0..30).map(|i| {
        let app = app.clone_for_node();
        async move { put_override(&app, "ov", &format!("new-{i}")).await }
    });
    let answers = join_all(sets).await;
    let kept = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(kept, 10, "{answers:?}");
    for (status, answer) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(
            (*status, answer["code"].clone()),
            (StatusCode::CONFLICT, json!("override_limit")),
            "{answer}"
        );
    }
    // An override the user has may change; a removal makes room for one more.
    assert_eq!(put_override(&app, "ov", "seeded-3").await.0, StatusCode::OK);
    let (status, _) = app
        .json(Method::DELETE, "/v1/users/ov/overrides/premium?value=seeded-4", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(put_override(&app, "ov", "one-more").await.0, StatusCode::OK);
    assert_eq!(put_override(&app, "ov", "and-another").await.0, StatusCode::CONFLICT);
}

/// A subscription written with 5,000 overrides (more than a script can unpack at once) can
/// still be read, blocked, unblocked, changed, given an override and ended.
#[tokio::test]
async fn a_subscription_with_five_thousand_overrides_is_still_served() {
    let app = spawn_app().await;
    app.put_plan(per_model_plan()).await;
    app.subscribe("big", "plan_pv", None).await;
    seed_overrides(&app, "big", 5_000);
    let calls = [
        (
            Method::POST,
            "/v1/users/big/block",
            Some(json!({ "reason": "fraud check" })),
        ),
        (Method::POST, "/v1/users/big/unblock", None),
        (
            Method::PUT,
            "/v1/users/big/overrides/premium?value=seeded-1",
            Some(json!({ "quota": 3 })),
        ),
        (Method::DELETE, "/v1/users/big/overrides/premium?value=seeded-2", None),
        (
            Method::PUT,
            "/v1/users/big/subscription",
            Some(json!({ "planId": "plan_pv" })),
        ),
        (Method::GET, "/v1/users/big/subscription", None),
    ];
    for (method, path, body) in calls {
        let (status, answer) = app.json(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
    }
    let reserve = app
        .reserve(json!({ "userId": "big", "event": "render", "metadata": { "model": "seeded-1" } }))
        .await;
    assert_eq!(reserve["allowed"], true, "{reserve}");
    let (status, answer) = app.json(Method::DELETE, "/v1/users/big/subscription", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["overrides"].as_object().is_none_or(|o| o.is_empty()), "{answer}");
}

/// A user's balances read is bounded by live grants, however many were ever made: after 150
/// grants with 9 KB of metadata each, voided one by one, it lists the live grant and the last
/// 100 finished ones (the others stay in the ledger), and a subject granted before the read
/// kept its balances' names still has them found.
#[tokio::test]
async fn the_balances_read_lists_live_grants_and_the_last_hundred_finished() {
    let app = spawn_app().await;
    let metadata: serde_json::Map<String, Value> = (0..32).map(|i| (format!("k{i}"), json!("x".repeat(250)))).collect();
    let mut first = String::new();
    for i in 0..150 {
        let (status, made) = app
            .json(
                Method::POST,
                "/v1/users/many/grants",
                Some(json!({ "balance": "credits", "amount": 1, "metadata": metadata })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["grantId"].as_str().unwrap().to_string();
        if i == 0 {
            first = id.clone();
        }
        let (status, _) = app
            .json(Method::POST, &format!("/v1/users/many/grants/{id}/void"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    app.json(
        Method::POST,
        "/v1/users/many/grants",
        Some(json!({ "balance": "credits", "amount": 5 })),
    )
    .await;
    let (status, answer) = app.json(Method::GET, "/v1/users/many/balances", None).await;
    assert_eq!(status, StatusCode::OK);
    let grants = answer["data"][0]["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 101, "the live grant and the last 100 finished");
    assert_eq!(answer["data"][0]["available"], 5);
    assert!(
        grants.iter().all(|g| g["grantId"] != first.as_str()),
        "the oldest is no longer listed"
    );
    // Written before the names were kept: the read finds them once, the old way.
    let keys = quota_gateway::surface::store::layout::Layout::new(&app.prefix).user("default", "many");
    let _: i64 = shared().query(&["HDEL", &keys.grants(), "~balances"]);
    let (_, again) = app.json(Method::GET, "/v1/users/many/balances", None).await;
    assert_eq!(again["data"][0]["balance"], "credits", "{again}");
    assert_eq!(again["data"][0]["grants"].as_array().unwrap().len(), 101);
}
