//! Runs: a budget held before an agent starts, drawn by its steps, with steps, attempts per
//! action and fallbacks capped, closed (or expired) to what its steps used. Exact under
//! parallel steps from two nodes, at every level of a chain of budgets, for child runs too.

use futures::future::join_all;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{encode, redis, spawn_app, spawn_app_stepped, two_nodes_stepped, two_nodes_with, TestApp};

/// An agent's run holds calls out of a daily quota of 100; a per-minute window the run does
/// not hold (its event does not match it) checks every step on the user.
fn plan() -> Value {
    json!({ "id": "plan_agents", "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 100, "period": { "type": "day" }, "matches": [ { "event": "agent.run" }, { "event": "llm.call" }, { "event": "tool.call" } ] },
        { "id": "per-minute", "unit": "count", "quota": 1000, "period": { "type": "minute" }, "matches": [ { "event": "llm.call" } ] } ] })
}

async fn start(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.json(Method::POST, "/v1/runs", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "start: {answer}");
    answer
}

async fn start_run(app: &TestApp, user: &str, budget: u32, limits: Value) -> String {
    let answer = start(
        app,
        json!({ "userId": user, "event": "agent.run", "quantity": budget, "limits": limits }),
    )
    .await;
    assert_eq!(answer["allowed"], true, "{answer}");
    answer["runId"].as_str().unwrap().to_string()
}

fn step(user: &str, run: &str, event: &str, quantity: u32) -> Value {
    json!({ "userId": user, "event": event, "quantity": quantity, "runId": run })
}

async fn run(app: &TestApp, id: &str) -> Value {
    let (status, answer) = app.json(Method::GET, &format!("/v1/runs/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "run: {answer}");
    answer
}

async fn close(app: &TestApp, id: &str) -> Value {
    let (status, answer) = app.json(Method::POST, &format!("/v1/runs/{id}/close"), None).await;
    assert_eq!(status, StatusCode::OK, "close: {answer}");
    answer
}

fn group<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["groupId"] == id))
        .unwrap_or_else(|| panic!("no group {id} in {run}"))
}

/// The user's counter of `group`: (used, reserved).
async fn counter(app: &TestApp, user: &str, group: &str) -> (f64, f64) {
    let usage = app.usage(user).await;
    let c = TestApp::counter(&usage, group);
    (c["used"].as_f64().unwrap(), c["reserved"].as_f64().unwrap())
}

/// Waits until the clock's minute has 15 s left at least: a test that reads the per-minute
/// window from a step's hold to its run's close must see one minute (read across a minute's
/// end, the window holds nothing: a new one began).
async fn within_one_minute() {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let left = 60_000 - ms % 60_000;
    if left < 15_000 {
        tokio::time::sleep(std::time::Duration::from_millis(left + 50)).await;
    }
}

#[tokio::test]
async fn a_run_holds_its_budget_its_steps_draw_from_it_and_close_commits_what_they_used() {
    within_one_minute().await;
    let (app, _) = two_nodes_with("ada", plan()).await;
    let id = start_run(&app, "ada", 10, json!({ "steps": 5 })).await;
    // The run holds 10 of the day's 100 on the user.
    assert_eq!(counter(&app, "ada", "calls").await, (0.0, 10.0));

    let first = app.reserve(step("ada", &id, "llm.call", 3)).await;
    assert_eq!(first["allowed"], true, "{first}");
    assert_eq!(first["run"]["remaining"]["calls"], 7, "{first}");
    assert_eq!(first["run"]["steps"], 1);
    // The step drew from the run: the user's counter still shows only the run's hold; the
    // per-minute window, which the run does not hold, holds the step on the user.
    assert_eq!(counter(&app, "ada", "calls").await, (0.0, 10.0));
    assert_eq!(counter(&app, "ada", "per-minute").await, (0.0, 3.0));
    let (status, committed) = app
        .commit(first["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 2 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{committed}");

    let second = app.reserve(step("ada", &id, "tool.call", 4)).await;
    assert_eq!(second["allowed"], true, "{second}");
    let (status, released) = app.release(second["reservationId"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{released}");

    let (status, tracked) = app
        .json(Method::POST, "/v1/track", Some(step("ada", &id, "tool.call", 1)))
        .await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    assert_eq!(tracked["run"]["remaining"]["calls"], 7, "{tracked}");

    let open = run(&app, &id).await;
    assert_eq!(open["state"], "open");
    assert_eq!(
        (open["steps"].clone(), open["limits"]["steps"].clone()),
        (json!(3), json!(5))
    );
    let calls = group(&open, "calls");
    assert_eq!(
        (calls["budget"].clone(), calls["used"].clone(), calls["open"].clone()),
        (json!(10), json!(3), json!(0))
    );
    assert_eq!(calls["remaining"], 7);

    let closed = close(&app, &id).await;
    assert_eq!(closed["state"], "closed", "{closed}");
    // What the steps used counts on the user; the rest of the budget went back.
    assert_eq!(counter(&app, "ada", "calls").await, (3.0, 0.0));
    assert_eq!(counter(&app, "ada", "per-minute").await, (2.0, 0.0));
    // A repeat of the close answers the same and counts nothing again.
    assert_eq!(close(&app, &id).await["state"], "closed");
    assert_eq!(counter(&app, "ada", "calls").await, (3.0, 0.0));

    // A step of a closed run is denied as run_ended.
    let late = app.reserve(step("ada", &id, "llm.call", 1)).await;
    assert_eq!(
        (late["allowed"].clone(), late["reasons"].clone()),
        (json!(false), json!(["run_ended"])),
        "{late}"
    );
    let listed = app.json(Method::GET, "/v1/runs?userId=ada", None).await.1;
    assert_eq!(listed["data"][0]["runId"], id.as_str(), "{listed}");
    // The steps' entries name their run, the late step's denial too; the close's counts
    // nothing itself.
    let entries = app.usage_events_all("userId=ada").await;
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["runId"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("commit", id.as_str()),
            ("release", ""),
            ("track", id.as_str()),
            ("run_close", ""),
            ("denied", id.as_str())
        ],
        "{entries:?}"
    );
    let used: f64 = entries
        .iter()
        .flat_map(|e| e["groups"].as_array().unwrap())
        .filter(|g| g["groupId"] == "calls")
        .map(|g| g["amount"].as_f64().unwrap())
        .sum();
    assert_eq!(used, 3.0, "the entries count what the user's counter does");
    let csv = app.usage_events_csv("userId=ada").await;
    assert!(
        csv.lines().nth(1).unwrap().contains(&format!(",{id},,primary,,")),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_parallel_steps_against_room_for_five_admit_exactly_five() {
    let (one, two) = two_nodes_with("bo", plan()).await;
    let id = start_run(&one, "bo", 5, json!({})).await;
    let steps = (0..12).map(|i| {
        let app = if i % 2 == 0 {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        };
        let body = step("bo", &id, "llm.call", 1);
        async move {
            let answer = app.reserve(body).await;
            if answer["allowed"] != true {
                assert_eq!(answer["reasons"], json!(["run_budget_exhausted"]), "{answer}");
                assert_eq!(answer["deniedBy"], json!(["calls"]), "{answer}");
                return 0;
            }
            let (status, committed) = app.commit(answer["reservationId"].as_str().unwrap(), None).await;
            assert_eq!(status, StatusCode::OK, "{committed}");
            1
        }
    });
    let admitted: u32 = join_all(steps).await.into_iter().sum();
    assert_eq!(admitted, 5);
    let closed = close(&one, &id).await;
    assert_eq!(group(&closed, "calls")["used"], 5);
    assert_eq!(counter(&one, "bo", "calls").await, (5.0, 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_per_action_and_fallbacks_are_capped_under_parallel_steps() {
    let (one, two) = two_nodes_with("cy", plan()).await;
    let id = start_run(
        &one,
        "cy",
        40,
        json!({ "attemptsPerAction": 2, "fallbacks": 2, "fallbackShare": 0.25 }),
    )
    .await;
    let node = |i: usize| {
        if i.is_multiple_of(2) {
            one.clone_for_node()
        } else {
            two.clone_for_node()
        }
    };
    let attempts = (0..5).map(|i| {
        let app = node(i);
        let mut body = step("cy", &id, "llm.call", 1);
        body["actionId"] = json!("summarise");
        body["kind"] = json!(if i == 0 { "primary" } else { "retry" });
        async move { app.reserve(body).await }
    });
    let answers = join_all(attempts).await;
    let admitted = answers.iter().filter(|a| a["allowed"] == true).count();
    assert_eq!(admitted, 2, "{answers:?}");
    for denied in answers.iter().filter(|a| a["allowed"] != true) {
        assert_eq!(denied["reasons"], json!(["action_attempts_exhausted"]), "{denied}");
    }
    // Fallbacks: at most 2 of them, spending at most a quarter of the 40 (10): of five
    // parallel fallbacks of 4, two fit the share (8), a third would pass it.
    let fallbacks = (0..5).map(|i| {
        let app = node(i);
        let mut body = step("cy", &id, "llm.call", 4);
        body["actionId"] = json!(format!("answer-{i}"));
        body["kind"] = json!("fallback");
        async move { app.reserve(body).await }
    });
    let answers = join_all(fallbacks).await;
    let admitted: Vec<&Value> = answers.iter().filter(|a| a["allowed"] == true).collect();
    assert_eq!(admitted.len(), 2, "{answers:?}");
    for denied in answers.iter().filter(|a| a["allowed"] != true) {
        assert_eq!(denied["reasons"], json!(["fallback_budget_exhausted"]), "{denied}");
    }
    let read = run(&one, &id).await;
    assert_eq!(
        (read["fallbacks"].clone(), read["attempts"]["summarise"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(group(&read, "calls")["fallbackSpent"], 8);
}

#[tokio::test]
async fn an_expired_run_keeps_what_its_steps_committed_and_a_later_commit_counts_late() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(plan()).await;
    app.subscribe("di", "plan_agents", None).await;
    let answer = start(
        &app,
        json!({ "userId": "di", "event": "agent.run", "quantity": 10, "ttlSeconds": 1 }),
    )
    .await;
    let id = answer["runId"].as_str().unwrap().to_string();
    let done = app.reserve(step("di", &id, "llm.call", 2)).await;
    app.commit(done["reservationId"].as_str().unwrap(), None).await;
    // This step is still open when its agent dies and the run expires.
    let mut open = step("di", &id, "tool.call", 3);
    open["ttlSeconds"] = json!(60);
    let open = app.reserve(open).await;
    assert_eq!(open["allowed"], true, "{open}");
    clock.step(1_300);
    // The next call for the user settles the run: its steps' 2 count, the rest goes back.
    assert_eq!(counter(&app, "di", "calls").await, (2.0, 0.0));
    let expired = run(&app, &id).await;
    assert_eq!(expired["state"], "expired", "{expired}");
    // Its ledger says it ended by expiry, counting no usage of its own (its steps' did).
    let entries = app.usage_events_all("userId=di").await;
    let ended = entries.iter().find(|e| e["kind"] == "run_close").unwrap();
    assert_eq!(
        (ended["reason"].clone(), ended["groups"].clone()),
        (json!("expired"), json!([])),
        "{ended}"
    );
    // The open step's call happened after all: its commit counts on the user, late.
    let (status, late) = app
        .commit(open["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 3 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{late}");
    assert_eq!(late["late"], true, "{late}");
    assert_eq!(counter(&app, "di", "calls").await, (5.0, 0.0));
    // Closing it now answers it as its expiry closed it, counting nothing again.
    assert_eq!(close(&app, &id).await["state"], "expired");
    assert_eq!(counter(&app, "di", "calls").await, (5.0, 0.0));
}

#[tokio::test]
async fn a_child_run_is_carved_from_what_its_parent_has_left_and_returns_the_rest() {
    let (app, _) = two_nodes_with("ed", plan()).await;
    let parent = start_run(&app, "ed", 10, json!({})).await;
    let used = app.reserve(step("ed", &parent, "llm.call", 4)).await;
    app.commit(used["reservationId"].as_str().unwrap(), None).await;
    // 6 are left: a child of 7 is denied by its parent's budget, one of 5 is carved out.
    let too_big = start(
        &app,
        json!({ "userId": "ed", "event": "agent.run", "quantity": 7, "parentRunId": parent }),
    )
    .await;
    assert_eq!(
        (too_big["allowed"].clone(), too_big["reasons"].clone()),
        (json!(false), json!(["run_budget_exhausted"])),
        "{too_big}"
    );
    let child = start(
        &app,
        json!({ "userId": "ed", "event": "agent.run", "quantity": 5, "parentRunId": parent }),
    )
    .await;
    assert_eq!(child["allowed"], true, "{child}");
    let child = child["runId"].as_str().unwrap().to_string();
    let step_of_child = app.reserve(step("ed", &child, "llm.call", 2)).await;
    app.commit(step_of_child["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(app.reserve(step("ed", &child, "llm.call", 4)).await["allowed"], false);
    let read = run(&app, &parent).await;
    assert_eq!(read["children"], json!([child]));
    assert_eq!(group(&read, "calls")["remaining"], 1);
    assert_eq!(run(&app, &child).await["parentRunId"], parent.as_str());
    // Closing the child gives its parent back what it did not use.
    close(&app, &child).await;
    let read = run(&app, &parent).await;
    assert_eq!(
        (
            group(&read, "calls")["used"].clone(),
            group(&read, "calls")["remaining"].clone()
        ),
        (json!(6), json!(4))
    );
    close(&app, &parent).await;
    assert_eq!(counter(&app, "ed", "calls").await, (6.0, 0.0));
}

#[tokio::test]
async fn runs_reach_every_level_of_a_chain_and_no_level_is_exceeded() {
    let (app, _) = two_nodes_with("team", json!({ "id": "plan_team", "periodType": "month", "groups": [
        { "id": "team-calls", "unit": "count", "quota": 8, "matches": [ { "event": "agent.run" }, { "event": "llm.call" } ] } ] }))
    .await;
    app.put_plan(plan()).await;
    for member in ["fay", "gus"] {
        app.subscribe(member, "plan_agents", None).await;
        let (status, answer) = app
            .json(
                Method::PUT,
                &format!("/v1/users/{}/subscription", encode(member)),
                Some(json!({ "planId": "plan_agents", "parentId": "team" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    // Fay's run holds 5 of the team's 8; Gus's run of 5 does not fit beside it.
    let fay = start_run(&app, "fay", 5, json!({})).await;
    let gus = start(&app, json!({ "userId": "gus", "event": "agent.run", "quantity": 5 })).await;
    assert_eq!(gus["allowed"], false, "{gus}");
    assert_eq!(
        counter(&app, "gus", "calls").await,
        (0.0, 0.0),
        "gus's own level gave its hold back"
    );
    // Fay's steps draw from her run at both levels.
    for _ in 0..5 {
        let answer = app.reserve(step("fay", &fay, "llm.call", 1)).await;
        assert_eq!(answer["allowed"], true, "{answer}");
        app.commit(answer["reservationId"].as_str().unwrap(), None).await;
    }
    assert_eq!(app.reserve(step("fay", &fay, "llm.call", 1)).await["allowed"], false);
    let team = app.usage("team").await;
    assert_eq!(TestApp::counter(&team, "team-calls")["reserved"], 5, "{team}");
    close(&app, &fay).await;
    let team = app.usage("team").await;
    let c = TestApp::counter(&team, "team-calls");
    assert_eq!(
        (c["used"].clone(), c["reserved"].clone()),
        (json!(5), json!(0)),
        "{team}"
    );
    assert_eq!(counter(&app, "fay", "calls").await, (5.0, 0.0));
}

#[tokio::test]
async fn bad_run_input_is_refused_naming_the_field() {
    let (app, _) = two_nodes_with("hal", plan()).await;
    let id = start_run(&app, "hal", 3, json!({})).await;
    for (body, field) in [
        (
            json!({ "userId": "hal", "event": "agent.run", "limits": { "steps": 0 } }),
            "limits.steps",
        ),
        (
            json!({ "userId": "hal", "event": "agent.run", "limits": { "fallbackShare": 1.5 } }),
            "limits.fallbackShare",
        ),
        (
            json!({ "userId": "hal", "event": "agent.run", "parentRunId": "run_nope" }),
            "parentRunId",
        ),
        (
            json!({ "userId": "hal", "event": "agent.run", "ttlSeconds": 0 }),
            "ttlSeconds",
        ),
    ] {
        let (status, answer) = app.json(Method::POST, "/v1/runs", Some(body)).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{answer}"
        );
    }
    for (body, field) in [
        (json!({ "userId": "ivy", "event": "llm.call", "runId": id }), "runId"),
        (
            json!({ "userId": "hal", "event": "llm.call", "actionId": "a" }),
            "actionId",
        ),
        (
            json!({ "userId": "hal", "event": "llm.call", "runId": id, "kind": "other" }),
            "kind",
        ),
    ] {
        let (status, answer) = app.json(Method::POST, "/v1/reserve", Some(body)).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{answer}"
        );
    }
    // A run is no reservation: the reservation routes do not end it.
    let (status, _) = app.commit(&id, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = app.json(Method::GET, "/v1/runs/run_nope", None).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (StatusCode::NOT_FOUND, json!("run_not_found"))
    );
}

/// Two nodes on a Redis whose clock the test steps, whose `user` burns credits (1 a unit) for
/// runs and model calls, granted 100.
async fn credits_agent(user: &str) -> (TestApp, TestApp, redis::Stepped) {
    let (app, other, clock) = two_nodes_stepped(user, json!({ "id": "plan_credits_agents", "periodType": "month", "groups": [
        { "id": "credits", "balance": "credits", "matches": [
            { "event": "agent.run", "measure": { "rate": 1 } }, { "event": "llm.call", "measure": { "rate": 1 } } ] } ] }))
    .await;
    let (status, granted) = app
        .json(
            Method::POST,
            &format!("/v1/users/{user}/grants"),
            Some(json!({ "balance": "credits", "amount": 100 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    (app, other, clock)
}

#[tokio::test]
async fn a_run_holds_credits_its_close_burns_what_its_steps_used_and_a_late_step_burns_on_the_wallet() {
    let (app, _, _clock) = credits_agent("ola").await;
    let balance = async || {
        let (_, answer) = app.json(Method::GET, "/v1/users/ola/balances", None).await;
        let b = answer["data"][0].clone();
        (b["available"].as_f64().unwrap(), b["held"].as_f64().unwrap())
    };
    let id = start_run(&app, "ola", 30, json!({})).await;
    assert_eq!(balance().await, (70.0, 30.0));
    let first = app.reserve(step("ola", &id, "llm.call", 10)).await;
    assert_eq!(first["allowed"], true, "{first}");
    assert_eq!(first["run"]["remaining"]["credits"], 20, "{first}");
    // The step drew on the run's credits, not on the wallet again.
    assert_eq!(balance().await, (70.0, 30.0));
    app.commit(
        first["reservationId"].as_str().unwrap(),
        Some(json!({ "quantity": 12 })),
    )
    .await;
    let open = app.reserve(step("ola", &id, "llm.call", 5)).await;
    assert_eq!(open["allowed"], true, "{open}");
    let closed = close(&app, &id).await;
    assert_eq!(group(&closed, "credits")["used"], 12, "{closed}");
    // The close burned the 12 its steps used and gave 18 back.
    assert_eq!(balance().await, (88.0, 0.0));
    // The open step's call happened: committed after the close, it burns on the wallet.
    let (status, late) = app.commit(open["reservationId"].as_str().unwrap(), None).await;
    assert_eq!((status, late["late"].clone()), (StatusCode::OK, json!(true)), "{late}");
    assert_eq!(balance().await, (83.0, 0.0));
    let entries = app.usage_events_all("userId=ola").await;
    let close_entry = entries.iter().find(|e| e["kind"] == "run_close").unwrap();
    assert_eq!(close_entry["credits"][0]["amount"], 12, "{close_entry}");
}

/// A run its agent never closes burns at expiry what its steps used, as a close would, and its
/// ledger says so: a "run_close" entry with the reason "expired" and the credits burned, so the
/// summary of the balance adds up to what the wallet lost.
#[tokio::test]
async fn an_expired_run_with_credits_burns_what_its_steps_used_and_the_ledger_tells_it() {
    let (app, _, clock) = credits_agent("oxa").await;
    let id = start(
        &app,
        json!({ "userId": "oxa", "event": "agent.run", "quantity": 30, "ttlSeconds": 1 }),
    )
    .await["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let used = app.reserve(step("oxa", &id, "llm.call", 10)).await;
    app.commit(used["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 7 })))
        .await;
    clock.step(1_300);
    // The next call for the user settles the run: 7 burned, 23 back.
    let (_, balances) = app.json(Method::GET, "/v1/users/oxa/balances", None).await;
    assert_eq!(balances["data"][0]["available"], 93, "{balances}");
    assert_eq!(balances["data"][0]["held"], 0, "{balances}");
    assert_eq!(run(&app, &id).await["state"], "expired");
    let entries = app.usage_events_all("userId=oxa").await;
    let ended = entries.iter().find(|e| e["kind"] == "run_close").unwrap();
    assert_eq!(ended["reason"], "expired", "{ended}");
    assert_eq!(ended["credits"][0]["amount"], 7, "{ended}");
    let (status, summary) = app
        .json(Method::GET, "/v1/balances/summary?balance=credits&userId=oxa", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["paid"]["burned"], 7, "{summary}");
    assert_eq!(summary["paid"]["outstanding"], 93, "{summary}");
}

/// An expired run is settled once however many calls meet it: twenty reads on two nodes at
/// once burn what its steps used once and write one `run_close` entry (the reclaim, its burn
/// and its entry are one script).
#[tokio::test]
async fn parallel_calls_on_two_nodes_settle_an_expired_run_once() {
    let (app, other, clock) = credits_agent("oxo").await;
    let id = start(
        &app,
        json!({ "userId": "oxo", "event": "agent.run", "quantity": 30, "ttlSeconds": 1 }),
    )
    .await["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let used = app.reserve(step("oxo", &id, "llm.call", 10)).await;
    app.commit(used["reservationId"].as_str().unwrap(), Some(json!({ "quantity": 7 })))
        .await;
    clock.step(1_300);
    let reads = (0..20).map(|i| {
        let node = if i % 2 == 0 { &app } else { &other };
        node.json(Method::GET, "/v1/users/oxo/balances", None)
    });
    for (status, answer) in join_all(reads).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (_, balances) = app.json(Method::GET, "/v1/users/oxo/balances", None).await;
    assert_eq!(
        (
            balances["data"][0]["available"].clone(),
            balances["data"][0]["held"].clone()
        ),
        (json!(93), json!(0)),
        "{balances}"
    );
    let entries = app.usage_events_all("userId=oxo").await;
    let ended: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "run_close").collect();
    assert_eq!(ended.len(), 1, "{entries:?}");
    assert_eq!(ended[0]["credits"][0]["amount"], 7, "{ended:?}");
}

/// A run keeps at most 1,000 actions, a field each that its end reads: a reserve naming one
/// more is denied as attempts are, a track of one more counts in the run without keeping it.
#[tokio::test]
async fn a_run_keeps_at_most_a_thousand_actions_and_still_counts_tracks_past_them() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.subscribe("ax", "plan_agents", None).await;
    let id = start_run(&app, "ax", 90, json!({})).await;
    let tracks = (0..1_000).map(|i| {
        let app = app.clone_for_node();
        let mut body = step("ax", &id, "tool.call", 0);
        body["actionId"] = json!(format!("call-{i}"));
        async move {
            let (status, answer) = app.json(Method::POST, "/v1/track", Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    });
    futures::stream::iter(tracks)
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let mut new = step("ax", &id, "llm.call", 1);
    new["actionId"] = json!("one-more");
    let denied = app.reserve(new).await;
    assert_eq!(
        (denied["allowed"].clone(), denied["reasons"].clone()),
        (json!(false), json!(["action_attempts_exhausted"])),
        "{denied}"
    );
    // An action the run keeps may be attempted again; a track of a new one counts as a step.
    let mut again = step("ax", &id, "llm.call", 1);
    again["actionId"] = json!("call-7");
    assert_eq!(app.reserve(again).await["allowed"], true);
    let mut tracked = step("ax", &id, "tool.call", 1);
    tracked["actionId"] = json!("one-more");
    let (status, answer) = app.json(Method::POST, "/v1/track", Some(tracked)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let read = run(&app, &id).await;
    assert_eq!(read["steps"], 1_002, "{}", read["steps"]);
    assert_eq!(read["attempts"].as_object().unwrap().len(), 1_000);
    assert_eq!(read["attempts"]["call-7"], 2);
    assert_eq!(close(&app, &id).await["state"], "closed");
}

/// A run written with more actions than a script can unpack at once (nearly 8,000) closes, and
/// expires, like any other, and its user keeps being served.
#[tokio::test]
async fn a_run_with_nine_thousand_actions_closes_and_expires() {
    let (app, clock) = spawn_app_stepped().await;
    app.put_plan(plan()).await;
    app.subscribe("ay", "plan_agents", None).await;
    let ctr = quota_gateway::surface::store::layout::Layout::new(&app.prefix)
        .user("default", "ay")
        .ctr()
        .to_string();
    let seed = |id: &str| {
        let mut args: Vec<String> = vec!["HSET".into(), ctr.clone()];
        for i in 0..9_000 {
            args.push(format!("r|{id}|~action-{i}"));
            args.push("1".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let added: i64 = clock.redis.query(&args);
        assert_eq!(added, 9_000);
    };
    // (Each with a cap on its actions' fallbacks: a field of its own, which goes with the rest.)
    let closed = start_run(&app, "ay", 10, json!({ "maxFallbackSpend": 5 })).await;
    let cap: i64 = clock.redis.query(&["HEXISTS", &ctr, &format!("r|{closed}|$")]);
    assert_eq!(cap, 1);
    seed(&closed);
    let answer = close(&app, &closed).await;
    assert_eq!(answer["state"], "closed", "{answer}");
    assert_eq!(run(&app, &closed).await["attempts"].as_object().unwrap().len(), 9_000);

    let expiring = start(
        &app,
        json!({ "userId": "ay", "event": "agent.run", "quantity": 10, "ttlSeconds": 1, "limits": { "maxFallbackSpend": 5 } }),
    )
    .await["runId"]
        .as_str()
        .unwrap()
        .to_string();
    seed(&expiring);
    clock.step(1_300);
    let after = app.reserve(json!({ "userId": "ay", "event": "llm.call" })).await;
    assert_eq!(after["allowed"], true, "{after}");
    assert_eq!(run(&app, &expiring).await["state"], "expired");
    assert_eq!(counter(&app, "ay", "calls").await, (0.0, 1.0));
    let left: Vec<String> = crate::support::redis::shared().query(&["HKEYS", &ctr]);
    assert!(!left.iter().any(|f| f.starts_with("r|")), "the runs' fields are gone");
}

/// A step whose event no group of the plan matches is admitted unmetered, as the same reserve
/// without a run is, and counts as a step of its run (never "run_ended" while the run is open).
#[tokio::test]
async fn a_step_of_an_event_no_group_matches_is_admitted_and_counted_as_a_step() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.subscribe("un", "plan_agents", None).await;
    let id = start_run(&app, "un", 10, json!({ "steps": 2 })).await;
    let mut tool = step("un", &id, "tool.unlisted", 1);
    tool["actionId"] = json!("lookup");
    let answer = app.reserve(tool.clone()).await;
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["run"]["steps"], 1, "{answer}");
    let (status, _) = app.commit(answer["reservationId"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, tracked) = app
        .json(Method::POST, "/v1/track", Some(step("un", &id, "tool.unlisted", 1)))
        .await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    // The run's limit of two steps holds for unmatched steps too.
    let third = app.reserve(tool).await;
    assert_eq!(third["reasons"], json!(["run_steps_exhausted"]), "{third}");
    assert_eq!(close(&app, &id).await["state"], "closed");
    assert_eq!(counter(&app, "un", "calls").await, (0.0, 0.0));
}
