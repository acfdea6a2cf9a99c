//! Approvals on the dashboard over plain HTTP: the queue of requests that approval groups
//! opened, with the counter when each was denied; approved and declined through its forms by
//! the gateway's own decision (so the override, the audit log and the group's answers follow);
//! a form sent again after its request was decided answering with a notice; forged or
//! malformed forms deciding nothing; and the count of waiting requests in the navigation.
//! (`tests/browser/` approves through the page in Chromium.)

use std::time::Duration;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::{minute, table_after, Dashboard};
use crate::support::{spawn_app, TestApp};

/// Two launches a month, then a person decides.
fn gate_plan() -> Value {
    json!({ "id": "plan_gate", "periodType": "month", "groups": [
        { "id": "launches", "label": "Campaign launches", "unit": "count", "quota": 2, "mode": "approval",
          "matches": [ { "event": "campaign.launch" } ] } ] })
}

fn launch(user: &str) -> Value {
    json!({ "userId": user, "event": "campaign.launch", "ttlSeconds": 600 })
}

/// `users` on the gate plan, each with one launch used and one held, then denied: the id of
/// each one's request, once the project's list has it.
async fn denied(app: &TestApp, users: &[&str]) -> Vec<String> {
    app.put_plan(gate_plan()).await;
    let mut ids = Vec::new();
    for user in users {
        app.subscribe(user, "plan_gate", None).await;
        let used = app.reserve(launch(user)).await;
        assert_eq!(used["allowed"], true, "{used}");
        let (status, committed) = app.commit(used["reservationId"].as_str().unwrap(), None).await;
        assert_eq!(status, StatusCode::OK, "{committed}");
        assert_eq!(app.reserve(launch(user)).await["allowed"], true);
        let pending = app.reserve(launch(user)).await;
        assert_eq!(pending["reasons"], json!(["approval_pending"]), "{pending}");
        ids.push(pending["denials"][0]["approvalId"].as_str().unwrap().to_string());
    }
    listed(app, "status=pending", users.len()).await;
    ids
}

/// The project's requests for `query`, once at least `want` are listed (the list follows the
/// script that opened them by a moment).
async fn listed(app: &TestApp, query: &str, want: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (status, page) = app.json(Method::GET, &format!("/v1/approvals?{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let list = page["data"].as_array().unwrap().clone();
        if list.len() >= want {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{want} approval requests were never listed for {query}");
}

async fn approval(app: &TestApp, id: &str) -> Value {
    let (status, answer) = app.json(Method::GET, &format!("/v1/approvals/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn audit(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, answer) = app
        .json(Method::GET, &format!("/v1/audit-log?userId={user}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"].as_array().unwrap().clone()
}

fn actions(changes: &[Value], action: &str) -> usize {
    changes.iter().filter(|c| c["action"] == action).count()
}

/// The count beside the navigation's Approvals link on `page`, if it shows one.
fn nav_count(page: &str) -> Option<String> {
    let nav = &page[page.find("<nav aria-label=\"Sections\">").expect("a navigation")..];
    let nav = &nav[..nav.find("</nav>").unwrap()];
    let link = &nav[nav.find("href=\"/dashboard/approvals\"").expect("an Approvals link")..];
    let link = &link[..link.find("</a>").unwrap()];
    let at = link.find("class=\"count\"")?;
    let count = &link[at..];
    Some(count[count.find('>').unwrap() + 1..count.find("</span>").unwrap()].to_string())
}

/// The flash on `page`: its class and text.
fn flash(page: &str) -> Option<(String, String)> {
    let div = &page[page.find("<div class=\"flash")?..];
    let class = &div["<div class=\"".len()..];
    let class = &class[..class.find('"').unwrap()];
    let text = &div[div.find('>').unwrap() + 1..div.find("</div>").unwrap()];
    Some((class.to_string(), text.to_string()))
}

#[tokio::test]
async fn a_decision_form_without_its_csrf_token_is_refused_and_decides_nothing() {
    let app = spawn_app().await;
    let id = denied(&app, &["ann"]).await.remove(0);
    let dashboard = Dashboard::sign_in(&app).await;
    for (action, fields) in [
        ("approve", vec![("quota", "10"), ("expiresAt", "")]),
        ("decline", vec![("reason", "forged")]),
    ] {
        for csrf in [None, Some(""), Some("guess")] {
            let mut form = fields.clone();
            if let Some(token) = csrf {
                form.push(("csrf", token));
            }
            let res = dashboard
                .client
                .post(format!("{}/dashboard/approvals/{id}/{action}", dashboard.address))
                .header(COOKIE, &dashboard.cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action} {csrf:?}");
            assert!(res.text().await.unwrap().contains("This form has expired"));
        }
    }
    assert_eq!(approval(&app, &id).await["status"], "pending");
    let changes = audit(&app, "ann").await;
    assert_eq!(
        actions(&changes, "approval.approve") + actions(&changes, "approval.decline"),
        0
    );
    assert_eq!(app.reserve(launch("ann")).await["reasons"], json!(["approval_pending"]));

    // Without a session, the form leads to the sign-in page.
    let res = dashboard
        .client
        .post(format!("{}/dashboard/approvals/{id}/approve", dashboard.address))
        .form(&[("quota", "10"), ("csrf", dashboard.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(approval(&app, &id).await["status"], "pending");
}

#[tokio::test]
async fn approving_through_the_queue_admits_the_user_again_is_audited_and_a_second_send_only_says_so() {
    let app = spawn_app().await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/approvals").await;
    assert_eq!(nav_count(&page), None, "nothing waits: no count");
    assert_eq!(
        table_after(&page, "<h1>Approvals"),
        [["No request waits for a decision."]]
    );

    let id = denied(&app, &["ann"]).await.remove(0);
    let request = approval(&app, &id).await;
    let (status, page) = dashboard.get("/dashboard/approvals").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nav_count(&page).as_deref(), Some("1"), "{page}");
    let rows = table_after(&page, "<h1>Approvals");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row[0], format!("ann{id}"));
    assert_eq!(
        row[1],
        format!("launchesperiod ends {}", minute(request["resetsAt"].as_str().unwrap()))
    );
    assert_eq!(row[2], "none named", "no owner is named on the gate plan");
    assert_eq!(
        row[3..9],
        [
            "campaign.launch",
            "1",
            "1",
            "1",
            "2",
            &minute(request["requestedAt"].as_str().unwrap())
        ]
    );
    assert!(page.contains("<a href=\"/dashboard/users/ann\">ann</a>"), "{page}");
    // The form offers the quota doubled, and the end of the period as the default expiry.
    let approve = format!("/dashboard/approvals/{id}/approve");
    let form = &page[page.find(&format!("action=\"{approve}\"")).unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains("name=\"quota\""), "{form}");
    assert!(form.contains("value=\"4\""), "{form}");
    assert!(
        form.contains(&format!("placeholder=\"{}\"", request["resetsAt"].as_str().unwrap())),
        "{form}"
    );
    assert!(
        form.contains(&format!("name=\"csrf\" value=\"{}\"", dashboard.csrf)),
        "{form}"
    );

    // The user's page lists it, with a link to the queue.
    let (_, user_page) = dashboard.get("/dashboard/users/ann").await;
    assert_eq!(
        table_after(&user_page, "Waiting for approval")[0][..6],
        ["launches", "campaign.launch", "1", "1", "1", "2"]
    );
    assert!(
        user_page.contains("href=\"/dashboard/approvals?user=ann\""),
        "{user_page}"
    );
    assert_eq!(nav_count(&user_page).as_deref(), Some("1"));

    // Approved at 5 until the end of the period: the user is admitted again.
    let fields = [("quota", "5"), ("expiresAt", "")];
    let (status, location, page) = dashboard.post(&approve, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location.as_deref(), Some("/dashboard/approvals?flash=approved"));
    let admitted = app.reserve(launch("ann")).await;
    assert_eq!(admitted["allowed"], true, "{admitted}");
    let decided = approval(&app, &id).await;
    assert_eq!(
        (
            decided["status"].clone(),
            decided["approvedQuota"].clone(),
            decided["expiresAt"].clone()
        ),
        (json!("approved"), json!(5), request["resetsAt"].clone()),
        "{decided}"
    );
    let changes = audit(&app, "ann").await;
    let approved: Vec<&Value> = changes.iter().filter(|c| c["action"] == "approval.approve").collect();
    assert_eq!(approved.len(), 1, "{changes:?}");
    assert_eq!(approved[0]["detail"]["approvalId"], id.as_str());
    assert_eq!(approved[0]["detail"]["quota"], 5);
    let subscribed = changes.iter().find(|c| c["action"] == "subscription.put").unwrap();
    assert_eq!(
        approved[0]["actorId"], subscribed["actorId"],
        "by the key that signed in"
    );

    let (_, page) = dashboard.get("/dashboard/approvals?flash=approved").await;
    assert_eq!(
        flash(&page),
        Some(("flash".into(), "Request approved: the new quota is in force.".into()))
    );
    assert_eq!(nav_count(&page), None, "{page}");
    assert_eq!(
        table_after(&page, "<h1>Approvals"),
        [["No request waits for a decision."]]
    );
    let (_, page) = dashboard.get("/dashboard/users/ann").await;
    assert!(!page.contains("Waiting for approval"), "{page}");
    // The decided tab lists it, with the decision and who made it.
    let (_, page) = dashboard.get("/dashboard/approvals?status=approved").await;
    let rows = table_after(&page, "<h1>Approvals");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0][10],
        format!("quota 5 until {}", request["resetsAt"].as_str().unwrap())
    );
    assert_eq!(rows[0][11], approved[0]["actorLabel"].as_str().unwrap());

    // The same form sent again (a double click, Back and send) says so and changes nothing;
    // so does a decline from a page rendered before the approval.
    for (action, fields) in [
        ("approve", &[("quota", "50"), ("expiresAt", "")][..]),
        ("decline", &[("reason", "too late")][..]),
    ] {
        let path = format!("/dashboard/approvals/{id}/{action}");
        let (status, location, page) = dashboard.post(&path, fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location.as_deref(), Some("/dashboard/approvals?flash=already-approved"));
    }
    let (status, page) = dashboard.get("/dashboard/approvals?flash=already-approved").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        flash(&page),
        Some((
            "flash".into(),
            "This request was approved already; this form changed nothing.".into()
        ))
    );
    assert_eq!(approval(&app, &id).await["approvedQuota"], 5);
    let changes = audit(&app, "ann").await;
    assert_eq!(actions(&changes, "approval.approve"), 1);
    assert_eq!(actions(&changes, "approval.decline"), 0);
}

#[tokio::test]
async fn declining_through_the_queue_keeps_the_group_denying_at_its_limit() {
    let app = spawn_app().await;
    let id = denied(&app, &["bo"]).await.remove(0);
    let dashboard = Dashboard::sign_in(&app).await;
    let decline = format!("/dashboard/approvals/{id}/decline");

    // A reason is required, by the API's rule.
    for reason in ["", "   ", &"x".repeat(300)] {
        let (status, location, page) = dashboard.post(&decline, &[("reason", reason)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert_eq!(location, None);
        let (class, text) = flash(&page).unwrap();
        assert_eq!(class, "flash error");
        assert_eq!(text, "reason: must be 1 to 256 bytes without control characters");
        // The queue again, with the request still in it.
        assert!(page.contains(&format!("action=\"{decline}\"")), "{page}");
    }
    assert_eq!(approval(&app, &id).await["status"], "pending");

    let (status, location, page) = dashboard.post(&decline, &[("reason", "campaign <not> reviewed")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location.as_deref(), Some("/dashboard/approvals?flash=declined"));
    let after = app.reserve(launch("bo")).await;
    assert_eq!(after["allowed"], false);
    assert_eq!(after["reasons"], json!(["limit_reached"]), "{after}");
    let decided = approval(&app, &id).await;
    assert_eq!(
        (decided["status"].clone(), decided["reason"].clone()),
        (json!("declined"), json!("campaign <not> reviewed"))
    );
    let changes = audit(&app, "bo").await;
    let declined: Vec<&Value> = changes.iter().filter(|c| c["action"] == "approval.decline").collect();
    assert_eq!(declined.len(), 1, "{changes:?}");
    assert_eq!(declined[0]["detail"]["reason"], "campaign <not> reviewed");

    // Listed as declined, its reason as text.
    let (_, page) = dashboard.get("/dashboard/approvals?status=declined").await;
    let rows = table_after(&page, "<h1>Approvals");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][10], "campaign &lt;not&gt; reviewed");
    assert!(!page.contains("<not>"), "escaped");
    let (_, page) = dashboard.get("/dashboard/approvals?status=approved").await;
    assert_eq!(table_after(&page, "<h1>Approvals"), [["None."]]);

    // An approval sent after it says the request was declined, and changes nothing.
    let (status, location, _) = dashboard
        .post(
            &format!("/dashboard/approvals/{id}/approve"),
            &[("quota", "9"), ("expiresAt", "")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/dashboard/approvals?flash=already-declined"));
    assert_eq!(app.reserve(launch("bo")).await["reasons"], json!(["limit_reached"]));
    assert_eq!(actions(&audit(&app, "bo").await, "approval.approve"), 0);
}

#[tokio::test]
async fn a_bad_quota_or_expiry_or_an_unknown_request_is_refused_by_name_and_decides_nothing() {
    let app = spawn_app().await;
    let id = denied(&app, &["cy"]).await.remove(0);
    let dashboard = Dashboard::sign_in(&app).await;
    let approve = format!("/dashboard/approvals/{id}/approve");
    let time_rule = "expiresAt: must be an RFC 3339 time like 2026-01-31T09:30:00Z";
    for (quota, expires, status, error) in [
        ("", "", StatusCode::BAD_REQUEST, "quota: is required"),
        ("-1", "", StatusCode::BAD_REQUEST, "quota: must not be negative"),
        ("x", "", StatusCode::BAD_REQUEST, "quota: must be a number"),
        (
            "1.0001",
            "",
            StatusCode::BAD_REQUEST,
            "quota: must have at most 3 decimal places",
        ),
        ("5", "tomorrow", StatusCode::BAD_REQUEST, time_rule),
        ("5", "2026-01-31", StatusCode::BAD_REQUEST, time_rule),
        (
            "5",
            "2000-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "expiresAt: must be in the future",
        ),
    ] {
        let (got, location, page) = dashboard
            .post(&approve, &[("quota", quota), ("expiresAt", expires)])
            .await;
        assert_eq!(got, status, "{quota} {expires}: {page}");
        assert_eq!(location, None);
        assert_eq!(
            flash(&page),
            Some(("flash error".into(), error.into())),
            "{quota} {expires}"
        );
    }
    for (path, status, error) in [
        (
            "/dashboard/approvals/apr_nothing/approve",
            StatusCode::NOT_FOUND,
            "no approval request apr_nothing in this project",
        ),
        (
            "/dashboard/approvals/a%7Cb/approve",
            StatusCode::BAD_REQUEST,
            "approvalId: must match [A-Za-z0-9_.-]{1,64}",
        ),
    ] {
        let (got, _, page) = dashboard.post(path, &[("quota", "5")]).await;
        assert_eq!(got, status, "{path}: {page}");
        assert_eq!(flash(&page), Some(("flash error".into(), error.into())), "{path}");
    }
    let (status, _, _) = dashboard
        .post(&format!("/dashboard/approvals/{id}/grant"), &[("quota", "5")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(approval(&app, &id).await["status"], "pending");
    assert_eq!(actions(&audit(&app, "cy").await, "approval.approve"), 0);

    // An expiry of its own is kept.
    let until = chrono::Utc::now() + chrono::Duration::hours(3);
    let until = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, _, page) = dashboard
        .post(&approve, &[("quota", "2.5"), ("expiresAt", &until)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let decided = approval(&app, &id).await;
    assert_eq!(
        (decided["approvedQuota"].clone(), decided["expiresAt"].clone()),
        (json!(2.5), json!(until))
    );
}

#[tokio::test]
async fn the_navigation_counts_the_waiting_requests_and_a_users_page_lists_only_theirs() {
    let app = spawn_app().await;
    let ids = denied(&app, &["dee", "eve"]).await;
    let dashboard = Dashboard::sign_in(&app).await;
    for path in [
        "/dashboard/users",
        "/dashboard/overview",
        "/dashboard/plans",
        "/dashboard/audit",
        "/dashboard/users/dee",
        "/dashboard/approvals?status=declined",
    ] {
        let (status, page) = dashboard.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(nav_count(&page).as_deref(), Some("2"), "{path}");
    }
    let (_, page) = dashboard.get("/dashboard/approvals").await;
    let users: Vec<String> = table_after(&page, "<h1>Approvals")
        .iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        users,
        [format!("dee{}", ids[0]), format!("eve{}", ids[1])],
        "oldest first"
    );

    // A user's page, and the queue of one user, list only theirs.
    let (_, page) = dashboard.get("/dashboard/users/eve").await;
    let waiting = table_after(&page, "Waiting for approval");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let (_, page) = dashboard.get("/dashboard/approvals?user=eve").await;
    let rows = table_after(&page, "<h1>Approvals");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], format!("eve{}", ids[1]));

    let (status, _, page) = dashboard
        .post(&format!("/dashboard/approvals/{}/decline", ids[0]), &[("reason", "no")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = dashboard.get("/dashboard/users").await;
    assert_eq!(nav_count(&page).as_deref(), Some("1"));
    let (_, page) = dashboard.get("/dashboard/users/dee").await;
    assert!(!page.contains("Waiting for approval"), "{page}");
}
