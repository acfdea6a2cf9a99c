//! The contract between the node and its scripts, seen from Redis: every script refuses a call
//! of another shape than it declares, a malformed hold's options, and a reservation record of
//! an encoding it does not know, with an error reply, never by reading defaults.

use quota_gateway::surface::store::contract::{Contract, HOLD_FIELDS, WRITING_ARGS, WRITING_KEYS};
use quota_gateway::surface::store::every_script;
use redis::{RedisResult, Value};

use crate::support::redis::{shared, slot_keys};
use crate::support::unique_prefix;

fn refused(result: RedisResult<Value>, what: &str) -> String {
    match result {
        Err(err) => err.to_string(),
        Ok(value) => panic!("{what}: answered {value:?} instead of an error"),
    }
}

/// Arguments of a call with no counted items: "0" for every one, so each count counts nothing.
fn zeros(c: &Contract) -> Vec<String> {
    vec!["0".to_owned(); c.args_with(&[])]
}

#[test]
fn every_script_refuses_a_call_of_another_shape() {
    let redis = shared();
    for &contract in every_script() {
        let tag = unique_prefix();
        let (keys, args) = (slot_keys(&tag, contract.keys), zeros(contract));
        let mut more = args.clone();
        more.push("0".into());
        let err = refused(redis.run_script(contract, &keys, &more), contract.file);
        assert!(err.contains("qg contract"), "{}: {err}", contract.file);
        if !args.is_empty() {
            let err = refused(redis.run_script(contract, &keys, &args[1..]), contract.file);
            assert!(err.contains("qg contract"), "{}: {err}", contract.file);
        }
        let err = refused(redis.run_script(contract, &keys[1..], &args), contract.file);
        assert!(err.contains("qg contract"), "{}: {err}", contract.file);
        // A count that is not a number is refused, not read as nothing.
        if let Some(at) = first_count(contract) {
            let mut bad = args.clone();
            bad[at] = "two".into();
            let err = refused(redis.run_script(contract, &keys, &bad), contract.file);
            assert!(err.contains("should count"), "{}: {err}", contract.file);
        }
    }
}

/// The index of the first argument that counts items, if any.
fn first_count(c: &Contract) -> Option<usize> {
    let mut at = 0;
    for p in c.args {
        at += p.fixed;
        if p.then.is_some() {
            return Some(at - 1);
        }
    }
    None
}

/// One hold of group `g` in a lifetime counter, with these options.
fn hold(options: &str) -> Vec<String> {
    let values = ["g", "g@0", "0", "", "1000", "5000", options];
    assert_eq!(values.len(), HOLD_FIELDS);
    values.iter().map(|v| v.to_string()).collect()
}

/// Redis time in ms, as a request's decision instant (holds.lua's `decided_at`).
fn redis_now_ms() -> String {
    shared().now_ms().to_string()
}

#[test]
fn scripts_that_read_holds_refuse_malformed_options() {
    let redis = shared();
    let writing: Vec<String> = ["60000", "", "", ""].iter().map(|s| s.to_string()).collect();
    assert_eq!(writing.len(), WRITING_ARGS);
    for (options, expected) in [
        "soft|c",
        "soft|c||||{}|x",
        "hardest||||||",
        "soft||||||[1]",
        "|||||||",
        "|||||x|",
        // Per value, but its counter field names no value.
        "|||||v|",
        // Empty fields after the mode, but one too many: read without a match (a mode and
        // its empty tail), the mode then holds a "|", which no mode does.
        "soft|||||||",
        "soft|c||||||",
        "f/1000|||||||",
    ]
    .map(|o| (o, "malformed options"))
    .into_iter()
    // A hold on a slice whose counter field is no slice's ("^<ancestor>^..."), as the quick
    // reading of a slice's options reads it and as the whole reading does.
    .chain([("l/1||||||", "is on a slice"), ("l/1|c|||||", "is on a slice")])
    {
        for &contract in every_script() {
            let head: Vec<String> = match contract.name() {
                "reserve" => [
                    writing.clone(),
                    vec!["0".into(), "r_x".into(), "60000".into(), "1".into()],
                ]
                .concat(),
                "check" => vec!["0".into(), "1".into()],
                "track" => [writing.clone(), vec!["0".into(), "1".into()]].concat(),
                "adjust" => [writing.clone(), vec!["0".into()]].concat(),
                _ => continue,
            };
            let at = redis_now_ms();
            let tail: Vec<String> = match contract.name() {
                "reserve" => vec![
                    "1".into(),
                    "1".into(),
                    "{}".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    at,
                ],
                "track" => ["e", "", "1000", "key", "", "track:~x", "", "", &at]
                    .map(String::from)
                    .to_vec(),
                "adjust" => vec!["1000".into(), "why".into(), "10".into(), "key".into()],
                _ => vec![at],
            };
            let args = [head, hold(options), tail].concat();
            let keys = slot_keys(&unique_prefix(), contract.keys);
            let err = refused(redis.run_script(contract, &keys, &args), contract.file);
            assert!(err.contains(expected), "{} with {options:?}: {err}", contract.file);
            // Nothing was written before the refusal.
            for key in &keys {
                assert_eq!(redis.query::<i64>(&["EXISTS", key]), 0, "{}: {key}", contract.file);
            }
        }
    }
    // The defaults and a well-formed set of options are taken.
    let c = every_script().iter().find(|c| c.name() == "check").unwrap();
    for options in [
        "",
        "||||||",
        "soft||||||",
        r#"soft|c|80,100|7000|||{"metadata":"tokens"}"#,
    ] {
        let args = [vec!["0".into(), "1".into()], hold(options), vec![redis_now_ms()]].concat();
        let answer = redis.run_script(c, &slot_keys(&unique_prefix(), c.keys), &args);
        assert!(answer.is_ok(), "{options:?}: {answer:?}");
    }
}

#[test]
fn a_reserve_refuses_a_step_that_does_not_name_its_run_action_and_kind() {
    use quota_gateway::surface::store::contract::RESERVE;
    let redis = shared();
    let call = |step: &str| -> (Vec<String>, Vec<String>) {
        let head = ["60000", "", "", "", "0", "r_x", "60000", "1"]
            .map(String::from)
            .to_vec();
        let tail = vec![
            "1".to_owned(),
            "1".to_owned(),
            "{}".to_owned(),
            String::new(),
            step.to_owned(),
            String::new(),
            redis_now_ms(),
        ];
        (
            slot_keys(&unique_prefix(), RESERVE.keys),
            [head, hold(""), tail].concat(),
        )
    };
    let (keys, args) = call("run_1|a1");
    let err = refused(redis.run_script(&RESERVE, &keys, &args), RESERVE.file);
    assert!(err.contains("names its run"), "{err}");
    for key in &keys {
        assert_eq!(redis.query::<i64>(&["EXISTS", key]), 0, "{key}");
    }
    // Its run, action and kind, as the node joins them, are taken (the run has ended: a denial).
    let (keys, args) = call("run_1|a1|primary");
    assert!(redis.run_script(&RESERVE, &keys, &args).is_ok());
}

#[test]
fn a_reserve_refuses_a_fallback_that_does_not_name_its_chain() {
    use quota_gateway::surface::store::contract::RESERVE;
    let redis = shared();
    let call = |fallback: &str| -> (Vec<String>, Vec<String>) {
        let head = ["60000", "", "", "", "0", "r_x", "60000", "1"]
            .map(String::from)
            .to_vec();
        let tail = ["1", "1", "{}", fallback, "", "", &redis_now_ms()]
            .map(String::from)
            .to_vec();
        (
            slot_keys(&unique_prefix(), RESERVE.keys),
            [head, hold(""), tail].concat(),
        )
    };
    for wrong in ["|g=1000", "call_1"] {
        let (keys, args) = call(wrong);
        let err = refused(redis.run_script(&RESERVE, &keys, &args), RESERVE.file);
        assert!(err.contains("names its chain"), "{wrong}: {err}");
        for key in &keys {
            assert_eq!(redis.query::<i64>(&["EXISTS", key]), 0, "{key}");
        }
    }
    // A chain and its caps (none, or some), as the node joins them, are taken.
    for right in ["call_1|", "call_1|g=1000,h=5"] {
        let (keys, args) = call(right);
        assert!(redis.run_script(&RESERVE, &keys, &args).is_ok(), "{right}");
    }
}

/// A held reservation record of encoding `version`, open and already expired, under `tag`.
fn plant_record(tag: &str, version: &str) -> Vec<String> {
    let keys = slot_keys(tag, WRITING_KEYS);
    let record = format!(
        r#"{{"v":"{version}","s":"held","c":"0","x":"1","e":"e","h":[{{"g":"g","f":"g@0","ps":"0","pe":"","a":"1000","q":"5000"}}]}}"#
    );
    let redis = shared();
    redis.query::<i64>(&["HSET", &keys[1], "r_x", &record]);
    redis.query::<i64>(&["ZADD", &keys[2], "1", "r_x"]);
    keys
}

#[test]
fn scripts_refuse_a_reservation_record_of_an_unknown_encoding() {
    let redis = shared();
    let writing = vec!["60000".to_string(), String::new(), String::new(), String::new()];
    for &contract in every_script() {
        let (tag, version) = (unique_prefix(), "9");
        let keys = plant_record(&tag, version);
        let args: Vec<String> = match contract.name() {
            // A writer reclaims the expired record first; a reader reads it as pending.
            "reclaim" => writing.clone(),
            "release" => [writing.clone(), vec!["r_x".into(), String::new()]].concat(),
            "commit" => [
                writing.clone(),
                ["r_x", "", "", "", "key", "", "", ""].map(String::from).to_vec(),
            ]
            .concat(),
            "extend" => [writing.clone(), vec!["r_x".into(), "1000".into(), "60000".into()]].concat(),
            "usage" => ["1", "g@0", "5000", "", "", ""].map(String::from).to_vec(),
            "check" => [vec!["0".into(), "1".into()], hold(""), vec![redis_now_ms()]].concat(),
            _ => continue,
        };
        let err = refused(redis.run_script(contract, &keys[..contract.keys], &args), contract.file);
        assert!(err.contains("another encoding"), "{}: {err}", contract.file);
        // The record is as it was: a refusal writes nothing first.
        assert_eq!(redis.query::<i64>(&["ZCARD", &keys[2]]), 1, "{}", contract.file);
        // The encoding this code writes is read.
        let keys = plant_record(
            &unique_prefix(),
            quota_gateway::surface::store::contract::RECORD_VERSION,
        );
        let answer = redis.run_script(contract, &keys[..contract.keys], &args);
        assert!(answer.is_ok(), "{}: {answer:?}", contract.file);
    }
}

/// A counter below zero in Redis (which no script writes) is reported as an error, logged and
/// answered 500, never shown as zero.
#[tokio::test]
async fn a_negative_counter_is_answered_as_an_error_not_as_zero() {
    let app = crate::support::spawn_app().await;
    app.put_plan(serde_json::json!({ "id": "plan_n", "periodType": "lifetime",
        "groups": [ { "id": "g", "unit": "count", "quota": 5, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("u", "plan_n", None).await;
    shared().query::<i64>(&[
        "HSET",
        &format!("{}:{{default:u}}:ctr", app.prefix),
        "g@life:u",
        "-5000",
    ]);
    let (status, problem) = app.json(reqwest::Method::GET, "/v1/users/u/usage", None).await;
    assert_eq!(status, 500, "{problem}");
    assert_eq!(problem["code"], "internal_error", "{problem}");
}
