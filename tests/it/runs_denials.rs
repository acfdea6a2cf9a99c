//! A step its run refuses (its action's attempts, its steps, a closed run) is a denial like any
//! other: the ledger keeps a `denied` entry naming the run, the action and the reason the
//! reserve answered, though no group denied it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

fn plan() -> Value {
    json!({ "id": "plan_run_denials", "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 100, "matches": [ { "event": "agent.run" }, { "event": "llm.call" } ] } ] })
}

async fn start_run(app: &TestApp, user: &str, limits: Value) -> String {
    let body = json!({ "userId": user, "event": "agent.run", "quantity": 10, "limits": limits });
    let (status, answer) = app.json(Method::POST, "/v1/runs", Some(body)).await;
    assert_eq!(
        (status, answer["allowed"].clone()),
        (StatusCode::OK, json!(true)),
        "{answer}"
    );
    answer["runId"].as_str().unwrap().to_string()
}

/// A step of `run`: one call, an attempt of `action` of `kind`.
fn step(user: &str, run: &str, action: &str, kind: &str) -> Value {
    json!({ "userId": user, "event": "llm.call", "runId": run, "actionId": action, "kind": kind,
            "metadata": { "model": "gpt-4o-mini" } })
}

/// The user's `denied` entries as (reason, runId, actionId, stepKind, deniedBy), oldest first.
async fn denied(app: &TestApp, user: &str) -> Vec<(Value, Value, Value, Value, Value)> {
    let entries = app.usage_events_all(&format!("userId={user}")).await;
    entries
        .iter()
        .filter(|e| e["kind"] == "denied")
        .map(|e| {
            (
                e["reason"].clone(),
                e["runId"].clone(),
                e["actionId"].clone(),
                e["stepKind"].clone(),
                e["deniedBy"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_attempt_past_attempts_per_action_writes_a_denied_entry_with_its_reason() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.subscribe("rd", "plan_run_denials", None).await;
    let run = start_run(&app, "rd", json!({ "attemptsPerAction": 1 })).await;
    let first = app.reserve(step("rd", &run, "summarise", "primary")).await;
    assert_eq!(first["allowed"], true, "{first}");
    let retry = app.reserve(step("rd", &run, "summarise", "retry")).await;
    assert_eq!(
        (retry["allowed"].clone(), retry["reasons"].clone()),
        (json!(false), json!(["action_attempts_exhausted"])),
        "{retry}"
    );
    assert_eq!(
        denied(&app, "rd").await,
        [(
            json!("action_attempts_exhausted"),
            json!(run),
            json!("summarise"),
            // No group denied it: the entry names none.
            json!("retry"),
            Value::Null
        )]
    );
    let entries = app.usage_events_all("userId=rd").await;
    let entry = entries.iter().find(|e| e["kind"] == "denied").unwrap();
    assert_eq!(
        (
            entry["event"].clone(),
            entry["quantity"].clone(),
            entry["metadata"]["model"].clone()
        ),
        (json!("llm.call"), json!(1), json!("gpt-4o-mini")),
        "{entry}"
    );
}

#[tokio::test]
async fn every_step_its_run_refuses_writes_a_denied_entry_with_the_answers_reason() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.subscribe("rs", "plan_run_denials", None).await;
    let run = start_run(&app, "rs", json!({ "steps": 1 })).await;
    assert_eq!(app.reserve(step("rs", &run, "a", "primary")).await["allowed"], true);
    let past = app.reserve(step("rs", &run, "b", "primary")).await;
    assert_eq!(past["reasons"], json!(["run_steps_exhausted"]), "{past}");
    let (status, _) = app.json(Method::POST, &format!("/v1/runs/{run}/close"), None).await;
    assert_eq!(status, StatusCode::OK);
    let ended = app.reserve(step("rs", &run, "c", "primary")).await;
    assert_eq!(ended["reasons"], json!(["run_ended"]), "{ended}");
    let reasons: Vec<Value> = denied(&app, "rs").await.into_iter().map(|d| d.0).collect();
    assert_eq!(reasons, [json!("run_steps_exhausted"), json!("run_ended")]);
}
