//! Crashes: a gateway killed with its holds open, Redis killed mid-load.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::support::process::{gateway_process, wait_ready};
use crate::support::redis::{free_port, TestRedis};
use crate::support::{spawn_app_on, unique_prefix, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn holds_of_a_gateway_killed_with_sigkill_return_within_ttl_and_a_second() {
    let own = TestRedis::start();
    let prefix = unique_prefix();
    let app = spawn_app_on(&own.target(), &prefix, None).await;
    app.put_plan(json!({ "id": "plan_k", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 1000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("victim", "plan_k", None).await;

    let port = free_port();
    let mut child = gateway_process(port, &own.target(), &prefix, &app.root_token, &[]);
    let address = format!("http://127.0.0.1:{port}");
    wait_ready(&app.client, &address).await;
    let reserve = || {
        app.client
            .post(format!("{address}/v1/reserve"))
            .bearer_auth(&app.key)
            .json(&json!({ "userId": "victim", "event": "e", "ttlSeconds": 2 }))
            .send()
    };
    let answers = join_all((0..100).map(|_| reserve())).await;
    assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|r| r.status() == 200)));
    let last_reserve = Instant::now();
    child.kill().expect("SIGKILL the gateway");
    let _ = child.wait();

    assert_eq!(TestApp::counter(&app.usage("victim").await, "g")["reserved"], 100);
    let mut reserved = json!(100);
    while last_reserve.elapsed() < Duration::from_secs(3) {
        reserved = TestApp::counter(&app.usage("victim").await, "g")["reserved"].clone();
        if reserved == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reserved, 0, "every hold returned within the 2 s TTL and a second");
    eprintln!("holds back {:?} after the last reserve", last_reserve.elapsed());
    // The next write reclaims them for good.
    let (_, tracked) = app
        .json(
            Method::POST,
            "/v1/track",
            Some(json!({ "userId": "victim", "event": "e" })),
        )
        .await;
    assert_eq!(TestApp::counter(&tracked, "g")["reserved"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn redis_killed_with_appendfsync_always_loses_no_acknowledged_commit() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let own = TestRedis::start_with(&args);
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    app.put_plan(json!({ "id": "plan_d", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 1000000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("d", "plan_d", None).await;

    let app = &app;
    let worker = move |stop_at: Instant| reserve_and_commit_until(app, json!({ "userId": "d", "event": "e" }), stop_at);
    let stop_at = Instant::now() + Duration::from_secs(3);
    let (results, _restarted) = futures::join!(
        join_all((0..4).map(|_| worker(stop_at))),
        killed_and_restarted(&own, &args)
    );
    let acked: u64 = results.iter().map(|r| r.0).sum();
    let unanswered: u64 = results.iter().map(|r| r.1).sum();
    let mut used = serde_json::Value::Null;
    for _ in 0..100 {
        if let Ok(usage) = app
            .call_try(Method::GET, "/v1/users/d/usage", serde_json::Value::Null)
            .await
        {
            used = TestApp::counter(&usage, "g")["used"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let used = used.as_u64().expect("usage after the restart");
    eprintln!("acknowledged {acked}, unanswered {unanswered}, counted {used}");
    assert!(acked > 0);
    assert!(used >= acked, "an acknowledged commit was lost: {used} < {acked}");
    assert!(
        used <= acked + unanswered,
        "more counted than could have run: {used} > {acked} + {unanswered}"
    );
    // The ledger was written by the same scripts: after the restart it holds one entry per
    // commit Redis kept, so it agrees with the counter.
    let (mut entries, mut summed, mut cursor) = (0u64, 0u64, String::new());
    loop {
        let (status, page) = app
            .json(
                Method::GET,
                &format!("/v1/usage-events?userId=d&limit=1000{cursor}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for e in page["data"].as_array().unwrap() {
            entries += 1;
            summed += e["groups"][0]["amount"].as_u64().unwrap();
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        (entries, summed),
        (used, used),
        "ledger and counter agree after the crash"
    );
}

/// A gateway that decided a crossing and was killed with SIGKILL before moving it (it is told
/// never to move alerts, so the kill lands in that window every time) loses nothing: a node
/// started afterwards finds the alert in the outbox and delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn an_alert_of_a_gateway_killed_with_sigkill_after_its_script_is_delivered() {
    use crate::support::receiver::Receiver;
    use crate::support::spawn_app_with;

    let own = TestRedis::start();
    let prefix = unique_prefix();
    let root = format!("root-{prefix}");
    let webhooks = [
        ("QG_WEBHOOK_ALLOW_HTTP", "true"),
        ("QG_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("QG_WEBHOOK_RETRY_SCALE", "0.001"),
    ];
    let mut env = webhooks.to_vec();
    env.push(("QG_TEST_SKIP_ALERT_MOVES", "true"));
    let port = free_port();
    let mut child = gateway_process(port, &own.target(), &prefix, &root, &env);
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    wait_ready(&client, &address).await;
    let call = |method: reqwest::Method, path: &str, token: &str, body: serde_json::Value| {
        client
            .request(method, format!("{address}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let key: serde_json::Value = call(
        Method::POST,
        "/v1/projects/default/keys",
        &root,
        json!({ "kind": "secret" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = key["key"].as_str().unwrap().to_string();
    let receiver = Receiver::start().await;
    let hook = call(Method::POST, "/v1/webhooks", &key, json!({ "url": receiver.url }))
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    let plan = json!({ "periodType": "month", "alerts": [100],
        "groups": [ { "id": "g", "unit": "count", "quota": 3, "matches": [ { "event": "*" } ] } ] });
    assert_eq!(
        call(Method::PUT, "/v1/plans/plan_a", &key, plan)
            .await
            .unwrap()
            .status(),
        200
    );
    let sub = json!({ "planId": "plan_a" });
    assert_eq!(
        call(Method::PUT, "/v1/users/dana/subscription", &key, sub)
            .await
            .unwrap()
            .status(),
        200
    );
    let track = json!({ "userId": "dana", "event": "e", "quantity": 3 });
    assert_eq!(
        call(Method::POST, "/v1/track", &key, track).await.unwrap().status(),
        200
    );
    child.kill().expect("SIGKILL the gateway");
    let _ = child.wait();
    assert!(receiver.received().is_empty());

    let _survivor = spawn_app_with(&own.target(), &prefix, Some(&key), |c| {
        c.webhook_allow_http = true;
        c.webhook_allow_private = true;
        c.webhook_retry_scale = 0.001;
    })
    .await;
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 1, "the crossing the killed node decided");
    let event: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(event["type"], "quota.threshold_crossed");
    assert_eq!(event["data"]["userId"], "dana");
}

/// Reserves and commits in a loop until `stop_at`, counting commits acknowledged (2xx) and
/// commits whose answer never came (they may or may not have run).
pub(super) async fn reserve_and_commit_until(
    app: &TestApp,
    reserve: serde_json::Value,
    stop_at: Instant,
) -> (u64, u64) {
    let (mut acked, mut unanswered) = (0u64, 0u64);
    while Instant::now() < stop_at {
        let Ok(res) = app.call_try(Method::POST, "/v1/reserve", reserve.clone()).await else {
            continue;
        };
        let Some(id) = res["reservationId"].as_str().map(str::to_string) else {
            continue;
        };
        match app
            .call_try(Method::POST, &format!("/v1/reservations/{id}/commit"), json!({}))
            .await
        {
            Ok(body) if body["status"] == "committed" => acked += 1,
            Ok(_) => {}
            Err(_) => unanswered += 1,
        }
    }
    (acked, unanswered)
}

/// Kills `own` a second into a load, and restarts it on its data (with `args`) 0.3 s later.
pub(super) async fn killed_and_restarted(own: &TestRedis, args: &[&str]) -> TestRedis {
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    own.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    TestRedis::spawn(own.port, own.dir.clone(), args).expect("redis restarts on its data")
}
