//! Team budgets on leased slices when things die: a gateway killed with SIGKILL while its
//! members hold slices, and Redis killed mid-load and restarted on its append-only file. The
//! team is never over its quota, and what the slices did not spend comes back without them.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::crashes::{killed_and_restarted, reserve_and_commit_until};
use crate::leases::{leased, member_of, plans, pool};
use crate::support::process::{gateway_process, wait_ready};
use crate::support::redis::{free_port, TestRedis};
use crate::support::{spawn_app_with, unique_prefix, TestApp};

/// An in-process node on `own` that leases slices of a second, up to three far from the
/// team's limit, its sweeper scaled down (a grace of 0.1 s, a sweep every 5 s).
async fn node(own: &TestRedis, prefix: &str, key: Option<&str>) -> TestApp {
    spawn_app_with(&own.target(), prefix, key, |c| {
        c.leases = true;
        c.slice_seconds = 1;
        c.slice_max_seconds = 3;
        c.webhook_retry_scale = 0.01;
    })
    .await
}

/// The team's usage once `done` holds of it, asked for at most `within`.
async fn team_until(app: &TestApp, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        if let Ok(usage) = app
            .call_try(Method::GET, "/v1/users/team_acme/usage", Value::Null)
            .await
        {
            if done(&usage) || started.elapsed() > within {
                return usage;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn slices_of_a_gateway_killed_with_sigkill_go_back_by_another_nodes_sweeper() {
    let own = TestRedis::start();
    let prefix = unique_prefix();
    let app = node(&own, &prefix, None).await;
    plans(&app, 10_000).await;
    app.subscribe("team_acme", "plan_team", None).await;
    let members: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for m in &members {
        member_of(&app, m, "team_acme").await;
    }
    // A gateway process that leases: its members take slices and commit 3 calls each.
    let port = free_port();
    let env = [
        ("QG_LEASES", "true"),
        ("QG_SLICE_SECONDS", "1"),
        ("QG_SLICE_MAX_SECONDS", "3"),
    ];
    let mut child = gateway_process(port, &own.target(), &prefix, &app.root_token, &env);
    let address = format!("http://127.0.0.1:{port}");
    wait_ready(&app.client, &address).await;
    let post = |path: String, body: Value| {
        app.client
            .post(format!("{address}{path}"))
            .bearer_auth(&app.key)
            .json(&body)
            .send()
    };
    for m in &members {
        for _ in 0..3 {
            let held: Value = post("/v1/reserve".into(), json!({ "userId": m, "event": "render" }))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = held["reservationId"].as_str().expect("admitted").to_string();
            let done = post(format!("/v1/reservations/{id}/commit"), json!({})).await.unwrap();
            assert!(done.status().is_success());
        }
    }
    child.kill().expect("SIGKILL the gateway");
    let _ = child.wait();
    // Its slices are in Redis: the team counts their 15 used, and 5 x 93 leased (slices of 32
    // calls a second, living three seconds with the team far from its limit, so of 96).
    let usage = app.usage("team_acme").await;
    assert_eq!((pool(&usage), leased(&usage)), ((15.0, 0.0), 465.0));
    // Nobody calls again: the node left alive ends them once they have ended (its sweeper).
    let usage = team_until(&app, Duration::from_secs(15), |u| leased(u) == 0.0).await;
    assert_eq!((pool(&usage), leased(&usage)), ((15.0, 0.0), 0.0), "{usage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn redis_killed_under_a_team_on_slices_loses_no_acknowledged_commit_and_never_passes_the_pool() {
    const POOL: u64 = 2_000;
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let own = TestRedis::start_with(&args);
    let prefix = unique_prefix();
    let app = node(&own, &prefix, None).await;
    plans(&app, POOL).await;
    app.subscribe("team_acme", "plan_team", None).await;
    let members: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    for m in &members {
        member_of(&app, m, "team_acme").await;
    }
    // Each worker reserves and commits in a loop for a member of its own.
    let app = &app;
    let worker = move |member: String, stop_at: Instant| {
        reserve_and_commit_until(app, json!({ "userId": member, "event": "render" }), stop_at)
    };
    let stop_at = Instant::now() + Duration::from_secs(3);
    let restarted = killed_and_restarted(&own, &args);
    let (results, _restarted) = futures::join!(join_all(members.iter().map(|m| worker(m.clone(), stop_at))), restarted);
    let acked: u64 = results.iter().map(|r| r.0).sum();
    let unanswered: u64 = results.iter().map(|r| r.1).sum();
    // Past the slices' end the sweeper closes every one: the team's used is what its members
    // committed, of which nothing acknowledged is lost, and never more than could have run.
    let usage = team_until(app, Duration::from_secs(15), |u| leased(u) == 0.0).await;
    let (used, reserved) = pool(&usage);
    eprintln!("acknowledged {acked}, unanswered {unanswered}, the team counts {used} used, {reserved} held");
    assert!(acked > 0);
    assert_eq!(leased(&usage), 0.0, "{usage}");
    assert!(
        used >= acked as f64,
        "an acknowledged commit was lost: {used} < {acked}"
    );
    assert!(
        used <= (acked + unanswered) as f64,
        "more counted than could have run: {used} > {acked} + {unanswered}"
    );
    assert!(used + reserved <= POOL as f64);
}
