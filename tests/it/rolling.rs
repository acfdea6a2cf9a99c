//! Rolling windows: `"period": {"type": "rolling", "seconds": N}` on a count or tokens group
//! admits at most the quota in any span of N seconds ending now, decided in the same script as
//! the plan's other groups, whatever the concurrency; a denial says when enough has rolled out.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{unique_prefix, TestApp};
use crate::webhooks::node;

/// Five renders in any two seconds, and a thousand a month.
fn plan() -> Value {
    json!({ "id": "plan_rate", "periodType": "month", "groups": [
        { "id": "burst", "unit": "count", "quota": 5, "period": { "type": "rolling", "seconds": 2 },
          "matches": [ { "event": "render" } ] },
        { "id": "monthly", "unit": "count", "quota": 1000, "matches": [ { "event": "render" } ] } ] })
}

/// `calls` parallel renders from both nodes: the admitted reservations' ids, and the denials'
/// Retry-After headers.
async fn burst(nodes: [&TestApp; 2], calls: usize) -> (Vec<String>, Vec<i64>) {
    let answers = join_all((0..calls).map(|i| async move {
        let app = nodes[i % 2];
        let res = app
            .client
            .post(format!("{}/v1/reserve", app.address))
            .bearer_auth(&app.key)
            .json(&json!({ "userId": "ann", "event": "render" }))
            .send()
            .await
            .unwrap();
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<i64>().unwrap());
        let body: Value = res.json().await.unwrap();
        (body, retry)
    }))
    .await;
    let mut admitted = Vec::new();
    let mut retries = Vec::new();
    for (body, retry) in answers {
        match body["allowed"].as_bool() {
            Some(true) => admitted.push(body["reservationId"].as_str().unwrap().to_string()),
            _ => {
                assert_eq!(body["reasons"], json!(["limit_reached"]), "{body}");
                assert_eq!(body["denials"][0]["groupId"], "burst", "{body}");
                retries.push(retry.expect("a denial by a rolling window says when to retry"));
            }
        }
    }
    (admitted, retries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_per_two_seconds_admits_five_of_twenty_then_five_again_and_never_six_in_two_seconds() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    one.put_plan(plan()).await;
    one.subscribe("ann", "plan_rate", None).await;
    let nodes = [&one, &two];

    let (first, retries) = burst(nodes, 20).await;
    assert_eq!(first.len(), 5, "{first:?}");
    assert!(retries.iter().all(|r| (1..=3).contains(r)), "{retries:?}");
    // Committed or not, an admission counts in the window: none more inside it.
    for id in &first[..3] {
        assert_eq!(one.commit(id, None).await.0, StatusCode::OK);
    }
    let (inside, _) = burst(nodes, 6).await;
    assert!(inside.is_empty(), "{inside:?}");
    let usage = one.usage("ann").await;
    let window = TestApp::counter(&usage, "burst").clone();
    assert_eq!(
        (window["used"].clone(), window["reserved"].clone()),
        (json!(3), json!(2)),
        "{window}"
    );
    assert!(
        window["periodStart"].is_string() && window["resetsAt"].is_string(),
        "{window}"
    );
    assert_eq!(window["rollingSeconds"], 2, "{window}");
    // The RateLimit headers state the window's own length.
    let res = one
        .client
        .get(format!("{}/v1/users/ann/usage", one.address))
        .bearer_auth(&one.key)
        .send()
        .await
        .unwrap();
    let policy = res.headers()["ratelimit-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("\"burst\";q=5;w=2"), "{policy}");

    // Once the window has rolled past them, five again.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let (second, _) = burst(nodes, 20).await;
    assert_eq!(second.len(), 5, "{second:?}");
    assert_eq!(
        TestApp::counter(&one.usage("ann").await, "monthly")["reserved"],
        json!(7),
        "every admission in the month"
    );

    // Never six within any two seconds of the instants they were decided at.
    for id in first[3..].iter().chain(&second) {
        assert_eq!(two.commit(id, None).await.0, StatusCode::OK);
    }
    let mut decided: Vec<i64> = one
        .usage_events_all("userId=ann")
        .await
        .iter()
        .filter(|e| e["kind"] == "commit")
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["decidedAt"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    decided.sort_unstable();
    assert_eq!(decided.len(), 10);
    for pair in decided.windows(6) {
        assert!(pair[5] - pair[0] >= 2_000, "six within two seconds: {decided:?}");
    }
    let dashboard = crate::dashboard::Dashboard::sign_in(&one).await;
    let (_, plans) = dashboard.get("/dashboard/plans").await;
    assert!(plans.contains("burst (5 count in any 2 s, rolling)"), "{plans}");
}

#[tokio::test]
async fn a_rolling_period_is_refused_where_it_cannot_hold() {
    let app = crate::support::spawn_app().await;
    let bad = |group: Value| json!({ "id": "plan_bad", "periodType": "month", "groups": [group] });
    for (group, field) in [
        (
            json!({ "id": "g", "unit": "count", "quota": 5, "period": { "type": "rolling" }, "matches": [ { "event": "e" } ] }),
            "groups[0].period.seconds",
        ),
        (
            json!({ "id": "g", "unit": "count", "quota": 5, "period": { "type": "rolling", "seconds": 86401 }, "matches": [ { "event": "e" } ] }),
            "groups[0].period.seconds",
        ),
        (
            json!({ "id": "g", "unit": "cents", "quota": 5, "period": { "type": "rolling", "seconds": 60 }, "matches": [ { "event": "e" } ] }),
            "groups[0].period.type",
        ),
        (
            json!({ "id": "g", "unit": "count", "quota": 5, "mode": "approval", "period": { "type": "rolling", "seconds": 60 }, "matches": [ { "event": "e" } ] }),
            "groups[0].mode",
        ),
        (
            json!({ "id": "g", "unit": "count", "quota": 5, "period": { "type": "rolling", "seconds": 60, "anchor": "calendar" }, "matches": [ { "event": "e" } ] }),
            "groups[0].period.anchor",
        ),
        (
            json!({ "id": "g", "unit": "count", "quota": 5, "period": { "type": "day", "seconds": 60 }, "matches": [ { "event": "e" } ] }),
            "groups[0].period.seconds",
        ),
    ] {
        let (status, problem) = app.json(Method::PUT, "/v1/plans/plan_bad", Some(bad(group))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let (status, problem) = app
        .json(
            Method::PUT,
            "/v1/plans/plan_bad",
            Some(json!({ "id": "plan_bad", "periodType": "rolling", "groups": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem.to_string().contains("periodType"), "{problem}");
}

/// A user's rolling group keeps its window's sub-windows and those of the last two seconds (a
/// node's instant may be that far behind): each older one is pruned, by the calls that prune.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_group_keeps_its_windows_sub_windows_and_no_more() {
    let app = crate::support::spawn_app().await;
    app.put_plan(json!({ "id": "plan_fast", "periodType": "month", "groups": [
        { "id": "tick", "unit": "count", "quota": 1000, "period": { "type": "rolling", "seconds": 1 },
          "matches": [ { "event": "tick" } ] } ] }))
        .await;
    app.subscribe("cy", "plan_fast", None).await;
    // Four and a half windows of sub-windows of 50 ms: a bounded loop, at most 600 calls.
    let started = std::time::Instant::now();
    for _ in 0..600 {
        if started.elapsed() > Duration::from_millis(4_500) {
            break;
        }
        let held = app.reserve(json!({ "userId": "cy", "event": "tick" })).await;
        assert_eq!(held["allowed"], true, "{held}");
        assert_eq!(
            app.commit(held["reservationId"].as_str().unwrap(), None).await.0,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let redis = crate::support::redis::shared();
    let fields: Vec<String> = redis.query(&["HKEYS", &format!("{}:{{default:cy}}:ctr", app.prefix)]);
    let starts: std::collections::BTreeSet<i64> = fields
        .iter()
        .filter_map(|f| f.strip_prefix("tick@r"))
        .map(|f| f.split('/').next().unwrap().parse().unwrap())
        .collect();
    let now = redis.now_ms();
    assert!(starts.len() >= 10, "the loop ran: {starts:?}");
    // The window (1 s), its sub-window more, the 2 s behind, and a call's time since the last.
    let oldest = *starts.first().unwrap();
    assert!(
        now - oldest <= 3_050 + 500,
        "a sub-window {} ms old is kept: {starts:?}",
        now - oldest
    );
    assert!(starts.len() <= 63, "{} sub-windows: {starts:?}", starts.len());
}

/// A call decided at an instant behind another node's (within the skew Redis accepts) reaches
/// Redis after admissions in later sub-windows: it counts them, so the window is never passed.
/// (A decision that read only the sub-windows before its own would admit five more.)
#[test]
fn a_call_decided_behind_another_nodes_clock_counts_the_later_sub_windows() {
    use quota_gateway::surface::store::contract;
    use redis::Value;

    let redis = crate::support::redis::shared();
    let keys = crate::support::redis::slot_keys(&unique_prefix(), contract::RESERVE.keys);
    // Five in any two seconds: sub-windows of 100 ms.
    let reserve = |id: &str, at: i64| -> i64 {
        let start = at.div_euclid(100) * 100;
        let field = format!("burst@r{start}/100/20");
        let record = format!(
            r#""v":"2","e":"render","qt":"1000","h":[{{"g":"burst","f":"{field}","ps":"{start}","pe":"{}","a":"1000","q":"5000"}}]}}"#,
            start + 100
        );
        let args: Vec<String> = [
            "86400000",
            "",
            "",
            "86400000",
            "0",
            id,
            "60000",
            "1",
            "burst",
            &field,
            &start.to_string(),
            &(start + 100).to_string(),
            "1000",
            "5000",
            "",
            "1",
            "1",
            &record,
            "",
            "",
            "",
            &at.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match redis.run_script(&contract::RESERVE, &keys, &args) {
            Ok(Value::Array(items)) => redis::from_redis_value::<i64>(items[3].clone()).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    let now = redis.now_ms();
    let ahead: Vec<i64> = (0..5).map(|i| reserve(&format!("r_a{i}"), now)).collect();
    assert_eq!(ahead, [1, 1, 1, 1, 1]);
    // Another node's instant, 1.5 s behind: fifteen sub-windows earlier.
    let behind: Vec<i64> = (0..5).map(|i| reserve(&format!("r_b{i}"), now - 1_500)).collect();
    assert_eq!(behind, [0, 0, 0, 0, 0], "six or more in two seconds");
}
