//! Three gateways whose machine clocks are 5 s slow, right and 5 s fast share a per-minute
//! quota across two minute boundaries: no minute of Redis time admits more than the quota.
//! Redis runs on a fast clock (`TestRedis::start_fast_clock`): its time starts 3 s before a
//! minute boundary and runs six times as fast, so two boundaries pass in about 11 seconds, and
//! the nodes' estimates of Redis time fall behind between their syncs as a skewed clock would.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;

use quota_gateway::gateway::Clock;

use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

const QUOTA: u64 = 5;
/// How many times as fast as the machine's clock Redis time runs.
const RATE: u32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn skewed_clocks_never_admit_more_than_a_minutes_quota() {
    let next_minute_ms = (Clock::local_ms() / 60_000 + 1) * 60_000;
    let own = redis::TestRedis::start_fast_clock(next_minute_ms - 3_000, RATE);
    let prefix = unique_prefix();
    let first = spawn_app_with(&own.target(), &prefix, None, |c| c.test.clock_skew_ms = -5_000).await;
    let key = first.key.clone();
    let second = spawn_app_with(&own.target(), &prefix, Some(&key), |_| {}).await;
    let third = spawn_app_with(&own.target(), &prefix, Some(&key), |c| c.test.clock_skew_ms = 5_000).await;
    first
        .put_plan(
            json!({ "id": "plan_minute", "periodType": "minute", "periodAnchor": "calendar",
            "groups": [ { "id": "per_minute", "unit": "count", "quota": QUOTA, "matches": [ { "event": "*" } ] } ] }),
        )
        .await;
    first.subscribe("u", "plan_minute", None).await;

    let start_minute = redis_minute(&own);
    let runs = join_all([
        run(&first, &own, start_minute),
        run(&second, &own, start_minute),
        run(&third, &own, start_minute),
    ])
    .await;
    assert!(
        redis_minute(&own) >= start_minute + 2,
        "the run crossed two minute boundaries"
    );
    let mut per_minute: BTreeMap<String, u64> = BTreeMap::new();
    for minute in runs.into_iter().flatten() {
        *per_minute.entry(minute).or_default() += 1;
    }
    eprintln!("admissions per minute: {per_minute:?}");
    assert!(per_minute.len() >= 2, "{per_minute:?}");
    for (minute, admitted) in &per_minute {
        assert!(*admitted <= QUOTA, "minute {minute} admitted {admitted}");
    }
    // Redis agrees: no minute's counter passed the quota.
    let counters: Vec<String> = own.query(&["HGETALL", &format!("{prefix}:{{default:u}}:ctr")]);
    for pair in counters.chunks(2) {
        if pair[0].ends_with(":u") {
            assert!(
                pair[1].parse::<u64>().unwrap() <= QUOTA * 1000,
                "{} = {}",
                pair[0],
                pair[1]
            );
        }
    }
}

/// The current minute of Redis time.
fn redis_minute(redis: &redis::TestRedis) -> i64 {
    let time: Vec<String> = redis.query(&["TIME"]);
    time[0].parse::<i64>().unwrap() / 60
}

/// Reserves and commits until two minutes of Redis time have passed (bounded in count and
/// time); answers the period start of every admitted reserve.
async fn run(app: &TestApp, redis: &redis::TestRedis, start_minute: i64) -> Vec<String> {
    let mut admitted = Vec::new();
    // Two minutes of Redis time are about 21 s of the machine's; the bound leaves room for a
    // loaded machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..3_000 {
        if Instant::now() > deadline || redis_minute(redis) >= start_minute + 2 {
            break;
        }
        let answer = app.reserve(json!({ "userId": "u", "event": "e" })).await;
        if let Some(id) = answer["reservationId"].as_str() {
            admitted.push(answer["counters"][0]["periodStart"].as_str().unwrap().to_string());
            app.commit(id, None).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admitted
}
