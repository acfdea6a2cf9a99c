//! The worst case of one script, 32 groups and a full reclaim batch, stays under 1 ms of Redis
//! time per call, as SLOWLOG measures it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{redis, spawn_app_on, unique_prefix};

#[tokio::test]
async fn the_worst_case_reserve_stays_under_a_millisecond_of_redis_time() {
    let own = redis::TestRedis::start();
    let app = spawn_app_on(&own.target(), &unique_prefix(), None).await;
    let groups: Vec<Value> = (0..32)
        .map(|i| json!({ "id": format!("g{i:02}"), "unit": "count", "quota": 100000, "matches": [ { "event": "*" } ] }))
        .collect();
    app.put_plan(json!({ "id": "plan_wide", "periodType": "month", "groups": groups }))
        .await;
    app.subscribe("u", "plan_wide", None).await;
    // More expired reservations than one reclaim batch, each holding in all 32 groups.
    for _ in 0..80 {
        assert_eq!(
            app.reserve(json!({ "userId": "u", "event": "e", "ttlSeconds": 1 }))
                .await["allowed"],
            true
        );
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let _: String = own.query(&["CONFIG", "SET", "slowlog-log-slower-than", "1000"]);
    let _: String = own.query(&["SLOWLOG", "RESET"]);
    for _ in 0..5 {
        assert_eq!(
            app.reserve(json!({ "userId": "u", "event": "e" })).await["allowed"],
            true
        );
    }
    let stats: String = own.query(&["INFO", "commandstats"]);
    let evalsha = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .unwrap_or_default()
        .to_string();
    let slow: Vec<::redis::Value> = own.query(&["SLOWLOG", "GET", "128"]);
    eprintln!("worst case: {evalsha}; slow entries: {}", slow.len());
    assert!(slow.is_empty(), "a script call took over 1 ms of Redis time: {slow:?}");
}
