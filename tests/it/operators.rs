//! Operators: a person invited by the root token or an owner, their password set through the
//! invitation, signed in by email and password, held to their role in each project, named in
//! the audit log; removed, their sessions end. (`tests/browser/` drives the same in Chromium.)

use reqwest::header::{COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::dashboard::{client_from, post_sign_in, session_cookie, Dashboard};
use crate::support::{spawn_app, TestApp};

const PASSWORD: &str = "correct horse battery staple";

async fn root(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.json_as(&app.root_token, method, path, body).await
}

/// Invites `email` with `roles` as the root token: the invitation's answer.
async fn invite(app: &TestApp, email: &str, roles: Value) -> Value {
    let body = json!({ "email": email, "name": "Ana Lima", "roles": roles });
    let (status, answer) = root(app, Method::POST, "/v1/operators", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

/// Takes up an invitation as its page does: the status of the answer.
async fn set_password(app: &TestApp, path: &str, password: &str, confirm: &str) -> (StatusCode, String) {
    let res = client_from(None)
        .post(format!("{}{path}", app.address))
        .header(ORIGIN, &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("password", password), ("confirm", confirm)])
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Posts the sign-in form with an email and password from `client`, as the sign-in page does.
async fn post_password(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
    client
        .post(format!("{}/dashboard/login", app.address))
        .header(ORIGIN, &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Signs in with an email and password as the sign-in page does.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> Option<Dashboard> {
    let client = client_from(None);
    let res = post_password(app, &client, email, password).await;
    let cookie = session_cookie(&res)?;
    Some(Dashboard::of_session(app, client, cookie).await)
}

/// An invited operator with their password set, signed in.
async fn operator(app: &TestApp, email: &str, role: &str) -> (Value, Dashboard) {
    let invitation = invite(app, email, json!({ "default": role })).await;
    let path = invitation["invitePath"].as_str().unwrap();
    assert_eq!(
        set_password(app, path, PASSWORD, PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    let dashboard = sign_in(app, email, PASSWORD).await.expect("signed in");
    (invitation["operator"].clone(), dashboard)
}

/// The id of the operator of `email`, as the API lists them.
async fn operator_id(app: &TestApp, email: &str) -> String {
    let (_, list) = root(app, Method::GET, "/v1/operators", None).await;
    let found = list["data"].as_array().unwrap().iter().find(|o| o["email"] == email);
    found.unwrap_or_else(|| panic!("no operator {email}: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn plan() -> Value {
    json!({ "id": "plan_free", "periodType": "month", "groups": [
        { "id": "renders", "unit": "count", "quota": 10, "matches": [ { "event": "render" } ] } ] })
}

#[tokio::test]
async fn an_invited_operator_sets_a_password_signs_in_and_the_audit_log_names_them() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.json(
        Method::PUT,
        "/v1/users/bob/subscription",
        Some(json!({ "planId": "plan_free" })),
    )
    .await;

    let invitation = invite(&app, "Ana@Example.com", json!({ "default": "support" })).await;
    let op = &invitation["operator"];
    assert_eq!(op["email"], "ana@example.com", "addresses are compared lower-cased");
    assert_eq!(
        (op["status"].as_str(), op["roles"].clone()),
        (Some("invited"), json!({ "default": "support" }))
    );
    assert!(op["id"].as_str().unwrap().starts_with("op_"));
    assert!(op.get("passwordHash").is_none(), "{op}");
    let path = invitation["invitePath"].as_str().unwrap();

    // Before the password is set, no password signs in.
    assert!(sign_in(&app, "ana@example.com", PASSWORD).await.is_none());
    // The page asks for it; a short one or two that differ set nothing.
    let (status, page) = Dashboard::sign_in(&app).await.get(path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Welcome, Ana Lima") && page.contains("ana@example.com"),
        "{page}"
    );
    assert_eq!(
        set_password(&app, path, "short", "short").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        set_password(&app, path, PASSWORD, "another one entirely").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        set_password(&app, path, PASSWORD, PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    // The invitation works once.
    let (status, page) = set_password(&app, path, "a second password", "a second password").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");

    assert!(sign_in(&app, "ana@example.com", "wrong password!!").await.is_none());
    let ana = sign_in(&app, "ANA@example.com", PASSWORD).await.expect("signed in");
    let (_, page) = ana.get("/dashboard/users").await;
    assert!(
        page.contains("Ana Lima &lt;ana@example.com&gt;") && page.contains("support)"),
        "{page}"
    );

    // A support action, audited under her name.
    let (status, _, page) = ana
        .post(
            "/dashboard/users/bob/block",
            &[("reason", "abuse report 42"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, log) = app.json(Method::GET, "/v1/audit-log?userId=bob", None).await;
    let entry = &log["data"][0];
    assert_eq!(entry["action"], "user.block");
    assert_eq!(entry["actorId"], op["id"]);
    assert_eq!(entry["actorLabel"], "Ana Lima <ana@example.com>");
    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    assert!(
        log["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "operator.invite" && e["actorId"] == "root"),
        "{log}"
    );

    let (_, list) = root(&app, Method::GET, "/v1/operators", None).await;
    assert_eq!(list["data"][0]["status"], "active");
}

#[tokio::test]
async fn each_role_changes_only_what_it_may() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.json(
        Method::PUT,
        "/v1/users/bob/subscription",
        Some(json!({ "planId": "plan_free" })),
    )
    .await;
    let (_, viewer) = operator(&app, "vic@example.com", "viewer").await;
    let (_, support) = operator(&app, "sue@example.com", "support").await;
    let (_, admin) = operator(&app, "ada@example.com", "admin").await;

    // A viewer reads every page and changes nothing.
    assert_eq!(viewer.get("/dashboard/users/bob").await.0, StatusCode::OK);
    let (status, _, page) = viewer.post("/dashboard/users/bob/block", &[("reason", "no")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("You are viewer in project default; nothing was changed."),
        "{page}"
    );
    let (_, sub) = app.json(Method::GET, "/v1/users/bob/subscription", None).await;
    assert_eq!(sub["status"], "active");

    // Support acts on users, not on plans or webhooks.
    let (status, _, _) = support
        .post("/dashboard/users/bob/block", &[("reason", "abuse"), ("confirmed", "1")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let doc = serde_json::to_string(&plan()).unwrap();
    let (status, _, _) = support
        .post("/dashboard/plans/save", &[("id", "plan_free"), ("doc", &doc)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = support
        .post("/dashboard/webhooks", &[("url", "https://example.com/hook")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An admin configures, but does not choose who works here.
    let (status, _, _) = admin
        .post(
            "/dashboard/operators",
            &[
                ("do", "invite"),
                ("email", "x@example.com"),
                ("name", "X"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = root(&app, Method::GET, "/v1/operators", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3, "nobody was invited");
}

#[tokio::test]
async fn an_owner_invites_and_a_changed_or_removed_role_applies_at_the_next_request() {
    let app = spawn_app().await;
    app.put_plan(plan()).await;
    app.json(
        Method::PUT,
        "/v1/users/bob/subscription",
        Some(json!({ "planId": "plan_free" })),
    )
    .await;
    let (_, owner) = operator(&app, "olga@example.com", "owner").await;

    let fields = [
        ("do", "invite"),
        ("email", "sam@example.com"),
        ("name", "Sam"),
        ("role", "support"),
    ];
    let (status, _, page) = owner.post("/dashboard/operators", &fields).await;
    assert_eq!(status, StatusCode::OK);
    let at = page.find("/dashboard/invite/").expect("the link, shown once");
    let path: String = page[at..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(
        set_password(&app, &path, PASSWORD, PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    let sam = sign_in(&app, "sam@example.com", PASSWORD).await.unwrap();
    // Invited again by mistake (a reload): refused, nothing replaced.
    let (status, _, page) = owner.post("/dashboard/operators", &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("works on this project already"), "{page}");
    assert!(sign_in(&app, "sam@example.com", PASSWORD).await.is_some());

    // Demoted to viewer: his open session is held to it at once.
    let sam_id = operator_id(&app, "sam@example.com").await;
    let (status, _, _) = owner
        .post(
            "/dashboard/operators",
            &[("do", "role"), ("operatorId", &sam_id), ("role", "viewer")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = sam.post("/dashboard/users/bob/block", &[("reason", "abuse")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    let update = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "operator.update")
        .unwrap()
        .clone();
    assert_eq!(
        (
            update["target"].as_str(),
            update["detail"]["from"].as_str(),
            update["detail"]["to"].as_str()
        ),
        (Some(sam_id.as_str()), Some("support"), Some("viewer"))
    );

    // Removed: the session ends at its next request.
    let (status, _) = root(&app, Method::DELETE, &format!("/v1/operators/{sam_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let res = sam
        .client
        .get(format!("{}/dashboard/users", app.address))
        .header(COOKIE, &sam.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "back to the sign-in page");
    assert!(sign_in(&app, "sam@example.com", PASSWORD).await.is_none());
}

#[tokio::test]
async fn a_new_invitation_replaces_the_last_and_a_new_password_ends_old_sessions() {
    let app = spawn_app().await;
    let (op, ana) = operator(&app, "ana@example.com", "support").await;
    let id = op["id"].as_str().unwrap();
    let (status, first) = root(&app, Method::POST, &format!("/v1/operators/{id}/invite"), None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, second) = root(&app, Method::POST, &format!("/v1/operators/{id}/invite"), None).await;
    let first = first["invitePath"].as_str().unwrap();
    assert_eq!(
        set_password(&app, first, "a brand new password", "a brand new password")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Until the new password is set, the old one still signs in.
    assert!(ana.get("/dashboard/users").await.1.contains("Sign out"));
    let second = second["invitePath"].as_str().unwrap();
    assert_eq!(
        set_password(&app, second, "a brand new password", "a brand new password")
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    let res = ana
        .client
        .get(format!("{}/dashboard/users", app.address))
        .header(COOKIE, &ana.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the old password's session ended");
    assert!(sign_in(&app, "ana@example.com", PASSWORD).await.is_none());
    assert!(sign_in(&app, "ana@example.com", "a brand new password").await.is_some());
}

#[tokio::test]
async fn the_operators_api_is_the_root_tokens_and_names_the_field_at_fault() {
    let app = spawn_app().await;
    let body = json!({ "email": "ana@example.com", "name": "Ana", "roles": { "default": "owner" } });
    let (status, _) = app.json(Method::POST, "/v1/operators", Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a secret key does not invite");
    for (bad, field) in [
        (
            json!({ "email": "ana", "name": "Ana", "roles": { "default": "owner" } }),
            "email",
        ),
        (
            json!({ "email": "ana@example.com", "name": "", "roles": { "default": "owner" } }),
            "name",
        ),
        (
            json!({ "email": "ana@example.com", "name": "Ana", "roles": {} }),
            "roles",
        ),
        (
            json!({ "email": "ana@example.com", "name": "Ana", "roles": { "default": "god" } }),
            "roles.default",
        ),
        (
            json!({ "email": "ana@example.com", "name": "Ana", "roles": { "nowhere": "owner" } }),
            "roles.nowhere",
        ),
    ] {
        let (status, problem) = root(&app, Method::POST, "/v1/operators", Some(bad)).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{problem}"
        );
    }
    assert_eq!(
        root(&app, Method::POST, "/v1/operators", Some(body.clone())).await.0,
        StatusCode::CREATED
    );
    let (status, problem) = root(&app, Method::POST, "/v1/operators", Some(body)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("operator_exists"))
    );
    let (status, problem) = root(&app, Method::GET, "/v1/operators/op_nobody", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("operator_not_found"))
    );
    let (status, problem) = root(
        &app,
        Method::PATCH,
        "/v1/operators/op_nobody",
        Some(json!({ "name": "X" })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("operator_not_found"))
    );
}

/// The invitation link an owner's invite answered, from the operators page.
fn link_on(page: &str) -> String {
    let at = page.find("/dashboard/invite/").expect("the link, shown once");
    page[at..].chars().take_while(|c| *c != '<').collect()
}

/// An owner of one project inviting an address that is an operator of another learns nothing
/// of it: the answer, the list and the link's page read as for a new person; the role is the
/// operator's only with their own password, and the link never sets it.
#[tokio::test]
async fn an_owner_inviting_an_operator_of_another_project_learns_nothing_and_only_they_take_the_role() {
    let app = spawn_app().await;
    let (status, _) = root(&app, Method::POST, "/v1/projects", Some(json!({ "id": "other" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    operator(&app, "tom@example.com", "viewer").await;
    let tom = operator_id(&app, "tom@example.com").await;
    let rename = json!({ "name": "Tom Real" });
    root(&app, Method::PATCH, &format!("/v1/operators/{tom}"), Some(rename)).await;
    let invitation = invite(&app, "olga@example.com", json!({ "other": "owner" })).await;
    let path = invitation["invitePath"].as_str().unwrap();
    assert_eq!(
        set_password(&app, path, PASSWORD, PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    let olga = sign_in(&app, "olga@example.com", PASSWORD).await.unwrap();

    let invite_here = |email: &'static str, name: &'static str| {
        let olga = &olga;
        async move {
            let fields = [("do", "invite"), ("email", email), ("name", name), ("role", "support")];
            let (status, _, page) = olga.post("/dashboard/operators", &fields).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            link_on(&page)
        }
    };
    let tom_link = invite_here("tom@example.com", "Thomas").await;
    let new_link = invite_here("nina@example.com", "Nina").await;
    // The list shows both as invited, under the names she gave them.
    let (_, page) = olga.get("/dashboard/operators").await;
    assert!(page.contains("Thomas") && page.contains("Nina"), "{page}");
    assert!(
        !page.contains("Tom Real"),
        "Tom's own name is not hers to learn: {page}"
    );
    // Both links' pages read the same but for the name and address.
    let page_of = |link: &str| {
        let url = format!("{}{link}", app.address);
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let (tom_page, new_page) = (page_of(&tom_link).await, page_of(&new_link).await);
    assert_eq!(
        tom_page
            .replace("Thomas", "X")
            .replace("tom@example.com", "Y")
            .replace(&tom_link, "Z"),
        new_page
            .replace("Nina", "X")
            .replace("nina@example.com", "Y")
            .replace(&new_link, "Z")
    );

    // Whoever holds Tom's link cannot set his password with it, nor take the role.
    let other = "another long passphrase";
    let (status, page) = set_password(&app, &tom_link, other, other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(sign_in(&app, "tom@example.com", other).await.is_none());
    let (_, record) = root(&app, Method::GET, &format!("/v1/operators/{tom}"), None).await;
    assert_eq!(record["roles"], json!({ "default": "viewer" }));
    // Tom, with his own password, takes it; his name and password stay his.
    assert_eq!(
        set_password(&app, &tom_link, PASSWORD, PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, record) = root(&app, Method::GET, &format!("/v1/operators/{tom}"), None).await;
    assert_eq!(record["roles"], json!({ "default": "viewer", "other": "support" }));
    assert_eq!(record["name"], "Tom Real");
    let tom_in = sign_in(&app, "tom@example.com", PASSWORD)
        .await
        .expect("his password still");
    tom_in.post("/dashboard/project", &[("project", "other")]).await;
    let (_, page) = tom_in.get("/dashboard/users").await;
    assert!(page.contains("project other") && page.contains(", support)"), "{page}");
    // The link worked once.
    assert_eq!(
        set_password(&app, &tom_link, PASSWORD, PASSWORD).await.0,
        StatusCode::NOT_FOUND
    );
}

/// An offered role's link is not a way to guess an operator's password: a few wrong ones end it.
#[tokio::test]
async fn an_offered_roles_link_ends_after_a_few_wrong_passwords() {
    let app = spawn_app().await;
    let (status, _) = root(&app, Method::POST, "/v1/projects", Some(json!({ "id": "other" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    operator(&app, "tom@example.com", "viewer").await;
    let invitation = invite(&app, "olga@example.com", json!({ "other": "owner" })).await;
    let path = invitation["invitePath"].as_str().unwrap();
    set_password(&app, path, PASSWORD, PASSWORD).await;
    let olga = sign_in(&app, "olga@example.com", PASSWORD).await.unwrap();
    let fields = [
        ("do", "invite"),
        ("email", "tom@example.com"),
        ("name", "Tom"),
        ("role", "admin"),
    ];
    let (_, _, page) = olga.post("/dashboard/operators", &fields).await;
    let link = link_on(&page);
    for i in 0..5 {
        let guess = format!("wrong guess number {i}");
        assert_eq!(
            set_password(&app, &link, &guess, &guess).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    // The right one, sixth: too late.
    assert_eq!(
        set_password(&app, &link, PASSWORD, PASSWORD).await.0,
        StatusCode::NOT_FOUND
    );
    let tom = operator_id(&app, "tom@example.com").await;
    let (_, record) = root(&app, Method::GET, &format!("/v1/operators/{tom}"), None).await;
    assert_eq!(record["roles"], json!({ "default": "viewer" }));
}

#[tokio::test]
async fn a_keys_session_configures_but_chooses_no_operator_and_no_owner_reaches_another_project() {
    let app = spawn_app().await;
    let (status, _) = root(&app, Method::POST, "/v1/projects", Some(json!({ "id": "other" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    // A secret key sits in apps' environments: its session is an admin, never an owner.
    let by_key = Dashboard::sign_in(&app).await;
    let fields = [
        ("do", "invite"),
        ("email", "eve@example.com"),
        ("name", "Eve"),
        ("role", "owner"),
    ];
    let (status, _, _) = by_key.post("/dashboard/operators", &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, owner) = operator(&app, "olga@example.com", "owner").await;
    operator(&app, "tom@example.com", "viewer").await;
    let tom = operator_id(&app, "tom@example.com").await;
    // A value that is no role changes nothing (it does not remove him).
    let (status, _, page) = owner
        .post(
            "/dashboard/operators",
            &[("do", "role"), ("operatorId", &tom), ("role", "")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (_, tom_now) = root(&app, Method::GET, &format!("/v1/operators/{tom}"), None).await;
    assert_eq!(tom_now["roles"], json!({ "default": "viewer" }));
    // An owner of default cannot show project other, where she has no role.
    let (status, _, _) = owner.post("/dashboard/project", &[("project", "other")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = owner.get("/dashboard/users").await;
    assert!(page.contains("project default"), "still on her own project");
    // Given a role there by the root token, she can, with that role.
    root(
        &app,
        Method::PATCH,
        &format!("/v1/operators/{}", operator_id(&app, "olga@example.com").await),
        Some(json!({ "roles": { "default": "owner", "other": "viewer" } })),
    )
    .await;
    owner.post("/dashboard/project", &[("project", "other")]).await;
    let (_, page) = owner.get("/dashboard/users").await;
    assert!(page.contains("project other") && page.contains(", viewer)"), "{page}");
    // Only the project whose role changed records it.
    let (_, log) = app.json(Method::GET, "/v1/audit-log", None).await;
    let updates = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "operator.update")
        .count();
    assert_eq!(updates, 0, "default's role did not change: {log}");
}

/// Owners of eight projects change one operator's role in their own project at the same
/// instant, three times over: every change holds. Each is a read-modify-write of one record;
/// written back whole from what it read (no compare-and-set), one would undo another's.
#[tokio::test]
async fn parallel_role_changes_in_different_projects_all_hold() {
    let app = spawn_app().await;
    let projects: Vec<String> = (1..=8).map(|i| format!("team{i}")).collect();
    let mut roles = serde_json::Map::new();
    roles.insert("default".into(), json!("viewer"));
    for p in &projects {
        let (status, _) = root(&app, Method::POST, "/v1/projects", Some(json!({ "id": p }))).await;
        assert_eq!(status, StatusCode::CREATED);
        roles.insert(p.clone(), json!("viewer"));
    }
    invite(&app, "ren@example.com", Value::Object(roles)).await;
    let ren = operator_id(&app, "ren@example.com").await;
    // The root token's sessions, one per project, each from its own address (sign-ins are
    // counted per address).
    let mut sessions = Vec::new();
    for (i, p) in projects.iter().enumerate() {
        let client = client_from(Some(format!("127.0.0.{}", 40 + i).parse().unwrap()));
        let res = post_sign_in(&app, &client, &app.root_token).await;
        let cookie = session_cookie(&res).expect("a root session");
        let session = Dashboard::of_session(&app, client, cookie).await;
        assert_eq!(
            session.post("/dashboard/project", &[("project", p)]).await.0,
            StatusCode::SEE_OTHER
        );
        sessions.push(session);
    }
    for round in ["admin", "support", "owner"] {
        let changes = sessions.iter().map(|s| {
            let ren = ren.clone();
            async move {
                let (status, _, page) = s
                    .post(
                        "/dashboard/operators",
                        &[("do", "role"), ("operatorId", &ren), ("role", round)],
                    )
                    .await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
            }
        });
        futures::future::join_all(changes).await;
        let (_, now) = root(&app, Method::GET, &format!("/v1/operators/{ren}"), None).await;
        for p in &projects {
            assert_eq!(now["roles"][p], round, "{round} in {p}: {now}");
        }
        assert_eq!(now["roles"]["default"], "viewer", "{now}");
    }

    // All eight take their project's role away at once: only the default's is left.
    let remove_all = |operator: String| {
        let sessions = &sessions;
        async move {
            let changes = sessions.iter().map(|s| {
                let operator = operator.clone();
                async move {
                    let form = [("do", "role"), ("operatorId", operator.as_str()), ("role", "remove")];
                    let (status, _, page) = s.post("/dashboard/operators", &form).await;
                    // A form read after the operator was gone finds no one to change.
                    assert!(
                        status == StatusCode::SEE_OTHER || page.contains("No such operator in this project."),
                        "{status}: {page}"
                    );
                }
            });
            futures::future::join_all(changes).await;
        }
    };
    remove_all(ren.clone()).await;
    let (_, now) = root(&app, Method::GET, &format!("/v1/operators/{ren}"), None).await;
    assert_eq!(now["roles"], json!({ "default": "viewer" }), "{now}");

    // One who had roles in those eight projects only: removed from all at once, they are gone,
    // never left behind with no role that no owner could see.
    let roles: serde_json::Map<String, Value> = projects.iter().map(|p| (p.clone(), json!("viewer"))).collect();
    invite(&app, "kai@example.com", Value::Object(roles)).await;
    let kai = operator_id(&app, "kai@example.com").await;
    remove_all(kai.clone()).await;
    let (status, left) = root(&app, Method::GET, &format!("/v1/operators/{kai}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{left}");
}

/// Signs in with an email and password from `client`: the answer's status.
async fn sign_in_from(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> StatusCode {
    post_password(app, client, email, password).await.status()
}

#[tokio::test]
async fn a_guesser_who_knows_an_operators_address_cannot_lock_them_out() {
    let app = spawn_app().await;
    operator(&app, "vera@example.com", "viewer").await;
    // Twenty-five wrong passwords for Vera from one address: that address is held back.
    let guesser = client_from(Some("127.0.0.7".parse().unwrap()));
    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(sign_in_from(&app, &guesser, "vera@example.com", &format!("wrong guess {i:04}")).await);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // Vera, from her own address, signs in.
    let vera = client_from(Some("127.0.0.8".parse().unwrap()));
    assert_eq!(
        sign_in_from(&app, &vera, "vera@example.com", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}
