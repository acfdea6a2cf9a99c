//! The daily rollups: per user, group and UTC day, the amount used, reserves admitted and
//! denied, releases and expiries, kept by the scripts that change them, answered by
//! `GET /v1/users/{userId}/daily-usage`.

use std::collections::BTreeMap;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{redis, spawn_app, spawn_app_stepped, two_nodes_stepped, two_nodes_with, TestApp};

async fn plan(app: &TestApp) {
    app.put_plan(json!({ "id": "plan_d", "periodType": "month", "groups": [
        { "id": "all", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] },
        { "id": "renders", "unit": "count", "quota": 3, "matches": [ { "event": "render" } ] },
        { "id": "jobs", "unit": "concurrent", "quota": 5, "matches": [ { "event": "render" } ] } ] }))
        .await;
}

async fn daily(app: &TestApp, user: &str, query: &str) -> Value {
    let (status, answer) = app
        .json(Method::GET, &format!("/v1/users/{user}/daily-usage{query}"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Today's rollups by group id: (used, admitted, denied, releases, expiries).
async fn today(app: &TestApp, user: &str) -> BTreeMap<String, (f64, i64, i64, i64, i64)> {
    let answer = daily(app, user, "").await;
    let days = answer["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    days.last().unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = |name: &str| g[name].as_i64().unwrap();
            (
                g["groupId"].as_str().unwrap().to_string(),
                (
                    g["used"].as_f64().unwrap(),
                    n("reservesAdmitted"),
                    n("reservesDenied"),
                    n("releases"),
                    n("expiries"),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_kind_of_activity_is_counted_once_on_its_day() {
    let (app, clock) = spawn_app_stepped().await;
    plan(&app).await;
    app.subscribe("alice", "plan_d", None).await;
    // Admitted and committed (a repeat counts nothing more).
    let a = app.reserve(json!({ "userId": "alice", "event": "render" })).await;
    let a_id = a["reservationId"].as_str().unwrap();
    assert_eq!(app.commit(a_id, Some(json!({ "quantity": 2 }))).await.0, 200);
    assert_eq!(app.commit(a_id, Some(json!({ "quantity": 2 }))).await.0, 200);
    // Admitted and released (a repeat counts nothing more).
    let b = app.reserve(json!({ "userId": "alice", "event": "render" })).await;
    app.release(b["reservationId"].as_str().unwrap()).await;
    app.release(b["reservationId"].as_str().unwrap()).await;
    // Denied by renders alone (2 used + 4 > 3; jobs would hold 4 of 5): only it counts a denial.
    let denied = app
        .reserve(json!({ "userId": "alice", "event": "render", "quantity": 4 }))
        .await;
    assert_eq!(denied["allowed"], false);
    // Tracked twice with one Idempotency-Key, then refunded.
    for _ in 0..2 {
        let res = app
            .client
            .post(format!("{}/v1/track", app.address))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "t-1")
            .json(&json!({ "userId": "alice", "event": "chat", "quantity": 1.5 }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let refund = json!({ "groupId": "all", "amount": -1, "reason": "refund" });
    let (status, _) = app
        .json(Method::POST, "/v1/users/alice/adjustments", Some(refund))
        .await;
    assert_eq!(status, 200);
    // Admitted, then expired: the next writing call returns the holds and counts them.
    for event in ["render", "chat"] {
        app.reserve(json!({ "userId": "alice", "event": event, "ttlSeconds": 1 }))
            .await;
    }
    clock.step(1_300);
    let probe = app.reserve(json!({ "userId": "alice", "event": "chat" })).await;
    app.release(probe["reservationId"].as_str().unwrap()).await;

    let rollups = today(&app, "alice").await;
    assert_eq!(rollups["all"], (2.0 + 1.5 - 1.0, 5, 0, 2, 2), "{rollups:?}");
    assert_eq!(rollups["renders"], (2.0, 3, 1, 1, 1), "{rollups:?}");
    assert_eq!(rollups["jobs"], (0.0, 3, 0, 1, 1), "in-flight groups count no usage");
    // The day's used amounts are the sums of the day's ledger entries.
    let (_, page) = app.json(Method::GET, "/v1/usage-events?userId=alice", None).await;
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for e in page["data"].as_array().unwrap() {
        for g in e["groups"].as_array().unwrap() {
            *sums.entry(g["groupId"].as_str().unwrap().to_string()).or_default() += g["amount"].as_f64().unwrap();
        }
    }
    for (group, used) in sums {
        assert_eq!(rollups[&group].0, used, "{group}");
    }
}

/// Counts kept outside the script (or read, added to and written back) would lose updates
/// under concurrency: 200 reserves from two nodes at once are counted exactly, both groups'
/// admissions in the field of their set and the denials in the denying group's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_parallel_reserves_from_two_nodes_every_decision_is_counted() {
    let (one, two) = two_nodes_with(
        "bob",
        json!({ "id": "plan_p", "periodType": "day", "groups": [
        { "id": "renders", "unit": "count", "quota": 10, "matches": [ { "event": "render" } ] },
        { "id": "all", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] } ] }),
    )
    .await;
    let nodes = [&one, &two];
    let answers = join_all((0..200).map(|i| nodes[i % 2].reserve(json!({ "userId": "bob", "event": "render" })))).await;
    let admitted: Vec<&str> = answers
        .iter()
        .filter(|a| a["allowed"] == true)
        .map(|a| a["reservationId"].as_str().unwrap())
        .collect();
    assert_eq!(admitted.len(), 10);
    join_all(admitted.iter().enumerate().map(|(i, id)| nodes[i % 2].release(id))).await;
    let rollups = today(&two, "bob").await;
    assert_eq!(rollups["renders"], (0.0, 10, 190, 10, 0));
    assert_eq!(rollups["all"], (0.0, 10, 0, 10, 0));
}

/// The reclaim's check (a `ZCOUNT`) and the return of what is due run in the reserve's own
/// script: with every hold expired, 60 reserves from two nodes at once return them exactly
/// once and admit exactly the quota again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_holds_are_returned_once_under_parallel_reserves_from_two_nodes() {
    let (one, two, clock) = two_nodes_stepped(
        "carl",
        json!({ "id": "plan_x", "periodType": "day", "groups": [
        { "id": "renders", "unit": "count", "quota": 10, "matches": [ { "event": "render" } ] } ] }),
    )
    .await;
    for _ in 0..10 {
        let held = one
            .reserve(json!({ "userId": "carl", "event": "render", "ttlSeconds": 1 }))
            .await;
        assert_eq!(held["allowed"], true, "{held}");
    }
    clock.step(1_300);
    let nodes = [&one, &two];
    let answers = join_all((0..60).map(|i| nodes[i % 2].reserve(json!({ "userId": "carl", "event": "render" })))).await;
    assert_eq!(answers.iter().filter(|a| a["allowed"] == true).count(), 10);
    assert_eq!(TestApp::counter(&two.usage("carl").await, "renders")["reserved"], 10);
    assert_eq!(today(&two, "carl").await["renders"], (0.0, 20, 50, 0, 10));
}

/// check and usage read a bounded number of expired holds: with a backlog past that bound they
/// answer "more", a writing script returns a batch, and they ask again. Under 40 parallel reads
/// from two nodes every read is exact, and each expired hold went back exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_past_a_backlog_of_expired_holds_are_exact_and_return_each_once() {
    let (one, two, clock) = two_nodes_stepped(
        "dora",
        json!({ "id": "plan_b", "periodType": "day", "groups": [
        { "id": "renders", "unit": "count", "quota": 200, "matches": [ { "event": "render" } ] } ] }),
    )
    .await;
    // Three reads' worth of expired reservations (a read takes 64).
    let backlog = 150;
    let held =
        join_all((0..backlog).map(|_| one.reserve(json!({ "userId": "dora", "event": "render", "ttlSeconds": 1 }))))
            .await;
    assert!(held.iter().all(|h| h["allowed"] == true));
    clock.step(1_300);
    let nodes = [&one, &two];
    let body = json!({ "userId": "dora", "event": "render", "quantity": 200 });
    let (checks, usages) = futures::join!(
        join_all((0..20).map(|i| nodes[i % 2].json(Method::POST, "/v1/check", Some(body.clone())))),
        join_all((0..20).map(|i| nodes[i % 2].usage("dora")))
    );
    for (status, check) in &checks {
        assert_eq!(*status, 200, "{check}");
        assert_eq!(check["allowed"], true, "every expired hold is left out: {check}");
        assert_eq!(TestApp::counter(check, "renders")["reserved"], 0);
    }
    for usage in &usages {
        assert_eq!(TestApp::counter(usage, "renders")["reserved"], 0, "{usage}");
    }
    // The reads' reclaims returned batches of the backlog; a read that finds at most one batch
    // due answers without writing, so how much of it they returned depends on how the 40
    // interleaved. One write returns the rest: each expired hold went back exactly once.
    assert_eq!(
        two.reserve(json!({ "userId": "dora", "event": "render" })).await["allowed"],
        true
    );
    assert_eq!(today(&two, "dora").await["renders"], (0.0, backlog + 1, 0, 0, backlog));
}

#[tokio::test]
async fn the_range_is_every_day_from_to_and_bad_ranges_name_their_field() {
    let app = spawn_app().await;
    plan(&app).await;
    app.subscribe("carol", "plan_d", None).await;
    let answer = daily(&app, "carol", "?from=2026-02-27&to=2026-03-02").await;
    assert_eq!(answer["userId"], "carol");
    let dates: Vec<&str> = answer["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    assert!(answer["days"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["groups"] == json!([])));
    for (query, field) in [
        ("?from=2026-13-01", "from"),
        ("?to=yesterday", "to"),
        ("?from=2026-03-02&to=2026-03-01", "to"),
        ("?from=2025-01-01&to=2026-01-02", "to"),
        ("?day=2026-01-01", "day"),
    ] {
        let (status, problem) = app
            .json(Method::GET, &format!("/v1/users/carol/daily-usage{query}"), None)
            .await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}: {problem}");
    }
    let (status, _) = app
        .json(
            Method::GET,
            "/v1/users/carol/daily-usage?from=2025-01-01&to=2026-01-01",
            None,
        )
        .await;
    assert_eq!(status, 200, "366 days are one range");
}

#[tokio::test]
async fn a_project_without_a_ledger_keeps_no_rollups() {
    let app = spawn_app().await;
    plan(&app).await;
    let res = app
        .call_as(
            &app.root_token,
            Method::PATCH,
            "/v1/projects/default",
            Some(json!({ "ledger": false })),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.subscribe("dan", "plan_d", None).await;
    let a = app.reserve(json!({ "userId": "dan", "event": "render" })).await;
    app.commit(a["reservationId"].as_str().unwrap(), None).await;
    assert!(today(&app, "dan").await.is_empty());
}

/// A day's rollups go when the ledger's retention has passed since the day ended; newer days
/// stay. The old day is planted as the scripts would have written it then.
#[tokio::test]
async fn retention_prunes_old_days_and_keeps_today() {
    let app = spawn_app().await;
    plan(&app).await;
    app.subscribe("erin", "plan_d", None).await;
    let tag = format!("{}:{{default:erin}}", app.prefix);
    let (daily_key, periods_key) = (format!("{tag}:daily"), format!("{tag}:periods"));
    // Day 1000 (1972) ended long ago: its prune time (day end + 35 days - 1 day) is past.
    let prune_at = (1001i64 * 86_400_000 + 34 * 86_400_000).to_string();
    redis::shared().query::<i64>(&[
        "HSET",
        &daily_key,
        "1000|all|u",
        "5000",
        "1000|all|a",
        "2",
        "1000|all,renders|a",
        "1",
    ]);
    redis::shared().query::<i64>(&[
        "ZADD",
        &periods_key,
        &prune_at,
        "d|1000|all",
        &prune_at,
        "d|1000|all,renders",
    ]);
    let a = app.reserve(json!({ "userId": "erin", "event": "chat" })).await;
    app.commit(a["reservationId"].as_str().unwrap(), None).await;
    let fields: Vec<String> = redis::shared().query(&["HKEYS", &daily_key]);
    assert!(fields.iter().all(|f| !f.starts_with("1000|")), "{fields:?}");
    assert_eq!(today(&app, "erin").await["all"], (1.0, 1, 0, 0, 0));
}

/// Users on the default plan have no subscription to index them; their usage does, so the
/// project-wide ledger (and an export) finds them, and the users list shows them.
#[tokio::test]
async fn users_on_the_default_plan_are_in_project_wide_reads() {
    let app = spawn_app().await;
    plan(&app).await;
    let res = app
        .call_as(
            &app.root_token,
            Method::PATCH,
            "/v1/projects/default",
            Some(json!({ "defaultPlan": "plan_d" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json!({ "userId": "ghost", "event": "chat", "quantity": 4 });
    assert_eq!(app.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
    let (_, page) = app.json(Method::GET, "/v1/usage-events", None).await;
    let users: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["ghost"], "{page}");
    let (_, list) = app.json(Method::GET, "/v1/users", None).await;
    assert_eq!(list["data"][0]["userId"], "ghost", "{list}");
    assert_eq!(list["data"][0]["planId"], Value::Null, "{list}");
}

/// A commit moves its counters (used and held) in one read and one write, and its day's usage
/// and per-model lines in another: done outside the script, or read in one call and written in
/// the next, parallel commits would lose updates. 120 commits of two models from two nodes at
/// once leave the counters, the day's usage and each model's line exactly their sums, and
/// every commit answers counters no other commit's write overtook.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_parallel_commits_from_two_nodes_usage_and_each_models_line_are_exact() {
    let (one, two) = two_nodes_with(
        "cleo",
        json!({ "id": "plan_m", "periodType": "day", "groups": [
        { "id": "tokens", "unit": "count", "quota": 1000000, "matches": [ { "event": "render" } ] },
        { "id": "all", "unit": "count", "quota": 1000000, "matches": [ { "event": "*" } ] } ] }),
    )
    .await;
    let nodes = [&one, &two];
    let model = |i: usize| if i.is_multiple_of(3) { "flux" } else { "sdxl" };
    let held = join_all((0..120).map(|i| {
        nodes[i % 2]
            .reserve(json!({ "userId": "cleo", "event": "render", "quantity": 50, "metadata": { "model": model(i) } }))
    }))
    .await;
    let ids: Vec<String> = held
        .iter()
        .map(|h| {
            h["reservationId"]
                .as_str()
                .expect("every reserve is admitted")
                .to_string()
        })
        .collect();
    // Quantities 1..=120: flux's are the multiples of 3.
    let answers = join_all(ids.iter().enumerate().map(|(i, id)| {
        nodes[(i + 1) % 2].commit(
            id,
            Some(json!({ "quantity": i + 1, "metadata": { "model": model(i) } })),
        )
    }))
    .await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        for counter in answer["counters"].as_array().unwrap() {
            // What a commit answers is its own write's result: no hold of its is left in it,
            // and the holds still open are at most the others'.
            let (used, held) = (counter["used"].as_f64().unwrap(), counter["reserved"].as_f64().unwrap());
            assert!(
                used >= 1.0 && held <= 119.0 * 50.0 && (used + held) <= 7260.0 + 119.0 * 50.0,
                "{answer}"
            );
        }
    }
    let total: usize = (1..=120).sum();
    let flux: usize = (1..=120usize).filter(|q| (q - 1).is_multiple_of(3)).sum();
    let usage = two.usage("cleo").await;
    for counter in usage["counters"].as_array().unwrap() {
        assert_eq!(counter["used"], total as f64, "{usage}");
        assert_eq!(counter["reserved"], 0.0, "{usage}");
    }
    let rollups = today(&one, "cleo").await;
    assert_eq!(rollups["tokens"].0, total as f64);
    assert_eq!(rollups["all"].0, total as f64);
    let answer = daily(&one, "cleo", "").await;
    for group in answer["days"].as_array().unwrap().last().unwrap()["groups"]
        .as_array()
        .unwrap()
    {
        let models = group["models"].as_array().unwrap();
        let used = |name: &str| models.iter().find(|m| m["model"] == name).map(|m| m["used"].clone());
        assert_eq!(used("flux"), Some(json!(flux)), "{group}");
        assert_eq!(used("sdxl"), Some(json!(total - flux)), "{group}");
    }
}
