//! Upgrades: a node of the previous release (`QG_OLD_BIN`, which scripts/upgrade-from builds
//! from the commit `.previous-release` names) and a node of this build serve the same users on
//! one Redis, each answering calls about reservations the other made. No answer is wrong: the
//! quota is never exceeded, every admit is counted once, both nodes read the same usage, and
//! the ledger says what the counters say. `rolling` upgrades a fleet node by node under load
//! and rolls it back.

mod fleet;
mod load;
mod rolling;

use std::process::Stdio;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::redis::{free_port, shared};
use crate::support::{spawn_app, spawn_app_on, TestApp};

/// The previous release's node on the shared Redis, under `like`'s prefix and root token.
async fn old_node(like: &TestApp) -> (TestApp, tokio::process::Child) {
    let bin = std::env::var("QG_OLD_BIN")
        .expect("QG_OLD_BIN: the previous release's binary (scripts/upgrade-from builds it; scripts/test sets it)");
    let port = free_port();
    let target = shared().target();
    let child = tokio::process::Command::new(bin)
        .env("QG_LISTEN", format!("127.0.0.1:{port}"))
        .env("QG_REDIS_URL", &target.url)
        .env("QG_REDIS_MODE", target.mode.as_str())
        .env("QG_KEY_PREFIX", &like.prefix)
        .env("QG_ROOT_TOKEN", &like.root_token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the earlier build");
    let node = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        ..like.clone_for_node()
    };
    crate::support::until_ready(&node.client, &node.address).await;
    (node, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs an earlier build: scripts/test builds it (scripts/upgrade-from) and runs this"]
async fn an_old_node_and_a_new_node_serve_the_same_users_with_no_wrong_answer() {
    let new = spawn_app().await;
    let (old, _child) = old_node(&new).await;
    // The plan through the old node, the subscriptions through the new one.
    old.put_plan(json!({ "id": "plan_u", "periodType": "month", "groups": [
        { "id": "images", "unit": "count", "quota": 40, "matches": [ { "event": "render" } ] },
        { "id": "cents", "unit": "cents", "quota": 100000, "matches": [ { "event": "render", "measure": { "rate": 2 } } ] } ] }))
    .await;
    for user in ["u1", "u2", "u3"] {
        new.subscribe(user, "plan_u", None).await;
    }
    // 100 parallel reserves, alternately on each node: exactly the quota, 40, admitted.
    let holds = join_all((0..100u32).map(|i| {
        let here = if i % 2 == 0 {
            old.clone_for_node()
        } else {
            new.clone_for_node()
        };
        async move { here.reserve(json!({ "userId": "u3", "event": "render" })).await }
    }))
    .await;
    let admitted: Vec<&str> = holds
        .iter()
        .filter(|h| h["allowed"] == true)
        .map(|h| h["reservationId"].as_str().unwrap())
        .collect();
    assert_eq!(admitted.len(), 40, "exactly the quota admitted");
    // Each ended on the node that did not make it: 30 committed, 10 released.
    for (i, id) in admitted.iter().enumerate() {
        let there = if holds.iter().position(|h| h["reservationId"] == *id).unwrap() % 2 == 0 {
            &new
        } else {
            &old
        };
        let (status, answer) = if i < 30 {
            there.commit(id, None).await
        } else {
            there.release(id).await
        };
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for node in [&old, &new] {
        let usage = node.usage("u3").await;
        assert_eq!(TestApp::counter(&usage, "images")["used"], json!(30), "{usage}");
        assert_eq!(TestApp::counter(&usage, "images")["reserved"], json!(0), "{usage}");
    }
    // 120 parallel reserves per user, alternately on each node, each admit committed (3 in 4)
    // or released (1 in 4) at once on the other node: what is released is admitted again, what
    // is committed never passes the quota.
    let calls = (0..240u32).map(|i| {
        let (here, there) = if i % 2 == 0 {
            (old.clone_for_node(), new.clone_for_node())
        } else {
            (new.clone_for_node(), old.clone_for_node())
        };
        async move {
            let user = if i % 4 < 2 { "u1" } else { "u2" };
            let held = here.reserve(json!({ "userId": user, "event": "render" })).await;
            if held["allowed"] != true {
                return (user, 0, 0);
            }
            let id = held["reservationId"].as_str().unwrap();
            if i % 8 < 6 {
                let (status, answer) = there.commit(id, None).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                (user, 1, 1)
            } else {
                let (status, answer) = there.release(id).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                (user, 1, 0)
            }
        }
    });
    let results = join_all(calls).await;
    for user in ["u1", "u2"] {
        let admitted: u32 = results.iter().filter(|r| r.0 == user).map(|r| r.1).sum();
        let committed: u32 = results.iter().filter(|r| r.0 == user).map(|r| r.2).sum();
        assert!(
            admitted >= 40 && committed <= 40,
            "{user}: {admitted} admitted, {committed} committed"
        );
        // Both nodes read the same usage: what was committed, nothing held.
        for node in [&old, &new] {
            let usage = node.usage(user).await;
            let images = TestApp::counter(&usage, "images");
            assert_eq!(images["used"], json!(committed), "{user}: {usage}");
            assert_eq!(images["reserved"], json!(0), "{user}: {usage}");
            assert_eq!(
                TestApp::counter(&usage, "cents")["used"],
                json!(2 * committed),
                "{user}: {usage}"
            );
        }
        // The ledger, written by both builds, has each commit once.
        let entries = new.usage_events_all(&format!("userId={user}")).await;
        let commits = entries.iter().filter(|e| e["kind"] == "commit").count();
        assert_eq!(commits, committed as usize, "{user}");
    }
    // What is left is admitted to the unit, from either node, and no more.
    for user in ["u1", "u2"] {
        let committed: u32 = results.iter().filter(|r| r.0 == user).map(|r| r.2).sum();
        let mut admitted = 0;
        for i in 0..(45 - committed) {
            let node = if i % 2 == 0 { &old } else { &new };
            if node.reserve(json!({ "userId": user, "event": "render" })).await["allowed"] == true {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 40 - committed, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs an earlier build: scripts/test builds it (scripts/upgrade-from) and runs this"]
async fn usage_read_by_a_new_node_right_after_an_upgrade_answers_what_is_left() {
    let new = spawn_app().await;
    let (old, _child) = old_node(&new).await;
    old.put_plan(json!({ "id": "plan_left", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000, "matches": [ { "event": "*" } ] },
        { "id": "credits", "balance": "credits", "matches": [ { "event": "*" } ] } ] }))
        .await;
    old.subscribe("ula", "plan_left", None).await;
    let (status, granted) = old
        .json(
            reqwest::Method::POST,
            "/v1/users/ula/grants",
            Some(json!({ "balance": "credits", "amount": 1000 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    let (status, tracked) = old
        .json(
            reqwest::Method::POST,
            "/v1/track",
            Some(json!({ "userId": "ula", "event": "chat", "quantity": 50 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    // Read by the new build before any call of its own: on a node that ran beside the old
    // one, and on one started after the old one wrote.
    let later = spawn_app_on(&shared().target(), &new.prefix, Some(&new.key)).await;
    for node in [&new, &later] {
        let usage = node.usage("ula").await;
        for group in ["tokens", "credits"] {
            let c = TestApp::counter(&usage, group);
            assert_eq!(c["remaining"], json!(950), "{group}: {usage}");
        }
    }
}
