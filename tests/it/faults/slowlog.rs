//! The worst case of one script, 32 groups and a backlog of expired holds, stays bounded: every
//! call returns at most a batch of holds (so a backlog takes many short calls, never one long
//! one), and such a call costs Redis a small multiple of a plain 32-group reserve, compared in
//! one run (SLOWLOG times every call here; wall-clock limits would only measure the machine).

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{redis, spawn_app_on, unique_prefix};

/// Holds one call returns at most (`RECLAIM_HOLDS` in lua/library/modules/prelude.lua).
const RECLAIM_HOLDS: usize = 96;

#[tokio::test]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn a_backlog_of_expired_holds_is_returned_in_short_bounded_calls() {
    let own = redis::TestRedis::start();
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    let groups: Vec<Value> = (0..32)
        .map(|i| json!({ "id": format!("g{i:02}"), "unit": "count", "quota": 100000, "matches": [ { "event": "*" } ] }))
        .collect();
    app.put_plan(json!({ "id": "plan_wide", "periodType": "month", "groups": groups }))
        .await;
    app.subscribe("u", "plan_wide", None).await;
    // 80 expired reservations, each holding in all 32 groups: 2,560 holds to return.
    for _ in 0..80 {
        assert_eq!(
            app.reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
                .await["allowed"],
            true
        );
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    // Time every call from here on (a script's commands too: a reclaiming call's rollups).
    own.log_every_command();
    for _ in 0..8 {
        assert_eq!(
            app.reserve(json!({ "userId": "u", "event": "e" })).await["allowed"],
            true
        );
    }
    let slow: Vec<::redis::Value> = own.query(&["SLOWLOG", "GET", "100000"]);
    // Oldest first: (id, microseconds) of every script call.
    let mut calls: Vec<(i64, i64)> = slow
        .iter()
        .filter_map(|entry| {
            let ::redis::Value::Array(fields) = entry else {
                return None;
            };
            let int = |i: usize| match fields.get(i) {
                Some(::redis::Value::Int(n)) => Some(*n),
                _ => None,
            };
            let command = match fields.get(3) {
                Some(::redis::Value::Array(args)) => args.first().cloned(),
                _ => None,
            };
            let fcall = matches!(command, Some(::redis::Value::BulkString(ref c)) if c.eq_ignore_ascii_case(b"FCALL"));
            fcall.then(|| (int(0).unwrap_or(0), int(2).unwrap_or(0)))
        })
        .collect();
    calls.sort();
    // The last 7 reserves found nothing to return: plain 32-group reserves. Every call before
    // them returned part of the backlog (the first reserve's rounds).
    let (reclaiming, plain) = calls.split_at(calls.len() - 7);
    let mean = |c: &[(i64, i64)]| c.iter().map(|(_, us)| *us as f64).sum::<f64>() / c.len() as f64;
    eprintln!(
        "{} reclaiming calls, mean {:.0} µs; {} plain calls, mean {:.0} µs",
        reclaiming.len(),
        mean(reclaiming),
        plain.len(),
        mean(plain)
    );
    assert!(
        reclaiming.len() >= (80 * 32_usize).div_ceil(RECLAIM_HOLDS),
        "no call returned more than {RECLAIM_HOLDS} holds: {} calls for 2,560",
        reclaiming.len()
    );
    assert!(
        mean(reclaiming) <= 6.0 * mean(plain),
        "a reclaiming call costs at most a few plain reserves: {:.0} µs against {:.0} µs",
        mean(reclaiming),
        mean(plain)
    );
}
