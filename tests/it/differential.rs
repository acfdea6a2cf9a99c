//! The same sequence of calls run two ways, every answer and every key compared: a balance's
//! quick path (a reserve that decides from the quick line) against its whole wallet (the same
//! reserves with the quick line removed before each, so each reads the wallet whole), and a
//! plain reserve against a step of a run with room for everything.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{redis, spawn_app, TestApp};

/// An answer without what differs by design between two users: ids and instants.
fn comparable(mut answer: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in [
                    "reservationId",
                    "expiresAt",
                    "effectiveAt",
                    "id",
                    "grantId",
                    "resetsAt",
                    "at",
                    "createdAt",
                    "runId",
                    "subjectId",
                    "requestId",
                    "userId",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut answer);
    answer
}

async fn grant(app: &TestApp, user: &str, amount: u32, priority: u32, expires_in_days: Option<i64>) {
    let mut body = json!({ "balance": "credits", "amount": amount, "priority": priority });
    if let Some(days) = expires_in_days {
        body["expiresAt"] = json!((chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339());
    }
    let (status, answer) = app
        .json(Method::POST, &format!("/v1/users/{user}/grants"), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn the_quick_path_answers_and_writes_what_the_whole_wallet_does() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_d", "periodType": "month", "groups": [
        { "id": "credits", "balance": "credits", "matches": [ { "event": "render", "measure": { "rate": 1 } } ] },
        { "id": "renders", "unit": "count", "quota": 30, "matches": [ { "event": "render" } ] } ] }))
        .await;
    let (quick, whole) = ("dq", "dw");
    for user in [quick, whole] {
        app.subscribe(user, "plan_d", None).await;
        grant(&app, user, 25, 10, Some(3)).await;
        grant(&app, user, 40, 20, None).await;
    }
    let line = |user: &str| format!("{}:{{default:{user}}}:ctr", app.prefix);
    // Quantities that fit on the head grant with room, reach its end, cross into the next,
    // and one that no balance covers; each hold committed below, at or above, or released.
    let steps: [(u32, i32); 14] = [
        (3, 0),
        (5, -1),
        (7, 2),
        (4, -99),
        (6, 0),
        (9, 1),
        (2, -2),
        (8, 0),
        (30, 0),
        (1, 0),
        (5, -99),
        (4, 3),
        (2, 0),
        (70, 0),
    ];
    for (i, (quantity, settle)) in steps.into_iter().enumerate() {
        let mut answers = Vec::new();
        for user in [quick, whole] {
            if user == whole {
                // Without its quick line, the reserve reads the whole wallet.
                let _: i64 = redis::shared().query(&["HDEL", &line(user), "w|credits|q"]);
            }
            let held = app
                .reserve(json!({ "userId": user, "event": "render", "quantity": quantity }))
                .await;
            let settled = match (held["allowed"] == true, settle) {
                (false, _) => Value::Null,
                (true, -99) => app.release(held["reservationId"].as_str().unwrap()).await.1,
                (true, d) => {
                    let actual = (quantity as i32 + d).max(0);
                    app.commit(
                        held["reservationId"].as_str().unwrap(),
                        Some(json!({ "quantity": actual })),
                    )
                    .await
                    .1
                }
            };
            answers.push((comparable(held), comparable(settled)));
        }
        assert_eq!(answers[0], answers[1], "step {i}: {quantity}, {settle}");
    }
    // Every key compared: the counters hash field by field (the wallet's grant ids are each
    // user's own, "~open" an instant of each user's calls), the balances as read.
    let fields = |user: &str| -> Vec<(String, Vec<u8>)> {
        let mut all: Vec<(String, Vec<u8>)> = redis::shared().query(&["HGETALL", &line(user)]);
        all.retain(|(f, _)| f != "w|credits|q" && f != "w|credits" && f != "~open");
        all.sort();
        all
    };
    assert_eq!(fields(quick), fields(whole));
    let balances = |user: &'static str| {
        let app = app.clone_for_node();
        async move {
            comparable(
                app.json(Method::GET, &format!("/v1/users/{user}/balances"), None)
                    .await
                    .1,
            )
        }
    };
    assert_eq!(balances(quick).await, balances(whole).await);
}

#[tokio::test]
async fn a_step_of_a_run_with_room_decides_and_counts_as_a_plain_reserve() {
    let app = spawn_app().await;
    // A day's 100 calls, which the run holds 60 of, and a day's 12 model calls, which it does
    // not hold. (Days, not minutes: both users' calls fall in one window.)
    app.put_plan(json!({ "id": "plan_s", "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 100, "period": { "type": "day" },
          "matches": [ { "event": "agent.run" }, { "event": "llm.call" } ] },
        { "id": "llm", "unit": "count", "quota": 12, "period": { "type": "day" },
          "matches": [ { "event": "llm.call" } ] } ] }))
        .await;
    let (plain, stepped) = ("sp", "ss");
    for user in [plain, stepped] {
        app.subscribe(user, "plan_s", None).await;
    }
    let (status, started) = app
        .json(
            Method::POST,
            "/v1/runs",
            Some(json!({ "userId": stepped, "event": "agent.run", "quantity": 60 })),
        )
        .await;
    assert_eq!(
        (status, started["allowed"].clone()),
        (StatusCode::OK, json!(true)),
        "{started}"
    );
    let run_id = started["runId"].as_str().unwrap().to_string();
    // The same calls, a plain reserve for one user and a step of the run for the other: the
    // model calls' quota decides both (the run has room for all of them).
    let steps: [(u32, i32); 8] = [(3, 0), (4, -1), (2, -99), (5, 2), (1, 0), (4, 0), (2, -99), (3, 0)];
    for (i, (quantity, settle)) in steps.into_iter().enumerate() {
        let mut decisions = Vec::new();
        for user in [plain, stepped] {
            let mut body = json!({ "userId": user, "event": "llm.call", "quantity": quantity });
            if user == stepped {
                body["runId"] = json!(run_id);
            }
            let held = app.reserve(body).await;
            let window = TestApp::counter(&held, "llm").clone();
            decisions.push((held["allowed"].clone(), held["reasons"].clone(), comparable(window)));
            if held["allowed"] == true {
                let id = held["reservationId"].as_str().unwrap();
                let (status, answer) = if settle == -99 {
                    app.release(id).await
                } else {
                    let actual = (quantity as i32 + settle).max(0);
                    app.commit(id, Some(json!({ "quantity": actual }))).await
                };
                assert_eq!(status, StatusCode::OK, "{answer}");
            }
        }
        assert_eq!(decisions[0], decisions[1], "call {i}: {quantity}, {settle}");
    }
    // Once the run is closed, the user's counters are the plain user's: what the steps used,
    // the rest of the run's budget back.
    let (status, closed) = app.json(Method::POST, &format!("/v1/runs/{run_id}/close"), None).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let usage = |user: &'static str| {
        let app = app.clone_for_node();
        async move { comparable(app.usage(user).await) }
    };
    assert_eq!(usage(plain).await, usage(stepped).await);
}

/// The keys of one user as a comparison reads them: its counters hash field by field, but for
/// "~open" (an instant of its own calls) and the wallet's text and quick line (which name its
/// grants, whose ids are each server's own; read through the balances instead), on whichever
/// node of `servers` holds them.
fn counters_on(servers: &[&redis::TestRedis], key: &str) -> Vec<(String, Vec<u8>)> {
    for server in servers {
        let client = ::redis::Client::open(server.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        // A node of a cluster that does not hold the key answers MOVED: the next is asked.
        if let Ok(mut all) = ::redis::cmd("HGETALL")
            .arg(key)
            .query::<Vec<(String, Vec<u8>)>>(&mut conn)
        {
            all.retain(|(f, _)| f != "~open" && f != "w|credits" && f != "w|credits|q");
            all.sort();
            return all;
        }
    }
    panic!("no server holds {key}");
}

/// Standalone Redis and a 3-master Redis Cluster run the same calls: a user's reserves,
/// commits, releases, tracks, checks and adjustments on plain, token, per-value and balance
/// groups, and a member's under a team pool whose slot is another shard's. Every answer is the
/// same on both, and so are the counters, the balances and the usage read at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_and_cluster_answer_and_keep_the_same() {
    let single = redis::TestRedis::start();
    let cluster = redis::TestCluster::start();
    let prefix = crate::support::unique_prefix();
    let apps = [
        crate::support::spawn_app_on(&single.target(), &prefix, None).await,
        crate::support::spawn_app_on(
            &redis::Target {
                url: cluster.url(),
                mode: quota_gateway::surface::store::RedisMode::Cluster,
            },
            &prefix,
            None,
        )
        .await,
    ];
    for app in &apps {
        app.put_plan(json!({ "id": "plan_u", "periodType": "month", "groups": [
            { "id": "calls", "unit": "count", "quota": 12, "alerts": [50, 100], "matches": [ { "event": "*" } ] },
            { "id": "tokens", "unit": "tokens", "quota": 900, "measure": { "metadata": "tokens" },
              "matches": [ { "event": "llm" } ] },
            { "id": "per_model", "unit": "count", "quota": 2, "per": "model", "matches": [ { "event": "llm" } ] },
            { "id": "credits", "balance": "credits", "matches": [ { "event": "render", "measure": { "rate": 1 } } ] } ] }))
            .await;
        app.put_plan(json!({ "id": "plan_pool", "periodType": "month", "groups": [
            { "id": "pool", "unit": "count", "quota": 6, "matches": [ { "event": "*" } ] } ] }))
            .await;
        app.subscribe("u", "plan_u", None).await;
        app.subscribe("team", "plan_pool", None).await;
        let (status, body) = app
            .json(
                Method::PUT,
                "/v1/users/member/subscription",
                Some(json!({ "planId": "plan_u", "parentId": "team" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        grant(app, "u", 40, 10, None).await;
        grant(app, "member", 15, 10, None).await;
    }
    // (user, event, quantity, metadata, then: commit with a difference, or -99 release)
    let calls: [(&str, &str, u32, Value, i32); 14] = [
        ("u", "llm", 1, json!({ "model": "a", "tokens": 300 }), 0),
        ("u", "llm", 1, json!({ "model": "b", "tokens": 500 }), -99),
        ("u", "llm", 1, json!({ "model": "c", "tokens": 200 }), 0),
        ("u", "render", 12, json!({}), 3),
        ("u", "render", 30, json!({}), 0),
        ("u", "llm", 1, json!({ "model": "a", "tokens": 700 }), 0),
        ("member", "render", 5, json!({}), -2),
        ("member", "render", 4, json!({}), -99),
        ("member", "other", 1, json!({}), 0),
        ("member", "render", 9, json!({}), 0),
        ("member", "other", 1, json!({}), 0),
        ("member", "other", 1, json!({}), 0),
        ("member", "other", 1, json!({}), 0),
        ("u", "render", 20, json!({}), 0),
    ];
    for (i, (user, event, quantity, metadata, settle)) in calls.into_iter().enumerate() {
        let mut answers = Vec::new();
        for app in &apps {
            let body = json!({ "userId": user, "event": event, "quantity": quantity, "metadata": metadata });
            let checked = comparable(app.json(Method::POST, "/v1/check", Some(body.clone())).await.1);
            let held = app.reserve(body).await;
            let settled = match (held["allowed"] == true, settle) {
                (false, _) => Value::Null,
                (true, -99) => app.release(held["reservationId"].as_str().unwrap()).await.1,
                (true, d) => {
                    let actual = (quantity as i32 + d).max(0);
                    let id = held["reservationId"].as_str().unwrap();
                    app.commit(id, Some(json!({ "quantity": actual }))).await.1
                }
            };
            let tracked = app
                .json(
                    Method::POST,
                    "/v1/track",
                    Some(json!({ "userId": user, "event": "tracked", "quantity": 1 })),
                )
                .await
                .1;
            answers.push((checked, comparable(held), comparable(settled), comparable(tracked)));
        }
        assert_eq!(answers[0], answers[1], "call {i}: {user} {event} {quantity}");
    }
    for app in &apps {
        let (status, body) = app
            .json(
                Method::POST,
                "/v1/users/u/adjustments",
                Some(json!({ "groupId": "calls", "amount": -2, "reason": "refund" })),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let nodes: Vec<&redis::TestRedis> = cluster.nodes.iter().collect();
    for user in ["u", "member", "team"] {
        let key = format!("{prefix}:{{default:{user}}}:ctr");
        assert_eq!(
            counters_on(&[&single], &key),
            counters_on(&nodes, &key),
            "{user}'s counters"
        );
        let mut read = Vec::new();
        for app in &apps {
            let balances = app
                .json(Method::GET, &format!("/v1/users/{user}/balances"), None)
                .await
                .1;
            read.push((comparable(app.usage(user).await), comparable(balances)));
        }
        assert_eq!(read[0], read[1], "{user}'s usage and balances");
    }
}
