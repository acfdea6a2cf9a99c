//! Low-balance alerts: decided in the script that lowers the balance, so each amount fires
//! once per fall under any concurrency, and again only after the balance rose above it.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::unique_prefix;
use crate::webhooks::{endpoint, node};

fn plan() -> Value {
    json!({ "id": "plan_low", "periodType": "month", "groups": [
        { "id": "credits", "balance": "credits", "lowBalance": [50, 20],
          "matches": [ { "event": "render", "measure": { "rate": 10 } } ] } ] })
}

/// Each distinct event (by `webhook-id`) as (type, threshold, available).
fn events(receiver: &Receiver) -> Vec<(String, Value, Value)> {
    let by_id: BTreeMap<String, Value> = receiver
        .received()
        .iter()
        .map(|r| (r.headers["webhook-id"].clone(), serde_json::from_str(&r.body).unwrap()))
        .collect();
    let mut seen: Vec<_> = by_id
        .values()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["data"]["threshold"].clone(),
                e["data"]["available"].clone(),
            )
        })
        .collect();
    seen.sort_by_key(|(t, th, _)| (t.clone(), th.to_string()));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_low_balance_amount_fires_once_under_50_parallel_reserves_and_again_after_a_top_up() {
    let prefix = unique_prefix();
    let one = node(&prefix, None, false).await;
    let two = node(&prefix, Some(&one.key), false).await;
    let receiver = Receiver::start().await;
    endpoint(&one, &receiver.url).await;
    one.put_plan(plan()).await;
    one.subscribe("low", "plan_low", None).await;
    tokio::time::sleep(quota_gateway::gateway::EPOCH_POLL * 3).await;
    let (status, _) = one
        .json(
            Method::POST,
            "/v1/users/low/grants",
            Some(json!({ "balance": "credits", "amount": 100 })),
        )
        .await;
    assert_eq!(status, 201);

    let nodes = [&one, &two];
    let calls = (0..50).map(|i| async move {
        nodes[i % 2]
            .reserve(json!({ "userId": "low", "event": "render" }))
            .await
    });
    let admitted = join_all(calls).await.iter().filter(|a| a["allowed"] == true).count();
    assert_eq!(admitted, 10);
    receiver.wait_for(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = events(&receiver);
    assert_eq!(
        seen.iter()
            .map(|(t, th, _)| (t.as_str(), th.clone()))
            .collect::<Vec<_>>(),
        [
            ("credits.depleted", json!(0)),
            ("credits.low_balance", json!(20)),
            ("credits.low_balance", json!(50))
        ],
        "{seen:?}"
    );
    let data = receiver.received();
    let first: Value = serde_json::from_str(&data[0].body).unwrap();
    assert_eq!(
        (first["data"]["userId"].clone(), first["data"]["balance"].clone()),
        (json!("low"), json!("credits"))
    );

    // A top-up re-arms every amount it rises above; the next fall fires 50 again, only it.
    let (status, _) = one
        .json(
            Method::POST,
            "/v1/users/low/grants",
            Some(json!({ "balance": "credits", "amount": 60 })),
        )
        .await;
    assert_eq!(status, 201);
    let held = one.reserve(json!({ "userId": "low", "event": "render" })).await;
    assert_eq!(held["allowed"], true);
    receiver.wait_for(4, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = events(&receiver);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen.iter().filter(|(_, th, _)| *th == json!(50)).count(), 2, "{seen:?}");
}
