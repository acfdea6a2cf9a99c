//! Prices on the dashboard over plain HTTP: the catalog shown with where each price was read,
//! a project price set and removed through the page (the API's rules and the audit log hold),
//! and the plan editor's cost of a typical call for each priced group.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::Dashboard;
use crate::support::spawn_app;

#[tokio::test]
async fn a_price_set_on_the_page_beats_the_catalog_and_the_plan_editor_shows_a_typical_calls_cost() {
    let app = spawn_app().await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/prices").await;
    assert_eq!(status, 200);
    assert!(page.contains("gpt-4.1") && page.contains("https://"), "{page}");
    assert!(page.contains("None: the catalog prices every model."));

    // A malformed price is refused by name and nothing is set.
    let (status, _, refused) = dashboard
        .post(
            "/dashboard/prices",
            &[
                ("do", "set"),
                ("model", "house-model"),
                ("inputPerMillion", "-1"),
                ("outputPerMillion", "2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("inputPerMillion"), "{refused}");
    let (_, prices) = app.json(Method::GET, "/v1/prices", None).await;
    assert_eq!(prices["data"], json!([]));

    let (status, location, _) = dashboard
        .post(
            "/dashboard/prices",
            &[
                ("do", "set"),
                ("model", "house-model"),
                ("inputPerMillion", "0.5"),
                ("outputPerMillion", "1.5"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/dashboard/prices"))
    );
    let (_, price) = app.json(Method::GET, "/v1/prices/house-model", None).await;
    assert_eq!(
        (price["inputPerMillion"].clone(), price["outputPerMillion"].clone()),
        (json!(0.5), json!(1.5))
    );
    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    assert_eq!(log["data"][0]["action"], "price.put");

    // The editor of a priced plan prices a typical call (1,000 in, 500 out) of each model: the
    // house model's is $0.0005 + $0.00075 = 0.125 cents, 0.15 with the markup of 1.2.
    app.put_plan(json!({ "id": "plan_dollars", "periodType": "month", "groups": [
        { "id": "dollars", "unit": "cents", "quota": 2000, "measure": { "price": "catalog", "markup": 1.2 },
          "matches": [ { "event": "*" } ] } ] }))
        .await;
    let (status, editor) = dashboard.get("/dashboard/plans/plan_dollars/edit").await;
    assert_eq!(status, 200);
    assert!(editor.contains("What a typical call costs"), "{editor}");
    let row = editor
        .split("<tr>")
        .find(|r| r.contains("<code>house-model</code>"))
        .expect("a row for the project's model");
    assert!(row.contains("override") && row.contains("0.15"), "{row}");

    // Removed: the catalog prices it again (it lists no such model: none at all).
    let (status, _, _) = dashboard
        .post("/dashboard/prices", &[("do", "delete"), ("model", "house-model")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, gone): (StatusCode, Value) = app.json(Method::GET, "/v1/prices/house-model", None).await;
    assert_eq!(
        (status, gone["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("price_not_found"))
    );
}

#[tokio::test]
async fn a_long_context_tier_and_batch_prices_are_shown_and_set_on_the_page() {
    let app = spawn_app().await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/prices").await;
    let pro = page
        .split("<tr>")
        .find(|r| r.contains("<code>gemini-2.5-pro</code>"))
        .expect("a row for gemini-2.5-pro");
    assert!(
        pro.contains("over 200000 input tokens: $2.5 in · $0.25 cached · $15 out; batch: $0.625 in · $5 out"),
        "{pro}"
    );

    // A tier missing a price it needs is refused naming it, and nothing is set.
    let base = [
        ("do", "set"),
        ("model", "house-pro"),
        ("inputPerMillion", "1.25"),
        ("outputPerMillion", "10"),
    ];
    let (status, _, refused) = dashboard
        .post(
            "/dashboard/prices",
            &[
                &base[..],
                &[
                    ("longContext.overInputTokens", "200000"),
                    ("longContext.inputPerMillion", "2.5"),
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("longContext.outputPerMillion: is required"),
        "{refused}"
    );
    let (_, prices) = app.json(Method::GET, "/v1/prices", None).await;
    assert_eq!(prices["data"], json!([]));

    let (status, _, _) = dashboard
        .post(
            "/dashboard/prices",
            &[
                &base[..],
                &[
                    ("longContext.overInputTokens", "200000"),
                    ("longContext.inputPerMillion", "2.5"),
                    ("longContext.outputPerMillion", "15"),
                    ("batch.inputPerMillion", "0.625"),
                    ("batch.outputPerMillion", "5"),
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, price) = app.json(Method::GET, "/v1/prices/house-pro", None).await;
    assert_eq!(
        (&price["longContext"], &price["batch"]),
        (
            &json!({ "overInputTokens": 200000, "inputPerMillion": 2.5, "outputPerMillion": 15 }),
            &json!({ "inputPerMillion": 0.625, "outputPerMillion": 5 })
        )
    );
    let (_, page) = dashboard.get("/dashboard/prices").await;
    let own = page
        .split("<tr>")
        .find(|r| r.contains("<code>house-pro</code>"))
        .expect("a row for the project's price");
    assert!(
        own.contains("over 200000 input tokens: $2.5 in · $15 out; batch: $0.625 in · $5 out"),
        "{own}"
    );
}
