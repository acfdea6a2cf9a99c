//! Leases at a parent's level, called directly (FCALL) as the node will call them: a slice
//! taken never passes the parent's headroom under any concurrency, a statement changes a lease
//! once whatever order statements arrive in, an id settled before it was taken leases nothing,
//! and a lease no statement settled by its backstop counts as used whole
//! (docs/decisions/0060-leased-slices.md).

use quota_gateway::surface::store::contract;
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
    take_many(&[(id, FIELD, want, quota, least, threshold)], backstop_in)
}

/// take_slice's arguments for several groups' slices at once: per take its lease id, the
/// group's counter field (the group is named by it), what it asks of a quota, at least what,
/// leaving what (milli-units). Its slices live 10 s, however far the parent is from its limit.
fn take_many(takes: &[(&str, &str, i64, i64, i64, i64)], backstop_in: i64) -> Vec<String> {
    take_many_up_to(takes, backstop_in, 10_000)
}

/// take_many()'s, its slices living from 10 s (the decision instant its last argument) up to
/// `latest_in` ms, as far as the parent's room allows.
fn take_many_up_to(takes: &[(&str, &str, i64, i64, i64, i64)], backstop_in: i64, latest_in: i64) -> Vec<String> {
    let now = shared().now_ms();
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend([
        "0".to_string(),
        "m1".to_string(),
        (now + 10_000).to_string(),
        (now + backstop_in).to_string(),
        (now + latest_in).to_string(),
        takes.len().to_string(),
    ]);
    for (_, field, want, quota, _, _) in takes {
        let group = field.split('@').next().unwrap();
        args.extend([group.to_string(), field.to_string(), "0".to_string(), String::new()]);
        args.extend([want.to_string(), quota.to_string(), String::new()]);
    }
    args.push(takes.len().to_string());
    for (id, _, _, _, least, threshold) in takes {
        // (No statement of a closed slice.)
        args.extend([id.to_string(), least.to_string(), threshold.to_string()]);
        args.extend([String::new(), String::new(), String::new(), String::new()]);
    }
    args.push(now.to_string());
    args
}

/// take()'s arguments for a renewal: before it leases, the take applies statement `n` of the
/// slice the member closed under lease `closed` (what it used and holds, milli-units).
#[allow(clippy::too_many_arguments)]
fn renew(
    id: &str,
    want: i64,
    quota: i64,
    least: i64,
    threshold: i64,
    closed: &str,
    n: i64,
    used: i64,
    held: i64,
) -> Vec<String> {
    let mut args = take(id, want, quota, least, threshold, 86_400_000);
    let at = args.len() - 5;
    args[at..at + 4].clone_from_slice(&[closed.to_string(), n.to_string(), used.to_string(), held.to_string()]);
    args
}

fn settle(id: &str, n: i64, used: i64, held: i64) -> Vec<String> {
    settle_many(&[(id, n, used, held)])
}

/// settle_slice's arguments for several statements of m1's slices in one call.
fn settle_many(statements: &[(&str, i64, i64, i64)]) -> Vec<String> {
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend(["m1".to_string(), statements.len().to_string()]);
    for (id, n, used, held) in statements {
        args.extend([id.to_string(), n.to_string(), used.to_string(), held.to_string()]);
    }
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
    counter_of(keys, FIELD)
}

/// The parent's counter of `field`: used, held, leased (milli-units; 0 when absent).
fn counter_of(keys: &[String], field: &str) -> [i64; 3] {
    let values: Vec<Option<i64>> = shared().query(&[
        "HMGET",
        &keys[0],
        &format!("{field}:u"),
        &format!("{field}:h"),
        &format!("{field}:l"),
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
    // It answers the group's counter after it too: what a decision on the slice shows.
    let b = answer(
        &keys,
        &contract::TAKE_SLICE,
        &take("ls_b", 5000, 10_000, 1000, 2000, 86_400_000),
    );
    assert_eq!(b[..3], ["ok", "ls_b", "3000"]);
    // (Then the alerts fired: none.)
    assert_eq!(b[4..], ["0", "8000", "10000", "0"]);
    assert_eq!(counter(&keys), [0, 8000, 8000]);
    // Nothing past the threshold is left: the member decides here.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_c", 5000, 10_000, 1000, 2000, 86_400_000)
        ),
        ["direct", "0"]
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
fn one_take_leases_every_group_asked_or_none() {
    // Two groups of the parent in one call: both fit, two leases answered in order.
    let keys = parent();
    let both = answer(
        &keys,
        &contract::TAKE_SLICE,
        &take_many(
            &[
                ("ls_1", FIELD, 4000, 10_000, 1000, 0),
                ("ls_2", "total@0", 3000, 5000, 1000, 0),
            ],
            86_400_000,
        ),
    );
    assert_eq!(both[..3], ["ok", "ls_1", "4000"]);
    assert_eq!(both[7..10], ["ok", "ls_2", "3000"]);
    assert_eq!(both[11..], ["0", "3000", "5000", "0"]);
    assert_eq!(counter(&keys), [0, 4000, 4000]);
    // The second group near its limit: nothing is taken of the first either. A take that
    // leased group by group would have leased the first before finding the second direct.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take_many(
                &[
                    ("ls_3", FIELD, 4000, 10_000, 1000, 0),
                    ("ls_4", "total@0", 3000, 5000, 1000, 1500),
                ],
                86_400_000,
            ),
        ),
        ["direct", "0"]
    );
    assert_eq!(counter(&keys), [0, 4000, 4000]);
    // A repeat of the first call answers its two leases as taken, and leases nothing more.
    let again = answer(
        &keys,
        &contract::TAKE_SLICE,
        &take_many(
            &[
                ("ls_1", FIELD, 9000, 10_000, 1000, 0),
                ("ls_2", "total@0", 9000, 5000, 1000, 0),
            ],
            86_400_000,
        ),
    );
    assert_eq!((again[2].as_str(), again[9].as_str()), ("4000", "3000"));
    assert_eq!(counter(&keys), [0, 4000, 4000]);
}

/// What 8 connections leased, each making 40 takes of `args(lease id)` at once.
fn leased_at_once(keys: &[String], args: impl Fn(&str) -> Vec<String> + Sync) -> i64 {
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let args = &args;
                s.spawn(move || {
                    let mut sum = 0;
                    for i in 0..40 {
                        let got = answer(keys, &contract::TAKE_SLICE, &args(&format!("ls_{w}_{i}")));
                        if got[0] == "ok" {
                            sum += got[2].parse::<i64>().unwrap();
                        }
                    }
                    sum
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

#[test]
fn concurrent_takes_never_lease_past_the_quota_and_lease_it_all() {
    // 8 connections, 40 takes each of 7 units, against a quota of 1,000 with no threshold: a
    // take that read the counter and wrote it in two steps would lease past it.
    let keys = parent();
    let leased = leased_at_once(&keys, |id| take(id, 7000, 1_000_000, 1000, 0, 86_400_000));
    // 320 takes of 7 ask 2,240 of 1,000: every unit is leased, none twice.
    assert_eq!(leased, 1_000_000);
    assert_eq!(counter(&keys), [0, 1_000_000, 1_000_000]);
}

#[test]
fn a_slice_lives_a_life_per_twice_the_threshold_free_up_to_the_latest_and_grows_with_it() {
    // A quota of 1,000 units keeping 50 unleased; slices of 10 s that may live up to 60 s.
    let keys = parent();
    let up_to = |id: &str, want: i64, latest_in: i64| {
        let args = take_many_up_to(&[(id, FIELD, want, 1_000_000, 1000, 50_000)], 86_400_000, latest_in);
        let at: i64 = args.last().unwrap().parse().unwrap();
        let got = answer(&keys, &contract::TAKE_SLICE, &args);
        let (amount, ends): (i64, i64) = (got[2].parse().unwrap(), got[3].parse().unwrap());
        // The lease's backstop moves with its end: a day after it, as asked for a 10 s life.
        let open: Option<i64> = shared().query(&["ZSCORE", &keys[2], id]);
        assert_eq!(open, Some(ends - 10_000 + 86_400_000), "{id}");
        (amount, ends - at)
    };
    // All 1,000 free: ten lives' room, capped at six (60 s); 10 units asked for one life, 60.
    assert_eq!(up_to("ls_far", 10_000, 60_000), (60_000, 60_000));
    // A take that may not live longer takes 740 as asked, leaving 200 free.
    assert_eq!(up_to("ls_big", 740_000, 10_000), (740_000, 10_000));
    // 200 free are twice the threshold twice: two lives, 20 units.
    assert_eq!(up_to("ls_two", 10_000, 60_000), (20_000, 20_000));
    // 180 free: one life, as asked.
    assert_eq!(up_to("ls_near", 10_000, 60_000), (10_000, 10_000));
    // What is left past the threshold caps a grown slice as it caps any: 170 free, 120 leasable.
    assert_eq!(up_to("ls_last", 200_000, 60_000), (120_000, 10_000));
    assert_eq!(counter(&keys), [0, 950_000, 950_000]);
}

#[test]
fn concurrent_takes_growing_their_slices_never_lease_past_the_threshold() {
    // 8 connections, 40 takes each of 7 units that may live six times as long, against a quota
    // of 1,000 keeping 50: a take that read the counter, then sized its slice by the room it
    // read, then wrote, would lease past what the threshold leaves.
    let keys = parent();
    let leased = leased_at_once(&keys, |id| {
        take_many_up_to(&[(id, FIELD, 7000, 1_000_000, 1000, 50_000)], 86_400_000, 60_000)
    });
    // Every unit past the threshold is leased, none twice.
    assert_eq!(leased, 950_000);
    assert_eq!(counter(&keys), [0, 950_000, 950_000]);
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
    // The earlier statement, arriving late, and the same one again change nothing (and
    // answer, as every answer, the alerts fired: none).
    assert_eq!(
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_s", 1, 500, 4000)),
        ["ok", "0", "1000", "0"]
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
        answer(&keys, &contract::SETTLE_SLICE, &settle("ls_late", 1, 0, 0)),
        ["ok", "1", "0", "0"]
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

// A member's side: a hold on its slice of the ancestor "A" (base64url "QQ") group "team".
const SLICE: &str = "^QQ^team@0";

/// reserve's arguments at a member: reservation `id`, one hold of `units` on the slice, in
/// `mode` ("l/0", or a placement "l/0/<lease>/<amount>/<ends>/<intent>/<used>/<held>/<quota>/<stated>"),
/// decided `ago` ms
/// before Redis time, held `ttl` ms.
fn reserve_on_slice(id: &str, units: i64, mode: &str, ago: i64, ttl: i64) -> Vec<String> {
    let now = shared().now_ms();
    let a = (units * 1000).to_string();
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend([
        "0".to_string(),
        id.to_string(),
        ttl.to_string(),
        "1".to_string(),
        "team".to_string(),
        SLICE.to_string(),
        "0".to_string(),
        String::new(),
        a.clone(),
        "0".to_string(),
        format!("{mode}||||||"),
        "1".to_string(),
        "1".to_string(),
        format!(
            r#""v":"2","e":"e","qt":"{a}","h":[{{"g":"team","f":"{SLICE}","ps":"0","pe":"","a":"{a}","q":"0","m":"l/0"}}]}}"#
        ),
        String::new(),
        String::new(),
        String::new(),
        (now - ago).to_string(),
    ]);
    args
}

fn commit_all(id: &str) -> Vec<String> {
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend([id, "", "", "", "key", "", "", ""].map(String::from));
    args
}

/// The member's hash fields, as text ("" when absent).
fn fields(keys: &[String], names: &[&str]) -> Vec<String> {
    let mut args = vec!["HMGET", keys[0].as_str()];
    args.extend_from_slice(names);
    let values: Vec<Option<String>> = shared().query(&args);
    values.into_iter().map(Option::unwrap_or_default).collect()
}

/// The member's outbox entries: each one's fields, as pairs.
fn outbox(keys: &[String]) -> Vec<std::collections::HashMap<String, String>> {
    let raw: Vec<(String, Vec<String>)> = shared().query(&["XRANGE", &keys[9], "-", "+"]);
    raw.into_iter()
        .map(|(_, kv)| kv.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect())
        .collect()
}

/// Places a lease of `units` on the member's empty slice, as the node would after a short
/// answer: the short reserve's intent, then a reserve of one unit handing the lease over.
fn placed(keys: &[String], units: i64) -> String {
    let short = answer(
        keys,
        &contract::RESERVE,
        &reserve_on_slice("r_short", 1, "l/0", 0, 60_000),
    );
    assert_eq!(short[..3], ["short", "1", "1"], "{short:?}");
    let (lease, intent) = (short[3].clone(), short[4].clone());
    let ends = shared().now_ms() + 60_000;
    // The ancestor's counter as the take answered it: 2 used, the slice held, a quota of 100.
    let mode = format!(
        "l/0/{lease}/{}/{ends}/{intent}/2000/{}/100000/",
        units * 1000,
        units * 1000
    );
    let got = answer(
        keys,
        &contract::RESERVE,
        &reserve_on_slice("r_place", 1, &mode, 0, 60_000),
    );
    assert_eq!(got[..4], ["ok", "r_place", got[2].as_str(), "1"], "{got:?}");
    lease
}

#[test]
fn a_reserve_on_a_slice_decides_at_the_members_slot_and_a_short_one_asks_for_a_lease() {
    let keys = parent();
    let lease = placed(&keys, 3);
    // The intent is gone with the placement; the slice holds one unit.
    assert!(
        outbox(&keys).iter().all(|e| e["type"] != "lease"),
        "{:?}",
        outbox(&keys)
    );
    let slice = fields(&keys, &[SLICE, &format!("{SLICE}:u"), &format!("{SLICE}:h")]);
    assert!(
        slice[0].starts_with("3000|") && slice[0].ends_with(&format!("|0|{lease}|0|2000|3000|100000")),
        "{slice:?}"
    );
    assert_eq!(slice[1..], ["", "1000"]);
    // When it was placed: its mark's id opens with that instant.
    let mark = fields(&keys, &[&format!("{SLICE}:m")]).remove(0);
    let placed_at = mark.split('-').next().unwrap().to_string();
    // Two more fit; a fourth does not: short, which closes the slice (a statement that it
    // used nothing and holds all three) and writes an intent for the next lease.
    for id in ["r_2", "r_3"] {
        // Admitted (its head's fourth value), its verdict the slice's line (the ancestor's
        // counter when leased is in it: the node reads it there), held and quota 0, denied 0.
        let got = answer(&keys, &contract::RESERVE, &reserve_on_slice(id, 1, "l/0", 0, 60_000));
        assert_eq!(got[3..8], ["1", slice[0].as_str(), "0", "0", "0"], "{got:?}");
    }
    let short = answer(&keys, &contract::RESERVE, &reserve_on_slice("r_4", 1, "l/0", 0, 60_000));
    assert_eq!(short[..3], ["short", "1", "1"]);
    // What the closed slice met (used and held), when it was to end (its line's second field)
    // and when it was placed, which size the next; and the statement it wrote, which the take
    // applies: its entry (among those the call wrote, last), lease, number, used and held.
    assert_eq!(short[5], "3000", "{short:?}");
    assert_eq!(short[6], slice[0].split('|').nth(1).unwrap(), "{short:?}");
    assert_eq!(short[7], placed_at, "{short:?}");
    assert_eq!(short[9..13], [lease.as_str(), "1", "0", "3000"], "{short:?}");
    assert_eq!(short[13..], ["1", short[8].as_str()], "{short:?}");
    // The field it leaves for a racing call's short answer says the same.
    let ends = slice[0].split('|').nth(1).unwrap();
    assert_eq!(
        fields(&keys, &[&format!("{SLICE}:d")]),
        [format!("3000/{ends}/{placed_at}")]
    );
    let stated: Vec<_> = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").collect();
    assert_eq!(stated.len(), 1);
    assert_eq!(
        (stated[0]["ls"].as_str(), stated[0]["p"].as_str()),
        (lease.as_str(), "QQ")
    );
    assert_eq!(
        (
            stated[0]["n"].as_str(),
            stated[0]["u"].as_str(),
            stated[0]["h"].as_str()
        ),
        ("1", "0", "3000")
    );
    let closed = format!("{SLICE}^{lease}");
    assert_eq!(
        fields(&keys, &[SLICE, &format!("{closed}:h"), &format!("{closed}:n")]),
        ["", "3000", "1"]
    );
    // A commit of a hold on the closed lease counts there, and states it: used 1, held 2.
    assert_eq!(answer(&keys, &contract::COMMIT, &commit_all("r_place"))[0], "ok");
    assert_eq!(
        fields(&keys, &[&format!("{closed}:u"), &format!("{closed}:h")]),
        ["1000", "2000"]
    );
    let last = outbox(&keys).into_iter().rfind(|e| e["type"] == "slice").unwrap();
    assert_eq!(
        (last["n"].as_str(), last["u"].as_str(), last["h"].as_str()),
        ("2", "1000", "2000")
    );
    // The member's own ledger entry carries no group of the ancestor's.
    let entries: Vec<(String, Vec<String>)> = shared().query(&["XRANGE", &keys[7], "-", "+"]);
    let commit = entries
        .iter()
        .find(|(_, kv)| kv.contains(&"commit".to_string()))
        .unwrap();
    let groups = commit.1.iter().position(|k| k == "groups").unwrap();
    // (cjson writes an empty list as {}, as a run close's entry has it.)
    assert_eq!(commit.1[groups + 1], "{}");
}

#[test]
fn the_reserve_placing_a_renewed_lease_removes_the_statement_its_take_applied() {
    let keys = parent();
    placed(&keys, 1);
    // The slice of one is full: short, closing it with a statement.
    let short = answer(&keys, &contract::RESERVE, &reserve_on_slice("r_s", 1, "l/0", 0, 60_000));
    assert_eq!(short[..3], ["short", "1", "1"], "{short:?}");
    let (lease, intent, stated) = (&short[3], &short[4], &short[8]);
    assert_eq!(outbox(&keys).iter().filter(|e| e["type"] == "slice").count(), 1);
    // The take applied it (at the team's slot): the placement names it, and it leaves the
    // outbox with the intent, so nothing settles it again.
    let ends = shared().now_ms() + 60_000;
    let mode = format!("l/0/{lease}/3000/{ends}/{intent}/0/3000/100000/{stated}");
    let got = answer(&keys, &contract::RESERVE, &reserve_on_slice("r_p", 1, &mode, 0, 60_000));
    assert_eq!(got[3], "1", "{got:?}");
    // Only the new slice's mark is left: the short reserve closing the first removed its mark
    // (its id in ":m"), so the sweeper never calls to end a slice that is gone.
    let raw: Vec<(String, Vec<String>)> = shared().query(&["XRANGE", &keys[9], "-", "+"]);
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert_eq!(
        (raw[0].1[1].as_str(), raw[0].1[7].as_str()),
        ("placed", lease.as_str()),
        "{raw:?}"
    );
    assert_eq!(fields(&keys, &[&format!("{SLICE}:m")]), [raw[0].0.clone()]);
    // A stated entry that is no stream id is refused, as any malformed placement.
    let bad = format!("l/0/{lease}/3000/{ends}/{intent}/0/3000/100000/x");
    assert!(shared()
        .run_script(
            &contract::RESERVE,
            &keys,
            &reserve_on_slice("r_bad", 1, &bad, 0, 60_000)
        )
        .is_err());
}

#[test]
fn a_renewal_applies_the_closed_slices_statement_before_it_leases_the_next() {
    let keys = parent();
    // 10 units: a slice of 8 leased, 2 left.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &take("ls_a", 8000, 10_000, 1000, 0, 86_400_000)
        )[2],
        "8000"
    );
    // Its member closed it having used 2, holding nothing: the take counts the 2, takes the 6
    // back, then leases 8 of the 8 left. (A take sized before the statement had 2 to lease.)
    let b = answer(
        &keys,
        &contract::TAKE_SLICE,
        &renew("ls_b", 8000, 10_000, 1000, 0, "ls_a", 1, 2000, 0),
    );
    assert_eq!(b[..3], ["ok", "ls_b", "8000"], "{b:?}");
    assert_eq!(b[4..], ["2000", "8000", "10000", "0"]);
    assert_eq!(counter(&keys), [2000, 8000, 8000]);
    // A repeat changes nothing: the statement is numbered, the lease known.
    let again = answer(
        &keys,
        &contract::TAKE_SLICE,
        &renew("ls_b", 8000, 10_000, 1000, 0, "ls_a", 1, 2000, 0),
    );
    assert_eq!(again, b);
    assert_eq!(counter(&keys), [2000, 8000, 8000]);
    // Near the limit the take answers direct and takes nothing, but the statement is applied:
    // ls_b used 1 and holds 6, so 1 more is used and 1 goes back.
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &renew("ls_c", 8000, 10_000, 1000, 5000, "ls_b", 1, 1000, 6000)
        ),
        ["direct", "0"]
    );
    assert_eq!(counter(&keys), [3000, 6000, 6000]);
    // A take refused (its id settled before, its intent abandoned) applies nothing either.
    answer(&keys, &contract::SETTLE_SLICE, &settle("ls_r", 1, 0, 0));
    assert_eq!(
        answer(
            &keys,
            &contract::TAKE_SLICE,
            &renew("ls_r", 1000, 10_000, 1000, 0, "ls_b", 2, 6000, 0)
        ),
        ["refused"]
    );
    assert_eq!(counter(&keys), [3000, 6000, 6000]);
}

#[test]
fn concurrent_renewals_count_every_closed_slice_and_never_lease_past_the_quota() {
    // 8 connections each renewing its member's slice 30 times: every take applies the statement
    // of the slice before (it used 3 units of it, or all of a smaller one) and asks 50 of a
    // quota of 1,000, so the takes run out of headroom and answer direct. A take that applied
    // the statement and sized the lease in two steps, or read the counter before another's
    // write, would lease past the quota or lose a statement's usage.
    let keys = parent();
    let quota = 1_000_000;
    let (used, held): (i64, i64) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let keys = &keys;
                s.spawn(move || {
                    let (mut used, mut prev) = (0, None::<(String, i64)>);
                    for i in 0..30 {
                        let id = format!("ls_{w}_{i}");
                        let got = match &prev {
                            Some((closed, amount)) => {
                                let u = (*amount).min(3000);
                                used += u;
                                answer(
                                    keys,
                                    &contract::TAKE_SLICE,
                                    &renew(&id, 50_000, quota, 1000, 0, closed, 1, u, 0),
                                )
                            }
                            None => answer(
                                keys,
                                &contract::TAKE_SLICE,
                                &take(&id, 50_000, quota, 1000, 0, 86_400_000),
                            ),
                        };
                        prev = (got[0] == "ok").then(|| (id, got[2].parse().unwrap()));
                    }
                    (used, prev.map_or(0, |(_, amount)| amount))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(u, h), (wu, wh)| (u + wu, h + wh))
    });
    assert_eq!(counter(&keys), [used, held, held]);
    assert!(used + held <= quota, "{used} + {held}");
    // Demand passed the quota: some takes found no headroom.
    assert!(used + held > quota - 50_000, "{used} + {held}");
}

#[test]
fn parallel_reserves_never_hold_past_their_slice() {
    // 8 connections, 5 reserves of one unit each, on a slice of 10: a reserve that read the
    // slice and wrote its hold in two steps would admit more than 10.
    let keys = parent();
    placed(&keys, 10);
    let admitted: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let keys = &keys;
                s.spawn(move || {
                    (0..5)
                        .filter(|i| {
                            let got = answer(
                                keys,
                                &contract::RESERVE,
                                &reserve_on_slice(&format!("r_{w}_{i}"), 1, "l/0", 0, 60_000),
                            );
                            got[0] == "ok" && got[3] == "1"
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // The placing reserve held one unit: nine more fit.
    assert_eq!(admitted, 9);
    let stated: Vec<_> = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").collect();
    assert_eq!((stated[0]["u"].as_str(), stated[0]["h"].as_str()), ("0", "10000"));
}

#[test]
fn a_lease_handed_over_where_a_slice_is_live_is_stated_unused() {
    let keys = parent();
    let first = placed(&keys, 5);
    // Another node's short reserve wrote an intent while the slice was placed by this one's.
    let tag = keys[0].trim_end_matches(":k1").to_string();
    let intent: String = shared().query(&[
        "XADD", &keys[9], "*", "type", "lease", "tag", &tag, "p", "QQ", "ls", "l_other",
    ]);
    let ends = shared().now_ms() + 60_000;
    let mode = format!("l/0/l_other/9000/{ends}/{intent}/0/9000/100000/");
    assert_eq!(
        answer(&keys, &contract::RESERVE, &reserve_on_slice("r_x", 1, &mode, 0, 60_000))[3],
        "1"
    );
    assert!(fields(&keys, &[SLICE])[0].contains(&first));
    let stated: Vec<_> = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").collect();
    assert_eq!(stated.len(), 1);
    assert_eq!(
        (
            stated[0]["ls"].as_str(),
            stated[0]["n"].as_str(),
            stated[0]["u"].as_str(),
            stated[0]["h"].as_str()
        ),
        ("l_other", "1", "0", "0")
    );
    assert!(outbox(&keys).iter().all(|e| e["type"] != "lease"));
}

#[test]
fn an_expired_hold_on_a_closed_lease_goes_back_to_it_and_is_stated() {
    let keys = parent();
    let lease = placed(&keys, 2);
    // A hold decided a second ago for a millisecond: expired already.
    assert_eq!(
        answer(
            &keys,
            &contract::RESERVE,
            &reserve_on_slice("r_gone", 1, "l/0", 1000, 1)
        )[3],
        "1"
    );
    // The next reserve returns it to the live slice first: it fits.
    assert_eq!(
        answer(
            &keys,
            &contract::RESERVE,
            &reserve_on_slice("r_next", 1, "l/0", 0, 60_000)
        )[3],
        "1"
    );
    // Full: short closes the slice, holding two. One of them expires, on the closed lease.
    assert_eq!(
        answer(
            &keys,
            &contract::RESERVE,
            &reserve_on_slice("r_gone2", 1, "l/0", 1000, 1)
        )[0],
        "short"
    );
    let closed = format!("{SLICE}^{lease}");
    assert_eq!(fields(&keys, &[&format!("{closed}:h")]), ["2000"]);
    assert_eq!(
        answer(&keys, &contract::RELEASE, &{
            let mut a: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
            a.push("r_next".to_string());
            a.push(String::new());
            a
        })[0],
        "ok"
    );
    assert_eq!(fields(&keys, &[&format!("{closed}:h")]), ["1000"]);
    let last = outbox(&keys).into_iter().rfind(|e| e["type"] == "slice").unwrap();
    assert_eq!((last["n"].as_str(), last["h"].as_str()), ("2", "1000"));
}

fn end_slice(entry: &str) -> Vec<String> {
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend([entry, "", "", "", ""].map(String::from));
    args
}

/// end_slice's arguments for the member's slice of "A"'s "team@0" by its lease.
fn end_by_lease(lease: &str) -> Vec<String> {
    let mut args: Vec<String> = WRITING.iter().map(|s| s.to_string()).collect();
    args.extend(["", SLICE, lease, "", ""].map(String::from));
    args
}

#[test]
fn an_intent_its_node_left_is_stated_unused_and_can_never_be_placed() {
    let keys = parent();
    let short = answer(&keys, &contract::RESERVE, &reserve_on_slice("r_1", 1, "l/0", 0, 60_000));
    let (lease, intent) = (short[3].clone(), short[4].clone());
    // The sweeper ends the intent: the lease used nothing.
    assert_eq!(answer(&keys, &contract::END_SLICE, &end_slice(&intent))[0], "ok");
    let stated: Vec<_> = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").collect();
    assert_eq!(stated.len(), 1);
    assert_eq!(
        (
            stated[0]["ls"].as_str(),
            stated[0]["u"].as_str(),
            stated[0]["h"].as_str()
        ),
        (lease.as_str(), "0", "0")
    );
    // The node that took the lease comes back late to place it: it is not placed.
    let ends = shared().now_ms() + 60_000;
    let mode = format!("l/0/{lease}/5000/{ends}/{intent}/0/5000/100000/");
    assert_eq!(
        answer(&keys, &contract::RESERVE, &reserve_on_slice("r_2", 1, &mode, 0, 60_000))[0],
        "short"
    );
    assert!(fields(&keys, &[SLICE])[0].is_empty());
}

#[test]
fn a_placement_racing_the_sweeper_for_its_intent_either_places_or_is_stated_unused_never_both() {
    // The placing reserve and the sweeper's end_slice both remove the intent, and only the one
    // that removed it acts. A placement that looked for the intent apart from removing it could
    // place the slice after the sweeper stated the lease unused: its ancestor would take back
    // what the slice then spends.
    for round in 0..10 {
        let keys = parent();
        let short = answer(&keys, &contract::RESERVE, &reserve_on_slice("r_1", 1, "l/0", 0, 60_000));
        let (lease, intent) = (short[3].clone(), short[4].clone());
        let ends = shared().now_ms() + 60_000;
        let mode = format!("l/0/{lease}/5000/{ends}/{intent}/0/5000/100000/");
        std::thread::scope(|s| {
            let placing = s.spawn(|| answer(&keys, &contract::RESERVE, &reserve_on_slice("r_2", 1, &mode, 0, 60_000)));
            let ending = s.spawn(|| answer(&keys, &contract::END_SLICE, &end_slice(&intent)));
            placing.join().unwrap();
            assert_eq!(ending.join().unwrap()[0], "ok");
        });
        let placed = !fields(&keys, &[SLICE])[0].is_empty();
        let unused = outbox(&keys)
            .iter()
            .any(|e| e["type"] == "slice" && e["ls"] == lease && e["u"] == "0" && e["h"] == "0");
        assert!(
            placed != unused,
            "round {round}: placed {placed}, stated unused {unused}: {:?}",
            outbox(&keys)
        );
    }
}

#[test]
fn a_slice_no_call_closed_is_closed_by_its_mark_once_it_has_ended() {
    let keys = parent();
    let lease = placed(&keys, 4);
    let mark = {
        let raw: Vec<(String, Vec<String>)> = shared().query(&["XRANGE", &keys[9], "-", "+"]);
        raw.into_iter().find(|(_, kv)| kv[1] == "placed").unwrap().0
    };
    // Not ended yet: the mark stays.
    assert_eq!(answer(&keys, &contract::END_SLICE, &end_slice(&mark)), ["early"]);
    // Ended (its end rewritten into the past, as time passing would): closed, holding the one
    // unit its placing reserve holds.
    let line = fields(&keys, &[SLICE])[0].clone();
    let mut parts: Vec<String> = line.split('|').map(String::from).collect();
    parts[1] = (shared().now_ms() - 1).to_string();
    let _: i64 = shared().query(&["HSET", &keys[0], SLICE, &parts.join("|")]);
    assert_eq!(answer(&keys, &contract::END_SLICE, &end_slice(&mark))[0], "ok");
    let stated: Vec<_> = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").collect();
    assert_eq!(
        (
            stated[0]["ls"].as_str(),
            stated[0]["u"].as_str(),
            stated[0]["h"].as_str()
        ),
        (lease.as_str(), "0", "1000")
    );
    assert!(fields(&keys, &[SLICE])[0].is_empty());
    assert!(outbox(&keys).iter().all(|e| e["type"] != "placed"));
}

#[test]
fn one_statement_applied_at_once_from_eight_connections_changes_its_lease_once() {
    // A settle that read the lease and wrote the counters in two steps would count twice.
    let keys = parent();
    answer(
        &keys,
        &contract::TAKE_SLICE,
        &take("ls_p", 6000, 10_000, 1000, 0, 86_400_000),
    );
    let applied: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let keys = &keys;
                s.spawn(move || answer(keys, &contract::SETTLE_SLICE, &settle("ls_p", 1, 2000, 1000))[1] == "1")
            })
            .collect();
        workers.into_iter().map(|w| usize::from(w.join().unwrap())).sum()
    });
    assert_eq!(applied, 1);
    assert_eq!(counter(&keys), [2000, 1000, 1000]);
}

#[test]
fn statements_of_two_leases_settle_in_one_call_each_once_from_eight_connections() {
    // Two groups' leases, settled by one call sent from eight connections at once: a settle
    // that applied them in separate steps could count one twice.
    let keys = parent();
    answer(
        &keys,
        &contract::TAKE_SLICE,
        &take_many(
            &[
                ("ls_g1", FIELD, 6000, 10_000, 1000, 0),
                ("ls_g2", "total@0", 4000, 10_000, 1000, 0),
            ],
            86_400_000,
        ),
    );
    let batch = settle_many(&[("ls_g1", 1, 2000, 1000), ("ls_g2", 1, 3000, 0)]);
    let answers: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (keys, batch) = (&keys, &batch);
                s.spawn(move || answer(keys, &contract::SETTLE_SLICE, batch))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // Exactly one call applied each (per statement: applied, what the lease still holds).
    let applied = |at: usize| answers.iter().filter(|a| a[at] == "1").count();
    assert_eq!((applied(1), applied(3)), (1, 1));
    assert!(answers.iter().all(|a| a[2] == "1000" && a[4] == "0"));
    assert_eq!(counter(&keys), [2000, 1000, 1000]);
    assert_eq!(counter_of(&keys, "total@0"), [3000, 0, 0]);
}

#[test]
fn a_team_lists_its_open_leases_and_an_ended_slice_closed_by_its_lease_from_eight_connections_states_once() {
    // The team's side: two leases open, one settled whole (committed) and so not listed.
    let team = parent();
    for id in ["ls_x", "ls_y", "ls_z"] {
        answer(
            &team,
            &contract::TAKE_SLICE,
            &take(id, 2000, 100_000, 1000, 0, 86_400_000),
        );
    }
    answer(&team, &contract::SETTLE_SLICE, &settle("ls_z", 1, 2000, 0));
    let mut listed = answer(&team[..3], &contract::LEASES, &["0".to_string(), "10".to_string()]);
    assert_eq!(listed[0], "ok");
    assert_eq!(listed[2], "0", "one page holds them all");
    let rows: Vec<Vec<String>> = listed.split_off(3).chunks(7).map(<[String]>::to_vec).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["ls_x", "ls_y"]);
    assert_eq!(rows[0][1..3], ["m1".to_string(), FIELD.to_string()]);
    assert_eq!(rows[0][5..], ["0".to_string(), "2000".to_string()]);

    // The member's side: a slice not ended is left; ended, eight callers ending it by its lease
    // at once write one statement (an end that read the line and closed it in two steps would
    // state it more than once, and give its rest back twice).
    let keys = parent();
    let lease = placed(&keys, 4);
    assert_eq!(answer(&keys, &contract::END_SLICE, &end_by_lease(&lease)), ["early"]);
    let line = fields(&keys, &[SLICE])[0].clone();
    let mut parts: Vec<String> = line.split('|').map(String::from).collect();
    parts[1] = (shared().now_ms() - 1).to_string();
    let _: i64 = shared().query(&["HSET", &keys[0], SLICE, &parts.join("|")]);
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (keys, lease) = (&keys, &lease);
            s.spawn(move || assert_eq!(answer(keys, &contract::END_SLICE, &end_by_lease(lease))[0], "ok"));
        }
    });
    let stated: Vec<_> = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").collect();
    assert_eq!(stated.len(), 1, "{stated:?}");
    assert_eq!((stated[0]["u"].as_str(), stated[0]["h"].as_str()), ("0", "1000"));
    assert!(fields(&keys, &[SLICE])[0].is_empty());
}

#[test]
fn racing_short_reserves_all_report_the_demand_the_closed_slice_met() {
    // A slice of 3, full; 8 connections find it short at once. One closes it; the others find
    // no line, and report what it met and when it was to end from "<slice>:d". A close that
    // wrote them apart from removing the line would let a racer see neither, and size the
    // next slice from 0.
    let keys = parent();
    placed(&keys, 3);
    for id in ["r_2", "r_3"] {
        answer(&keys, &contract::RESERVE, &reserve_on_slice(id, 1, "l/0", 0, 60_000));
    }
    let demands: Vec<(String, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let keys = &keys;
                s.spawn(move || {
                    let short = answer(
                        keys,
                        &contract::RESERVE,
                        &reserve_on_slice(&format!("r_race{w}"), 1, "l/0", 0, 60_000),
                    );
                    assert_eq!(short[..3], ["short", "1", "1"], "{short:?}");
                    (short[5].clone(), short[6].clone())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // And when the slice was to end, which tells how long it served that demand.
    let ends = &demands[0].1;
    assert!(ends.parse::<i64>().unwrap() > 0, "{demands:?}");
    assert!(
        demands.iter().all(|d| (d.0.as_str(), &d.1) == ("3000", ends)),
        "{demands:?}"
    );
    let stated = outbox(&keys).into_iter().filter(|e| e["type"] == "slice").count();
    assert_eq!(stated, 1, "one of them closed it");
    // And removed its mark in the same step: none is left for the sweeper, nor its id.
    assert!(
        outbox(&keys).iter().all(|e| e["type"] != "placed"),
        "{:?}",
        outbox(&keys)
    );
    assert_eq!(fields(&keys, &[&format!("{SLICE}:m")]), [""]);
}
