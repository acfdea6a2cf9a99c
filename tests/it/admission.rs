//! Exact admission under concurrency: the test that would catch a non-atomic reserve.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::support::{redis, spawn_app_on, two_nodes_with, unique_prefix, TestApp};

/// `n` reserves by the racer, alternating between the two nodes, all in flight at once.
async fn race(first: &TestApp, second: &TestApp, n: usize) -> Vec<Value> {
    let calls = (0..n).map(|i| {
        let app = if i % 2 == 0 { first } else { second };
        app.reserve(json!({ "userId": "racer", "event": "image.render" }))
    });
    join_all(calls).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_admit_exactly_the_quota_under_200_parallel_reserves() {
    let (first, second) = two_nodes_with(
        "racer",
        json!({
            "id": "plan_burst", "periodType": "monthly",
            "groups": [ { "id": "renders", "unit": "count", "quota": 20, "matches": [ { "event": "*" } ] } ]
        }),
    )
    .await;
    let answers = race(&first, &second, 200).await;
    let granted: Vec<&str> = answers.iter().filter_map(|a| a["reservationId"].as_str()).collect();
    assert_eq!(granted.len(), 20, "exactly the quota is admitted");
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 20);
    assert!(answers
        .iter()
        .filter(|a| a["allowed"] == false)
        .all(|a| a["reasons"] == json!(["limit_reached"])));
    assert_eq!(TestApp::counter(&first.usage("racer").await, "renders")["reserved"], 20);

    let releases = granted.iter().enumerate().map(|(i, id)| {
        let app = if i % 2 == 0 { &second } else { &first };
        app.release(id)
    });
    for (status, body) in join_all(releases).await {
        assert_eq!(status, 200, "{body}");
    }
    let counter = TestApp::counter(&second.usage("racer").await, "renders").clone();
    assert_eq!(counter["count"], 0, "{counter}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_commits_and_releases_of_one_reservation_end_it_once() {
    let prefix = unique_prefix();
    let app = spawn_app_on(&redis::shared().target(), &prefix, None).await;
    app.put_plan(json!({
        "id": "plan_one", "periodType": "lifetime",
        "groups": [ { "id": "g", "unit": "count", "quota": 5, "matches": [ { "event": "*" } ] } ]
    }))
    .await;
    app.subscribe("u", "plan_one", None).await;
    let id = app.reserve(json!({ "userId": "u", "event": "e" })).await["reservationId"]
        .as_str()
        .unwrap()
        .to_string();

    let commits = (0..20).map(|_| app.commit(&id, None));
    let releases = (0..20).map(|_| app.release(&id));
    let (commits, releases) = futures::join!(join_all(commits), join_all(releases));
    let committed = commits.iter().filter(|(s, _)| *s == 200).count();
    let released = releases.iter().filter(|(s, _)| *s == 200).count();
    // Whichever came first wins every repeat of its kind; the other kind is refused.
    assert!(
        (committed == 20 && released == 0) || (committed == 0 && released == 20),
        "{committed} {released}"
    );
    let counter = TestApp::counter(&app.usage("u").await, "g").clone();
    assert_eq!(counter["used"], if committed == 20 { 1 } else { 0 });
    assert_eq!(counter["reserved"], 0);
}

/// More groups than the scripts' tables are sized for (four holds): every group is checked and
/// held in the same step, so the tightest one decides and no other holds more than it admits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reserve_over_six_groups_holds_in_all_or_none_under_120_parallel_reserves() {
    // The tightest group comes last, past the four holds the tables have room for.
    let quotas = [("a", 40), ("b", 30), ("c", 50), ("d", 60), ("e", 70), ("tight", 17)];
    let groups: Vec<_> = quotas
        .iter()
        .map(|(id, quota)| json!({ "id": id, "unit": "count", "quota": quota, "matches": [ { "event": "*" } ] }))
        .collect();
    let (first, second) = two_nodes_with(
        "racer",
        json!({ "id": "plan_six", "periodType": "monthly", "groups": groups }),
    )
    .await;
    let answers = race(&first, &second, 120).await;
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 17);
    for denied in answers.iter().filter(|a| a["allowed"] == false) {
        assert_eq!(denied["deniedBy"], json!(["tight"]), "{denied}");
        assert_eq!(denied["counters"].as_array().unwrap().len(), 6, "{denied}");
    }
    let usage = second.usage("racer").await;
    for (id, _) in quotas {
        assert_eq!(TestApp::counter(&usage, id)["reserved"], 17, "{id}: {usage}");
    }
}
