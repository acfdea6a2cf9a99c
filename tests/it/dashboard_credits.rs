//! Credits on the dashboard over plain HTTP: a user's balances and grants shown, credits
//! granted and grants voided through the page's forms by the gateway's own verbs (so the
//! API's rules and the audit log hold), a double-submitted form granting once, and forged or
//! malformed forms granting nothing. (`tests/browser/` grants through the page in Chromium.)

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::{minute, table_after, Dashboard};
use crate::support::{spawn_app, TestApp};

/// Renders at 10 credits from the balance "credits", and a quota of 100 renders a month.
fn credit_plan() -> Value {
    json!({ "id": "plan_credits", "periodType": "month", "groups": [
        { "id": "wallet", "label": "Render credits", "balance": "credits",
          "matches": [ { "event": "render", "measure": { "rate": 10 } } ] },
        { "id": "renders", "label": "Image renders", "unit": "count", "quota": 100,
          "matches": [ { "event": "render" } ] } ] })
}

async fn app_with(user: &str) -> TestApp {
    let app = spawn_app().await;
    app.put_plan(credit_plan()).await;
    app.subscribe(user, "plan_credits", None).await;
    app
}

/// The user's balance `name` as the API answers it (Null when it has none).
async fn balance(app: &TestApp, user: &str, name: &str) -> Value {
    let (status, answer) = app.json(Method::GET, &format!("/v1/users/{user}/balances"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["balance"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn grants(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, answer) = app.json(Method::GET, &format!("/v1/users/{user}/grants"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"].as_array().unwrap().clone()
}

async fn audit(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, answer) = app
        .json(Method::GET, &format!("/v1/audit-log?userId={user}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"].as_array().unwrap().clone()
}

/// The value of the hidden field `name` of the form posting to `action` on `page`.
fn hidden(page: &str, action: &str, name: &str) -> String {
    let form = &page[page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form to {action} in {page}"))..];
    let form = &form[..form.find("</form>").unwrap()];
    let marker = format!("name=\"{name}\" value=\"");
    let at = form.find(&marker).unwrap_or_else(|| panic!("no {name} in {form}")) + marker.len();
    form[at..at + form[at..].find('"').unwrap()].to_string()
}

/// The grant form's nonce on `user`'s page, freshly rendered.
async fn nonce(dashboard: &Dashboard, user: &str) -> String {
    let (status, page) = dashboard.get(&format!("/dashboard/users/{user}")).await;
    assert_eq!(status, StatusCode::OK);
    hidden(&page, &format!("/dashboard/users/{user}/grant"), "nonce")
}

fn millis(rfc3339: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn credits_granted_through_the_form_show_on_the_page_in_the_api_and_in_the_audit_log() {
    let app = app_with("u").await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/users/u").await;
    // The form names the plan's balance; nothing is granted yet.
    assert!(
        page.contains("name=\"balance\" value=\"credits\""),
        "the plan's first balance by default: {page}"
    );
    assert_eq!(
        table_after(&page, "Grants of <code>credits</code>"),
        [["None."]],
        "{page}"
    );

    let nonce = nonce(&dashboard, "u").await;
    let before = chrono::Utc::now().timestamp_millis();
    let form = [
        ("nonce", nonce.as_str()),
        ("balance", "credits"),
        ("amount", "100"),
        ("category", "promotional"),
        ("days", "30"),
        ("source", "support <b>goodwill</b>"),
    ];
    let (status, location, page) = dashboard.post("/dashboard/users/u/grant", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location.as_deref(), Some("/dashboard/users/u?flash=granted"));

    // The API answers the grant, valid 30 days.
    let b = balance(&app, "u", "credits").await;
    assert_eq!(
        (b["available"].clone(), b["debt"].clone()),
        (json!(100), json!(0)),
        "{b}"
    );
    let g = &b["grants"][0];
    assert_eq!(g["amount"], 100);
    assert_eq!(g["category"], "promotional");
    assert_eq!(g["status"], "active");
    assert_eq!(g["source"], "support <b>goodwill</b>");
    assert_eq!(g["priority"], 50);
    let expires = millis(&g["expiresAt"]);
    assert!(
        (expires - before - 30 * 86_400_000).abs() < 60_000,
        "{g}: 30 days from now"
    );
    let grant_id = g["grantId"].as_str().unwrap().to_string();

    // The page lists it, with its source as text, and a flash of the fixed list.
    let (_, page) = dashboard.get("/dashboard/users/u?flash=granted").await;
    assert!(
        page.contains("<div class=\"flash\" role=\"status\">Credits granted.</div>"),
        "{page}"
    );
    assert_eq!(
        table_after(&page, "<h2 id=\"credits\">"),
        [[
            "credits",
            "100",
            "0",
            "0",
            format!("100 on {}", minute(g["expiresAt"].as_str().unwrap())).as_str(),
            "1"
        ]]
    );
    let rows = table_after(&page, "Grants of <code>credits</code>");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert!(row[0].starts_with(&grant_id), "{row:?}");
    assert_eq!(
        &row[1..12],
        [
            "promotional",
            "50",
            "100",
            "100",
            "0",
            "0",
            "0",
            "0",
            "active",
            &minute(g["expiresAt"].as_str().unwrap()),
            "support &lt;b&gt;goodwill&lt;/b&gt;"
        ]
    );
    assert!(!page.contains("<b>goodwill</b>"), "escaped");
    assert_eq!(
        hidden(&page, "/dashboard/users/u/void", "grantId"),
        grant_id,
        "a live grant has its Void button"
    );
    // The balance group's counter shows the balance, not a quota bar.
    let counter = &table_after(&page, "<h2>Counters")[0];
    assert_eq!(counter[2], "Balance credits: 100 available", "{counter:?}");
    assert_eq!(counter[5], "balance");

    // Audited once, by the key that signed in (the same as made the subscription).
    let changes = audit(&app, "u").await;
    let made: Vec<&Value> = changes.iter().filter(|c| c["action"] == "grant.create").collect();
    assert_eq!(made.len(), 1, "{changes:?}");
    assert_eq!(made[0]["detail"]["grantId"], grant_id.as_str());
    assert_eq!(made[0]["detail"]["amount"], 100);
    assert_eq!(made[0]["detail"]["category"], "promotional");
    let subscribed = changes.iter().find(|c| c["action"] == "subscription.put").unwrap();
    assert_eq!(made[0]["actorId"], subscribed["actorId"]);
    // The page's audit trail shows it too.
    let trail = table_after(&page, "Audit trail");
    assert!(trail.iter().any(|r| r.iter().any(|c| c == "grant.create")), "{trail:?}");

    // The same form sent again (a double click, a resubmission after Back) grants nothing more.
    let (status, location, _) = dashboard.post("/dashboard/users/u/grant", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/dashboard/users/u?flash=granted"));
    assert_eq!(grants(&app, "u").await.len(), 1);
    assert_eq!(balance(&app, "u", "credits").await["available"], 100);
    // Its nonce with other values is refused, by name.
    let mut other = form;
    other[2] = ("amount", "1000");
    let (status, _, page) = dashboard.post("/dashboard/users/u/grant", &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("nonce: this form was sent before with other values"),
        "{page}"
    );
    assert_eq!(grants(&app, "u").await.len(), 1);
    assert_eq!(
        audit(&app, "u")
            .await
            .iter()
            .filter(|c| c["action"] == "grant.create")
            .count(),
        1
    );

    // A page rendered again has a new nonce: a second grant is one.
    let again = self::nonce(&dashboard, "u").await;
    assert_ne!(again, nonce);
    let second = [
        ("nonce", again.as_str()),
        ("balance", "credits"),
        ("amount", "2.5"),
        ("category", "paid"),
        ("days", ""),
        ("source", ""),
    ];
    let (status, _, page) = dashboard.post("/dashboard/users/u/grant", &second).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let b = balance(&app, "u", "credits").await;
    assert_eq!(b["available"], 102.5);
    let paid = b["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["category"] == "paid")
        .unwrap();
    assert_eq!(
        (paid["expiresAt"].clone(), paid["source"].clone()),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn a_grant_or_void_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = app_with("u").await;
    let dashboard = Dashboard::sign_in(&app).await;
    let nonce = nonce(&dashboard, "u").await;
    let (status, made) = app
        .json(
            Method::POST,
            "/v1/users/u/grants",
            Some(json!({ "balance": "credits", "amount": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let grant_id = made["grantId"].as_str().unwrap();
    let grant = [
        ("nonce", nonce.as_str()),
        ("balance", "credits"),
        ("amount", "100"),
        ("category", "promotional"),
    ];
    let void = [("grantId", grant_id)];
    for (action, fields) in [("grant", &grant[..]), ("void", &void[..])] {
        for csrf in [None, Some(""), Some("guess")] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(token) = csrf {
                form.push(("csrf", token));
            }
            let res = dashboard
                .client
                .post(format!("{}/dashboard/users/u/{action}", dashboard.address))
                .header(COOKIE, &dashboard.cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action} {csrf:?}");
            assert!(res.text().await.unwrap().contains("This form has expired"));
        }
    }
    let listed = grants(&app, "u").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0]["status"].clone(), listed[0]["remaining"].clone()),
        (json!("active"), json!(5))
    );
    let changes = audit(&app, "u").await;
    assert!(!changes.iter().any(|c| c["action"] == "grant.void"), "{changes:?}");
    assert_eq!(changes.iter().filter(|c| c["action"] == "grant.create").count(), 1);
}

#[tokio::test]
async fn a_bad_amount_days_category_source_or_balance_is_refused_by_name_and_grants_nothing() {
    let app = app_with("u").await;
    let dashboard = Dashboard::sign_in(&app).await;
    let nonce = nonce(&dashboard, "u").await;
    let days_rule = "days: must be a whole number of days from 1 to 3650";
    let long_source = "s".repeat(65);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("amount", "", "amount: is required"),
        ("amount", "0", "amount: must be more than 0"),
        ("amount", "-5", "amount: "),
        ("amount", "x", "amount: "),
        ("amount", "1.0001", "amount: "),
        ("amount", "99999999999999999999", "amount: "),
        ("days", "0", days_rule),
        ("days", "-1", days_rule),
        ("days", "3651", days_rule),
        ("days", "1.5", days_rule),
        ("days", "x", days_rule),
        ("days", "9223372036854775807", days_rule),
        ("days", "99999999999999999999", days_rule),
        ("category", "gift", "category: must be paid or promotional"),
        ("category", "", "category: must be paid or promotional"),
        ("source", &long_source, "source: must be 1 to 64 bytes"),
        ("balance", "a|b", "balance: must match"),
        ("balance", "", "balance: "),
        ("nonce", "", "nonce: is missing"),
        ("nonce", "short", "nonce: is missing"),
    ];
    for (field, value, error) in cases {
        let mut form = vec![
            ("nonce", nonce.as_str()),
            ("balance", "credits"),
            ("amount", "100"),
            ("category", "promotional"),
            ("days", "30"),
            ("source", "support"),
        ];
        form.iter_mut().find(|(name, _)| *name == field).unwrap().1 = value;
        let (status, location, page) = dashboard.post("/dashboard/users/u/grant", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}={value}: {page}");
        assert_eq!(location, None);
        let flash = &page[page
            .find("class=\"flash error\"")
            .unwrap_or_else(|| panic!("{field}={value}: {page}"))..];
        let flash = &flash[..flash.find("</div>").unwrap()];
        assert!(flash.contains(error), "{field}={value}: {flash}");
    }
    assert_eq!(grants(&app, "u").await, Vec::<Value>::new());
    assert_eq!(balance(&app, "u", "credits").await["available"], 0);
    assert!(!audit(&app, "u").await.iter().any(|c| c["action"] == "grant.create"));

    // The API holds a source to the same rule.
    let (status, body) = app
        .json(
            Method::POST,
            "/v1/users/u/grants",
            Some(json!({ "balance": "credits", "amount": 1, "source": long_source })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("source"))
    );
}

#[tokio::test]
async fn a_grant_voided_through_the_form_stops_counting_and_is_audited() {
    let app = app_with("u").await;
    let make = |amount: u64| {
        let app = &app;
        async move {
            let (status, made) = app
                .json(
                    Method::POST,
                    "/v1/users/u/grants",
                    Some(json!({ "balance": "credits", "amount": amount, "source": "purchase" })),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{made}");
            made["grantId"].as_str().unwrap().to_string()
        }
    };
    let keep = make(10).await;
    // Grants of one millisecond burn in their ids' order: the second comes a millisecond later.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let end = make(30).await;
    // A render holds 10 of the first grant in burn order.
    let held = app
        .reserve(json!({ "userId": "u", "event": "render", "ttlSeconds": 600 }))
        .await;
    assert_eq!(held["allowed"], true, "{held}");

    let dashboard = Dashboard::sign_in(&app).await;
    // A void is asked first, with what it ends, and needs a reason.
    let (status, _, page) = dashboard.post("/dashboard/users/u/void", &[("grantId", &end)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Void this grant?") && page.contains("<strong>30</strong> remaining credits"),
        "{page}"
    );
    let confirmed = [("grantId", end.as_str()), ("confirmed", "1")];
    let (status, _, page) = dashboard.post("/dashboard/users/u/void", &confirmed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no reason: {page}");
    assert!(
        grants(&app, "u").await.iter().all(|g| g["status"] == "active"),
        "nothing voided yet"
    );
    let (status, location, page) = dashboard
        .post(
            "/dashboard/users/u/void",
            &[("grantId", &end), ("confirmed", "1"), ("reason", "refund #12")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location.as_deref(), Some("/dashboard/users/u?flash=voided"));

    let listed = grants(&app, "u").await;
    let voided = listed.iter().find(|g| g["grantId"] == end.as_str()).unwrap();
    let kept = listed.iter().find(|g| g["grantId"] == keep.as_str()).unwrap();
    assert_eq!(
        (voided["status"].clone(), voided["voided"].clone()),
        (json!("voided"), json!(30)),
        "{voided}"
    );
    assert_eq!(kept["status"], "active");
    let b = balance(&app, "u", "credits").await;
    assert_eq!(
        (b["available"].clone(), b["held"].clone()),
        (json!(0), json!(10)),
        "{b}"
    );
    let changes = audit(&app, "u").await;
    let void = changes.iter().find(|c| c["action"] == "grant.void").expect("audited");
    assert_eq!(void["detail"]["grantId"], end.as_str());
    assert_eq!(void["detail"]["voided"], 30);
    assert_eq!(void["detail"]["reason"], "refund #12");

    // The page: the voided grant has no Void button any more; the held one still has one.
    let (_, page) = dashboard.get("/dashboard/users/u?flash=voided").await;
    assert!(
        page.contains("<div class=\"flash\" role=\"status\">Grant voided.</div>"),
        "{page}"
    );
    let rows = table_after(&page, "Grants of <code>credits</code>");
    let row = |id: &str| rows.iter().find(|r| r[0].starts_with(id)).unwrap().clone();
    assert_eq!(row(&end)[9], "voided");
    assert_eq!(row(&keep)[5], "10", "held");
    assert_eq!(page.matches("action=\"/dashboard/users/u/void\"").count(), 1, "{page}");
    assert_eq!(hidden(&page, "/dashboard/users/u/void", "grantId"), keep);

    // A grant the user does not have, or an id no grant has, is refused by name.
    for (id, status, error) in [
        ("g_nope", StatusCode::NOT_FOUND, "no grant g_nope of this user"),
        ("", StatusCode::BAD_REQUEST, "grantId: is required"),
        ("g|x", StatusCode::BAD_REQUEST, "grantId: must match"),
    ] {
        let (got, _, page) = dashboard
            .post(
                "/dashboard/users/u/void",
                &[("grantId", id), ("confirmed", "1"), ("reason", "x")],
            )
            .await;
        assert_eq!(got, status, "{id}: {page}");
        assert!(page.contains(error), "{id}: {page}");
    }
    // Another user's grant is not this user's.
    app.subscribe("other", "plan_credits", None).await;
    let (status, _, page) = dashboard
        .post(
            "/dashboard/users/other/void",
            &[("grantId", &keep), ("confirmed", "1"), ("reason", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert_eq!(
        grants(&app, "u")
            .await
            .iter()
            .filter(|g| g["status"] == "active")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_balance_in_debt_shows_on_its_counter_and_a_teams_page_grants_to_the_team() {
    let app = app_with("team_acme").await;
    let body = json!({ "planId": "plan_credits", "parentId": "team_acme" });
    let (status, answer) = app.json(Method::PUT, "/v1/users/m1/subscription", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A track burns what no grant covers: debt.
    let (status, tracked) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "team_acme", "event": "render", "quantity": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    assert_eq!(TestApp::counter(&tracked, "wallet")["debt"], 20, "{tracked}");

    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/users/team_acme").await;
    let counters = table_after(&page, "<h2>Counters");
    let wallet = counters.iter().find(|r| r[0].starts_with("Render credits")).unwrap();
    assert_eq!(wallet[2], "Balance credits: 0 available, 20 in debt", "{wallet:?}");
    assert!(page.contains("<span class=\"debt\">20 in debt</span>"), "{page}");
    assert_eq!(
        table_after(&page, "<h2 id=\"credits\">")[0][..4],
        ["credits", "0", "0", "20"]
    );

    // Granted on the team's page: it pays the debt first.
    let nonce = nonce(&dashboard, "team_acme").await;
    let form = [
        ("nonce", nonce.as_str()),
        ("balance", "credits"),
        ("amount", "100"),
        ("category", "paid"),
        ("days", "365"),
    ];
    let (status, _, page) = dashboard.post("/dashboard/users/team_acme/grant", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let b = balance(&app, "team_acme", "credits").await;
    assert_eq!(
        (b["available"].clone(), b["debt"].clone()),
        (json!(80), json!(0)),
        "{b}"
    );
    let (_, page) = dashboard.get("/dashboard/users/team_acme").await;
    let wallet = table_after(&page, "<h2>Counters")
        .into_iter()
        .find(|r| r[0].starts_with("Render credits"))
        .unwrap();
    assert_eq!(wallet[2], "Balance credits: 80 available");
    // The member's page shows the team's pool beside its own counters.
    let (_, page) = dashboard.get("/dashboard/users/m1").await;
    let pooled = table_after(&page, "<h2>Counters");
    assert!(
        pooled
            .iter()
            .any(|r| r[0].contains("pool of team_acme") && r[2] == "Balance credits: 80 available"),
        "{pooled:?}"
    );
}

#[tokio::test]
async fn a_user_without_a_balance_group_is_offered_the_credits_balance() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_free", "periodType": "month", "groups": [
        { "id": "renders", "unit": "count", "quota": 10, "matches": [ { "event": "render" } ] } ] }))
        .await;
    app.subscribe("plain", "plan_free", None).await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/users/plain").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No balances: the plan has no balance group"), "{page}");
    assert!(page.contains("name=\"balance\" value=\"credits\""), "{page}");
    // A user with no subscription at all still has a page.
    let (status, page) = dashboard.get("/dashboard/users/nobody").await;
    assert_eq!(status, StatusCode::OK, "{page}");
}
