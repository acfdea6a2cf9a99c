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
