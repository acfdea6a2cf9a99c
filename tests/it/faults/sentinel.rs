//! Sentinel: the primary killed under load, the gateway follows the new primary without a
//! restart; every answer meanwhile is a 503 or a decision. Asynchronous replication can lose the
//! last acknowledged writes (measured here); QG_REDIS_WAIT_REPLICAS=1 makes that zero, at the
//! price of refusing writes while the primary has no replica.

use std::time::{Duration, Instant};

use quota_gateway::surface::store::RedisMode;
use serde_json::json;

use crate::support::redis::{Target, TestRedis};
use crate::support::{spawn_app_with, unique_prefix, TestApp};

const QUOTA: u64 = 400;

struct Failover {
    admitted: u64,
    /// Acknowledged holds the new primary does not have: lost with the old primary.
    lost: u64,
    after_failover: u64,
}

/// One primary, one replica, three sentinels; reserves from four workers while the primary is
/// killed; answers what was admitted against the quota.
async fn failover_run(wait_replicas: u32) -> Failover {
    let primary = TestRedis::start();
    let replica = TestRedis::start_with(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !replica
        .query::<String>(&["INFO", "replication"])
        .contains("master_link_status:up")
    {
        assert!(Instant::now() < deadline, "the replica did not sync");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sentinels: Vec<TestRedis> = (0..3).map(|_| TestRedis::sentinel(primary.port)).collect();
    for sentinel in &sentinels {
        while sentinel
            .query::<Vec<Vec<String>>>(&["SENTINEL", "REPLICAS", "mymaster"])
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the sentinels did not find the replica");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let url = sentinels
        .iter()
        .map(|s| format!("redis://127.0.0.1:{}", s.port))
        .collect::<Vec<_>>()
        .join(",");
    let target = Target {
        url,
        mode: RedisMode::Sentinel,
    };
    let app = spawn_app_with(&target, &unique_prefix(), None, |c| c.wait_replicas = wait_replicas).await;
    app.put_plan(json!({ "id": "plan_s", "periodType": "lifetime",
        "groups": [ { "id": "g", "unit": "count", "quota": QUOTA, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("u", "plan_s", None).await;

    let killed_at = Instant::now() + Duration::from_millis(600);
    let stop_at = Instant::now() + Duration::from_secs(12);
    let app = &app;
    let worker = move || async move {
        let (mut admitted, mut unavailable, mut after) = (0u64, 0u64, 0u64);
        while Instant::now() < stop_at {
            let res = app
                .client
                .post(format!("{}/v1/reserve", app.address))
                .bearer_auth(&app.key)
                .json(&json!({ "userId": "u", "event": "e" }))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .expect("an answer within 2 s");
            match res.status().as_u16() {
                200 => {
                    let answer: serde_json::Value = res.json().await.unwrap();
                    if answer["allowed"] == true {
                        admitted += 1;
                    } else {
                        assert_eq!(answer["reasons"], json!(["limit_reached"]), "{answer}");
                    }
                    if Instant::now() > killed_at + Duration::from_secs(1) {
                        after += 1;
                    }
                }
                503 => unavailable += 1,
                other => panic!("answered {other} during the failover"),
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        (admitted, unavailable, after)
    };
    let (sentinels, replica_port) = (&sentinels, replica.port);
    let killer = async move {
        tokio::time::sleep(killed_at - Instant::now()).await;
        primary.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        // Failed over once every sentinel names the replica as the primary.
        loop {
            let switched = sentinels.iter().all(|sentinel| {
                let master: Vec<String> = sentinel.query(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
                master.get(1).map(String::as_str) == Some(replica_port.to_string().as_str())
            });
            if switched {
                return Instant::now();
            }
            assert!(Instant::now() < deadline, "the sentinels did not fail over");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (results, switched_at) = futures::join!(futures::future::join_all((0..4).map(|_| worker())), killer);
    let (admitted, unavailable, after) = results
        .iter()
        .fold((0, 0, 0), |acc, r| (acc.0 + r.0, acc.1 + r.1, acc.2 + r.2));
    // Reads follow the new primary in both runs (with WAIT, writes to a primary left without a
    // replica are refused with 503 until one rejoins).
    let counted = TestApp::counter(&app.usage("u").await, "g")["reserved"]
        .as_u64()
        .unwrap_or(0);
    eprintln!("failed over {:?} after the kill", switched_at - killed_at);
    let lost = admitted.saturating_sub(counted);
    eprintln!(
        "wait_replicas={wait_replicas}: admitted {admitted} against a quota of {QUOTA} (over by {}), the new primary counts {counted} (lost {lost}), {unavailable} answered 503",
        admitted.saturating_sub(QUOTA)
    );
    drop(replica);
    Failover {
        admitted,
        lost,
        after_failover: after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn a_failover_is_followed_and_waiting_for_a_replica_closes_the_over_admission() {
    // Without waiting, what replication lost is measured and reported, not asserted: on
    // loopback it is often nothing, over a network it is the last writes before the crash.
    let plain = failover_run(0).await;
    assert!(
        plain.after_failover > 0,
        "the gateway follows the new primary without a restart"
    );
    assert!(plain.admitted <= QUOTA + plain.lost);

    let waiting = failover_run(1).await;
    assert_eq!(waiting.lost, 0, "with WAIT no acknowledged write is lost");
    assert!(waiting.admitted <= QUOTA, "admitted {}", waiting.admitted);
}
