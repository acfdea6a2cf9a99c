//! `quota-gateway simulate`, the binary against a real gateway: it starts a simulation, waits for
//! it, prints the summary and writes the per-user CSV; a refused simulation exits non-zero
//! with the gateway's detail.

use std::process::Output;

use serde_json::json;

use crate::support::{freemium_free_plan, spawn_app, TestApp};

/// Runs `quota-gateway simulate ARGS` against `app`, never against what QG_* say.
async fn simulate(app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .arg("simulate")
        .args(args)
        .args(["--url", &app.address, "--key", &app.key])
        .env_remove("QG_URL")
        .env_remove("QG_API_KEY")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run quota-gateway simulate")
}

/// Ada asks for three images on a quota of two (the third denied), Bo for none: under a quota
/// of three, Ada's denial would have been admitted, and nothing else changes.
#[tokio::test]
async fn simulate_prints_the_summary_and_writes_one_csv_row_per_user() {
    let app = spawn_app().await;
    // Dates taken before anything is recorded, a day either side: the range holds it all.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today.pred_opt().unwrap().to_string(),
        today.succ_opt().unwrap().to_string(),
    );
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("ada", "plan_free", None).await;
    app.subscribe("bo", "plan_free", None).await;
    let mut admitted = 0;
    for _ in 0..3 {
        let answer = app
            .reserve(json!({ "userId": "ada", "event": "image.model_a", "metadata": { "variant": "1k" } }))
            .await;
        if let Some(id) = answer["reservationId"].as_str() {
            assert_eq!(app.commit(id, None).await.0, reqwest::StatusCode::OK);
            admitted += 1;
        }
    }
    assert_eq!(admitted, 2, "the third render is denied");

    let dir = std::env::temp_dir().join(format!("qg-simulate-{}", app.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let candidate = dir.join("plan.json");
    let mut plan = freemium_free_plan();
    plan["id"] = json!("plan_free_next");
    plan["groups"][0]["quota"] = json!(3);
    std::fs::write(&candidate, plan.to_string()).unwrap();
    let csv = dir.join("rows.csv");

    let out = simulate(
        &app,
        &[
            "--candidate",
            candidate.to_str().unwrap(),
            "--cohort",
            "plan_free",
            "--from",
            &from,
            "--to",
            &to,
            "--csv",
            csv.to_str().unwrap(),
        ],
    )
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"))
            .to_string()
    };
    assert!(line("fidelity").contains("100 %"), "{stdout}");
    assert!(line("candidate ").contains("plan_free_next"), "{stdout}");
    assert!(line("newly admitted").ends_with(" 1 decision, 1 user"), "{stdout}");
    assert!(line("newly denied").ends_with(" 0 decisions, 0 users"), "{stdout}");
    assert!(
        line("admitted ").split_whitespace().eq(["admitted", "2", "3", "+1"]),
        "{stdout}"
    );
    assert!(line("lg_free_model_a").contains("100 %"), "{stdout}");
    assert!(line("ada").contains("2 -> 3"), "{stdout}");
    assert!(stdout.contains("most affected users (1 of 1"), "{stdout}");

    let rows = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = rows.lines().collect();
    assert!(
        lines[0].starts_with("userId,recorded,reproduced,newlyDenied,newlyAdmitted,"),
        "{rows}"
    );
    assert_eq!(lines.len(), 3, "a header and one row per user: {rows}");
    assert!(lines[1].starts_with("ada,3,3,0,1,"), "{rows}");
    assert!(lines[2].starts_with("bo,0,0,0,0,"), "{rows}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "no partial file is left: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_range_over_92_days_exits_non_zero_naming_the_bound() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    let out = simulate(
        &app,
        &[
            "--candidate-plan",
            "plan_free",
            "--cohort",
            "plan_free",
            "--from",
            "2026-01-01",
            "--to",
            "2026-05-01T00:00:00Z",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("simulation_bound") && stderr.contains("(field range)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}
