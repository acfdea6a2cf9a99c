//! A rolling upgrade from the previous release and a rollback to it, under load: two nodes of
//! the previous release, then node by node two of this build, then node by node two of the
//! previous release again, with plan edits and subscription moves between the swaps, while
//! workers reserve and commit (or release) with Idempotency-Keys through the balancer, each
//! repeat sent to a node of the other build. No call fails but by a refused connection at a
//! swap, a repeat answers what the first call answered whichever build answers it, every
//! acknowledged commit is counted once, and what each build wrote (reservations, idempotent
//! answers, counters, ledger entries, alerts' webhooks) is read by the other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::fleet::{Build, Fleet};
use super::load::{worker, Load};
use crate::library::{libraries_on, servers};
use crate::support::receiver::Receiver;

fn plan(id: &str, images: u64, alerts: bool) -> Value {
    let marks = if alerts { json!([50, 100]) } else { json!([]) };
    json!({ "id": id, "name": format!("{id} ({images})"), "periodType": "month", "groups": [
        { "id": "images", "unit": "count", "quota": images, "alerts": [], "matches": [ { "event": "render" } ] },
        { "id": "marks", "label": "Marks", "unit": "count", "quota": 10, "mode": "soft", "alerts": marks,
          "matches": [ { "event": "render" } ] } ] })
}

/// The data plane's libraries in Redis, on every server.
fn libraries() -> BTreeSet<String> {
    servers().iter().flat_map(|url| libraries_on(url)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the previous release's build: scripts/test builds it (scripts/upgrade-from) and runs this"]
async fn a_rolling_upgrade_and_a_rollback_under_load_lose_nothing_and_answer_alike() {
    use Build::{New, Old};
    let fleet = Arc::new(Fleet::new());
    fleet.start(Old).await;
    fleet.start(Old).await;
    let receiver = Receiver::start().await;
    fleet
        .must(Old, Method::POST, "/v1/webhooks", json!({ "url": receiver.url }))
        .await;
    fleet
        .must(Old, Method::PUT, "/v1/plans/plan_a", plan("plan_a", 100_000, true))
        .await;
    fleet
        .must(Old, Method::PUT, "/v1/plans/plan_b", plan("plan_b", 100_000, false))
        .await;
    let users: Vec<String> = (1..=6).map(|u| format!("u{u}")).collect();
    for user in &users {
        subscribe(&fleet, Old, user, "plan_a").await;
    }
    // Every node learns of the endpoint within the config epoch's poll.
    tokio::time::sleep(quota_gateway::gateway::EPOCH_POLL * 3).await;
    let load = Arc::new(Load {
        users: Mutex::new(users.clone()),
        ..Load::default()
    });
    let workers: Vec<_> = (0..6)
        .map(|w| tokio::spawn(worker(fleet.clone(), load.clone(), w)))
        .collect();
    load.wait_ops(40).await;

    // The rolling upgrade: a new node joins, then an old one leaves; twice.
    fleet.start(New).await;
    load.wait_ops(40).await;
    // The new node removed the old build's library as it started; the old nodes, serving on,
    // loaded theirs again.
    let mixed = libraries();
    let ours = &quota_gateway::surface::store::library::LIBRARY.name;
    assert!(
        mixed.contains(ours) && mixed.iter().any(|l| l.starts_with("qg_0_1_0_")),
        "{mixed:?}"
    );
    fleet.stop(Old).await;
    fleet
        .must(New, Method::PUT, "/v1/plans/plan_a", plan("plan_a", 200_000, true))
        .await;
    subscribe(&fleet, New, "u1", "plan_b").await;
    load.wait_ops(40).await;
    fleet.start(New).await;
    load.wait_ops(40).await;
    fleet.stop(Old).await;
    subscribe(&fleet, New, "u7", "plan_a").await;
    load.users.lock().unwrap().push("u7".into());
    load.wait_ops(60).await;

    // The rollback: an old node joins, then a new one leaves; twice. The first joins while the
    // new nodes are idle, so that none of them could load this build's library again before
    // it is looked for: the old build never removes it.
    load.pause().await;
    fleet.start(Old).await;
    let rolled = libraries();
    assert!(rolled.contains(ours), "{rolled:?}");
    load.resume();
    load.wait_ops(40).await;
    fleet.stop(New).await;
    fleet
        .must(Old, Method::PUT, "/v1/plans/plan_a", plan("plan_a", 300_000, true))
        .await;
    subscribe(&fleet, Old, "u1", "plan_a").await;
    load.wait_ops(40).await;
    fleet.start(Old).await;
    load.wait_ops(40).await;
    fleet.stop(New).await;
    load.wait_ops(60).await;
    load.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("a worker");
    }
    let libraries_after_rollback = libraries();

    // A node of this build again, to read what the old ones wrote.
    fleet.start(New).await;
    let errors = load.errors.lock().unwrap().clone();
    let differ = load.differ.lock().unwrap().clone();
    let refused = fleet.refused.load(Ordering::Relaxed);
    let (ops, repeats) = (load.ops.load(Ordering::Relaxed), load.repeats.load(Ordering::Relaxed));
    eprintln!("{ops} reserves, {repeats} repeats on the other build, {refused} attempts refused at swaps");
    assert!(
        errors.is_empty(),
        "{} calls failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(
        differ.is_empty(),
        "{} repeats differ: {:?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
    assert!(repeats > 50, "{repeats} repeats");

    let acked = load.acked.lock().unwrap().clone();
    let mut users = users;
    users.push("u7".into());
    counted_once(&fleet, &users, &acked).await;
    crossed_once(&receiver, &users, &acked).await;

    // The libraries: the previous release never removed this build's, which stays until this
    // version starts again; no other build's library is left behind.
    assert!(libraries_after_rollback.contains(ours), "{libraries_after_rollback:?}");
    let all = libraries();
    assert!(all.iter().all(|l| l == ours || l.starts_with("qg_0_1_0_")), "{all:?}");
}

/// Counters: every acknowledged commit counted once, nothing held, both builds agreeing; the
/// ledger: each commit once, the same entries listed by both builds.
async fn counted_once(fleet: &Fleet, users: &[String], acked: &BTreeMap<String, u64>) {
    for user in users {
        let want = acked.get(user).copied().unwrap_or(0);
        let path = format!("/v1/users/{user}/usage");
        let old = fleet.must(Build::Old, Method::GET, &path, json!(null)).await;
        let new = fleet.must(Build::New, Method::GET, &path, json!(null)).await;
        for usage in [&old, &new] {
            for group in ["images", "marks"] {
                let counter = usage["counters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["groupId"] == group);
                let counter = counter.unwrap_or_else(|| panic!("{user}: no {group} in {usage}"));
                assert_eq!(
                    (counter["used"].as_u64(), counter["reserved"].as_u64()),
                    (Some(want), Some(0)),
                    "{user} {group}: {usage}"
                );
            }
        }
        // The ledger: each commit once, the same entries read by both builds.
        let entries = [
            fleet.ledger(Build::Old, user).await,
            fleet.ledger(Build::New, user).await,
        ];
        let ids = entries
            .clone()
            .map(|e| e.iter().map(|e| e["id"].to_string()).collect::<BTreeSet<_>>());
        assert_eq!(ids[0], ids[1], "{user}: both builds list the same entries");
        let commits = entries[1].iter().filter(|e| e["kind"] == "commit").count() as u64;
        assert_eq!(commits, want, "{user}: one ledger entry per acknowledged commit");
    }
    assert!(acked.values().sum::<u64>() > 100, "{acked:?}");
}

/// Alerts: each crossing of the users never moved off plan_a (all but u1) delivered once,
/// whichever build wrote it and whichever delivered it.
async fn crossed_once(receiver: &Receiver, users: &[String], acked: &BTreeMap<String, u64>) {
    let crossing = |u: &str| acked.get(u).is_some_and(|n| *n >= 10);
    let expected = users[1..].iter().filter(|u| crossing(u)).count() * 2;
    receiver.wait_for(expected, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut delivered: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in receiver.received() {
        let event: Value = serde_json::from_str(&r.body).unwrap();
        if event["type"] == "quota.threshold_crossed" {
            let at = (
                event["data"]["userId"].to_string(),
                event["data"]["threshold"].to_string(),
            );
            delivered.entry(at).or_default().insert(r.headers["webhook-id"].clone());
        }
    }
    assert!(
        delivered.values().all(|ids| ids.len() == 1),
        "each crossing once: {delivered:?}"
    );
    for user in users[1..].iter().filter(|u| crossing(u)) {
        for threshold in ["50", "100"] {
            assert!(
                delivered.contains_key(&(format!("\"{user}\""), threshold.to_string())),
                "{user} {threshold}: {delivered:?}"
            );
        }
    }
}

async fn subscribe(fleet: &Fleet, build: Build, user: &str, plan: &str) {
    let path = format!("/v1/users/{user}/subscription");
    fleet.must(build, Method::PUT, &path, json!({ "planId": plan })).await;
}
