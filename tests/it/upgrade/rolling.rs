//! A rolling upgrade from the previous release and a rollback to it, under load: two nodes of
//! the previous release, then node by node two of this build, then node by node two of the
//! previous release again, with plan edits and subscription moves between the swaps, while
//! workers reserve and commit (or release) with Idempotency-Keys through the balancer, each
//! repeat sent to a node of the other build. No call fails but by a refused connection at a
//! swap, a repeat answers what the first call answered whichever build answers it, every
//! acknowledged commit is counted once, and what each build wrote (reservations, idempotent
//! answers, counters, ledger entries, alerts' webhooks) is read by the other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::fleet::{Answer, Build, Fleet};
use crate::library::{libraries_on, servers};
use crate::support::receiver::Receiver;

/// What the workers share: the users they call for, and what they saw.
#[derive(Default)]
struct Load {
    users: Mutex<Vec<String>>,
    stop: AtomicBool,
    ops: AtomicUsize,
    /// Commits answered 200, per user.
    acked: Mutex<BTreeMap<String, u64>>,
    /// Calls answered anything but 200.
    errors: Mutex<Vec<String>>,
    /// Repeats answered otherwise than the first call.
    differ: Mutex<Vec<String>>,
    repeats: AtomicUsize,
}

/// A worker makes at most this many reserves.
const MAX_OPS: usize = 400;

impl Load {
    fn failed(&self, what: &str, (build, status, answer): &Answer) {
        self.errors
            .lock()
            .unwrap()
            .push(format!("{what} on {build:?}: {status} {answer}"));
    }

    /// Waits until the workers have made `n` more reserves (or stopped).
    async fn wait_ops(&self, n: usize) {
        let until = self.ops.load(Ordering::Relaxed) + n;
        for _ in 0..600 {
            if self.ops.load(Ordering::Relaxed) >= until || self.stop.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What of an answer two builds must agree on: all of it but its request id, and but a
/// release's counters, which a repeated release answers as they are now (in either build).
fn gist(path: &str, status: StatusCode, answer: &Value) -> Value {
    let mut answer = answer.clone();
    if let Some(fields) = answer.as_object_mut() {
        fields.remove("requestId");
        if path.ends_with("/release") {
            fields.remove("counters");
        }
    }
    json!([status.as_u16(), answer])
}

/// Sends the call again, with the same Idempotency-Key, to a node of the build that did not
/// answer it, and notes a different answer.
async fn repeat(fleet: &Fleet, load: &Load, first: &Answer, call: (&str, Option<Value>, &str)) {
    let (path, body, idem) = call;
    let Some(again) = fleet.send(Some(first.0.other()), Method::POST, path, body, idem).await else {
        return;
    };
    load.repeats.fetch_add(1, Ordering::Relaxed);
    if gist(path, first.1, &first.2) != gist(path, again.1, &again.2) {
        load.differ.lock().unwrap().push(format!(
            "{path} on {:?}: {} {}; on {:?}: {} {}",
            first.0, first.1, first.2, again.0, again.1, again.2
        ));
    }
}

/// Reserves, then commits (4 in 5) or releases through the balancer, each call keyed; every
/// third call is repeated on the other build.
async fn worker(fleet: Arc<Fleet>, load: Arc<Load>, w: usize) {
    for n in 0..MAX_OPS {
        if load.stop.load(Ordering::Relaxed) {
            return;
        }
        let user = {
            let users = load.users.lock().unwrap();
            users[(w * 7 + n) % users.len()].clone()
        };
        let body = json!({ "userId": user, "event": "render" });
        let idem = format!("r-{w}-{n}");
        let held = fleet
            .send(None, Method::POST, "/v1/reserve", Some(body.clone()), &idem)
            .await
            .expect("a live node");
        load.ops.fetch_add(1, Ordering::Relaxed);
        if held.1 != StatusCode::OK {
            load.failed("reserve", &held);
            continue;
        }
        if n % 3 == 0 {
            repeat(&fleet, &load, &held, ("/v1/reserve", Some(body), &idem)).await;
        }
        if held.2["allowed"] != true {
            continue;
        }
        let id = held.2["reservationId"].as_str().expect("an id").to_string();
        let verb = if n % 5 == 4 { "release" } else { "commit" };
        let path = format!("/v1/reservations/{id}/{verb}");
        let idem = format!("{verb}-{w}-{n}");
        // Ended on the other build when one is live.
        let to = Some(held.0.other()).filter(|b| fleet.builds().contains(b));
        let ended = fleet.send(to, Method::POST, &path, None, &idem).await;
        let ended = match ended {
            Some(ended) => ended,
            None => fleet
                .send(None, Method::POST, &path, None, &idem)
                .await
                .expect("a live node"),
        };
        if ended.1 != StatusCode::OK {
            load.failed(verb, &ended);
            continue;
        }
        if verb == "commit" {
            *load.acked.lock().unwrap().entry(user).or_default() += 1;
        }
        if n % 3 == 1 {
            repeat(&fleet, &load, &ended, (&path, None, &idem)).await;
        }
    }
}

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
        let path = format!("/v1/users/{user}/subscription");
        fleet.must(Old, Method::PUT, &path, json!({ "planId": "plan_a" })).await;
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
    fleet
        .must(
            New,
            Method::PUT,
            "/v1/users/u1/subscription",
            json!({ "planId": "plan_b" }),
        )
        .await;
    load.wait_ops(40).await;
    fleet.start(New).await;
    load.wait_ops(40).await;
    fleet.stop(Old).await;
    fleet
        .must(
            New,
            Method::PUT,
            "/v1/users/u7/subscription",
            json!({ "planId": "plan_a" }),
        )
        .await;
    load.users.lock().unwrap().push("u7".into());
    load.wait_ops(60).await;

    // The rollback: an old node joins, then a new one leaves; twice.
    fleet.start(Old).await;
    load.wait_ops(40).await;
    fleet.stop(New).await;
    fleet
        .must(Old, Method::PUT, "/v1/plans/plan_a", plan("plan_a", 300_000, true))
        .await;
    fleet
        .must(
            Old,
            Method::PUT,
            "/v1/users/u1/subscription",
            json!({ "planId": "plan_a" }),
        )
        .await;
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

    // Counters: every acknowledged commit counted once, nothing held, both builds agreeing.
    let acked = load.acked.lock().unwrap().clone();
    let mut users = users;
    users.push("u7".into());
    for user in &users {
        let want = acked.get(user).copied().unwrap_or(0);
        let path = format!("/v1/users/{user}/usage");
        let old = fleet.must(Old, Method::GET, &path, json!(null)).await;
        let new = fleet.must(New, Method::GET, &path, json!(null)).await;
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
        let entries = [fleet.ledger(Old, user).await, fleet.ledger(New, user).await];
        let ids = entries
            .clone()
            .map(|e| e.iter().map(|e| e["id"].to_string()).collect::<BTreeSet<_>>());
        assert_eq!(ids[0], ids[1], "{user}: both builds list the same entries");
        let commits = entries[1].iter().filter(|e| e["kind"] == "commit").count() as u64;
        assert_eq!(commits, want, "{user}: one ledger entry per acknowledged commit");
    }
    assert!(acked.values().sum::<u64>() > 100, "{acked:?}");

    // Alerts: each crossing of users never moved off plan_a delivered once, whichever build
    // wrote it and whichever delivered it.
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

    // The libraries: the previous release never removed this build's, which stays until this
    // version starts again; no other build's library is left behind.
    assert!(libraries_after_rollback.contains(ours), "{libraries_after_rollback:?}");
    let all = libraries();
    assert!(all.iter().all(|l| l == ours || l.starts_with("qg_0_1_0_")), "{all:?}");
}
