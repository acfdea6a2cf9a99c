//! Accepted outputs: a commit, a track or a run's close says what the call's output came to
//! (`outcome`), or it is said later of a committed reservation; each is counted once per
//! counter and day, and usage, the daily rollups and the ledger export answer the cost per
//! accepted output. A team's usage counts its members' outcomes, on leased slices and level by
//! level.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::Dashboard;
use crate::leases::{leasing, member_of};
use crate::support::{redis, spawn_app, spawn_app_with, unique_prefix, TestApp};

fn render_plan() -> Value {
    json!({ "id": "plan_renders", "periodType": "month", "groups": [
        { "id": "spend", "unit": "cents", "quota": 1000, "matches": [ { "event": "render" } ] } ] })
}

/// A render of 10 cents reserved and committed with `commit`'s body: its reservation id.
async fn render(app: &TestApp, user: &str, commit: Value) -> String {
    let held = app
        .reserve(json!({ "userId": user, "event": "render", "quantity": 10 }))
        .await;
    assert_eq!(held["allowed"], true, "{held}");
    let id = held["reservationId"].as_str().unwrap().to_string();
    let (status, committed) = app.commit(&id, Some(commit)).await;
    assert_eq!(status, StatusCode::OK, "{committed}");
    id
}

async fn say(app: &TestApp, id: &str, outcome: &str) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        &format!("/v1/reservations/{id}/outcome"),
        Some(json!({ "outcome": outcome })),
    )
    .await
}

/// `user`'s first counter's outcomes in usage, and how many calls they count.
async fn said_of(app: &TestApp, user: &str) -> (Value, u64) {
    let outcomes = app.usage(user).await["counters"][0]["outcomes"].clone();
    let counted = outcomes
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    (outcomes, counted)
}

#[tokio::test]
async fn four_renders_of_ten_cents_two_accepted_cost_twenty_cents_per_accepted_output() {
    let app = spawn_app().await;
    app.put_plan(render_plan()).await;
    app.subscribe("ann", "plan_renders", None).await;

    // Accepted at commit; rejected, then accepted once the user kept it; rejected at commit;
    // committed with nothing said, then judged failed (said twice: counted once).
    let first = render(&app, "ann", json!({ "outcome": "accepted" })).await;
    let second = render(&app, "ann", json!({ "outcome": "rejected" })).await;
    render(&app, "ann", json!({ "outcome": "rejected" })).await;
    let fourth = render(&app, "ann", json!({})).await;
    let (status, said) = say(&app, &second, "accepted").await;
    assert_eq!(status, StatusCode::OK, "{said}");
    assert_eq!(
        (said["outcome"].clone(), said["previous"].clone()),
        (json!("accepted"), json!("rejected"))
    );
    for _ in 0..2 {
        assert_eq!(say(&app, &fourth, "failed").await.0, StatusCode::OK);
    }
    let (_, again) = say(&app, &first, "accepted").await;
    assert_eq!(again["previous"], "accepted", "said again: nothing changes");

    let usage = app.usage("ann").await;
    let spend = &usage["counters"][0];
    assert_eq!(spend["used"], 40, "{spend}");
    assert_eq!(
        spend["outcomes"],
        json!({ "accepted": 2, "rejected": 1, "failed": 1 }),
        "{spend}"
    );
    assert_eq!(spend["costPerAccepted"], 20, "{spend}");

    let (status, daily) = app.json(Method::GET, "/v1/users/ann/daily-usage", None).await;
    assert_eq!(status, StatusCode::OK, "{daily}");
    let today = daily["days"].as_array().unwrap().last().unwrap()["groups"][0].clone();
    assert_eq!(
        (
            today["used"].clone(),
            today["outcomes"].clone(),
            today["costPerAccepted"].clone()
        ),
        (
            json!(40),
            json!({ "accepted": 2, "rejected": 1, "failed": 1 }),
            json!(20)
        ),
        "{today}"
    );

    // The ledger: each commit with what it said, and each later judgement as its own entry.
    let entries = app.usage_events_all("userId=ann").await;
    let said: Vec<(String, Value, Value)> = entries
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["outcome"].clone(),
                e["previousOutcome"].clone(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("commit".to_string(), json!("accepted"), Value::Null),
            ("commit".to_string(), json!("rejected"), Value::Null),
            ("commit".to_string(), json!("rejected"), Value::Null),
            ("commit".to_string(), Value::Null, Value::Null),
            ("outcome".to_string(), json!("accepted"), json!("rejected")),
            ("outcome".to_string(), json!("failed"), Value::Null),
        ]
    );
    assert!(entries
        .iter()
        .all(|e| e["kind"] != "outcome" || e["changesUsage"] == false));
    let csv = app.usage_events_csv("userId=ann").await;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "outcome").expect("an outcome column");
    let accepted = csv
        .lines()
        .skip(1)
        .filter(|row| row.split(',').nth(column) == Some("accepted"))
        .count();
    assert_eq!(accepted, 2, "{csv}");

    // The user's page shows it beside usage, and the ledger what each judgement replaced.
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/users/ann").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("2 accepted of 4 · 20 per accepted"), "{page}");
    assert!(page.contains("accepted (was rejected)"), "{page}");

    // Only a committed call has an output to judge; a word is checked.
    let held = app
        .reserve(json!({ "userId": "ann", "event": "render", "quantity": 10 }))
        .await;
    let (status, problem) = say(&app, held["reservationId"].as_str().unwrap(), "accepted").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "reservation_not_committed");
    let (status, problem) = say(&app, &first, "Great!").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem.to_string().contains("outcome"), "{problem}");
    let (status, problem) = app.commit(&first, Some(json!({ "outcome": "x".repeat(33) }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

/// Words said of one reservation from many connections at once leave it counted under one of
/// them: an outcome moved by a read, then a write, could count it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn judgements_racing_on_one_reservation_count_it_once() {
    let app = spawn_app().await;
    app.put_plan(render_plan()).await;
    app.subscribe("bo", "plan_renders", None).await;
    let ids: Vec<String> = join_all((0..4).map(|_| render(&app, "bo", json!({})))).await;
    let words = ["accepted", "rejected", "failed", "kept.later"];
    // Each reservation is told every word, from sixteen calls at once.
    let calls = (0..64).map(|i| {
        let (app, id, word) = (&app, &ids[i % ids.len()], words[(i / ids.len()) % words.len()]);
        async move { say(app, id, word).await }
    });
    // A call's outcome changes 8 times at most (each change is a ledger entry): the changes
    // past them are refused, never counted.
    for (status, body) in join_all(calls).await {
        assert!(
            status == StatusCode::OK || (status == StatusCode::CONFLICT && body["code"] == "outcome_changed_enough"),
            "{status} {body}"
        );
    }
    let (outcomes, counted) = said_of(&app, "bo").await;
    assert_eq!(counted, 4, "each reservation under one word: {outcomes}");
    let entries = app.usage_events_all("userId=bo").await;
    let judged = entries.iter().filter(|e| e["kind"] == "outcome").count();
    assert!(
        (4..=4 * 9).contains(&judged),
        "{judged} outcome entries: a first word and 8 changes a call at most"
    );

    // A track says its own, and an app's words past sixteen count as "other" (a counter keeps
    // at most sixteen words of the app's, the three named ones, and "other").
    for i in 0..18 {
        let (status, tracked) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "bo", "event": "render", "quantity": 1, "outcome": format!("w{i}") })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tracked}");
    }
    // The app's word judged took one place (a word keeps its place at 0): fifteen tracks took
    // the other fifteen, and three counted as "other".
    let (outcomes, counted) = said_of(&app, "bo").await;
    assert_eq!((counted, outcomes["other"].clone()), (22, json!(3)), "{outcomes}");
    // Past them, "accepted" is still counted as itself: cost per accepted output stays.
    let id = render(&app, "bo", json!({})).await;
    assert_eq!(say(&app, &id, "accepted").await.0, StatusCode::OK);
    let (outcomes, _) = said_of(&app, "bo").await;
    assert!(outcomes["accepted"].as_u64().unwrap() >= 1, "{outcomes}");
    assert_eq!(outcomes["other"], json!(3), "{outcomes}");
}

/// A team's usage counts what its members' outputs came to, whether they decided on slices of
/// its pool (the outcome reaches it with the member's ledger entry) or level by level.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_teams_usage_counts_its_members_outcomes_on_slices_and_level_by_level() {
    for leases in [true, false] {
        let prefix = unique_prefix();
        let target = redis::shared().target();
        let app = match leases {
            true => leasing(&target, &prefix, None, 10).await,
            false => spawn_app_with(&target, &prefix, None, |c| c.leases = false).await,
        };
        app.put_plan(json!({ "id": "plan_member", "periodType": "month", "groups": [
            { "id": "own", "unit": "cents", "quota": 100000, "matches": [ { "event": "*" } ] } ] }))
            .await;
        app.put_plan(json!({ "id": "plan_team", "periodType": "month", "groups": [
            { "id": "pool", "unit": "cents", "quota": 1000000, "matches": [ { "event": "*" } ] } ] }))
            .await;
        app.subscribe("team_acme", "plan_team", None).await;
        member_of(&app, "mia", "team_acme").await;
        let kept = render(&app, "mia", json!({ "outcome": "accepted" })).await;
        let redone = render(&app, "mia", json!({ "outcome": "accepted" })).await;
        assert_eq!(say(&app, &redone, "rejected").await.0, StatusCode::OK);
        let _ = kept;

        let mut pool = Value::Null;
        for _ in 0..100 {
            pool = app.usage("team_acme").await["counters"][0].clone();
            if pool["outcomes"] == json!({ "accepted": 1, "rejected": 1 }) && pool["used"] == 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            pool["outcomes"],
            json!({ "accepted": 1, "rejected": 1 }),
            "leases {leases}: {pool}"
        );
        assert_eq!(pool["costPerAccepted"], 20, "leases {leases}: {pool}");
        let own = app.usage("mia").await["counters"][0].clone();
        assert_eq!(own["outcomes"], json!({ "accepted": 1, "rejected": 1 }), "{own}");
    }
}

/// Cost per accepted output per model: each model the events name is counted apart in the
/// day's rollups, its accepted outputs with it, whether said at the commit or later.
#[tokio::test]
async fn the_daily_rollups_answer_cost_per_accepted_output_per_model() {
    let app = spawn_app().await;
    app.put_plan(render_plan()).await;
    app.subscribe("cy", "plan_renders", None).await;
    let with_model = |model: &str, outcome: Option<&str>| {
        let (app, model, outcome) = (&app, model.to_string(), outcome.map(str::to_string));
        async move {
            let held = app
                .reserve(json!({ "userId": "cy", "event": "render", "quantity": 10, "metadata": { "model": model } }))
                .await;
            let id = held["reservationId"].as_str().unwrap().to_string();
            let body = outcome.map_or(json!({}), |o| json!({ "outcome": o }));
            assert_eq!(app.commit(&id, Some(body)).await.0, StatusCode::OK);
            id
        }
    };
    with_model("flux", Some("accepted")).await;
    let later = with_model("flux", Some("rejected")).await;
    with_model("flux", None).await;
    with_model("sdxl", Some("accepted")).await;
    assert_eq!(say(&app, &later, "accepted").await.0, StatusCode::OK);

    let (status, daily) = app.json(Method::GET, "/v1/users/cy/daily-usage", None).await;
    assert_eq!(status, StatusCode::OK, "{daily}");
    let today = daily["days"].as_array().unwrap().last().unwrap()["groups"][0].clone();
    assert_eq!(
        today["models"],
        json!([
            { "model": "flux", "used": 30, "accepted": 2, "costPerAccepted": 15 },
            { "model": "sdxl", "used": 10, "accepted": 1, "costPerAccepted": 10 },
        ]),
        "{today}"
    );
}

/// The model a call counts under is its metadata's `model` key, wherever the key stands among
/// the others, and never text inside another key's value that only reads like one; a name
/// holding a quote is counted in the group's usage but in no model's line.
#[tokio::test]
async fn a_calls_model_is_its_model_key_among_others() {
    let app = spawn_app().await;
    app.put_plan(render_plan()).await;
    app.subscribe("di", "plan_renders", None).await;
    for metadata in [
        json!({ "a_note": "\"model\":\"fake\"", "model": "flux", "zone": "eu", "steps": 30 }),
        json!({ "model": "fl\"ux", "a_note": "x" }),
    ] {
        let held = app
            .reserve(json!({ "userId": "di", "event": "render", "quantity": 10, "metadata": metadata }))
            .await;
        let id = held["reservationId"].as_str().unwrap().to_string();
        let (status, committed) = app.commit(&id, Some(json!({ "outcome": "accepted" }))).await;
        assert_eq!(status, StatusCode::OK, "{committed}");
    }
    let (status, daily) = app.json(Method::GET, "/v1/users/di/daily-usage", None).await;
    assert_eq!(status, StatusCode::OK, "{daily}");
    let today = daily["days"].as_array().unwrap().last().unwrap()["groups"][0].clone();
    assert_eq!(today["used"], 20, "{today}");
    assert_eq!(
        today["models"],
        json!([{ "model": "flux", "used": 10, "accepted": 1, "costPerAccepted": 10 }]),
        "{today}"
    );
}
