//! The data plane's function library in Redis: what one call knows never reaches the next
//! (a wallet it loaded, the alerts it fired), a node loads the library when it starts and
//! again when Redis has lost it, and it removes older builds' libraries, never a newer one's.

use quota_gateway::surface::store::contract::{self, WRITING_KEYS};
use quota_gateway::surface::store::library::LIBRARY;
use redis::Value;
use serde_json::json;

use crate::support::redis::{shared, slot_keys};
use crate::support::{spawn_app, unique_prefix};

/// `n` keys of one slot, apart from every other test's.
fn keys(n: usize) -> Vec<String> {
    slot_keys(&unique_prefix(), n)
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn redis_now_ms() -> String {
    shared().now_ms().to_string()
}

fn items(answer: Value) -> Vec<Value> {
    match answer {
        Value::Array(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn int(value: &Value) -> i64 {
    redis::from_redis_value(value.clone()).unwrap()
}

/// A wallet of one grant with `milli` remaining, as wallet.lua keeps it.
fn wallet(milli: i64) -> String {
    format!("0|0|||||q\ng1|050:9999999999999:1:0000000000001:g1|0||{milli}|{milli}|0|0|0|0|||||||")
}

#[test]
fn a_wallet_loaded_by_one_call_is_not_seen_by_the_next() {
    let redis = shared();
    let k = keys(contract::CHECK.keys);
    let check = |amount: &str| {
        // One balance hold of `amount` on balance "credits" (no overdraft), lifetime period.
        let args = [
            strings(&["0", "1", "g", "g@0", "0", "", amount, "0", "b/credits/0/||||||"]),
            vec![redis_now_ms()],
        ]
        .concat();
        let answer = items(redis.run_script(&contract::CHECK, &k, &args).unwrap());
        int(&answer[1])
    };
    redis.query::<i64>(&["HSET", &k[0], "w|credits", &wallet(5_000)]);
    assert_eq!(check("100000"), 0, "5 credits do not cover 100");
    // The wallet changes between two calls: the next call reads it anew.
    redis.query::<i64>(&["HSET", &k[0], "w|credits", &wallet(500_000)]);
    assert_eq!(check("100000"), 1, "500 credits cover 100");
    redis.query::<i64>(&["HSET", &k[0], "w|credits", &wallet(5_000)]);
    assert_eq!(check("100000"), 0, "5 credits again");
}

#[test]
fn alerts_fired_by_one_call_are_not_answered_by_the_next_and_the_same_call_answers_the_same() {
    let redis = shared();
    let k = keys(WRITING_KEYS);
    let reserve = |id: &str, amount: &str, at: &str| {
        // One in-flight ("c") group of quota 10 alerting at 80 % and 100 %.
        let hold = strings(&["g", "g@0", "0", "", amount, "10000", "|c|80,100||||"]);
        let record = format!(
            r#""v":"2","e":"e","qt":"{amount}","h":[{{"g":"g","f":"g@0","ps":"0","pe":"","a":"{amount}","q":"10000"}}]}}"#
        );
        let args = [
            strings(&["60000", "", "", "", "0", id, "60000", "1"]),
            hold,
            vec![
                "1".into(),
                "1".into(),
                record,
                String::new(),
                String::new(),
                String::new(),
                at.to_owned(),
            ],
        ]
        .concat();
        items(redis.run_script(&contract::RESERVE, &k, &args).unwrap())
    };
    // ok, id, expires, allowed, then used, held, quota, denied, then the alerts fired.
    let first = reserve("r_1", "8500", &redis_now_ms());
    assert_eq!(int(&first[3]), 1);
    assert_eq!(int(&first[8]), 1, "the first crosses 80 %: {first:?}");
    let second = reserve("r_2", "500", &redis_now_ms());
    assert_eq!(int(&second[3]), 1);
    assert_eq!(int(&second[8]), 0, "the second crosses nothing: {second:?}");
    assert_eq!(second.len(), 9, "{second:?}");
    // The first denial fires the group's limit alert; the next, the state unchanged by it,
    // answers the same as the one after it.
    let denied = reserve("r_3", "5000", &redis_now_ms());
    assert_eq!((int(&denied[3]), int(&denied[8])), (0, 1), "{denied:?}");
    let at = redis_now_ms();
    let again = reserve("r_4", "5000", &at);
    assert_eq!(int(&again[8]), 0, "{again:?}");
    assert_eq!(again, reserve("r_4", "5000", &at));
}

/// Every server the shared Redis has (each primary of a cluster).
pub(crate) fn servers() -> Vec<String> {
    use crate::support::redis::Shared;
    match shared() {
        Shared::Standalone(redis) => vec![redis.url()],
        Shared::Cluster(cluster) => cluster.nodes.iter().map(|n| n.url()).collect(),
    }
}

pub(crate) fn libraries_on(url: &str) -> Vec<String> {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let listed: Vec<Vec<Value>> = redis::cmd("FUNCTION").arg("LIST").query(&mut conn).unwrap();
    listed
        .iter()
        .filter_map(|fields| {
            let at = fields
                .iter()
                .position(|f| redis::from_redis_value::<String>(f.clone()).ok().as_deref() == Some("library_name"))?;
            redis::from_redis_value(fields.get(at + 1)?.clone()).ok()
        })
        .collect()
}

fn on_every_server(args: &[&str]) {
    for url in servers() {
        let mut conn = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let mut cmd = redis::cmd(args[0]);
        cmd.arg(&args[1..]);
        let _: Value = cmd.query(&mut conn).unwrap();
    }
}

#[tokio::test]
async fn a_node_loads_its_library_at_start_again_when_lost_and_removes_older_builds_only() {
    let (older, newer) = ("qg_0_0_1_0123456789abcdef", "qg_999_0_0_0123456789abcdef");
    for name in [older, newer] {
        let text = format!("#!lua name={name}\nredis.register_function('{name}_f', function() return 1 end)");
        on_every_server(&["FUNCTION", "LOAD", "REPLACE", &text]);
    }
    let app = spawn_app().await;
    for url in servers() {
        let found = libraries_on(&url);
        assert!(!found.iter().any(|l| l == older), "{url}: {found:?}");
        assert!(
            found.iter().any(|l| l == newer),
            "{url}: a newer build's stays: {found:?}"
        );
    }
    on_every_server(&["FUNCTION", "DELETE", newer]);

    app.put_plan(json!({ "id": "plan_l", "periodType": "lifetime", "groups": [
        { "id": "g", "unit": "count", "quota": 2, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("u", "plan_l", None).await;
    assert_eq!(
        app.reserve(json!({ "userId": "u", "event": "e" })).await["allowed"],
        true
    );
    // Redis loses the library (a flush, a restart without persistence, a node of another build
    // removing it): the next call loads it again and is answered as if nothing happened.
    on_every_server(&["FUNCTION", "DELETE", &LIBRARY.name]);
    assert_eq!(
        app.reserve(json!({ "userId": "u", "event": "e" })).await["allowed"],
        true
    );
    assert_eq!(
        app.reserve(json!({ "userId": "u", "event": "e" })).await["allowed"],
        false
    );
    for url in servers() {
        // (A cluster's primaries all have it again, whichever the user's slot is on.)
        let found = libraries_on(&url);
        assert!(found.iter().any(|l| *l == LIBRARY.name), "{url}: {found:?}");
    }
}

#[test]
fn a_hold_brought_nearer_by_an_extension_goes_back_before_the_next_decision() {
    let redis = shared();
    let k = keys(WRITING_KEYS);
    let writing = ["60000", "", "", ""];
    // One hold of `amount` in a lifetime group of quota 10, expiring `ttl` ms after now.
    let reserve = |id: &str, amount: &str, ttl: &str| {
        let record = format!(
            r#""v":"2","e":"e","qt":"{amount}","h":[{{"g":"g","f":"g@0","ps":"0","pe":"","a":"{amount}","q":"10000"}}]}}"#
        );
        let args = [
            strings(&writing),
            strings(&["0", id, ttl, "1"]),
            strings(&["g", "g@0", "0", "", amount, "10000", ""]),
            vec![
                "1".into(),
                "1".into(),
                record,
                String::new(),
                String::new(),
                String::new(),
                redis_now_ms(),
            ],
        ]
        .concat();
        items(redis.run_script(&contract::RESERVE, &k, &args).unwrap())
    };
    // An hour's hold of 8: the next reserves know no open hold expires within the hour.
    assert_eq!(int(&reserve("r_a", "8000", "3600000")[3]), 1);
    assert_eq!(int(&reserve("r_b", "5000", "3600000")[3]), 0, "8 + 5 > 10");
    // Its extension to a millisecond brings its expiry nearer than that.
    let args = [strings(&writing), strings(&["r_a", "1", "86400000"])].concat();
    let extended = items(redis.run_script(&contract::EXTEND, &k, &args).unwrap());
    assert_eq!(redis::from_redis_value::<String>(extended[0].clone()).unwrap(), "ok");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // The next reserve returns it first, and holds 5 of 10.
    let b = reserve("r_c", "5000", "3600000");
    assert_eq!((int(&b[3]), int(&b[5])), (1, 5000), "{b:?}");
}

/// Redis's calls of each command since its stats were reset, but the function call itself.
fn commands_since_reset(redis: &crate::support::redis::TestRedis) -> Vec<(String, u64)> {
    let mut calls = redis.command_calls();
    // (A connection's own bookkeeping is not the script's: the client names itself with
    // `CLIENT SETINFO` on servers that know it, Valkey 8 and Redis 7.2 on.)
    calls.retain(|(name, _)| name != "fcall" && !name.starts_with("config") && !name.starts_with("client"));
    calls
}

#[test]
fn a_plain_two_group_admit_makes_six_redis_commands_and_a_denial_six() {
    let own = crate::support::redis::TestRedis::start();
    let library: String = LIBRARY.text.clone();
    let _: String = own.query(&["FUNCTION", "LOAD", &library]);
    let k = keys(WRITING_KEYS);
    // Two groups of a month, the ledger and rollups kept 35 days (as a project keeps them).
    let reserve = |id: &str, quota: &str| -> Vec<Value> {
        let (ps, pe) = ("1000", "99999999999999");
        let mut args = strings(&["60000", "", "", "3024000000", "0", id, "60000", "2"]);
        let mut holds = Vec::new();
        for g in ["g0", "g1"] {
            args.extend(strings(&[g, &format!("{g}@{ps}"), ps, pe, "1000", quota, ""]));
            holds.push(format!(
                r#"{{"g":"{g}","f":"{g}@{ps}","ps":"{ps}","pe":"{pe}","a":"1000","q":"{quota}"}}"#
            ));
        }
        // One alternative, of both holds.
        args.extend(strings(&["1", "2"]));
        args.push(format!(r#""v":"2","e":"e","qt":"1000","h":[{}]}}"#, holds.join(",")));
        args.extend([String::new(), String::new(), String::new(), redis_now_ms()]);
        let mut cmd = redis::cmd("FCALL");
        cmd.arg(quota_gateway::surface::store::library::function_name("reserve"))
            .arg(k.len())
            .arg(&k)
            .arg(&args);
        let mut conn = redis::Client::open(own.url().as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        items(cmd.query(&mut conn).unwrap())
    };
    // The first admit of the day writes what later ones find: periods, "~open", the admits.
    assert_eq!(int(&reserve("r_1", "100000")[3]), 1);
    let _: String = own.query(&["CONFIG", "RESETSTAT"]);
    assert_eq!(int(&reserve("r_2", "100000")[3]), 1);
    let names = |calls: &[(String, u64)]| calls.iter().map(|(n, c)| format!("{n}x{c}")).collect::<Vec<_>>();
    // Redis time, the subscription's version, the counters (with "~open" and the day's
    // admits), their write, the record, the open set.
    assert_eq!(
        names(&commands_since_reset(&own)),
        ["hgetx1", "hmgetx1", "hsetx2", "timex1", "zaddx1"],
        "a plain admit"
    );
    // A denial: time, version, counters, what its groups have leased to members' slices (one
    // read for all), the day's denials of its groups and the day's count of those the ledger
    // keeps (past the first hundred of the day, none: no entry).
    let day = redis_now_ms().parse::<i64>().unwrap() / 86_400_000;
    let _: i64 = own.query(&["HSET", &k[8], &format!("{day}|~|d"), "1000"]);
    // (The first denial of the period fires each group's limit alert.)
    assert_eq!(int(&reserve("r_3", "1000")[3]), 0);
    let _: String = own.query(&["CONFIG", "RESETSTAT"]);
    assert_eq!(int(&reserve("r_4", "1000")[3]), 0);
    assert_eq!(
        names(&commands_since_reset(&own)),
        ["hgetx1", "hincrbyx2", "hmgetx2", "timex1"],
        "a denial past the day's hundred kept in the ledger, its limit alerts fired already"
    );
}
