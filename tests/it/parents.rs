//! Shared budgets: a team's pool over each member's own limit, up to three
//! levels, exact under concurrency on both topologies, and every level settled exactly once.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::process::{gateway_process, wait_ready};
use crate::support::redis::{self, free_port};
use crate::support::{encode, spawn_app, spawn_app_on, spawn_app_stepped, spawn_app_with, unique_prefix, TestApp};

/// Puts `user` on `plan` under `parent` (None: no parent given); answers status and body.
async fn subscribe(app: &TestApp, user: &str, plan: &str, parent: Option<Value>) -> (StatusCode, Value) {
    let mut body = json!({ "planId": plan });
    if let Some(parent) = parent {
        body["parentId"] = parent;
    }
    let path = format!("/v1/users/{}/subscription", encode(user));
    app.json(Method::PUT, &path, Some(body)).await
}

async fn member_of(app: &TestApp, user: &str, plan: &str, parent: &str) {
    let (status, answer) = subscribe(app, user, plan, Some(json!(parent))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["parentId"], parent);
}

/// A counter of `subject` in an answer's counters.
fn counter<'a>(answer: &'a Value, subject: &str, group: &str) -> &'a Value {
    answer["counters"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["subjectId"] == subject && c["groupId"] == group))
        .unwrap_or_else(|| panic!("no counter {subject}/{group} in {answer}"))
}

/// Members of 5 each under a team pool of 30.
async fn team_plans(app: &TestApp) {
    app.put_plan(json!({ "id": "plan_member", "periodType": "month", "groups": [
        { "id": "own", "unit": "count", "quota": 5, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.put_plan(json!({ "id": "plan_team", "periodType": "month", "groups": [
        { "id": "pool", "unit": "count", "quota": 30, "matches": [ { "event": "*" } ] } ] }))
        .await;
}

/// The 3-master Cluster and the standalone server alike (QG_TEST_TOPOLOGY): a pool of 30 over
/// ten members of 5, 200 parallel reserves from two nodes. No level passes its quota, the pool
/// holds exactly what was admitted, and releasing it all leaves no hold anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_team_pool_is_never_exceeded_under_parallel_reserves_from_two_nodes() {
    let prefix = unique_prefix();
    let one = spawn_app_on(&redis::shared().target(), &prefix, None).await;
    let two = spawn_app_on(&redis::shared().target(), &prefix, Some(&one.key)).await;
    team_plans(&one).await;
    one.subscribe("team_acme", "plan_team", None).await;
    let members: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for m in &members {
        member_of(&one, m, "plan_member", "team_acme").await;
    }
    let nodes = [&one, &two];
    let answers =
        join_all((0..200).map(|i| nodes[i % 2].reserve(json!({ "userId": members[i % 10], "event": "render" })))).await;
    let admitted: Vec<(usize, &str)> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| a["allowed"] == true)
        .map(|(i, a)| (i % 10, a["reservationId"].as_str().unwrap()))
        .collect();
    assert!(
        !admitted.is_empty() && admitted.len() <= 30,
        "{} admitted",
        admitted.len()
    );
    for (m, member) in members.iter().enumerate() {
        let own = admitted.iter().filter(|(i, _)| *i == m).count();
        assert!(own <= 5, "{member} got {own}");
        assert_eq!(TestApp::counter(&one.usage(member).await, "own")["reserved"], own);
    }
    let pool = one.usage("team_acme").await;
    assert_eq!(TestApp::counter(&pool, "pool")["reserved"], admitted.len(), "{pool}");
    for answer in answers.iter().filter(|a| a["allowed"] == false) {
        assert_eq!(answer["reasons"], json!(["limit_reached"]), "{answer}");
    }

    join_all(admitted.iter().enumerate().map(|(i, (_, id))| nodes[i % 2].release(id))).await;
    assert_eq!(TestApp::counter(&two.usage("team_acme").await, "pool")["reserved"], 0);
    for member in &members {
        assert_eq!(TestApp::counter(&two.usage(member).await, "own")["reserved"], 0);
    }

    // Filled one at a time, the pool admits exactly 30, and the 31st is the pool's denial.
    let mut filled = 0;
    for round in 0..5 {
        for member in &members {
            let answer = nodes[round % 2]
                .reserve(json!({ "userId": member, "event": "render" }))
                .await;
            filled += usize::from(answer["allowed"] == true);
        }
    }
    assert_eq!(filled, 30);
}

#[tokio::test]
async fn the_pools_denial_names_its_subject_and_releases_the_members_hold() {
    let app = spawn_app().await;
    team_plans(&app).await;
    app.put_plan(json!({ "id": "plan_small", "periodType": "month", "groups": [
        { "id": "pool", "unit": "count", "quota": 2, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("t", "plan_small", None).await;
    member_of(&app, "ann", "plan_member", "t").await;
    let first = app
        .reserve(json!({ "userId": "ann", "event": "e", "quantity": 2 }))
        .await;
    assert_eq!(first["allowed"], true);
    assert_eq!(counter(&first, "ann", "own")["reserved"], 2);
    assert_eq!(counter(&first, "t", "pool")["reserved"], 2);

    let res = app
        .call(
            Method::POST,
            "/v1/reserve",
            Some(json!({ "userId": "ann", "event": "e" })),
        )
        .await;
    let policy = res.headers()["RateLimit-Policy"].to_str().unwrap().to_string();
    assert!(res.headers().contains_key("Retry-After"));
    let denied: Value = res.json().await.unwrap();
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["deniedBy"], json!(["pool"]));
    assert_eq!(
        denied["denials"],
        json!([{ "subjectId": "t", "groupId": "pool", "reason": "limit_reached" }])
    );
    // The member's level admitted and gave its hold back in the same request.
    assert_eq!(counter(&denied, "ann", "own")["reserved"], 2, "{denied}");
    assert_eq!(counter(&denied, "t", "pool")["reserved"], 2);
    assert_eq!(
        policy,
        "\"own\";q=5;w=2592000, \"up1.pool\";q=2;w=2592000".replace("2592000", &window(&denied))
    );
    assert_eq!(TestApp::counter(&app.usage("ann").await, "own")["reserved"], 2);

    // check reads every level and decides as reserve would, writing nothing.
    let (status, check) = app
        .json(
            Method::POST,
            "/v1/check",
            Some(json!({ "userId": "ann", "event": "e" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(check["allowed"], false);
    assert_eq!(
        check["denials"],
        json!([{ "subjectId": "t", "groupId": "pool", "reason": "limit_reached" }])
    );
}

/// The month's length in seconds as the answer's own counter says (months differ).
fn window(answer: &Value) -> String {
    let c = &answer["counters"][0];
    let at = |name: &str| chrono::DateTime::parse_from_rfc3339(c[name].as_str().unwrap()).unwrap();
    (at("resetsAt") - at("periodStart")).num_seconds().to_string()
}

/// user -> team -> org, tokens at every level.
async fn three_levels(app: &TestApp) {
    for (plan, group, quota) in [
        ("plan_org", "org_tokens", 1000),
        ("plan_t", "team_tokens", 500),
        ("plan_u", "user_tokens", 100),
    ] {
        app.put_plan(json!({ "id": plan, "periodType": "month", "groups": [
            { "id": group, "unit": "tokens", "quota": quota, "matches": [ { "event": "llm" } ] } ] }))
            .await;
    }
    app.subscribe("org", "plan_org", None).await;
    member_of(app, "team", "plan_t", "org").await;
    member_of(app, "una", "plan_u", "team").await;
}

/// Used and reserved of one level's only counter, read from its own usage.
async fn level(app: &TestApp, subject: &str) -> (f64, f64) {
    let usage = app.usage(subject).await;
    let c = &usage["counters"][0];
    (c["used"].as_f64().unwrap(), c["reserved"].as_f64().unwrap())
}

#[tokio::test]
async fn commit_and_release_of_a_three_level_reservation_change_each_level_once() {
    let (app, clock) = spawn_app_stepped().await;
    three_levels(&app).await;
    let held = app
        .reserve(json!({ "userId": "una", "event": "llm", "quantity": 10, "ttlSeconds": 1 }))
        .await;
    let id = held["reservationId"].as_str().unwrap();
    let subjects: Vec<&str> = held["counters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subjectId"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["una", "team", "org"]);
    let (_, record) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
    let holders: Vec<&str> = record["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["subjectId"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["una", "team", "org"], "{record}");

    // Extended past its first ttl at every level: nothing expires after a second.
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{id}/extend"),
            Some(json!({ "ttlSeconds": 60 })),
        )
        .await;
    assert_eq!(status, 200);
    clock.step(1_300);
    for subject in ["una", "team", "org"] {
        assert_eq!(level(&app, subject).await, (0.0, 10.0), "{subject}");
    }

    for _ in 0..2 {
        let (status, answer) = app.commit(id, Some(json!({ "quantity": 7 }))).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(counter(&answer, "org", "org_tokens")["used"], 7);
    }
    for subject in ["una", "team", "org"] {
        assert_eq!(level(&app, subject).await, (7.0, 0.0), "{subject}");
    }
    let usage = app.usage("una").await;
    assert_eq!(usage["parentId"], "team");
    let parents: Vec<&str> = usage["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["subjectId"].as_str().unwrap())
        .collect();
    assert_eq!(parents, ["team", "org"]);
    assert_eq!(usage["parents"][1]["counters"][0]["used"], 7);

    let second = app
        .reserve(json!({ "userId": "una", "event": "llm", "quantity": 3 }))
        .await;
    let second = second["reservationId"].as_str().unwrap();
    for _ in 0..2 {
        let (status, answer) = app.release(second).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["status"], "released");
    }
    for subject in ["una", "team", "org"] {
        assert_eq!(level(&app, subject).await, (7.0, 0.0), "{subject}");
    }
    assert_eq!(app.commit(second, None).await.0, 409);

    // Track counts at every level, and never denies.
    let (status, tracked) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "una", "event": "llm", "quantity": 2 })),
        )
        .await;
    assert_eq!(status, 200, "{tracked}");
    for subject in ["una", "team", "org"] {
        assert_eq!(level(&app, subject).await, (9.0, 0.0), "{subject}");
    }
}

#[tokio::test]
async fn a_repeated_reserve_holds_once_at_every_level() {
    let app = spawn_app().await;
    three_levels(&app).await;
    let reserve = || {
        app.client
            .post(format!("{}/v1/reserve", app.address))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "job-1")
            .json(&json!({ "userId": "una", "event": "llm", "quantity": 4 }))
            .send()
    };
    let first: Value = reserve().await.unwrap().json().await.unwrap();
    let again: Value = reserve().await.unwrap().json().await.unwrap();
    assert_eq!(first["reservationId"], again["reservationId"]);
    for subject in ["una", "team", "org"] {
        assert_eq!(level(&app, subject).await, (0.0, 4.0), "{subject}");
    }
    // Another member of the team with the same key is another request.
    member_of(&app, "vic", "plan_u", "team").await;
    let other = app
        .client
        .post(format!("{}/v1/reserve", app.address))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", "job-1")
        .json(&json!({ "userId": "vic", "event": "llm", "quantity": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(level(&app, "team").await, (0.0, 8.0));
}

#[tokio::test]
async fn a_blocked_parent_blocks_every_member() {
    let app = spawn_app().await;
    team_plans(&app).await;
    app.subscribe("team_b", "plan_team", None).await;
    member_of(&app, "bo", "plan_member", "team_b").await;
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/users/team_b/block",
            Some(json!({ "reason": "unpaid" })),
        )
        .await;
    assert_eq!(status, 200);
    let denied = app.reserve(json!({ "userId": "bo", "event": "e" })).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["reasons"], json!(["user_blocked"]));
    assert_eq!(TestApp::counter(&app.usage("bo").await, "own")["reserved"], 0);
    let (status, _) = app.json(Method::POST, "/v1/users/team_b/unblock", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.reserve(json!({ "userId": "bo", "event": "e" })).await["allowed"],
        true
    );
}

#[tokio::test]
async fn parents_are_checked_and_members_are_listed() {
    let app = spawn_app().await;
    team_plans(&app).await;
    let refused = |answer: (StatusCode, Value), why: &str| {
        assert_eq!(answer.0, 400, "{why}: {}", answer.1);
        assert_eq!(answer.1["field"], "parentId", "{why}: {}", answer.1);
    };
    refused(
        subscribe(&app, "a", "plan_member", Some(json!("nobody"))).await,
        "a parent without a plan",
    );
    refused(subscribe(&app, "a", "plan_member", Some(json!("a"))).await, "itself");
    refused(
        subscribe(&app, "a", "plan_member", Some(json!(""))).await,
        "an empty id",
    );
    app.subscribe("l1", "plan_team", None).await;
    member_of(&app, "l2", "plan_team", "l1").await;
    member_of(&app, "l3", "plan_member", "l2").await;
    refused(
        subscribe(&app, "l4", "plan_member", Some(json!("l3"))).await,
        "a fourth level",
    );
    refused(subscribe(&app, "l1", "plan_team", Some(json!("l3"))).await, "a cycle");
    app.subscribe("top", "plan_team", None).await;
    refused(
        subscribe(&app, "l1", "plan_team", Some(json!("top"))).await,
        "a fourth level below",
    );

    // Absent keeps the parent, null removes it.
    let (_, kept) = subscribe(&app, "l3", "plan_member", None).await;
    assert_eq!(kept["parentId"], "l2");
    member_of(&app, "l3b", "plan_member", "l2").await;
    let (status, page) = app.json(Method::GET, "/v1/users?parentId=l2", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["l3", "l3b"]);
    assert_eq!(page["data"][0]["parentId"], "l2");
    let (_, removed) = subscribe(&app, "l3", "plan_member", Some(Value::Null)).await;
    assert_eq!(removed["parentId"], Value::Null);
    let (_, page) = app.json(Method::GET, "/v1/users?parentId=l2&limit=1", None).await;
    assert_eq!(page["data"][0]["userId"], "l3b");
    assert_eq!(app.usage("l3").await["parents"], json!([]));
}

/// A node killed between levels: the holds it took below return at their expiry; a commit it
/// did not finish is completed, once, by a repeat on another node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_between_levels_leaves_nothing_past_the_ttl_and_a_repeat_completes_it() {
    let prefix = unique_prefix();
    let target = redis::shared().target();
    let app = spawn_app_on(&target, &prefix, None).await;
    team_plans(&app).await;
    app.subscribe("team_k", "plan_team", None).await;
    member_of(&app, "kim", "plan_member", "team_k").await;
    let held = app.reserve(json!({ "userId": "kim", "event": "e" })).await;
    let held = held["reservationId"].as_str().unwrap().to_string();

    let port = free_port();
    let pause = [("QG_TEST_LEVEL_PAUSE_MS", "5000")];
    let mut child = gateway_process(port, &target, &prefix, &app.root_token, &pause);
    let address = format!("http://127.0.0.1:{port}");
    wait_ready(&app.client, &address).await;
    let post = |path: String, body: Value| {
        app.client
            .post(format!("{address}{path}"))
            .bearer_auth(&app.key)
            .timeout(Duration::from_millis(1_000))
            .json(&body)
            .send()
    };
    // Both calls are past the member's level and waiting before the team's when the node dies.
    let sent = Instant::now();
    let (reserve, commit) = tokio::join!(
        post(
            "/v1/reserve".into(),
            json!({ "userId": "kim", "event": "e", "ttlSeconds": 3 })
        ),
        post(format!("/v1/reservations/{held}/commit"), json!({}))
    );
    assert!(
        reserve.is_err() && commit.is_err(),
        "both wait between levels: {:?} {:?}",
        reserve.map(|r| r.status()),
        commit.map(|r| r.status())
    );
    child.kill().expect("SIGKILL the gateway");
    let _ = child.wait();
    let kim = app.usage("kim").await;
    assert_eq!(TestApp::counter(&kim, "own")["used"], 1, "the member's level committed");
    assert_eq!(
        TestApp::counter(&kim, "own")["reserved"],
        1,
        "the member's new hold is left"
    );
    let pool = app.usage("team_k").await;
    assert_eq!(TestApp::counter(&pool, "pool")["used"], 0, "{pool}");
    assert_eq!(
        TestApp::counter(&pool, "pool")["reserved"],
        1,
        "the first hold, uncommitted there"
    );

    // The repeat completes the team's level, once; the member's counts nothing again.
    for _ in 0..2 {
        let (status, answer) = app.commit(&held, None).await;
        assert_eq!(status, 200, "{answer}");
    }
    let pool = app.usage("team_k").await;
    assert_eq!(TestApp::counter(&pool, "pool")["used"], 1);
    assert_eq!(TestApp::counter(&pool, "pool")["reserved"], 0);
    assert_eq!(TestApp::counter(&app.usage("kim").await, "own")["used"], 1);

    // The orphaned member hold returns within its ttl and a second.
    let mut reserved = json!(1);
    while sent.elapsed() < Duration::from_secs(4) && reserved != 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reserved = TestApp::counter(&app.usage("kim").await, "own")["reserved"].clone();
    }
    assert_eq!(reserved, 0, "the hold left between levels returned at its expiry");
}

/// The members index follows the subscription even when changes of one member's parent race:
/// index_user.lua moves the membership in the same step that orders the versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_parent_changes_leave_each_member_listed_under_its_parent() {
    let app = spawn_app().await;
    team_plans(&app).await;
    app.subscribe("t1", "plan_team", None).await;
    app.subscribe("t2", "plan_team", None).await;
    let parents = ["t1", "t2"];
    let answers = join_all((0..20).map(|i| subscribe(&app, "mo", "plan_member", Some(json!(parents[i % 2]))))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    let (_, sub) = app.json(Method::GET, "/v1/users/mo/subscription", None).await;
    let parent = sub["parentId"].as_str().unwrap();
    for team in parents {
        let (_, page) = app.json(Method::GET, &format!("/v1/users?parentId={team}"), None).await;
        let listed = page["data"].as_array().unwrap().len();
        assert_eq!(listed, usize::from(team == parent), "{team}: {page}");
    }
}

/// unsubscribe.lua drops the parent with the plan, in the same step: a cancelled member draws
/// on no pool and leaves the parent's members.
#[tokio::test]
async fn a_cancelled_subscription_ends_the_membership() {
    let app = spawn_app().await;
    team_plans(&app).await;
    app.subscribe("team_c", "plan_team", None).await;
    member_of(&app, "cy", "plan_member", "team_c").await;
    let (status, cancelled) = app.json(Method::DELETE, "/v1/users/cy/subscription", None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["parentId"], Value::Null);
    let (_, page) = app.json(Method::GET, "/v1/users?parentId=team_c", None).await;
    assert_eq!(page["data"], json!([]));
    assert_eq!(app.usage("cy").await["parents"], json!([]));
}

/// A parent that denies before any counter (blocked) is named in `denials`, with its reason,
/// so the member's support agent sees whose block it was.
#[tokio::test]
async fn a_blocked_parent_is_named_in_the_denial() {
    let app = spawn_app().await;
    team_plans(&app).await;
    app.subscribe("t", "plan_team", None).await;
    member_of(&app, "ann", "plan_member", "t").await;
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/users/t/block",
            Some(json!({ "reason": "chargeback" })),
        )
        .await;
    assert_eq!(status, 200);
    let denied = app.reserve(json!({ "userId": "ann", "event": "e" })).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(denied["reasons"], json!(["user_blocked"]), "{denied}");
    assert_eq!(
        denied["denials"],
        json!([{ "subjectId": "t", "groupId": null, "reason": "user_blocked" }]),
        "{denied}"
    );
}

/// Two subjects made each other's parent at once, through two nodes whose parent changes wait
/// between their check and their write (the window a race needs): one change wins, the other is
/// refused as a cycle, in every round. Without the project's lease on parent changes both checks
/// pass before either write, and the two subjects stay each other's parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_parent_changes_on_two_nodes_never_close_a_cycle() {
    let prefix = unique_prefix();
    let target = redis::shared().target();
    let pause = |c: &mut quota_gateway::config::Config| c.test.level_pause_ms = 100;
    let one = spawn_app_with(&target, &prefix, None, pause).await;
    let two = spawn_app_with(&target, &prefix, Some(&one.key), pause).await;
    team_plans(&one).await;
    for round in 0..5 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        one.subscribe(&a, "plan_team", None).await;
        one.subscribe(&b, "plan_team", None).await;
        let (first, second) = futures::join!(
            subscribe(&one, &a, "plan_team", Some(json!(b))),
            subscribe(&two, &b, "plan_team", Some(json!(a))),
        );
        let won = [&first, &second].iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(won, 1, "round {round}: {first:?} {second:?}");
        let refused = if first.0 == 200 { &second } else { &first };
        assert_eq!(refused.0, 400, "round {round}: {refused:?}");
        assert_eq!(refused.1["field"], "parentId", "round {round}: {refused:?}");
        let (_, sub_a) = one
            .json(Method::GET, &format!("/v1/users/{a}/subscription"), None)
            .await;
        let (_, sub_b) = one
            .json(Method::GET, &format!("/v1/users/{b}/subscription"), None)
            .await;
        assert!(
            sub_a["parentId"].is_null() || sub_b["parentId"].is_null(),
            "round {round}: a cycle {sub_a} {sub_b}"
        );
    }
}
