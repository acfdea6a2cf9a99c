//! Runs on the dashboard over plain HTTP: a user's page lists their runs, a run's page shows
//! its budget, limits, attempts, children and steps (its entries of the user's ledger, no
//! other run's), and a run id of another user, or none, is no page. (`tests/browser/` clicks
//! through the same pages in Chromium.)

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::{table_after, Dashboard};
use crate::support::{spawn_app, TestApp};

fn plan() -> Value {
    json!({ "id": "plan_agents", "periodType": "month", "groups": [
        { "id": "calls", "unit": "count", "quota": 100,
          "matches": [ { "event": "agent.run" }, { "event": "llm.call" }, { "event": "tool.call" } ] } ] })
}

async fn app_with(users: &[&str]) -> TestApp {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    for user in users {
        app.subscribe(user, "plan_agents", None).await;
    }
    app
}

/// Starts a run of `budget` calls for `user` (a child of `parent` when given): its id.
async fn start_run(app: &TestApp, user: &str, budget: u32, limits: Value, parent: Option<&str>) -> String {
    let mut body = json!({ "userId": user, "event": "agent.run", "quantity": budget, "limits": limits });
    if let Some(parent) = parent {
        body["parentRunId"] = json!(parent);
    }
    let (status, answer) = app.json(Method::POST, "/v1/runs", Some(body)).await;
    assert_eq!((status, &answer["allowed"]), (StatusCode::OK, &json!(true)), "{answer}");
    answer["runId"].as_str().unwrap().to_string()
}

/// A step of `run` reserved and committed at `used`.
async fn step(app: &TestApp, user: &str, run: &str, action: &str, kind: &str, used: u32) {
    let held = app
        .reserve(json!({ "userId": user, "event": "llm.call", "quantity": used + 1,
                         "runId": run, "actionId": action, "kind": kind }))
        .await;
    assert_eq!(held["allowed"], true, "{held}");
    let (status, committed) = app
        .commit(
            held["reservationId"].as_str().unwrap(),
            Some(json!({ "quantity": used })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{committed}");
}

fn run_path(user: &str, run: &str) -> String {
    format!("/dashboard/users/{user}/runs/{run}")
}

#[tokio::test]
async fn a_users_page_lists_their_runs_and_a_runs_page_shows_its_budget_limits_and_only_its_steps() {
    let app = app_with(&["ada"]).await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/users/ada").await;
    assert!(page.contains("No runs: the user started none"), "{page}");

    let run = start_run(
        &app,
        "ada",
        10,
        json!({ "steps": 5, "attemptsPerAction": 3, "fallbackShare": 0.5 }),
        None,
    )
    .await;
    step(&app, "ada", &run, "summarise", "primary", 2).await;
    step(&app, "ada", &run, "summarise", "retry", 1).await;
    step(&app, "ada", &run, "answer", "fallback", 3).await;
    // Another run's step, and an entry of no run, between them in the user's ledger.
    let other = start_run(&app, "ada", 4, json!({}), None).await;
    step(&app, "ada", &other, "elsewhere", "primary", 1).await;
    app.json(
        Method::POST,
        "/v1/track",
        Some(json!({ "userId": "ada", "event": "tool.call" })),
    )
    .await;
    let child = start_run(&app, "ada", 2, json!({}), Some(&run)).await;
    let (status, closed) = app.json(Method::POST, &format!("/v1/runs/{child}/close"), None).await;
    assert_eq!(status, StatusCode::OK, "{closed}");

    let (status, page) = dashboard.get("/dashboard/users/ada").await;
    assert_eq!(status, StatusCode::OK);
    let listed = table_after(&page, "<h2 id=\"runs\">Runs</h2>");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let row = |id: &str| {
        listed
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("{id} not in {listed:?}"))
            .clone()
    };
    let shown = row(&run);
    assert_eq!(
        [&shown[1], &shown[4], &shown[5], &shown[6]],
        ["open", "4", "1", "calls 6 / 10"]
    );
    assert!(shown[3].starts_with("expires "), "{shown:?}");
    assert_eq!(row(&child)[1], "closed");
    assert!(row(&child)[3].starts_with("closed "), "{listed:?}");
    assert!(page.contains(&format!("href=\"{}\"", run_path("ada", &run))), "{page}");
    // The user's recent ledger names each step's run, linked.
    let recent = table_after(&page, "Recent usage");
    assert!(
        recent.iter().any(|r| r[5] == format!("run {run}summarise primary")),
        "{recent:?}"
    );

    let (status, page) = dashboard.get(&run_path("ada", &run)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(&format!("<title>{run} · quota-gateway</title>")),
        "{page}"
    );
    assert_eq!(
        table_after(&page, "<h2>Budget</h2>"),
        [["calls", "count", "", "10", "6", "0", "4", "3"]],
        "the child's 2 came back: 10 less 6 used; the fallback spent 3"
    );
    assert_eq!(
        table_after(&page, "<h2>Attempts per action</h2>"),
        [["answer", "1"], ["summarise", "2"]]
    );
    for limit in [
        "Steps: <strong>4</strong>, at most 5",
        "Fallbacks: <strong>1</strong>, at most <span class=\"muted\">none</span>",
        "at most 3",
        "at most 50%",
    ] {
        assert!(page.contains(limit), "{limit} in {page}");
    }
    assert!(
        page.contains(&format!("href=\"{}\"", run_path("ada", &child))),
        "the child is linked: {page}"
    );
    // Its steps, oldest first: its own three, and its child's close; nothing of the other run.
    let steps = table_after(&page, "<h2>Steps</h2>");
    let shown: Vec<(&str, &str, &str)> = steps
        .iter()
        .map(|r| (r[1].as_str(), r[5].as_str(), r[6].trim()))
        .collect();
    assert_eq!(
        shown,
        [
            ("commit", "summarise primary", "calls 2"),
            ("commit", "summarise retry", "calls 1"),
            ("commit", "answer fallback", "calls 3"),
            ("run_close", "no action primary", ""),
        ],
        "{steps:?}"
    );
    assert!(!page.contains("elsewhere"), "{page}");

    // The child's page names its parent.
    let (_, page) = dashboard.get(&run_path("ada", &child)).await;
    assert!(page.contains("<span class=\"pill\">closed</span>"), "{page}");
    assert!(
        page.contains(&format!("Carved from run <a href=\"{}\">", run_path("ada", &run))),
        "{page}"
    );
}

#[tokio::test]
async fn a_run_of_another_user_an_unknown_run_or_a_reservation_is_no_page() {
    let app = app_with(&["ada", "bo"]).await;
    let run = start_run(&app, "ada", 10, json!({}), None).await;
    let held = app.reserve(json!({ "userId": "ada", "event": "llm.call" })).await;
    let reservation = held["reservationId"].as_str().unwrap();
    let dashboard = Dashboard::sign_in(&app).await;
    assert_eq!(dashboard.get(&run_path("ada", &run)).await.0, StatusCode::OK);

    // The same run under another user's page, a run id of the right shape nobody started, a
    // reservation's id, and text.
    let unknown = format!("{}.AAAAAAAAAAAAAAAAAAAAAA", &run[..run.find('.').unwrap()]);
    for path in [
        run_path("bo", &run),
        run_path("ada", &unknown),
        run_path("ada", reservation),
        run_path("ada", "nope"),
    ] {
        let (status, body) = dashboard.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body.contains("run_not_found"), "{path}: {body}");
    }

    // Signed out, the page is the sign-in's.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{}", app.address, run_path("ada", &run)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/dashboard");
}

/// An open run's levers: extended by minutes, then closed after a confirmation that says what
/// a close commits and gives back, with a reason; both in the audit log as the operator's.
#[tokio::test]
async fn an_open_run_is_extended_and_closed_from_its_page_after_a_confirmation() {
    let app = app_with(&["ada"]).await;
    let dashboard = Dashboard::sign_in(&app).await;
    let run = start_run(&app, "ada", 10, json!({}), None).await;
    step(&app, "ada", &run, "summarise", "primary", 3).await;
    let path = run_path("ada", &run);
    let (_, page) = dashboard.get(&path).await;
    assert!(
        page.contains("Extend the run") && page.contains("Close the run"),
        "{page}"
    );
    let (_, before) = app.json(Method::GET, &format!("/v1/runs/{run}"), None).await;

    let (status, location, page) = dashboard.post(&format!("{path}/extend"), &[("minutes", "600")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location.as_deref(), Some(path.as_str()));
    let (_, after) = app.json(Method::GET, &format!("/v1/runs/{run}"), None).await;
    assert!(
        after["expiresAt"].as_str().unwrap() > before["expiresAt"].as_str().unwrap(),
        "{before} -> {after}"
    );
    let (status, _, _) = dashboard.post(&format!("{path}/extend"), &[("minutes", "0")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Never earlier than it ends now: that would cut the run short.
    let (status, _, page) = dashboard.post(&format!("{path}/extend"), &[("minutes", "1")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("must reach past the run&#39;s end") || page.contains("must reach past the run's end"),
        "{page}"
    );

    // The first post of Close only asks; the run stays open.
    let (status, _, page) = dashboard.post(&format!("{path}/close"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Close this run?") && page.contains("name=\"confirmed\""),
        "{page}"
    );
    let rows = table_after(&page, "Given back");
    assert_eq!(
        rows,
        vec![vec!["calls".to_string(), "3".to_string(), "7".to_string()]],
        "{page}"
    );
    let (_, still) = app.json(Method::GET, &format!("/v1/runs/{run}"), None).await;
    assert_eq!(still["state"], "open", "{still}");
    // Confirmed without a reason: refused, nothing closed.
    let (status, _, _) = dashboard.post(&format!("{path}/close"), &[("confirmed", "1")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, page) = dashboard
        .post(
            &format!("{path}/close"),
            &[("confirmed", "1"), ("reason", "runaway agent")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, closed) = app.json(Method::GET, &format!("/v1/runs/{run}"), None).await;
    assert_eq!(closed["state"], "closed", "{closed}");
    let (_, usage) = app.json(Method::GET, "/v1/users/ada/usage", None).await;
    assert_eq!(usage["counters"][0]["used"], 3, "{usage}");
    assert_eq!(usage["counters"][0]["reserved"], 0, "{usage}");
    let (_, page) = dashboard.get(&path).await;
    assert!(!page.contains("Close the run"), "a closed run has no levers: {page}");
    // The confirmation sent again (a double click) closes nothing more and records nothing.
    let (status, _, _) = dashboard
        .post(&format!("{path}/close"), &[("confirmed", "1"), ("reason", "again")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (_, log) = app.json(Method::GET, "/v1/audit-log?action=run", None).await;
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["run.close", "run.extend"], "{log}");
    assert!(log["data"][0]["detail"].to_string().contains("runaway agent"), "{log}");
}
