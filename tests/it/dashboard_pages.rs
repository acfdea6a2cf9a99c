//! The dashboard's pages for every state: an error under `/dashboard` is a page with a way
//! back and the request's id, never the API's problem+json; the API keeps problem+json.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::Dashboard;
use crate::support::receiver::Receiver;
use crate::support::{freemium_free_plan, redis, spawn_app, spawn_app_with, unique_prefix};
use crate::webhooks::endpoint;

/// The `href`s of a page's links.
fn links(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

#[tokio::test]
async fn a_missing_page_run_or_report_is_a_page_with_a_way_back_and_the_request_id() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("alice", "plan_free", None).await;
    let dash = Dashboard::sign_in(&app).await;
    for (path, back) in [
        ("/dashboard/no-such-page", "/dashboard"),
        ("/dashboard/users/alice/runs/run_nosuchrun", "/dashboard/users/alice"),
        ("/dashboard/simulations/sim_nosuchsim", "/dashboard/plans"),
    ] {
        let res = dash
            .client
            .get(format!("{}{path}", app.address))
            .header(reqwest::header::COOKIE, &dash.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(res.headers().contains_key("content-security-policy"), "{path}");
        let page = res.text().await.unwrap();
        assert!(page.contains("<h1>Not found</h1>"), "{path}: {page}");
        assert!(
            links(&page).contains(&back.to_string()),
            "{path} leads back to {back}: {page}"
        );
        assert!(page.contains(&id), "{path} names its request {id}: {page}");
        assert!(page.contains("name=\"viewport\""), "{path}: {page}");
    }

    // A form that the gateway refuses as sent (a void without its reason) answers a page too.
    let (status, _, page) = dash
        .post(
            "/dashboard/users/alice/void",
            &[("grantId", "gr_nosuchgrant"), ("confirmed", "1")],
        )
        .await;
    assert!(status.is_client_error(), "{status}: {page}");
    assert!(page.contains("<h1>"), "{page}");
    assert!(links(&page).contains(&"/dashboard/users/alice".to_string()), "{page}");

    // The API's own paths keep problem+json.
    let res = app
        .client
        .get(format!("{}/v1/no-such-route", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

/// The text of the row of a page's table whose text contains `needle`.
fn row_with(page: &str, needle: &str) -> String {
    page.split("<tr>")
        .map(|row| &row[..row.find("</tr>").unwrap_or(row.len())])
        .find(|row| row.contains(needle))
        .unwrap_or_else(|| panic!("a row with {needle}: {page}"))
        .to_string()
}

#[tokio::test]
async fn an_override_is_marked_on_its_counter_and_removed_from_the_page() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("alice", "plan_free", None).await;
    let dash = Dashboard::sign_in(&app).await;
    let group = "lg_free_model_a";
    let (_, page) = dash.get("/dashboard/users/alice").await;
    assert!(
        !row_with(&page, group).contains(">override<"),
        "no override yet: {page}"
    );

    let (status, _, page) = dash
        .post(
            "/dashboard/users/alice/override",
            &[("groupId", group), ("quota", "50")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = dash.get("/dashboard/users/alice").await;
    let row = row_with(&page, "Model A (1k)");
    assert!(
        row.contains(">override<") && row.contains("50"),
        "the counter says its quota is the user's own: {row}"
    );
    assert!(page.contains("/dashboard/users/alice/unoverride"), "{page}");

    let (status, location, page) = dash
        .post("/dashboard/users/alice/unoverride", &[("groupId", group)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        location.as_deref(),
        Some("/dashboard/users/alice?flash=override-removed")
    );
    let (_, sub) = app.json(Method::GET, "/v1/users/alice/subscription", None).await;
    assert_eq!(sub["overrides"], json!({}), "{sub}");
    let (_, page) = dash.get("/dashboard/users/alice").await;
    assert!(!row_with(&page, "Model A (1k)").contains(">override<"), "{page}");
    let (_, log) = app.json(Method::GET, "/v1/audit-log?userId=alice", None).await;
    assert_eq!(log["data"][0]["action"], "override.delete", "{log}");
}

#[tokio::test]
async fn a_failing_delivery_shows_its_last_error_and_when_it_is_tried_next() {
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |c| {
        c.webhook_allow_http = true;
        c.webhook_allow_private = true;
        c.webhook_timeout_ms = 2_000;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 8]);
    let hook = endpoint(&app, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();
    let (status, _) = app.json(Method::POST, &format!("/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 202);
    let mut delivery = Value::Null;
    for _ in 0..200 {
        let (_, list) = app
            .json(Method::GET, &format!("/v1/webhooks/{id}/deliveries"), None)
            .await;
        delivery = list["data"][0].clone();
        if delivery["tries"].as_array().is_some_and(|t| !t.is_empty()) && delivery["nextAttemptAt"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(delivery["state"], "pending", "{delivery}");
    assert_eq!(delivery["tries"][0]["status"], 500, "{delivery}");
    let next = delivery["nextAttemptAt"].as_str().unwrap().to_string();
    assert!(
        next > delivery["tries"][0]["at"].as_str().unwrap().to_string(),
        "{delivery}"
    );

    let dash = Dashboard::sign_in(&app).await;
    let (_, page) = dash.get("/dashboard/webhooks").await;
    let row = row_with(&page, delivery["id"].as_str().unwrap());
    assert!(row.contains("HTTP 500"), "{row}");
    assert!(row.contains(&format!("datetime=\"{next}\"")), "{row}");
}
