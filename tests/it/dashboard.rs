//! The dashboard over plain HTTP: its support actions keep the API's rules, what it shows
//! cannot be chosen by a link or disguised by an id, and its sign-in holds against other
//! sites and guessing. (`tests/browser/` drives the same pages in Chromium.)

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::redis::free_port;
use crate::support::{encode, redis, spawn_app, TestApp};

/// A signed-in dashboard session: its cookie and the CSRF token its forms carry.
pub(crate) struct Dashboard {
    pub(crate) client: reqwest::Client,
    pub(crate) address: String,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// A client that does not follow redirects (the answers are what is tested), from `local`.
pub(crate) fn client_from(local: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(local)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts the sign-in form with `credential` from `client`, as the sign-in page does.
pub(crate) async fn post_sign_in(app: &TestApp, client: &reqwest::Client, credential: &str) -> reqwest::Response {
    client
        .post(format!("{}/dashboard/login", app.address))
        .header(ORIGIN, &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("credential", credential)])
        .send()
        .await
        .unwrap()
}

pub(crate) fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("qg_session=") && !v.starts_with("qg_session=;"))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// An instant of the API (RFC 3339) as the dashboard shows it: to the minute, in UTC.
pub(crate) fn minute(rfc3339: &str) -> String {
    format!("{} UTC", rfc3339[..16].replace('T', " "))
}

/// The value of the first hidden field `name` of a page's forms.
pub(crate) fn field_value(page: &str, name: &str) -> String {
    let start = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&start)
        .unwrap_or_else(|| panic!("a form with {name}: {page}"))
        + start.len();
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

impl Dashboard {
    pub(crate) async fn sign_in(app: &TestApp) -> Dashboard {
        let client = client_from(None);
        let res = post_sign_in(app, &client, &app.key).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(&res).expect("a session cookie");
        Dashboard::of_session(app, client, cookie).await
    }

    /// The session `cookie` names, with the CSRF token its pages' forms carry.
    pub(crate) async fn of_session(app: &TestApp, client: reqwest::Client, cookie: String) -> Dashboard {
        let mut dashboard = Dashboard {
            client,
            address: app.address.clone(),
            cookie,
            csrf: String::new(),
        };
        let (_, page) = dashboard.get("/dashboard/users").await;
        dashboard.csrf = field_value(&page, "csrf");
        dashboard
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// Posts a form with the session's token: the status, where it redirects, and the page.
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &self.csrf));
        let res = self
            .client
            .post(format!("{}{path}", self.address))
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let location = res.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        (res.status(), location, res.text().await.unwrap())
    }
}

fn plan(id: &str, renders: u64) -> Value {
    json!({ "id": id, "periodType": "month", "groups": [
        { "id": "renders", "label": "Image renders", "unit": "count", "quota": renders,
          "matches": [ { "event": "render" } ] },
        { "id": "all", "label": "Every event", "unit": "count", "quota": 1000,
          "matches": [ { "event": "*" } ] } ] })
}

async fn subscription(app: &TestApp, user: &str) -> Value {
    app.json(Method::GET, &format!("/v1/users/{}/subscription", encode(user)), None)
        .await
        .1
}

#[tokio::test]
async fn an_override_for_a_user_without_a_plan_is_refused_on_the_page_and_never_waits_for_one() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    let dashboard = Dashboard::sign_in(&app).await;

    let (status, location, page) = dashboard
        .post(
            "/dashboard/users/newbie/override",
            &[("groupId", "renders"), ("quota", "1000"), ("hours", "")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the API's answer, as a page: {page}");
    assert_eq!(location, None);
    assert!(page.contains("user newbie has no subscription"), "{page}");
    assert!(page.contains("class=\"flash error\""), "{page}");

    // The API says the same.
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/users/newbie/overrides/renders",
            Some(json!({ "quota": 1000 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "subscription_not_found");

    // Nothing waits for the user's first plan.
    app.subscribe("newbie", "plan_free", None).await;
    assert_eq!(subscription(&app, "newbie").await["overrides"], json!({}));
    let usage = app.usage("newbie").await;
    assert_eq!(TestApp::counter(&usage, "renders")["quota"], 10);
}

#[tokio::test]
async fn overrides_outside_the_plan_or_malformed_are_refused_alike_by_the_api_and_the_dashboard() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    app.subscribe("u", "plan_free", None).await;
    let dashboard = Dashboard::sign_in(&app).await;

    for (group, detail) in [
        ("nope", "is not a group of plan plan_free"),
        ("g1|x:y@z", "must match [A-Za-z0-9_.-]{1,64}"),
        ("..", "must not be . or .."),
    ] {
        let (status, _, page) = dashboard
            .post("/dashboard/users/u/override", &[("groupId", group), ("quota", "1000")])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{group}: {page}");
        assert!(page.contains(&format!("groupId: {detail}")), "{group}: {page}");
        if group == ".." {
            // A client resolves it away in a path; sent as it is, below.
            continue;
        }
        let path = format!("/v1/users/u/overrides/{}", encode(group));
        let (status, body) = app.json(Method::PUT, &path, Some(json!({ "quota": 1000 }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{group}: {body}");
        assert_eq!(body["field"], "groupId");
        assert!(body["detail"].as_str().unwrap().contains(detail), "{body}");
    }
    // A subscription's overrides follow the same rule.
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/users/u/subscription",
            Some(json!({ "planId": "plan_free", "overrides": { "nope": { "quota": 5 } } })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "overrides.nope");
    assert_eq!(subscription(&app, "u").await["overrides"], json!({}));
}

#[tokio::test]
async fn block_and_adjustment_reasons_follow_the_api_rule_on_the_dashboard() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    app.subscribe("u", "plan_free", None).await;
    app.json(
        Method::POST,
        "/v1/track",
        Some(json!({ "userId": "u", "event": "render", "quantity": 3 })),
    )
    .await;
    let dashboard = Dashboard::sign_in(&app).await;

    let long = "x".repeat(4_000);
    let hostile = format!("refund\u{0}\u{1b}[2J\r\nX-Injected: 1{}", "y".repeat(3_000));
    for reason in [long.as_str(), hostile.as_str(), "   ", "a\u{7}b"] {
        let (status, location, page) = dashboard
            .post("/dashboard/users/u/block", &[("reason", reason), ("confirmed", "1")])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert_eq!(location, None);
        assert!(
            page.contains("reason: must be 1 to 256 bytes without control characters"),
            "{page}"
        );
        let (status, _, page) = dashboard
            .post(
                "/dashboard/users/u/adjust",
                &[("groupId", "renders"), ("amount", "-1"), ("reason", reason)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert!(page.contains("reason: must be 1"), "{page}");

        let (status, body) = app
            .json(Method::POST, "/v1/users/u/block", Some(json!({ "reason": reason })))
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("reason"))
        );
    }
    assert_eq!(subscription(&app, "u").await["status"], "active");
    // A webhook form with no event chosen, or a malformed address, is refused as 400 too.
    for url in ["https://hooks.example.com/in", "not a url"] {
        let fields: &[(&str, &str)] = if url.starts_with("https") {
            &[("url", url)]
        } else {
            &[("url", url), ("threshold", "on")]
        };
        let (status, location, page) = dashboard.post("/dashboard/webhooks", fields).await;
        assert_eq!((status, location), (StatusCode::BAD_REQUEST, None), "{page}");
        assert!(page.contains("flash error"), "{page}");
    }
    let adjustments = app.json(Method::GET, "/v1/users/u/adjustments", None).await.1;
    assert_eq!(adjustments["data"], json!([]));
    assert_eq!(TestApp::counter(&app.usage("u").await, "renders")["used"], 3);

    // A reason of 256 bytes is one, on both.
    let most = "é".repeat(128);
    // Asked first: the page says what a block does and posts the form again, confirmed.
    let (status, _, page) = dashboard.post("/dashboard/users/u/block", &[("reason", &most)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Block this user?") && page.contains("name=\"confirmed\" value=\"1\""),
        "{page}"
    );
    assert_eq!(
        subscription(&app, "u").await["status"],
        "active",
        "nothing changed before the confirmation"
    );
    let (status, location, _) = dashboard
        .post("/dashboard/users/u/block", &[("reason", &most), ("confirmed", "1")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/dashboard/users/u?flash=blocked"));
    assert_eq!(subscription(&app, "u").await["reason"], most.as_str());
}

#[tokio::test]
async fn bumping_a_quota_for_hours_is_bounded_and_never_wraps() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    app.subscribe("u", "plan_free", None).await;
    let dashboard = Dashboard::sign_in(&app).await;

    for hours in [
        "-99999999999999",
        "99999999999999",
        "9223372036854775807",
        "0",
        "-1",
        "8761",
        "1.5",
        "x",
    ] {
        let (status, _, page) = dashboard
            .post(
                "/dashboard/users/u/override",
                &[("groupId", "renders"), ("quota", "1000"), ("hours", hours)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hours}: {page}");
        assert!(
            page.contains("hours: must be a whole number of hours from 1 to 8760"),
            "{hours}: {page}"
        );
    }
    assert_eq!(subscription(&app, "u").await["overrides"], json!({}));
    assert_eq!(TestApp::counter(&app.usage("u").await, "renders")["quota"], 10);

    let before = chrono::Utc::now().timestamp_millis();
    let (status, location, _) = dashboard
        .post(
            "/dashboard/users/u/override",
            &[("groupId", "renders"), ("quota", "250"), ("hours", "8760")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/dashboard/users/u?flash=override"));
    let o = &subscription(&app, "u").await["overrides"]["renders"];
    assert_eq!(o["quota"], 250);
    let at = chrono::DateTime::parse_from_rfc3339(o["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!((at - before - 8_760 * 3_600_000).abs() < 60_000, "{o}");
    assert_eq!(TestApp::counter(&app.usage("u").await, "renders")["quota"], 250);

    // The API's expiry is a time from 1970 on: before it, the scripts and the answers would
    // read one number two ways.
    let (status, body) = app
        .json(
            Method::PUT,
            "/v1/users/u/overrides/renders",
            Some(json!({ "quota": 9, "expiresAt": "1960-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expiresAt"))
    );
}

#[tokio::test]
async fn a_flash_in_a_link_shows_only_the_notices_the_dashboard_has() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    app.subscribe("alice", "plan_free", None).await;
    let dashboard = Dashboard::sign_in(&app).await;

    for text in [
        "Your account is suspended: call +1 555 0100",
        "error:Support will never ask for your key. Paste it here",
        "Blocked.",
    ] {
        let (status, page) = dashboard
            .get(&format!("/dashboard/users/alice?flash={}", encode(text)))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains("class=\"flash"), "{text}: {page}");
        assert!(!page.contains("suspended") && !page.contains("Paste it"), "{page}");
    }
    let (_, page) = dashboard.get("/dashboard/users/alice?flash=blocked").await;
    assert!(
        page.contains("<div class=\"flash\" role=\"status\">Blocked.</div>"),
        "{page}"
    );
}

#[tokio::test]
async fn ids_that_hide_or_reorder_characters_show_them_escaped_on_every_page() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    let spoofs = ["admin\u{202E}nimda", "\u{FEFF}alice", "al\u{200B}ice", "bob\u{2066}"];
    for user in spoofs {
        app.subscribe(user, "plan_free", None).await;
        app.json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": user, "event": "render" })),
        )
        .await;
        let (status, _) = app
            .json(
                Method::POST,
                &format!("/v1/users/{}/block", encode(user)),
                Some(json!({ "reason": format!("spoof of {user}") })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let dashboard = Dashboard::sign_in(&app).await;
    let mut pages = vec![
        "/dashboard/users".to_string(),
        "/dashboard/overview".to_string(),
        "/dashboard/audit".to_string(),
    ];
    pages.extend(spoofs.iter().map(|u| format!("/dashboard/users/{}", encode(u))));
    for path in &pages {
        let (status, page) = dashboard.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for hidden in ['\u{202E}', '\u{FEFF}', '\u{200B}', '\u{2066}'] {
            assert!(
                !page.contains(hidden),
                "{path} shows U+{:04X} as it is",
                u32::from(hidden)
            );
        }
    }
    let (_, list) = dashboard.get("/dashboard/users").await;
    assert!(list.contains(r"admin\u{202E}nimda"), "{list}");
    assert!(list.contains(r"\u{FEFF}alice"), "{list}");
    assert!(list.contains(r"al\u{200B}ice"), "{list}");
    // The link still leads to the user itself.
    assert!(list.contains("href=\"/dashboard/users/admin%E2%80%AEnimda\""), "{list}");
    let (_, page) = dashboard.get("/dashboard/users/admin%E2%80%AEnimda").await;
    assert!(
        page.contains(r"<title>admin\u{202E}nimda · quota-gateway</title>"),
        "{page}"
    );
    assert!(page.contains(r"<h1>User <code>admin\u{202E}nimda</code>"), "{page}");
}

#[tokio::test]
async fn a_users_recent_usage_is_the_newest_entries_newest_first() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    app.subscribe("busy", "plan_free", None).await;
    for i in 1..=25 {
        let (status, _) = app
            .json(
                Method::POST,
                "/v1/track",
                Some(json!({ "userId": "busy", "event": format!("ev.{i:02}") })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/users/busy").await;
    let recent = &page[page.find("Recent usage").unwrap()..page.find("Audit trail").unwrap()];
    let shown: Vec<&str> = recent.match_indices("ev.").map(|(at, _)| &recent[at..at + 5]).collect();
    let newest: Vec<String> = (6..=25).rev().map(|i| format!("ev.{i:02}")).collect();
    assert_eq!(shown, newest);
}

/// The cells of each row of the first table after `heading` on `page`, as text.
pub(crate) fn table_after(page: &str, heading: &str) -> Vec<Vec<String>> {
    let rest = &page[page.find(heading).unwrap_or_else(|| panic!("no {heading} in {page}"))..];
    let body = &rest[rest.find("<tbody>").unwrap()..rest.find("</tbody>").unwrap()];
    let text = |html: &str| {
        let mut out = String::new();
        let mut tag = false;
        for c in html.chars() {
            match c {
                '<' => tag = true,
                '>' => tag = false,
                c if !tag => out.push(c),
                _ => {}
            }
        }
        out
    };
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| text(&cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()]))
                .collect()
        })
        .collect()
}

/// A team on `period_type` plans, its members `m1` and `m2`, and a key minted for the test:
/// the key's id and the key.
async fn team_with_members(app: &TestApp, period_type: &str) -> (String, String) {
    for (id, scale) in [("plan_member", 1), ("plan_team", 10)] {
        app.put_plan(json!({ "id": id, "periodType": period_type, "groups": [
            { "id": "renders", "unit": "count", "quota": 100 * scale, "matches": [ { "event": "render" } ] },
            { "id": "tokens", "unit": "tokens", "quota": 100_000 * scale, "matches": [ { "event": "llm" } ] } ] }))
            .await;
    }
    app.subscribe("team_acme", "plan_team", None).await;
    for member in ["m1", "m2"] {
        let body = json!({ "planId": "plan_member", "parentId": "team_acme" });
        let (status, answer) = app
            .json(Method::PUT, &format!("/v1/users/{member}/subscription"), Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, minted) = app
        .json_as(
            &app.root_token,
            Method::POST,
            "/v1/projects/default/keys",
            Some(json!({ "kind": "secret", "label": "render worker" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    (
        minted["keyId"].as_str().unwrap().to_string(),
        minted["key"].as_str().unwrap().to_string(),
    )
}

/// Reserves with `key` and commits (with `actual` when given): what the API answers is checked.
async fn spend(app: &TestApp, key: &str, reserve: Value, actual: Option<Value>) {
    let (status, held) = app.json_as(key, Method::POST, "/v1/reserve", Some(reserve)).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    let id = held["reservationId"].as_str().unwrap();
    let path = format!("/v1/reservations/{id}/commit");
    let (status, answer) = app
        .json_as(key, Method::POST, &path, Some(actual.unwrap_or(json!({}))))
        .await;
    assert_eq!(
        (status, &answer["status"]),
        (StatusCode::OK, &json!("committed")),
        "{answer}"
    );
}

#[tokio::test]
async fn a_teams_page_sums_its_ledger_by_member_for_the_period_and_the_ledger_says_model_and_key() {
    let app = spawn_app().await;
    let (key_id, key) = team_with_members(&app, "month").await;
    let render = |user: &str, quantity: u64, model: &str| json!({ "userId": user, "event": "render", "quantity": quantity, "metadata": { "model": model } });
    spend(&app, &key, render("m1", 3, "flux-pro"), None).await;
    let llm = json!({ "userId": "m1", "event": "llm", "quantity": 1500, "metadata": { "model": "gpt-4o" } });
    spend(&app, &key, llm, Some(json!({ "quantity": 1200 }))).await;
    spend(&app, &key, render("m2", 5, "flux-schnell"), None).await;
    // A member's commit on a slice of the team's budget reaches the team's ledger just after
    // it answers: the three are there before the team's own usage comes.
    app.usage_events_at_least("userId=team_acme&limit=10", 3).await;
    // The team's own usage, with no member.
    let own = json!({ "userId": "team_acme", "event": "render", "quantity": 2 });
    let (status, answer) = app.json_as(&key, Method::POST, "/v1/track", Some(own)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/users/team_acme").await;
    assert_eq!(status, StatusCode::OK);
    let start = app.usage("team_acme").await["period"]["start"].clone();
    assert!(
        page.contains(&format!(
            "From <time datetime=\"{0}\" title=\"{0}\">",
            start.as_str().unwrap()
        )) && page.contains(", the start of the plan's current period"),
        "{page}"
    );
    // Largest first by the first group; each member's total per group, and their entries.
    assert_eq!(
        table_after(&page, "Spend by member, this period"),
        [
            ["m2", "5", "0", "1"],
            ["m1", "3", "1200", "2"],
            ["(the team itself)", "2", "0", "1"]
        ]
    );
    assert!(page.contains("<a href=\"/dashboard/users/m2\">m2</a>"), "{page}");
    assert!(!page.contains("cover the first"), "{page}");
    // The team's recent usage says whose event each entry was.
    let recent = table_after(&page, "Recent usage");
    assert_eq!(
        recent
            .iter()
            .map(|r| (r[3].as_str(), r[5].as_str()))
            .collect::<Vec<_>>(),
        [("", ""), ("flux-schnell", "m2"), ("gpt-4o", "m1"), ("flux-pro", "m1")],
        "{recent:?}"
    );

    // A member's page: no spend table (nobody draws on a member), and what it used, through
    // which key.
    let (_, page) = dashboard.get("/dashboard/users/m1").await;
    assert!(!page.contains("Spend by member"), "{page}");
    let recent = table_after(&page, "Recent usage");
    let shown: Vec<[&str; 2]> = recent.iter().map(|r| [r[3].as_str(), r[4].as_str()]).collect();
    assert_eq!(shown, [["gpt-4o", key_id.as_str()], ["flux-pro", key_id.as_str()]]);
}

#[tokio::test]
async fn a_team_on_a_lifetime_plan_is_summed_over_all_time_and_metadata_without_a_model_is_shown_compactly() {
    let app = spawn_app().await;
    let (_, key) = team_with_members(&app, "lifetime").await;
    let body = json!({ "userId": "m2", "event": "render", "quantity": 4, "metadata": { "seed": 7, "size": "<1k>" } });
    spend(&app, &key, body, None).await;
    app.usage_events_at_least("userId=team_acme", 1).await;

    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/users/team_acme").await;
    assert!(page.contains("The plan's period is lifetime: all time."), "{page}");
    assert_eq!(
        table_after(&page, "Spend by member, this period"),
        [["m2", "4", "0", "1"]]
    );
    // The metadata as compact JSON, escaped as text.
    let (_, page) = dashboard.get("/dashboard/users/m2").await;
    assert!(
        page.contains("{&quot;seed&quot;:7,&quot;size&quot;:&quot;&lt;1k&gt;&quot;}"),
        "{page}"
    );
}

/// Sends `method` on `path` exactly as written (no client keeps `%2E%2E` as it is), with a
/// JSON `body`: the status.
async fn raw(app: &TestApp, method: &str, path: &str, cookie: &str, body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nCookie: {cookie}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.key,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[9..12]).parse().unwrap()
}

#[tokio::test]
async fn the_ids_dot_and_dot_dot_are_refused_by_name_everywhere() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    app.subscribe("kid", "plan_free", None).await;
    for dots in [".", ".."] {
        let (status, body) = app
            .json(
                Method::POST,
                "/v1/reserve",
                Some(json!({ "userId": dots, "event": "render" })),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("userId")),
            "{body}"
        );
        let (status, body) = app
            .json(
                Method::PUT,
                "/v1/users/kid/subscription",
                Some(json!({ "planId": "plan_free", "parentId": dots })),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("parentId")),
            "{body}"
        );
        let mut doc = plan("plan_x", 1);
        doc["groups"][0]["id"] = json!(dots);
        let (status, body) = app.json(Method::PUT, "/v1/plans/plan_x", Some(doc)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("groups[0].id"), "{body}");
        let (status, body) = app
            .json_as(
                &app.root_token,
                Method::POST,
                "/v1/projects",
                Some(json!({ "id": dots })),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("id")),
            "{body}"
        );
    }
    // In a path, where clients resolve them away unless sent as they are.
    let dashboard = Dashboard::sign_in(&app).await;
    for (method, path, body) in [
        ("GET", "/v1/users/%2E%2E/usage", ""),
        ("GET", "/v1/users/../usage", ""),
        ("GET", "/v1/users/%2e/subscription", ""),
        ("PUT", "/v1/users/kid/overrides/%2E%2E", r#"{"quota": 5}"#),
        ("PUT", "/v1/plans/..", r#"{"groups": []}"#),
        ("GET", "/dashboard/users/%2E%2E", ""),
    ] {
        assert_eq!(
            raw(&app, method, path, &dashboard.cookie, body).await,
            400,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_sign_in_posted_by_another_site_is_refused_and_signs_nobody_in() {
    let app = spawn_app().await;
    let client = client_from(None);
    let elsewhere = format!("http://127.0.0.2:{}", free_port());
    let same_host_other_port = format!("http://127.0.0.1:{}", free_port());
    let attempts: [&[(&str, &str)]; 5] = [
        &[("Origin", &elsewhere)],
        &[("Origin", &same_host_other_port)],
        &[("Origin", "null")],
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Sec-Fetch-Site", "same-site"), ("Origin", &app.address)],
    ];
    for headers in attempts {
        let mut req = client
            .post(format!("{}/dashboard/login", app.address))
            .form(&[("credential", app.key.as_str())]);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(session_cookie(&res), None, "{headers:?}");
        assert!(res.text().await.unwrap().contains("came from another site"));
    }
    // The sign-in page's own form, and a client that is no browser, still sign in. The page
    // sends its referrer to its own origin, or a browser would post `Origin: null`.
    let res = client.get(format!("{}/dashboard", app.address)).send().await.unwrap();
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    let res = post_sign_in(&app, &client, &app.key).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie(&res).is_some());
    let res = client
        .post(format!("{}/dashboard/login", app.address))
        .header("Sec-Fetch-Site", "same-origin")
        .header(ORIGIN, "null")
        .form(&[("credential", app.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "fetch metadata outranks an opaque origin"
    );
    let res = client
        .post(format!("{}/dashboard/login", app.address))
        .form(&[("credential", app.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_attempts_are_throttled_per_client_address_and_per_credential() {
    let app = spawn_app().await;
    // One address guessing: 20 answers, then 429 until the window ends, the right key too.
    let guesser = client_from(Some("127.0.0.3".parse().unwrap()));
    for i in 0..20 {
        let res = post_sign_in(&app, &guesser, &format!("qg_sk_guess{i}")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    for credential in ["qg_sk_guess20", app.key.as_str()] {
        let res = post_sign_in(&app, &guesser, credential).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(session_cookie(&res), None);
    }
    // Another address is not held back by it.
    let res = post_sign_in(&app, &client_from(Some("127.0.0.4".parse().unwrap())), &app.key).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // One credential from many addresses (a key posted from every visitor's browser): 20 in
    // the window from anywhere, this one's 20th sign-in above included.
    for i in 0..19 {
        let client = client_from(Some(format!("127.0.1.{}", i + 1).parse().unwrap()));
        let res = post_sign_in(&app, &client, &app.key).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in {i}");
    }
    let res = post_sign_in(&app, &client_from(Some("127.0.2.1".parse().unwrap())), &app.key).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_short_root_token_is_warned_about_at_start_up() {
    let app = spawn_app().await;
    let start = |token: &str| {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("qg-root-{}-{port}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
            .env("QG_LISTEN", format!("127.0.0.1:{port}"))
            .env("QG_REDIS_URL", redis::shared().target().url)
            .env(
                "QG_REDIS_MODE",
                if redis::shared().target().mode == quota_gateway::surface::store::RedisMode::Cluster {
                    "cluster"
                } else {
                    "standalone"
                },
            )
            .env("QG_KEY_PREFIX", &app.prefix)
            .env("QG_ROOT_TOKEN", token)
            .env("QG_DRAIN_MS", "0")
            .env("QG_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, log, port)
    };
    let mut logs = Vec::new();
    for token in ["hunter2", "a-long-enough-root-token-of-40-characters"] {
        let (mut child, log, port) = start(token);
        crate::support::until_ready(&app.client, &format!("http://127.0.0.1:{port}")).await;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let _ = child.wait();
        logs.push(std::fs::read_to_string(&log).unwrap());
        let _ = std::fs::remove_file(&log);
    }
    let warned = |text: &str| text.contains("root token (QG_ROOT_TOKEN) is shorter than 32 characters");
    assert!(warned(&logs[0]), "{}", logs[0]);
    assert!(!logs[0].contains("hunter2"), "the token itself is never logged");
    assert!(!warned(&logs[1]), "{}", logs[1]);
}

#[tokio::test]
async fn posting_the_new_webhook_form_again_answers_the_endpoint_it_made_and_makes_none() {
    let app = crate::webhooks::node(&crate::support::unique_prefix(), None, true).await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (_, page) = dashboard.get("/dashboard/webhooks").await;
    let nonce = field_value(&page, "nonce");

    let fields = [
        ("nonce", nonce.as_str()),
        ("url", "http://127.0.0.1:9/hook"),
        ("threshold", "1"),
    ];
    let secret_of = |page: &str| {
        let at = page.find("whsec_").expect("the secret, shown");
        page[at..at + page[at..].find('<').unwrap()].to_string()
    };
    let (status, _, first) = dashboard.post("/dashboard/webhooks", &fields).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // The browser's reload posts the same form again: the same endpoint and secret answer.
    let (status, _, again) = dashboard.post("/dashboard/webhooks", &fields).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(secret_of(&again), secret_of(&first));
    let (_, list) = app.json(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");

    // A new form (the page loaded again) makes a new one.
    let (_, page) = dashboard.get("/dashboard/webhooks").await;
    let other = field_value(&page, "nonce");
    assert_ne!(other, nonce);
    let fields = [
        ("nonce", other.as_str()),
        ("url", "http://127.0.0.1:9/hook"),
        ("threshold", "1"),
    ];
    dashboard.post("/dashboard/webhooks", &fields).await;
    let (_, list) = app.json(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn replacing_a_plan_users_are_on_says_how_many_before_it_is_saved() {
    let app = spawn_app().await;
    app.put_plan(plan("plan_free", 10)).await;
    for user in ["a", "b", "c"] {
        app.subscribe(user, "plan_free", None).await;
    }
    let dashboard = Dashboard::sign_in(&app).await;
    let doc = serde_json::to_string(&plan("plan_free", 5)).unwrap();
    let (status, _, page) = dashboard
        .post("/dashboard/plans/save", &[("id", "plan_free"), ("doc", &doc)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("which <strong>3 users are</strong> on"), "{page}");
    assert_eq!(
        app.json(Method::GET, "/v1/plans/plan_free", None).await.1["groups"][0]["quota"],
        10,
        "not saved yet"
    );
    // A new plan replaces nothing.
    let (_, _, page) = dashboard
        .post(
            "/dashboard/plans/save",
            &[("id", "plan_new"), ("doc", &doc.replace("plan_free", "plan_new"))],
        )
        .await;
    assert!(!page.contains("This replaces plan"), "{page}");
}

#[tokio::test]
async fn the_overviews_top_users_count_every_user_and_never_add_units_together() {
    use futures::StreamExt;
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_mixed", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 10_000_000, "matches": [ { "event": "llm" } ] },
        { "id": "spend", "unit": "cents", "quota": 10_000_000, "matches": [ { "event": "charge" } ] } ] }))
        .await;
    let (status, _) = app
        .json_as(
            &app.root_token,
            Method::PATCH,
            "/v1/projects/default",
            Some(json!({ "defaultPlan": "plan_mixed" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // 3,000 light users, then two heavy ones whose ids sort after all of them.
    let users: Vec<(String, &str, u64)> = (0..3_000)
        .map(|i| (format!("u{i:05}"), "llm", 10))
        .chain([
            ("zz_tokens".to_string(), "llm", 526_153),
            ("zz_spender".to_string(), "charge", 150_346),
        ])
        .collect();
    futures::stream::iter(&users)
        .map(|(user, event, quantity)| {
            let app = &app;
            async move {
                let body = json!({ "userId": user, "event": event, "quantity": quantity });
                let (status, answer) = app.json(Method::POST, "/v1/track", Some(body)).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/overview").await;
    assert_eq!(status, StatusCode::OK);
    let tokens = page
        .find("<code>tokens</code> (tokens)")
        .expect("a table for the tokens group");
    let spend = page
        .find("<code>spend</code> (cents)")
        .expect("a table for the cents group");
    let first_row = |at: usize| page[at..].split("<td>").nth(1).unwrap().to_string();
    assert!(
        first_row(tokens).contains("zz_tokens"),
        "the heaviest, past the first 1,000 ids"
    );
    assert!(page[tokens..].contains("526,153 tokens"), "{page}");
    assert!(first_row(spend).contains("zz_spender"));
    assert!(page[spend..].contains("$1,503.46"), "cents as money: {page}");
    assert!(!page.contains("From the first"), "every user was read");
}
