//! What broke when the gateway was attacked as a careful adversary would: each defect found,
//! with the test that failed before its fix.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_stepped, TestApp};

/// A call with a raw body, as a client that does not go through a JSON library would send it.
async fn raw(app: &TestApp, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(&app.key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn one_group_plan(app: &TestApp) {
    app.put_plan(json!({ "id": "plan_h", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 100, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_h", None).await;
}

#[tokio::test]
async fn trailing_data_after_the_json_body_is_refused_and_counts_nothing() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    let one = r#"{"userId":"alice","event":"x"}"#;
    for body in [format!("{one}xyz"), format!("{one}{one}"), format!("{one} {one}")] {
        for path in ["/v1/reserve", "/v1/track"] {
            let (status, answer) = raw(&app, Method::POST, path, &body).await;
            assert_eq!(status, 400, "{path} {body}: {answer}");
            assert_eq!(answer["field"], "body", "{answer}");
        }
    }
    assert_eq!(TestApp::counter(&app.usage("alice").await, "g")["count"], 0);
    let (status, _) = raw(&app, Method::POST, "/v1/track", &format!("{one} \n")).await;
    assert_eq!(status, 200, "trailing space is not data");
}

#[tokio::test]
async fn error_bodies_speak_the_api_not_rust() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    let reserve = app.reserve(json!({ "userId": "alice", "event": "x" })).await;
    let id = reserve["reservationId"].as_str().unwrap().to_string();
    let cases = [
        (
            Method::POST,
            "/v1/reserve".to_string(),
            r#"{"userId":"alice","event":"x","ttlSeconds":1.5}"#,
            "ttlSeconds",
        ),
        (Method::POST, format!("/v1/reservations/{id}/commit"), "[]", "body"),
        (Method::POST, "/v1/reserve".to_string(), "{", "body"),
        (
            Method::POST,
            "/v1/reserve".to_string(),
            r#"{"userId":"alice"}"#,
            "event",
        ),
        (
            Method::PUT,
            "/v1/plans/p".to_string(),
            r#"{"periodType":"month","groups":{}}"#,
            "groups",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = raw(&app, method, &path, body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["field"], field, "{path} {body}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        for word in ["i64", "u64", "struct", "Body", "serde", "expected", "?", "deserialize"] {
            assert!(!detail.contains(word), "{path} {body}: {detail}");
        }
    }
    for (query, field) in [
        ("limit=x", "limit"),
        ("limit=0", "limit"),
        ("colour=red", "colour"),
        ("status=gone", "status"),
    ] {
        let (status, answer) = app.json(Method::GET, &format!("/v1/users?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert_eq!(answer["field"], field, "{query}: {answer}");
        assert!(!answer["detail"].as_str().unwrap().contains("deserialize"), "{answer}");
    }
}

#[tokio::test]
async fn the_weights_limit_is_stated_as_it_is_enforced() {
    let app = spawn_app().await;
    let plan = |weight: &str| {
        format!(
            r#"{{"periodType":"month","groups":[{{"id":"c","unit":"cents","quota":10,
            "measure":{{"weights":{{"tokens":{weight}}}}},"matches":[{{"event":"*"}}]}}]}}"#
        )
    };
    let (status, _) = raw(&app, Method::PUT, "/v1/plans/p_ok", &plan("1000000")).await;
    assert_eq!(status, 200);
    let (status, answer) = raw(&app, Method::PUT, "/v1/plans/p_big", &plan("1000001")).await;
    assert_eq!(status, 400);
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("at most 1000000") && !detail.contains("1000000000000"),
        "{detail}"
    );
}

#[tokio::test]
async fn metadata_numbers_no_double_can_hold_are_refused() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    for (path, body) in [
        (
            "/v1/reserve",
            r#"{"userId":"alice","event":"x","metadata":{"a":1e400}}"#,
        ),
        ("/v1/track", r#"{"userId":"alice","event":"x","metadata":{"a":-1e400}}"#),
    ] {
        let (status, answer) = raw(&app, Method::POST, path, body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["field"], "metadata.a", "{answer}");
    }
    let (status, _) = raw(
        &app,
        Method::POST,
        "/v1/track",
        r#"{"userId":"alice","event":"x","metadata":{"a":1e300}}"#,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn adjustments_of_an_in_flight_group_are_refused_and_never_lock_the_user_out() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_jobs", "periodType": "month",
        "groups": [ { "id": "jobs", "unit": "concurrent", "quota": 2, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_jobs", None).await;
    let (status, answer) = app
        .json(
            Method::POST,
            "/v1/users/alice/adjustments",
            Some(json!({ "groupId": "jobs", "amount": 5, "reason": "support" })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "groupId");
    let reserved = app.reserve(json!({ "userId": "alice", "event": "render" })).await;
    assert_eq!(reserved["allowed"], true, "{reserved}");
}

#[tokio::test]
async fn ids_in_paths_that_are_not_utf8_are_refused_by_name() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    for bad in ["%FF", "%FE", "a%C3"] {
        let (status, answer) = app
            .json(
                Method::PUT,
                &format!("/v1/users/{bad}/subscription"),
                Some(json!({ "planId": "plan_h" })),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(answer["field"], "userId", "{answer}");
        let (status, answer) = app.json(Method::GET, &format!("/v1/plans/{bad}"), None).await;
        assert_eq!(
            (status.as_u16(), answer["field"].clone()),
            (400, json!("planId")),
            "{bad}"
        );
    }
    // U+FFFD written as UTF-8 is a user id like any other, and the only one that names it.
    let (status, answer) = app
        .json(
            Method::PUT,
            "/v1/users/%EF%BF%BD/subscription",
            Some(json!({ "planId": "plan_h" })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["userId"], "\u{FFFD}");
    let (_, listed) = app.json(Method::GET, "/v1/users", None).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "alice and U+FFFD only: {listed}"
    );
}

#[tokio::test]
async fn statuses_say_what_happened() {
    let app = spawn_app().await;
    // A revoked key is unknown on every route: 401, also on a root route.
    let minted = app
        .call_as(
            &app.root_token,
            Method::POST,
            "/v1/projects/default/keys",
            Some(json!({ "kind": "secret" })),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let (key, key_id) = (minted["key"].as_str().unwrap(), minted["keyId"].as_str().unwrap());
    assert_eq!(
        app.call_as(key, Method::GET, "/v1/projects", None).await.status(),
        403,
        "live, wrong kind"
    );
    let revoked = app
        .call_as(
            &app.root_token,
            Method::DELETE,
            &format!("/v1/projects/default/keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(app.call_as(key, Method::GET, "/v1/projects", None).await.status(), 401);
    // A wrong method on a path that exists is 405 naming the methods it takes.
    let res = app.call(Method::DELETE, "/v1/reserve", None).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    let res = app.call(Method::POST, "/v1/users/alice/subscription", None).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "PUT, GET, DELETE, HEAD");
    assert_eq!(app.call(Method::GET, "/v1/nothing-here", None).await.status(), 404);
}

#[tokio::test]
async fn a_key_that_cannot_be_valid_is_401_without_waiting_for_redis() {
    use quota_gateway::startup::Application;

    use crate::support::{redis::free_port, test_config, unique_prefix};

    let config = test_config(&unique_prefix(), "root-token");
    let app = Application::build(&config, &format!("redis://127.0.0.1:{}", free_port()))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for token in ["garbage", "qg_sk_notavalidkeyatall"] {
        let res = client
            .post(format!("{address}/v1/reserve"))
            .bearer_auth(token)
            .json(&json!({ "userId": "u", "event": "e" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{token}");
    }
}

#[tokio::test]
async fn a_release_after_expiry_ends_the_reservation() {
    let (app, clock) = spawn_app_stepped().await;
    one_group_plan(&app).await;
    let held = app
        .reserve(json!({ "userId": "alice", "event": "x", "ttlSeconds": 1 }))
        .await;
    let id = held["reservationId"].as_str().unwrap().to_string();
    clock.step(1_300);
    let (status, first) = app.release(&id).await;
    assert_eq!(
        (status.as_u16(), first["status"].clone()),
        (200, json!("expired")),
        "{first}"
    );
    let (status, commit) = app.commit(&id, None).await;
    assert_eq!(
        (status.as_u16(), commit["code"].clone()),
        (409, json!("reservation_released")),
        "{commit}"
    );
    let (status, again) = app.release(&id).await;
    assert_eq!(
        (status.as_u16(), again["status"].clone()),
        (200, json!("expired")),
        "{again}"
    );
    let (_, read) = app.json(Method::GET, &format!("/v1/reservations/{id}"), None).await;
    assert_eq!(read["status"], "expired");
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/v1/reservations/{id}/extend"),
            Some(json!({ "ttlSeconds": 5 })),
        )
        .await;
    assert_eq!(status, 410);
    assert_eq!(
        TestApp::counter(&app.usage("alice").await, "g")["used"],
        0,
        "nothing was counted"
    );
}

/// A non-atomic release or commit of an expired reservation would let both answer 200 (a late
/// commit and an "expired" release), or count the usage twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_commit_and_a_release_racing_on_an_expired_reservation_end_it_once() {
    let (app, clock) = spawn_app_stepped().await;
    one_group_plan(&app).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let held = app
            .reserve(json!({ "userId": "alice", "event": "x", "ttlSeconds": 1 }))
            .await;
        ids.push(held["reservationId"].as_str().unwrap().to_string());
    }
    clock.step(1_300);
    let app = &app;
    let races = ids.iter().map(|id| async move {
        let (commit, release) = tokio::join!(app.commit(id, None), app.release(id));
        (commit.0.as_u16(), release.0.as_u16())
    });
    let mut committed = 0;
    for (commit, release) in futures::future::join_all(races).await {
        match (commit, release) {
            (200, 409) => committed += 1,
            (409, 200) => {}
            other => panic!("both or neither ended it: {other:?}"),
        }
    }
    assert_eq!(TestApp::counter(&app.usage("alice").await, "g")["used"], committed);
}

/// 2^53 - 1 milli-units: the most a counter counts exactly.
const MAX_EXACT_MILLI: u64 = 9_007_199_254_740_991;

async fn track_units(app: &TestApp, units: &str) -> (StatusCode, Value) {
    raw(
        app,
        Method::POST,
        "/v1/track",
        &format!(r#"{{"userId":"alice","event":"x","quantity":{units}}}"#),
    )
    .await
}

#[tokio::test]
async fn a_counter_never_acknowledges_what_it_cannot_count_exactly() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    for _ in 0..9 {
        assert_eq!(track_units(&app, "1000000000000").await.0, 200);
    }
    let (status, answer) = track_units(&app, "1000000000000").await;
    assert_eq!(
        (status.as_u16(), answer["code"].clone()),
        (422, json!("counter_limit")),
        "{answer}"
    );
    let used = |answer: &Value| TestApp::counter(answer, "g")["used"].to_string();
    assert_eq!(
        used(&app.usage("alice").await),
        "9000000000000",
        "the refused track counted nothing"
    );
    let (status, answer) = track_units(&app, "0.001").await;
    assert_eq!(status, 200);
    assert_eq!(used(&answer), "9000000000000.001", "small amounts still count exactly");
    // A commit and an adjustment past the limit are refused the same way (a soft group, so
    // the reserve before the commit is admitted).
    app.put_plan(json!({ "id": "plan_soft", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 1, "mode": "soft", "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_soft", None).await;
    let held = app.reserve(json!({ "userId": "alice", "event": "x" })).await;
    let id = held["reservationId"].as_str().unwrap();
    let (status, answer) = app.commit(id, Some(json!({ "quantity": 1000000000000u64 }))).await;
    assert_eq!(
        (status.as_u16(), answer["code"].clone()),
        (422, json!("counter_limit")),
        "{answer}"
    );
    let (status, _) = app.commit(id, None).await;
    assert_eq!(status, 200, "the reservation is still there to commit as reserved");
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/users/alice/adjustments",
            Some(json!({ "groupId": "g", "amount": 1000000000000u64, "reason": "too much" })),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(used(&app.usage("alice").await), "9000000000001.001");
}

/// A check-then-write outside the script would let more than the room left through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_tracks_at_the_counter_limit_fill_it_exactly() {
    let app = spawn_app().await;
    one_group_plan(&app).await;
    for _ in 0..9 {
        assert_eq!(track_units(&app, "1000000000000").await.0, 200);
    }
    // Leave room for exactly five units.
    let rest = (MAX_EXACT_MILLI - 9_000_000_000_000_000 - 5_000) as f64 / 1000.0;
    assert_eq!(track_units(&app, &format!("{rest:.3}")).await.0, 200);
    let app = &app;
    let tracks = (0..10).map(|_| async move { track_units(app, "1").await.0.as_u16() });
    let statuses = futures::future::join_all(tracks).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 5, "{statuses:?}");
    let used = TestApp::counter(&app.usage("alice").await, "g")["used"].to_string();
    assert_eq!(used, "9007199254740.991");
}

/// Deleting a plan and subscribing to it meet in one script of the project's slot: either the
/// delete loses (409) or every subscribe that came after it does (404), never both win.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_plan_and_subscribing_to_it_never_both_win() {
    let app = spawn_app().await;
    for trial in 0..8 {
        let plan = format!("plan_race{trial}");
        app.put_plan(json!({ "id": plan, "periodType": "month",
            "groups": [ { "id": "g", "unit": "count", "quota": 1, "matches": [ { "event": "*" } ] } ] }))
            .await;
        let app = &app;
        let plan = plan.as_str();
        let subscribes = (0..8).map(|i| async move {
            let (status, _) = app
                .json(
                    Method::PUT,
                    &format!("/v1/users/u{trial}x{i}/subscription"),
                    Some(json!({ "planId": plan })),
                )
                .await;
            status.as_u16()
        });
        let delete = async {
            app.json(Method::DELETE, &format!("/v1/plans/{plan}"), None)
                .await
                .0
                .as_u16()
        };
        let (statuses, deleted) = tokio::join!(futures::future::join_all(subscribes), delete);
        let subscribed = statuses.iter().filter(|s| **s == 200).count();
        assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");
        match deleted {
            204 => assert_eq!(
                subscribed, 0,
                "the plan was deleted under {subscribed} users: {statuses:?}"
            ),
            409 => {
                let (_, listed) = app.json(Method::GET, &format!("/v1/users?planId={plan}"), None).await;
                assert_eq!(listed["data"].as_array().unwrap().len(), subscribed, "{listed}");
            }
            other => panic!("delete answered {other}"),
        }
        for user in (0..8).map(|i| format!("u{trial}x{i}")) {
            let (status, answer) = app
                .json(Method::POST, "/v1/check", Some(json!({ "userId": user, "event": "e" })))
                .await;
            assert_eq!(status, 200, "nobody is left on a deleted plan: {answer}");
        }
    }
}

/// A balance's debt counts exactly as a counter does: two balance groups burning one balance
/// take its debt to the limit faster than either counter, and the burn past it is refused
/// whole, not counted inexactly.
#[tokio::test]
async fn a_balances_debt_never_acknowledges_what_it_cannot_count_exactly() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_debt", "groups": [
        { "id": "one", "balance": "credits", "matches": [ { "event": "x" } ] },
        { "id": "two", "balance": "credits", "matches": [ { "event": "x" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_debt", None).await;
    for _ in 0..4 {
        assert_eq!(track_units(&app, "1000000000000").await.0, 200);
    }
    let (status, answer) = track_units(&app, "1000000000000").await;
    assert_eq!(
        (status.as_u16(), answer["code"].clone()),
        (422, json!("counter_limit")),
        "{answer}"
    );
    let (status, _) = track_units(&app, "0.001").await;
    assert_eq!(status, 200);
    let (_, balances) = app.json(Method::GET, "/v1/users/alice/balances", None).await;
    assert_eq!(
        balances["data"][0]["debt"].to_string(),
        "8000000000000.002",
        "{balances}"
    );
}
