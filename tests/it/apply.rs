//! Plans as code: every example file applies, and applying again changes nothing.

use quota_gateway::apply::{apply, read_plans, Change};

use crate::support::spawn_app;

#[tokio::test]
async fn every_example_applies_and_a_second_apply_changes_nothing() {
    let app = spawn_app().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 5);
    for file in &files {
        let first = apply(&app.address, &app.key, file)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            first.iter().all(|c| matches!(c, Change::Created { version: 1, .. })),
            "{first:?}"
        );
        let again = apply(&app.address, &app.key, file).await.unwrap();
        assert!(again.iter().all(|c| matches!(c, Change::Unchanged { .. })), "{again:?}");
        assert_eq!(first.len(), read_plans(file).unwrap().len());
    }
}

#[tokio::test]
async fn a_changed_plan_is_updated_and_an_invalid_one_is_refused() {
    let app = spawn_app().await;
    let dir = std::env::temp_dir().join(format!("qg-apply-{}", app.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plans.json");
    let plan = |quota: u64| {
        serde_json::json!([{ "id": "plan_x", "periodType": "month",
            "groups": [ { "id": "g", "unit": "count", "quota": quota, "matches": [ { "event": "*" } ] } ] }])
    };
    std::fs::write(&file, plan(1).to_string()).unwrap();
    apply(&app.address, &app.key, &file).await.unwrap();
    std::fs::write(&file, plan(2).to_string()).unwrap();
    let changes = apply(&app.address, &app.key, &file).await.unwrap();
    assert_eq!(
        changes,
        [Change::Updated {
            plan: "plan_x".into(),
            from: 1,
            to: 2
        }]
    );
    assert_eq!(changes[0].to_string(), "updated   plan_x (version 1 -> 2)");

    std::fs::write(
        &file,
        r#"[{"id": "plan_y", "groups": [{"id": "g", "unit": "parsecs", "quota": 1, "matches": [{"event": "*"}]}]}]"#,
    )
    .unwrap();
    let err = apply(&app.address, &app.key, &file).await.unwrap_err().to_string();
    assert!(err.contains("plan_y") && err.contains("unit"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
