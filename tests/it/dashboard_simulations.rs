//! The pricing lab on the dashboard over plain HTTP: the plan editor's "Try on the last 30
//! days" starts a simulation of the document as edited on the plan's users and leads to its
//! page, which shows the fidelity, the decisions that change, the totals, a histogram per
//! group and the most affected users linked; the plan is not saved. A form without its CSRF
//! token is refused; an invalid document, an unsaved plan and a bound are shown on the editor.
//! (`tests/browser/simulations.test.mjs` clicks through the same pages in Chromium.)

use std::time::Duration;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::{table_after, Dashboard};
use crate::support::{freemium_free_plan, spawn_app, TestApp};

/// `images` renders asked for by `user`, each reserved and, when admitted, committed.
async fn render(app: &TestApp, user: &str, images: usize) {
    for _ in 0..images {
        let answer = app
            .reserve(json!({ "userId": user, "event": "image.model_a", "metadata": { "variant": "1k" } }))
            .await;
        if let Some(id) = answer["reservationId"].as_str() {
            assert_eq!(app.commit(id, None).await.0, StatusCode::OK);
        }
    }
}

/// Ada asked for 3 images (one denied at the free plan's 2), Bo for 1, Cy for 5 (three denied).
async fn recorded_demand() -> TestApp {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    for (user, images) in [("ada", 3), ("bo", 1), ("cy", 5)] {
        app.subscribe(user, "plan_free", None).await;
        render(&app, user, images).await;
    }
    app
}

/// The free plan's document as the editor shows it, its quota raised to `quota`.
fn document(quota: u64) -> String {
    let mut doc = freemium_free_plan();
    doc["groups"][0]["quota"] = json!(quota);
    serde_json::to_string_pretty(&doc).unwrap()
}

/// Follows a simulation's page until it no longer reloads itself (at most 30 s): the page.
async fn finished(dashboard: &Dashboard, path: &str) -> String {
    for _ in 0..300 {
        let (status, page) = dashboard.get(path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if !page.contains("<meta http-equiv=\"refresh\" content=\"1\">") {
            return page;
        }
        assert!(
            page.contains("users replayed"),
            "a running simulation shows its progress: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} did not finish");
}

async fn quota_of_plan_free(app: &TestApp) -> Value {
    app.json(Method::GET, "/v1/plans/plan_free", None).await.1["groups"][0]["quota"].clone()
}

#[tokio::test]
async fn trying_a_raised_quota_from_the_editor_shows_whom_it_admits_and_saves_nothing() {
    let app = recorded_demand().await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, editor) = dashboard.get("/dashboard/plans/plan_free/edit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        editor.contains("formaction=\"/dashboard/plans/try\">Try on the last 30 days</button>"),
        "{editor}"
    );

    let (status, location, page) = dashboard
        .post("/dashboard/plans/try", &[("id", "plan_free"), ("doc", &document(3))])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let location = location.unwrap();
    assert!(location.starts_with("/dashboard/simulations/sim_"), "{location}");
    let page = finished(&dashboard, &location).await;

    assert!(page.contains("<span class=\"pill active\">done</span>"), "{page}");
    assert!(
        page.contains("Fidelity <strong>100.0 %</strong>: the share of recorded decisions (9 of 9) the replay of the current plans reproduced."),
        "{page}"
    );
    // Under 3, Ada's denial and Cy's first are admitted; nothing is newly denied.
    assert_eq!(
        table_after(&page, "<h2>Decisions that change</h2>"),
        [["Newly denied", "0", "0"], ["Newly admitted", "2", "2"]]
    );
    let totals = table_after(&page, "<h2>Baseline and candidate</h2>");
    let row = |label: &str| {
        totals
            .iter()
            .find(|r| r[0].starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {totals:?}"))[1..]
            .to_vec()
    };
    assert_eq!(row("Admitted"), ["5", "7", "+2"]);
    assert_eq!(row("Denied"), ["4", "2", "-2"]);
    // Bo stood at half of 2, and a third of 3.
    assert_eq!(row("Users crossing 50 %"), ["3", "2", "-1"]);
    assert_eq!(row("Users crossing 100 %"), ["2", "2", "0"]);
    assert_eq!(row("Credits burned"), ["0", "0", "0"]);

    // One histogram for the plan's group: Bo moves from 50–60 % to 30–40 %.
    assert!(
        page.contains("<h3><code>lg_free_model_a</code></h3><svg class=\"chart histogram\""),
        "{page}"
    );
    assert!(
        page.contains("<title>1 user at 50–60 % under the baseline</title>"),
        "{page}"
    );
    assert!(
        page.contains("<title>1 user at 30–40 % under the candidate</title>"),
        "{page}"
    );
    assert!(page.contains("p50 100.0 % → 100.0 %"), "{page}");

    let affected = table_after(&page, "<h2>Most affected users</h2>");
    assert_eq!(
        affected,
        [
            ["ada", "0", "1", "100.0 % → 100.0 %"],
            ["cy", "0", "1", "100.0 % → 100.0 %"],
            ["bo", "0", "0", "50.0 % → 33.3 %"],
        ]
    );
    assert!(
        page.contains("<td><a href=\"/dashboard/users/ada\">ada</a></td>"),
        "{page}"
    );

    // Trying is not saving.
    assert_eq!(quota_of_plan_free(&app).await, json!(2));
    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    let saved = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "plan.put")
        .count();
    assert_eq!(saved, 1, "only the set-up's: {log}");

    // Another project's session, or an id of another shape, finds no such simulation.
    for path in [
        "/dashboard/simulations/sim_0123456789abcdef0123456789abcdef".to_string(),
        "/dashboard/simulations/nope".to_string(),
        location
            .to_uppercase()
            .replace("/DASHBOARD/SIMULATIONS/", "/dashboard/simulations/"),
    ] {
        let (status, body) = dashboard.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body.contains("simulation_not_found"), "{path}: {body}");
    }
}

#[tokio::test]
async fn a_try_form_without_its_csrf_token_is_refused_and_starts_nothing() {
    let app = recorded_demand().await;
    let dashboard = Dashboard::sign_in(&app).await;
    let doc = document(3);
    for csrf in [None, Some(""), Some("guess")] {
        let mut form = vec![("id", "plan_free"), ("doc", doc.as_str())];
        if let Some(token) = csrf {
            form.push(("csrf", token));
        }
        let res = dashboard
            .client
            .post(format!("{}/dashboard/plans/try", dashboard.address))
            .header(COOKIE, &dashboard.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    // Without a session, the form leads to the sign-in page.
    let res = dashboard
        .client
        .post(format!("{}/dashboard/plans/try", dashboard.address))
        .form(&[
            ("id", "plan_free"),
            ("doc", doc.as_str()),
            ("csrf", dashboard.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/dashboard");
    assert_eq!(quota_of_plan_free(&app).await, json!(2));
}

#[tokio::test]
async fn an_invalid_document_an_unsaved_plan_and_a_bound_are_shown_on_the_editor() {
    let app = recorded_demand().await;
    let dashboard = Dashboard::sign_in(&app).await;

    // The plan's problems by field, as Check shows them, with the text as typed.
    let bogus = document(3).replace("\"count\"", "\"bogus\"");
    let (status, location, page) = dashboard
        .post("/dashboard/plans/try", &[("id", "plan_free"), ("doc", &bogus)])
        .await;
    assert_eq!((status, location), (StatusCode::UNPROCESSABLE_ENTITY, None), "{page}");
    assert!(page.contains("The plan is not valid; nothing was saved:"), "{page}");
    assert!(page.contains("<code>groups[0].unit</code>"), "{page}");
    assert!(page.contains("&quot;bogus&quot;"), "the text as typed: {page}");
    let (status, _, page) = dashboard
        .post("/dashboard/plans/try", &[("id", "plan_free"), ("doc", "{ not json")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("<code>doc</code>: is not a plan document"), "{page}");

    // A plan nobody can be on yet.
    let new = document(3).replace("\"plan_free\"", "\"plan_next\"");
    let (status, _, page) = dashboard
        .post("/dashboard/plans/try", &[("id", "plan_next"), ("doc", &new)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(
        page.contains("no plan plan_next in this project, so no user is on it"),
        "{page}"
    );

    // A node runs two simulations at a time: with two long ones running, a third is refused
    // by its bound, whose message the editor shows.
    let users: Vec<String> = (0..10_000).map(|i| format!("u{i}")).collect();
    let body = json!({ "candidate": { "planId": "plan_free" }, "cohort": { "userIds": users } });
    let mut running = Vec::new();
    for _ in 0..2 {
        let (status, answer) = app.json(Method::POST, "/v1/simulations", Some(body.clone())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        running.push(answer["id"].as_str().unwrap().to_string());
    }
    let (status, _, page) = dashboard
        .post("/dashboard/plans/try", &[("id", "plan_free"), ("doc", &document(3))])
        .await;
    let (_, first) = app
        .json(Method::GET, &format!("/v1/simulations/{}", running[0]), None)
        .await;
    assert_eq!(
        first["status"], "running",
        "the test needs the first still running: {first}"
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("concurrency: this node runs 2 simulations already; try again when one ends"),
        "{page}"
    );
    assert!(page.contains("Try on the last 30 days"), "the editor again: {page}");

    // A running simulation's page shows its progress and reloads itself.
    let (status, page) = dashboard.get(&format!("/dashboard/simulations/{}", running[0])).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"1\">"), "{page}");
    assert!(page.contains("<span class=\"pill\">running</span>"), "{page}");
    assert!(page.contains("Cohort: 10000 named users"), "{page}");
    assert!(page.contains("<progress class=\"progress\" max=\"10000\""), "{page}");
}

/// The report keeps its candidate: what it changes in the stored plan, "Edit again" (the
/// editor with the candidate) and "Save this candidate…" (the editor's check, then the save);
/// the API answers the candidate too.
#[tokio::test]
async fn a_report_keeps_its_candidate_to_diff_edit_again_and_save() {
    let app = recorded_demand().await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, location, _) = dashboard
        .post("/dashboard/plans/try", &[("id", "plan_free"), ("doc", &document(5))])
        .await;
    let location = location.unwrap();
    let page = finished(&dashboard, &location).await;
    assert!(page.contains("<h2>The candidate</h2>"), "{page}");
    assert!(
        page.contains("&quot;quota&quot;: 2,</del>"),
        "the diff shows the stored quota removed: {page}"
    );
    assert!(
        page.contains("&quot;quota&quot;: 5"),
        "the diff shows the candidate's quota: {page}"
    );
    assert!(
        page.contains(">Edit again</button>") && page.contains(">Save this candidate…</button>"),
        "{page}"
    );

    let id = location.rsplit('/').next().unwrap();
    let (_, answer) = app.json(Method::GET, &format!("/v1/simulations/{id}"), None).await;
    assert_eq!(answer["candidate"]["groups"][0]["quota"], 5, "{answer}");

    // Edit again: the editor with the candidate's document; nothing saved.
    let (status, _, editor) = dashboard
        .post("/dashboard/plans/edit", &[("id", "plan_free"), ("doc", &document(5))])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(editor.contains("&quot;quota&quot;: 5"), "{editor}");
    assert_eq!(quota_of_plan_free(&app).await, 2);

    // Save this candidate: the check first (whom it touches), then the save.
    let (status, _, check) = dashboard
        .post("/dashboard/plans/save", &[("id", "plan_free"), ("doc", &document(5))])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(check.contains("users are</strong> on"), "{check}");
    assert_eq!(
        quota_of_plan_free(&app).await,
        2,
        "nothing saved before the confirmation"
    );
    assert!(
        check.contains("name=\"reason\" required"),
        "a replacement asks why: {check}"
    );
    let confirmed = [("id", "plan_free"), ("doc", &document(5)), ("confirm", "1")];
    let (status, _, _) = dashboard.post("/dashboard/plans/save", &confirmed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no reason, nothing saved");
    assert_eq!(quota_of_plan_free(&app).await, 2);
    let with_reason = [confirmed.as_slice(), &[("reason", "the lab says 5")]].concat();
    let (status, _, _) = dashboard.post("/dashboard/plans/save", &with_reason).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(quota_of_plan_free(&app).await, 5);
    let (_, log) = app
        .json(Method::GET, "/v1/audit-log?action=plan.put&limit=1", None)
        .await;
    assert_eq!(log["data"][0]["detail"]["reason"], "the lab says 5", "{log}");

    // Now the same document as stored: the report says so.
    let page = finished(&dashboard, &location).await;
    assert!(page.contains("The same document as plan"), "{page}");
}
