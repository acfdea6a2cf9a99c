//! The dashboard's pages for every state: an error under `/dashboard` is a page with a way
//! back and the request's id, never the API's problem+json; the API keeps problem+json.

use reqwest::StatusCode;

use crate::dashboard::Dashboard;
use crate::support::{freemium_free_plan, spawn_app};

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
        assert!(links(&page).contains(&back.to_string()), "{path} leads back to {back}: {page}");
        assert!(page.contains(&id), "{path} names its request {id}: {page}");
        assert!(page.contains("name=\"viewport\""), "{path}: {page}");
    }

    // A form that the gateway refuses as sent (a void without its reason) answers a page too.
    let (status, _, page) = dash
        .post("/dashboard/users/alice/void", &[("grantId", "gr_nosuchgrant"), ("confirmed", "1")])
        .await;
    assert!(status.is_client_error(), "{status}: {page}");
    assert!(page.contains("<h1>"), "{page}");
    assert!(links(&page).contains(&"/dashboard/users/alice".to_string()), "{page}");

    // The API's own paths keep problem+json.
    let res = app.client.get(format!("{}/v1/no-such-route", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}
