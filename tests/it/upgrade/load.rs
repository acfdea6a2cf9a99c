//! The load of a rolling upgrade: workers that reserve, then commit (4 in 5) or release, through
//! the fleet's balancer with an Idempotency-Key per call, every third call repeated on a node of
//! the other build; what they saw, for the test to judge.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::fleet::{Answer, Fleet};

/// What the workers share: the users they call for, and what they saw.
#[derive(Default)]
pub struct Load {
    pub users: Mutex<Vec<String>>,
    pub stop: AtomicBool,
    pub ops: AtomicUsize,
    /// Commits answered 200, per user.
    pub acked: Mutex<BTreeMap<String, u64>>,
    /// Calls answered anything but 200.
    pub errors: Mutex<Vec<String>>,
    /// Repeats answered otherwise than the first call.
    pub differ: Mutex<Vec<String>>,
    pub repeats: AtomicUsize,
    /// While set, no worker starts a call.
    pub paused: AtomicBool,
    /// Workers in a call.
    pub busy: AtomicUsize,
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

    /// Whether a worker may start its next call (false: the load has stopped); waits while
    /// the load is paused.
    async fn enter(&self) -> bool {
        for _ in 0..1_000 {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            self.busy.fetch_add(1, Ordering::SeqCst);
            if !self.paused.load(Ordering::SeqCst) {
                return true;
            }
            self.busy.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the load stayed paused for 20 s");
    }

    /// Pauses the load: answers once no worker is in a call.
    pub async fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        for _ in 0..1_000 {
            if self.busy.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a worker's call lasted over 20 s");
    }

    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    /// Waits until the workers have made `n` more reserves (or stopped).
    pub async fn wait_ops(&self, n: usize) {
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
pub async fn worker(fleet: Arc<Fleet>, load: Arc<Load>, w: usize) {
    for n in 0..MAX_OPS {
        if !load.enter().await {
            return;
        }
        call(&fleet, &load, w, n).await;
        load.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One reserve and its end, each repeated on the other build now and then.
async fn call(fleet: &Fleet, load: &Load, w: usize, n: usize) {
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
        return;
    }
    if n.is_multiple_of(3) {
        repeat(fleet, load, &held, ("/v1/reserve", Some(body), &idem)).await;
    }
    if held.2["allowed"] != true {
        return;
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
        return;
    }
    if verb == "commit" {
        *load.acked.lock().unwrap().entry(user).or_default() += 1;
    }
    if n % 3 == 1 {
        repeat(fleet, load, &ended, (&path, None, &idem)).await;
    }
}
