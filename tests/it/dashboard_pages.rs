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

    // A form refused by a handler's error (a run that is not there) answers the page too.
    let res = dash
        .client
        .post(format!(
            "{}/dashboard/users/alice/runs/run_nosuchrun/close",
            app.address
        ))
        .header(reqwest::header::COOKIE, &dash.cookie)
        .form(&[("csrf", dash.csrf.as_str()), ("confirmed", "1"), ("reason", "stuck")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<h1>Not found</h1>") && page.contains("run_not_found"),
        "{page}"
    );
    assert!(page.contains(&id), "{page}");
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
        next.as_str() > delivery["tries"][0]["at"].as_str().unwrap(),
        "{delivery}"
    );

    let dash = Dashboard::sign_in(&app).await;
    let (_, page) = dash.get("/dashboard/webhooks").await;
    let row = row_with(&page, delivery["id"].as_str().unwrap());
    assert!(row.contains("HTTP 500"), "{row}");
    assert!(row.contains(&format!("datetime=\"{next}\"")), "{row}");
}

/// The `href` of the link whose text is `text`, unescaped as a browser reads it.
fn link_to(page: &str, text: &str) -> Option<String> {
    let at = page.find(&format!(">{text}</a>"))?;
    let start = page[..at].rfind("href=\"")? + 6;
    Some(page[start..start + page[start..].find('"')?].replace("&amp;", "&"))
}

#[tokio::test]
async fn the_audit_log_pages_back_through_every_change_and_filters_by_action_user_and_actor() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    for i in 0..60 {
        app.subscribe(&format!("u{i:02}"), "plan_free", None).await;
    }
    for user in ["u01", "u02"] {
        let (status, _) = app
            .json(
                Method::POST,
                &format!("/v1/users/{user}/block"),
                Some(json!({ "reason": "abuse" })),
            )
            .await;
        assert_eq!(status, 200);
    }
    let dash = Dashboard::sign_in(&app).await;

    // 63 changes (the plan, 60 subscriptions, 2 blocks): the first page 50, the next the rest.
    let (_, first) = dash.get("/dashboard/audit").await;
    assert_eq!(first.matches("<tr>").count() - 1, 50, "{first}");
    let older = link_to(&first, "Older changes").expect("a link to older changes");
    let (_, second) = dash.get(&older).await;
    assert_eq!(second.matches("<tr>").count() - 1, 13, "{second}");
    assert!(
        second.contains("plan.put"),
        "the oldest change is on the last page: {second}"
    );
    assert!(link_to(&second, "Older changes").is_none(), "{second}");
    assert!(link_to(&second, "Newest").is_some(), "{second}");

    // By action, by resource (every user.* action), by user, by actor; and the API alike.
    for (query, rows) in [
        ("action=user.block", 2),
        ("action=user", 2),
        ("user=u02", 2),
        ("action=user.block&user=u02", 1),
    ] {
        let (status, page) = dash.get(&format!("/dashboard/audit?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(page.matches("<tr>").count() - 1, rows, "{query}: {page}");
        let (status, api) = app
            .json(
                Method::GET,
                &format!("/v1/audit-log?{}", query.replace("user=", "userId=")),
                None,
            )
            .await;
        assert_eq!(status, 200, "{api}");
        assert_eq!(api["data"].as_array().unwrap().len(), rows, "{query}: {api}");
    }
    let actor = {
        let (_, log) = app.json(Method::GET, "/v1/audit-log?limit=1", None).await;
        log["data"][0]["actorId"].as_str().unwrap().to_string()
    };
    let (_, page) = dash.get(&format!("/dashboard/audit?actor={actor}&action=plan")).await;
    assert_eq!(page.matches("<tr>").count() - 1, 1, "{page}");
    let (_, page) = dash.get("/dashboard/audit?actor=op_nobody").await;
    assert!(page.contains("No change recorded."), "{page}");

    // A bad filter is named, on the page and by the API.
    let (status, page) = dash.get("/dashboard/audit?action=User.Block").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Action: must be an action like user.block"), "{page}");
    let (status, api) = app.json(Method::GET, "/v1/audit-log?action=a.b.c", None).await;
    assert_eq!(status, 400);
    assert_eq!(api["field"], "action", "{api}");
}

#[tokio::test]
async fn a_users_ledger_pages_back_through_every_entry_and_filters_by_kind() {
    let app = spawn_app().await;
    let plan = json!({ "id": "plan_calls", "periodType": "month", "groups": [
        { "id": "calls", "label": "Calls", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] } ] });
    app.put_plan(plan).await;
    app.subscribe("ada", "plan_calls", None).await;
    for i in 0..70 {
        let event = if i % 10 == 0 { "render" } else { "chat" };
        let (status, _) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "ada", "event": event })),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/users/ada/adjustments",
            Some(json!({ "groupId": "calls", "amount": -1, "reason": "refund" })),
        )
        .await;
    assert_eq!(status, 200);
    let dash = Dashboard::sign_in(&app).await;

    let (_, user_page) = dash.get("/dashboard/users/ada").await;
    let every = link_to(&user_page, "Every entry, with filters").expect("the user's page links the ledger");
    let (_, first) = dash.get(&every).await;
    assert_eq!(first.matches("<tr>").count() - 1, 50, "{first}");
    assert!(first.contains("adjustment"), "newest first: {first}");
    let (_, second) = dash.get(&link_to(&first, "Older entries").unwrap()).await;
    assert_eq!(second.matches("<tr>").count() - 1, 21, "{second}");
    assert!(link_to(&second, "Older entries").is_none(), "{second}");

    let (_, adjustments) = dash.get("/dashboard/users/ada/ledger?kind=adjustment").await;
    assert_eq!(adjustments.matches("<tr>").count() - 1, 1, "{adjustments}");
    let (_, proxied) = dash.get("/dashboard/users/ada/ledger?proxied=1").await;
    assert!(proxied.contains("None."), "no call came through the proxy: {proxied}");
    let (status, page) = dash.get("/dashboard/users/ada/ledger?kind=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (status, _) = dash.get("/dashboard/users/ada/ledger?before=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_users_proxy_key_is_listed_on_their_page_and_revoked_after_a_confirmation_with_a_reason() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    app.subscribe("alice", "plan_free", None).await;
    let (status, minted) = app
        .json(
            Method::POST,
            "/v1/user-keys",
            Some(json!({ "userId": "alice", "label": "alice's laptop" })),
        )
        .await;
    assert_eq!(status, 201, "{minted}");
    let key_id = minted["id"].as_str().unwrap().to_string();
    let dash = Dashboard::sign_in(&app).await;
    let (_, page) = dash.get("/dashboard/users/alice").await;
    let row = row_with(&page, &key_id);
    assert!(
        row.contains("alice&#39;s laptop") || row.contains("alice's laptop"),
        "{row}"
    );

    let path = "/dashboard/users/alice/revoke-key";
    let (status, _, page) = dash.post(path, &[("keyId", &key_id)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Revoke this user key?"), "{page}");
    let listed = || async {
        let (_, keys) = app.json(Method::GET, "/v1/user-keys?userId=alice", None).await;
        keys["data"].as_array().unwrap().len()
    };
    assert_eq!(listed().await, 1, "nothing revoked before the confirmation");
    let (status, _, _) = dash.post(path, &[("keyId", &key_id), ("confirmed", "1")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is required");
    let (status, location, _) = dash
        .post(
            path,
            &[
                ("keyId", &key_id),
                ("confirmed", "1"),
                ("reason", "leaked in a screenshot"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/dashboard/users/alice?flash=key-revoked"));
    assert_eq!(listed().await, 0);
    let (_, log) = app
        .json(Method::GET, "/v1/audit-log?action=user_key.revoke", None)
        .await;
    assert_eq!(log["data"][0]["detail"]["reason"], "leaked in a screenshot", "{log}");
    // Another user's key, or none, is no key of this page.
    let (_, bobs) = app
        .json(Method::POST, "/v1/user-keys", Some(json!({ "userId": "bob" })))
        .await;
    let bobs = bobs["id"].as_str().unwrap();
    for key in [bobs, "key_nosuchkey"] {
        let form = [("keyId", key), ("confirmed", "1"), ("reason", "wrong page")];
        let (status, _, _) = dash.post(path, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{key}");
    }
    let (_, keys) = app.json(Method::GET, "/v1/user-keys?userId=bob", None).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "bob's key stands: {keys}");
}

/// The overview is counted from every user's rollups in the background and dated: a view
/// shows the last count (never a partial one), and "Count again now" starts the next, which
/// a later view shows.
#[tokio::test]
async fn the_overview_is_a_dated_count_of_every_user_made_again_on_request() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_calls", "periodType": "month", "groups": [
        { "id": "calls", "label": "Calls", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    let track = |user: &'static str, quantity: u64| {
        let app = &app;
        async move {
            let body = json!({ "userId": user, "event": "chat", "quantity": quantity });
            assert_eq!(app.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
        }
    };
    app.subscribe("light", "plan_calls", None).await;
    app.subscribe("heavy", "plan_calls", None).await;
    track("light", 3).await;
    // The top users' card alone (the latest changes name both users too).
    let top = |page: &str| {
        let from = page.find("<h2>Top users").expect("the top users");
        page[from..from + page[from..].find("</div>").unwrap()].to_string()
    };
    let dash = Dashboard::sign_in(&app).await;
    let (_, page) = dash.get("/dashboard/overview").await;
    assert!(
        page.contains("Usage from every user's rollups (2 users), as of"),
        "{page}"
    );
    assert!(
        top(&page).contains("/dashboard/users/light") && !top(&page).contains("heavy"),
        "{page}"
    );

    track("heavy", 900).await;
    let (_, page) = dash.get("/dashboard/overview").await;
    assert!(!top(&page).contains("heavy"), "the last count until a new one: {page}");
    assert!(page.contains(">Count again now</button>"), "{page}");
    let (status, location, _) = dash.post("/dashboard/overview", &[]).await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/dashboard/overview"))
    );
    let mut seen = String::new();
    for _ in 0..200 {
        seen = top(&dash.get("/dashboard/overview").await.1);
        if seen.contains("heavy") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let heavy = seen
        .find("/dashboard/users/heavy\"")
        .expect("the new count lists heavy");
    let light = seen.find("/dashboard/users/light\"").unwrap();
    assert!(heavy < light, "the heaviest first: {seen}");
    assert!(seen.contains("900 count"), "{seen}");
}

#[tokio::test]
async fn a_plan_switch_asks_a_reason_that_the_audit_log_keeps() {
    let app = spawn_app().await;
    app.put_plan(freemium_free_plan()).await;
    let mut pro = freemium_free_plan();
    pro["id"] = json!("plan_pro");
    app.put_plan(pro).await;
    app.subscribe("alice", "plan_free", None).await;
    let dash = Dashboard::sign_in(&app).await;
    let (status, _, page) = dash
        .post("/dashboard/users/alice/plan", &[("planId", "plan_pro")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Switch this user&#39;s plan?") || page.contains("Switch this user's plan?"),
        "{page}"
    );
    assert!(page.contains("name=\"reason\" required"), "{page}");
    let (status, _, _) = dash
        .post(
            "/dashboard/users/alice/plan",
            &[("planId", "plan_pro"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let plan_of = || async { app.json(Method::GET, "/v1/users/alice/subscription", None).await.1["planId"].clone() };
    assert_eq!(plan_of().await, "plan_free", "no reason, no switch");
    let (status, location, _) = dash
        .post(
            "/dashboard/users/alice/plan",
            &[
                ("planId", "plan_pro"),
                ("confirmed", "1"),
                ("reason", "upgrade paid by invoice"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/dashboard/users/alice?flash=plan"));
    assert_eq!(plan_of().await, "plan_pro");
    let (_, log) = app
        .json(Method::GET, "/v1/audit-log?action=subscription.put&limit=1", None)
        .await;
    assert_eq!(log["data"][0]["detail"]["reason"], "upgrade paid by invoice", "{log}");
    assert_eq!(log["data"][0]["detail"]["planId"], "plan_pro", "{log}");
}

/// A history that ends exactly at a page's end leads nowhere older: no link to an empty page.
#[tokio::test]
async fn a_history_of_exactly_one_page_has_no_older_page() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_calls", "periodType": "month", "groups": [
        { "id": "calls", "label": "Calls", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    // The plan and 49 subscriptions: 50 changes. Then 50 ledger entries of one user.
    for i in 0..49 {
        app.subscribe(&format!("u{i:02}"), "plan_calls", None).await;
    }
    for _ in 0..50 {
        let body = json!({ "userId": "u00", "event": "chat" });
        assert_eq!(app.json(Method::POST, "/v1/track", Some(body)).await.0, 200);
    }
    let dash = Dashboard::sign_in(&app).await;
    let (_, audit) = dash.get("/dashboard/audit").await;
    assert_eq!(audit.matches("<tr>").count() - 1, 50, "{audit}");
    assert!(link_to(&audit, "Older changes").is_none(), "{audit}");
    let (_, api) = app.json(Method::GET, "/v1/audit-log?limit=50", None).await;
    assert_eq!(api["nextCursor"], Value::Null, "{api}");
    let (_, api) = app.json(Method::GET, "/v1/audit-log?limit=49", None).await;
    assert!(api["nextCursor"].is_string(), "one more is left: {api}");

    let (_, ledger) = dash.get("/dashboard/users/u00/ledger").await;
    assert_eq!(ledger.matches("<tr>").count() - 1, 50, "{ledger}");
    assert!(link_to(&ledger, "Older entries").is_none(), "{ledger}");
    assert!(ledger.contains("The oldest entry kept."), "{ledger}");
}
