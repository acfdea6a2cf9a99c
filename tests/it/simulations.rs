//! The pricing lab over HTTP: `POST /v1/simulations` replays recorded demand, denials included,
//! against a candidate plan; `GET /v1/simulations/{id}` answers progress, then the report and
//! its CSV. Bounds answer 422 naming the bound; nothing a simulation reads changes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{freemium_free_plan, spawn_app, TestApp};

/// Each user asks for `images` renders, reserving and committing each one.
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

/// Polls a simulation until it is no longer running (at most 30 s).
async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..300 {
        let (status, answer) = app.json(Method::GET, &format!("/v1/simulations/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        if answer["status"] != "running" {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("simulation {id} did not finish");
}

fn with_quota(quota: u64) -> Value {
    let mut plan = freemium_free_plan();
    plan["id"] = json!("plan_free_next");
    plan["groups"][0]["quota"] = json!(quota);
    plan
}

/// The freemium question: "if free allowed 3 images instead of 2, whom would it change?"
/// Ada asked for 3 (one denied), Bo for 1, Cy for 5 (three denied): under 3, Ada's and Cy's first
/// denial are admitted; under 1, Ada's and Cy's second image is denied.
#[tokio::test]
async fn a_candidate_quota_is_tried_on_recorded_demand_denials_included() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    for (user, images) in [("ada", 3), ("bo", 1), ("cy", 5)] {
        app.subscribe(user, "plan_free", None).await;
        render(&app, user, images).await;
    }
    let before = app.usage_events_all("userId=cy").await;

    let (status, started) = app
        .json(
            Method::POST,
            "/v1/simulations",
            Some(json!({ "candidate": with_quota(3), "cohort": { "planId": "plan_free" } })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["candidatePlanId"], "plan_free_next");
    let id = started["id"].as_str().unwrap().to_string();
    let done = finished(&app, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    let report = &done["report"];
    assert_eq!(
        report["fidelity"], 1.0,
        "the baseline reproduces every recorded decision: {report}"
    );
    assert_eq!(
        (report["users"].clone(), report["recordedDecisions"].clone()),
        (json!(3), json!(9))
    );
    assert_eq!(
        (
            report["baseline"]["admitted"].clone(),
            report["baseline"]["denied"].clone()
        ),
        (json!(5), json!(4))
    );
    assert_eq!(
        (
            report["candidate"]["admitted"].clone(),
            report["candidate"]["estimated"].clone()
        ),
        (json!(7), json!(2))
    );
    assert_eq!(report["newlyAdmitted"], json!({ "decisions": 2, "users": 2 }));
    assert_eq!(report["newlyDenied"], json!({ "decisions": 0, "users": 0 }));
    // Ada and Cy reached 100 % of 2; under 3, Ada stands at 100 % and Bo at a third.
    assert_eq!(report["baseline"]["crossed"], json!({ "50": 3, "80": 2, "100": 2 }));
    assert_eq!(report["candidate"]["crossed"], json!({ "50": 2, "80": 2, "100": 2 }));
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows[0]["newlyAdmitted"], 1, "{rows:?}");
    let bo = rows.iter().find(|r| r["userId"] == "bo").unwrap();
    // (Shares are kept in millionths.)
    assert_eq!(bo["candidate"]["peakShare"]["lg_free_model_a"], 0.333333);
    assert_eq!(report["peakShare"][0]["baseline"]["max"], 1.0);

    // The CSV of the rows, most affected first.
    let csv = app
        .client
        .get(format!("{}/v1/simulations/{id}", app.address))
        .bearer_auth(&app.key)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("userId,recorded,reproduced,newlyDenied,newlyAdmitted,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[3].starts_with("bo,1,1,0,0,1,0,1,0,0,"), "{csv}");

    // The other way: a quota of 1 denies Ada's and Cy's second image.
    let (_, lowered) = app
        .json(
            Method::POST,
            "/v1/simulations",
            Some(json!({ "candidate": with_quota(1), "cohort": { "userIds": ["ada", "bo", "cy"] } })),
        )
        .await;
    let done = finished(&app, lowered["id"].as_str().unwrap()).await;
    assert_eq!(
        done["report"]["newlyDenied"],
        json!({ "decisions": 2, "users": 2 }),
        "{done}"
    );

    // Read-only: the ledger and counters are as they were.
    assert_eq!(app.usage_events_all("userId=cy").await, before);
    assert_eq!(app.usage("cy").await["counters"][0]["used"], 2);
}

/// The pricing lab replays a priced candidate at the prices in force: "what would $20 a month at
/// cost plus 20 % have done to these users?", with no price written by hand.
#[tokio::test]
async fn a_priced_candidate_is_replayed_at_the_prices_in_force() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_tokens", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 100000000, "matches": [ { "event": "llm.call" } ] } ] }))
        .await;
    app.subscribe("ada", "plan_tokens", None).await;
    // Three calls of a model priced by the project: $10 per million input and output tokens.
    let (status, _) = app
        .json(
            Method::PUT,
            "/v1/prices/house-model",
            Some(json!({ "inputPerMillion": 10, "outputPerMillion": 10 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        let held = app
            .reserve(json!({ "userId": "ada", "event": "llm.call", "quantity": 2000,
                "metadata": { "model": "house-model", "input_tokens": 1000, "output_tokens": 1000 } }))
            .await;
        assert_eq!(
            app.commit(held["reservationId"].as_str().unwrap(), None).await.0,
            StatusCode::OK
        );
    }
    // Each call is $0.02, 2.4 cents at the markup; a quota of 5 cents admits two of them.
    let candidate = json!({ "id": "plan_dollars", "periodType": "month", "groups": [
        { "id": "spend", "unit": "cents", "quota": 5, "measure": { "price": "catalog", "markup": 1.2 },
          "matches": [ { "event": "llm.call" } ] } ] });
    let (status, started) = app
        .json(
            Method::POST,
            "/v1/simulations",
            Some(json!({ "candidate": candidate, "cohort": { "planId": "plan_tokens" } })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let done = finished(&app, started["id"].as_str().unwrap()).await;
    let report = &done["report"];
    assert_eq!(report["candidate"]["admitted"], 2, "{report}");
    assert_eq!(report["candidate"]["cents"], 4.8, "{report}");
    assert_eq!(report["newlyDenied"], json!({ "decisions": 1, "users": 1 }));
}

/// Past a bound, 422 names it; an unknown simulation is 404; a stored plan is a candidate.
#[tokio::test]
async fn bounds_are_refused_with_the_bound_named() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    let post = |body: Value| app.json(Method::POST, "/v1/simulations", Some(body));
    let stored = json!({ "planId": "plan_free" });

    let (status, answer) = post(json!({ "candidate": stored, "cohort": { "planId": "plan_free" },
        "from": "2026-01-01T00:00:00Z", "to": "2026-05-01T00:00:00Z" }))
    .await;
    assert_eq!(
        (status.as_u16(), answer["code"].as_str(), answer["field"].as_str()),
        (422, Some("simulation_bound"), Some("range")),
        "{answer}"
    );

    let many: Vec<String> = (0..10_001).map(|i| format!("u{i}")).collect();
    let (status, answer) = post(json!({ "candidate": stored, "cohort": { "userIds": many } })).await;
    assert_eq!(
        (status.as_u16(), answer["field"].as_str()),
        (422, Some("cohort.userIds")),
        "{answer}"
    );

    let (status, answer) =
        post(json!({ "candidate": { "planId": "plan_none" }, "cohort": { "planId": "plan_free" } })).await;
    assert_eq!(
        (status.as_u16(), answer["code"].as_str()),
        (404, Some("plan_not_found")),
        "{answer}"
    );
    let (status, answer) = post(json!({ "candidate": stored, "cohort": {} })).await;
    assert_eq!(
        (status.as_u16(), answer["field"].as_str()),
        (400, Some("cohort")),
        "{answer}"
    );
    let (status, answer) =
        post(json!({ "candidate": stored, "cohort": { "planId": "plan_free" }, "from": "yesterday" })).await;
    assert_eq!(
        (status.as_u16(), answer["field"].as_str()),
        (400, Some("from")),
        "{answer}"
    );
    let (status, answer) =
        post(json!({ "candidate": { "groups": "none" }, "cohort": { "planId": "plan_free" } })).await;
    assert_eq!(status.as_u16(), 400, "{answer}");
    // A candidate that is no object at all is named as the field itself.
    for candidate in [json!(null), json!("plan_free"), json!([])] {
        let (status, answer) = post(json!({ "candidate": candidate, "cohort": { "planId": "plan_free" } })).await;
        assert_eq!(
            (status.as_u16(), answer["field"].as_str()),
            (400, Some("candidate")),
            "{answer}"
        );
    }

    let (status, answer) = app
        .json(
            Method::GET,
            "/v1/simulations/sim_0123456789abcdef0123456789abcdef",
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), answer["code"].as_str()),
        (404, Some("simulation_not_found")),
        "{answer}"
    );

    // A node runs two at a time: of four started at once over a large cohort, the others are
    // refused while those run.
    let users: Vec<String> = (0..5_000).map(|i| format!("u{i}")).collect();
    let body = json!({ "candidate": stored, "cohort": { "userIds": users } });
    let answers = futures::future::join_all((0..4).map(|_| post(body.clone()))).await;
    let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| s.as_u16() == 422)
        .map(|(_, a)| a)
        .collect();
    assert!(
        (1..=2).contains(&accepted) && accepted + refused.len() == 4,
        "{answers:?}"
    );
    assert!(refused.iter().all(|a| a["field"] == "concurrency"), "{answers:?}");
    // Ended, each gives its place back: another starts.
    for (_, started) in answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED) {
        finished(&app, started["id"].as_str().unwrap()).await;
    }
    let (status, answer) = post(json!({ "candidate": stored, "cohort": { "userIds": ["u1", "u1"] } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let done = finished(&app, answer["id"].as_str().unwrap()).await;
    assert_eq!(
        done["progress"]["users"], 1,
        "a user named twice is replayed once: {done}"
    );
}

/// This process's resident memory now and at its peak, in KiB (Linux's /proc).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The size the pricing lab is measured at: 1,000 users with 100 ledger entries each, written
/// by the scripts (tracks, reserves with their commits, and the denials past the quota), replayed
/// against a candidate; it finishes and accounts for every entry. Its time and this process's
/// memory are printed (BENCHMARKS.md has a release build's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulation_of_a_thousand_users_and_a_hundred_thousand_entries_finishes() {
    use futures::StreamExt;
    use quota_gateway::gateway::audit::Actor;
    use quota_gateway::gateway::lab::simulations::{Candidate, Cohort, SimulationRequest, SimulationStatus};
    use quota_gateway::gateway::ParentChange;
    use quota_gateway::surface::quota::{EventInput, Milli, Plan, UserId};

    const USERS: usize = 1_000;
    // A measure of size, not of topology: the cluster run leaves it to the standalone one.
    if std::env::var("QG_TEST_TOPOLOGY").as_deref() == Ok("cluster") {
        return;
    }
    let gateway = crate::support::service_on_shared(&crate::support::unique_prefix()).await;
    let plan = |id: &str, quota: u64| {
        let doc = json!({ "periodType": "month", "groups": [
            { "id": "images", "unit": "count", "quota": quota, "matches": [ { "event": "image" } ] },
            { "id": "tokens", "unit": "tokens", "quota": 100_000, "matches": [ { "event": "chat" } ] } ] });
        Plan::from_doc(id, serde_json::from_value(doc).unwrap()).unwrap()
    };
    let current = plan("plan_lab", 30);
    gateway
        .accounts()
        .put_plan("p", &current, &Actor::root())
        .await
        .unwrap();
    let users: Vec<UserId> = (0..USERS)
        .map(|i| UserId::parse(&format!("user{i:04}")).unwrap())
        .collect();
    // Per user: 60 tracks of chat, then 40 image reserves, each committed at once: 30 admitted
    // (a commit entry each) and 10 denied (a denied entry each) = 100 entries.
    let seeded = futures::stream::iter(&users)
        .map(|user| {
            let gateway = &gateway;
            let current = &current;
            async move {
                gateway
                    .accounts()
                    .subscribe("p", user, current, None, None, ParentChange::Keep, &Actor::root())
                    .await
                    .unwrap();
                let event = |name: &str, units: u64| EventInput {
                    user: user.clone(),
                    event: name.into(),
                    quantity: Milli(units * 1000),
                    metadata: Default::default(),
                    step: None,
                    fit: Default::default(),
                    fallback: None,
                };
                for i in 0..60 {
                    gateway
                        .data()
                        .track("p", &event("chat", 10 + i), None, None, "key_lab")
                        .await
                        .unwrap();
                }
                for _ in 0..40 {
                    let d = gateway
                        .data()
                        .reserve("p", &event("image", 1), 60_000, None)
                        .await
                        .unwrap();
                    if let Some(granted) = d.granted {
                        let id = granted.reservation_id.clone();
                        gateway
                            .data()
                            .commit(
                                "p",
                                &id,
                                quota_gateway::gateway::Commit {
                                    key_id: "key_lab",
                                    ..Default::default()
                                },
                            )
                            .await
                            .unwrap();
                    }
                }
            }
        })
        .buffer_unordered(32)
        .count()
        .await;
    assert_eq!(seeded, USERS);

    let (rss_before, _) = memory_kib();
    let started = std::time::Instant::now();
    let request = SimulationRequest {
        candidate: Candidate::Draft(Box::new(plan("plan_next", 35))),
        cohort: Cohort::Plan("plan_lab".into()),
        from_ms: Some(gateway.node().now_ms() - 86_400_000),
        to_ms: None,
    };
    let id = gateway.lab().start_simulation("p", request).await.unwrap().id;
    let done = loop {
        let s = gateway.lab().simulation("p", &id).await.unwrap().unwrap();
        if s.status != SimulationStatus::Running {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the simulation ran past its cap"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    let (rss_after, peak) = memory_kib();
    assert_eq!(done.status, SimulationStatus::Done, "{:?}", done.error);
    let report = done.report.unwrap();
    let a = &report.aggregate;
    assert_eq!((a.users, a.entries), (USERS as u64, 100 * USERS as u64));
    assert_eq!((a.recorded, a.reproduced), (40 * USERS as u64, 40 * USERS as u64));
    assert_eq!(
        (a.baseline.admitted, a.baseline.denied),
        (30 * USERS as u64, 10 * USERS as u64)
    );
    // Under 35, each user's first five denials are admitted (counted at their quantity).
    assert_eq!(
        (a.newly_admitted, a.newly_admitted_users),
        (5 * USERS as u64, USERS as u64)
    );
    println!(
        "simulation of {USERS} users and {} entries: {:.2} s; resident memory {} KiB before, {} KiB after, peak {} KiB",
        a.entries,
        elapsed.as_secs_f64(),
        rss_before,
        rss_after,
        peak
    );
}

/// The lab replays a rolling window as the scripts decide it: ten renders recorded within a
/// minute under a plan of 100, tried under five in any minute, admit five and deny five.
#[tokio::test]
async fn a_rolling_window_is_replayed_as_it_would_have_decided() {
    let app = spawn_app().await;
    let plan = |id: &str, group: Value| json!({ "id": id, "periodType": "month", "groups": [group] });
    app.put_plan(plan(
        "plan_open",
        json!({ "id": "renders", "unit": "count", "quota": 100, "matches": [ { "event": "image.model_a" } ] }),
    ))
    .await;
    app.subscribe("ada", "plan_open", None).await;
    render(&app, "ada", 10).await;
    let candidate = plan(
        "plan_burst",
        json!({ "id": "renders", "unit": "count", "quota": 5, "period": { "type": "rolling", "seconds": 60 },
                "matches": [ { "event": "image.model_a" } ] }),
    );
    let (status, started) = app
        .json(
            Method::POST,
            "/v1/simulations",
            Some(json!({ "candidate": candidate, "cohort": { "planId": "plan_open" } })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let done = finished(&app, started["id"].as_str().unwrap()).await;
    let report = &done["report"];
    assert_eq!(
        (
            report["candidate"]["admitted"].clone(),
            report["newlyDenied"]["decisions"].clone()
        ),
        (json!(5), json!(5)),
        "{report}"
    );
}
