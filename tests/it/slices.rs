//! Leases at a parent's level, called directly (FCALL) as the node will call them: a slice
//! taken never passes the parent's headroom under any concurrency, a statement changes a lease
//! once whatever order statements arrive in, an id settled before it was taken leases nothing,
//! and a lease no statement settled by its backstop counts as used whole
//! (docs/decisions/0060-leased-slices.md).

use quota_gateway::store::contract;
use redis::Value;

use crate::support::redis::{shared, slot_keys};
use crate::support::unique_prefix;

// Retention a day, no Idempotency-Key, the ledger kept a day.
const WRITING: [&str; 4] = ["86400000", "", "", "86400000"];
const FIELD: &str = "team@0";

/// A parent's keys, on a slot of its own.
fn parent() -> Vec<String> {
    slot_keys(&unique_prefix(), 10)
}

/// take_slice's arguments: lease `id` for `member`, asking `want` of a quota of `quota`
/// (milli-units), at least `least`, leaving `threshold`; its backstop `backstop_in` ms from now.
fn take(id: &str, want: i64, quota: i64, least: i64, threshold: i64, backstop_in: i64) -> Vec<String> {
    let now = shared().now_ms();
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend(
        [
            "0".to_string(),
            id.to_string(),
            "m1".to_string(),
            (now + 10_000).to_string(),
            (now + backstop_in).to_string(),
            least.to_string(),
            threshold.to_string(),
            "team".to_string(),
            FIELD.to_string(),
            "0".to_string(),
            String::new(),
            want.to_string(),
            quota.to_string(),
            String::new(),
            now.to_string(),
        ]
        .into_iter(),
    );
    args
}

fn settle(id: &str, n: i64, used: i64, held: i64) -> Vec<String> {
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend([
        id.to_string(),
        n.to_string(),
        used.to_string(),
        held.to_string(),
        "m1".to_string(),
    ]);
    args
}

/// An answer's values as text (numbers formatted), or the error.
fn answer(keys: &[String], contract: &contract::Contract, args: &[String]) -> Vec<String> {
    match shared().run_script(contract, keys, args) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::Int(n) => n.to_string(),
                other => redis::from_redis_value::<String>(other).unwrap(),
            })
            .collect(),
        other => panic!("{}: {other:?}", contract.name()),
    }
}

/// The parent's counter: used, held, leased (milli-units; 0 when absent).
fn counter(keys: &[String]) -> [i64; 3] {
    let values: Vec<Option<i64>> = shared().query(&[
        "HMGET",
        &keys[0],
        &format!("{FIELD}:u"),
        &format!("{FIELD}:h"),
        &format!("{FIELD}:l"),
    ]);
    [0, 1, 2].map(|i| values[i].unwrap_or(0))
}

#[test]
fn a_take_leases_what_is_left_past_the_threshold_and_near_the_limit_answers_direct() {
    let keys = parent();
    // 10 units, 2 kept as the threshold: 5 asked, 5 leased; then 3 of the 3 left.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_a", 5000, 10_000, 1000, 2000, 86_400_000)
        )[..3],
        ["ok", "ls_a", "5000"]
    );
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_b", 5000, 10_000, 1000, 2000, 86_400_000)
        )[..3],
        ["ok", "ls_b", "3000"]
    );
    assert_eq!(counter(&keys), [0, 8000, 8000]);
    // Nothing past the threshold is left: the member decides here.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_c", 5000, 10_000, 1000, 2000, 86_400_000)
        ),
        ["direct"]
    );
    // A repeat of a take that leased answers its lease as taken, and leases nothing more.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_a", 9000, 10_000, 1000, 0, 86_400_000)
        )[..3],
        ["ok", "ls_a", "5000"]
    );
    assert_eq!(counter(&keys), [0, 8000, 8000]);
    // The version the node decided with is not the subscription's.
    let mut stale = take("ls_d", 1000, 10_000, 1000, 0, 86_400_000);
    stale[4] = "3".to_string();
    assert_eq!(answer(&keys, &contract::TAKE_SLICE, &stale), ["stale"]);
}

#[test]
fn concurrent_takes_never_lease_past_the_quota_and_lease_it_all() {
    // 8 connections, 40 takes each of 7 units, against a quota of 1,000 with no threshold: a
    // take that read the counter and wrote it in two steps would lease past it.
    let keys = parent();
    let leased: i64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let keys = &keys;
                s.spawn(move || {
                    let mut sum = 0;
                    for i in 0..40 {
                        let got = answer(
                            keys,
                            &contract::TAKE_SLICE,
                            &take(&format!("ls_{w}_{i}"), 7000, 1_000_000, 1000, 0, 86_400_000),
                        );
                        if got[0] == "ok" {
                            sum += got[2].parse::<i64>().unwrap();
                        }
                    }
                    sum
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // 320 takes of 7 ask 2,240 of 1,000: every unit is leased, none twice.
    assert_eq!(leased, 1_000_000);
    assert_eq!(counter(&keys), [0, 1_000_000, 1_000_000]);
}

#[test]
fn statements_change_a_lease_once_in_any_order() {
    let keys = parent();
    answer(
        &keys,
        &contract::TAKE_SLICE,
        &take("ls_s", 6000, 10_000, 1000, 0, 86_400_000),
    );
    // The slice used 2 and holds 1: 3 go back, 1 stays leased.
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_s", 2, 2000, 1000))[..3],
        ["ok", "1", "1000"]
    );
    assert_eq!(counter(&keys), [2000, 1000, 1000]);
    // The earlier statement, arriving late, and the same one again change nothing.
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_s", 1, 500, 4000))[..3],
        ["ok", "0", "1000"]
    );
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_s", 2, 2000, 1000))[..3],
        ["ok", "0", "1000"]
    );
    assert_eq!(counter(&keys), [2000, 1000, 1000]);
    // Its last hold committed 1.5 (above what it held): the lease ends, having counted 3.5.
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_s", 3, 3500, 0))[..3],
        ["ok", "1", "0"]
    );
    assert_eq!(counter(&keys), [3500, 0, 0]);
    // A late commit on the slice afterwards still counts what it adds.
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_s", 4, 4000, 0))[..3],
        ["ok", "1", "0"]
    );
    assert_eq!(counter(&keys), [4000, 0, 0]);
}

#[test]
fn an_id_settled_before_it_was_taken_leases_nothing() {
    let keys = parent();
    // The intent was abandoned (its node died) before its take arrived.
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_late", 1, 0, 0))[..3],
        ["ok", "1", "0"]
    );
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_late", 5000, 10_000, 1000, 0, 86_400_000)
        ),
        ["refused"]
    );
    assert_eq!(counter(&keys), [0, 0, 0]);
}

#[test]
fn a_lease_past_its_backstop_counts_as_used_whole() {
    let keys = parent();
    // A backstop already past: the next call's reclaim finds it lapsed.
    answer(&keys, &contract::TAKE_SLICE, &take("ls_x", 4000, 10_000, 1000, 0, -1));
    assert_eq!(counter(&keys), [0, 4000, 4000]);
    assert_eq!(answer(&keys, &contract::RECLAIM, &WRITING.map(String::from)), ["ok"]);
    assert_eq!(counter(&keys), [4000, 0, 0]);
    // A statement that arrives after: only usage past what the lapse counted adds.
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_x", 1, 3000, 500))[..3],
        ["ok", "1", "0"]
    );
    assert_eq!(counter(&keys), [4000, 0, 0]);
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_x", 2, 4500, 0))[..3],
        ["ok", "1", "0"]
    );
    assert_eq!(counter(&keys), [4500, 0, 0]);
}
