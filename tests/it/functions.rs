//! The data plane's functions called directly (FCALL), as the node calls them: a table of
//! calls in sequence per entry point, each with the answer's tag it must give, on a user of its
//! own. What each answer carries beyond its tag is the API tests' business; these hold every
//! entry point to the answers its header promises, whatever node calls it.

use quota_gateway::surface::store::contract::{self, Contract};
use redis::Value;

use crate::support::redis::{shared, slot_keys};
use crate::support::unique_prefix;

/// A call's arguments, `@now` as Redis time in ms, `@hour_ago` an hour before it and
/// `@now+<ms>` that many ms after it.
fn args(call: &[String]) -> Vec<String> {
    let now = shared().now_ms();
    call.iter()
        .map(|a| match a.as_str() {
            "@now" => now.to_string(),
            "@hour_ago" => (now - 3_600_000).to_string(),
            other => match other.strip_prefix("@now+") {
                Some(ms) => (now + ms.parse::<i64>().unwrap()).to_string(),
                None => other.to_string(),
            },
        })
        .collect()
}

/// The tag of an answer (its first element), or the error.
fn tag(answer: redis::RedisResult<Value>) -> String {
    match answer {
        Ok(Value::Array(items)) => redis::from_redis_value(items[0].clone()).unwrap(),
        Ok(other) => panic!("not an answer: {other:?}"),
        Err(err) => format!("error: {err}"),
    }
}

/// Runs each call in order on one user's keys, checking each answer's tag.
fn run(contract: &Contract, calls: &[(&str, Vec<String>)]) {
    let user = unique_prefix();
    let keys = slot_keys(&user, contract.keys);
    for (i, (want, call)) in calls.iter().enumerate() {
        let got = tag(shared().run_script(contract, &keys, &args(call)));
        assert_eq!(&got, want, "{} call {i}: {call:?}", contract.name());
    }
}

// One hold of group g, lifetime, 1 unit against a quota of 2, no options.
const HOLD: [&str; 7] = ["g", "g@0", "0", "", "1000", "2000", ""];
const RECORD: &str = r#""v":"2","e":"e","qt":"1000","h":[{"g":"g","f":"g@0","ps":"0","pe":"","a":"1000","q":"2000"}]}"#;
// Retention a day, no Idempotency-Key, the ledger kept a day.
const WRITING: [&str; 4] = ["86400000", "", "", "86400000"];

/// A call's arguments, its parts joined.
fn with(parts: &[&[&str]]) -> Vec<String> {
    parts.iter().flat_map(|p| p.iter()).map(|s| s.to_string()).collect()
}

#[test]
fn reserve_answers_as_its_header_says() {
    let call = |id: &str, version: &str, instant: &str, idem: [&str; 2]| {
        with(&[
            &[WRITING[0], idem[0], idem[1], WRITING[3]],
            &[version, id, "60000", "1"],
            &HOLD,
            &["1", "1", RECORD, "", "", "", instant],
        ])
    };
    run(
        &contract::RESERVE,
        &[
            ("ok", call("r_1", "0", "@now", ["", ""])),
            // The version the node decided with is not the subscription's.
            ("stale", call("r_2", "7", "@now", ["", ""])),
            // The node's instant is an hour off Redis time.
            ("stale", call("r_2", "0", "@hour_ago", ["", ""])),
            // The quota's second unit, then a third denied: both answer "ok" with the decision.
            ("ok", call("r_3", "0", "@now", ["reserve:k", "d1"])),
            // The same Idempotency-Key and body: the first answer; another body: refused.
            ("repeat", call("r_3", "0", "@now", ["reserve:k", "d1"])),
            ("reused", call("r_3", "0", "@now", ["reserve:k", "d2"])),
            ("ok", call("r_4", "0", "@now", ["", ""])),
        ],
    );
}

/// Two alternatives of one hold each, A's group without room: the answer opens with FIRST
/// (its count of alternatives weighed), then A's verdict, denied, then B's, held; counts of
/// holds that are not the call's are an error reply, as any malformed call is.
#[test]
fn a_reserve_of_alternatives_weighs_them_in_turn_and_refuses_counts_that_are_not_its_holds() {
    let a = ["model-a", "model-a@0", "0", "", "1000", "0", ""];
    let b = ["model-b", "model-b@0", "0", "", "1000", "2000", ""];
    let record = |group: &str, index: &str| {
        format!(
            r#""v":"2","e":"{group}","qt":"1000","ac":"{index}","al":"[]","h":[{{"g":"{group}","f":"{group}@0","ps":"0","pe":"","a":"1000","q":"0"}}]}}"#
        )
    };
    let (record_a, record_b) = (record("model-a", "0"), record("model-b", "1"));
    let call = |counts: [&str; 2]| {
        with(&[
            &WRITING,
            &["0", "r_ab", "60000", "2"],
            &a,
            &b,
            &["2", counts[0], &record_a, counts[1], &record_b, "", "", "", "@now"],
        ])
    };
    let keys = slot_keys(&unique_prefix(), contract::RESERVE.keys);
    let answer = shared().run_script(&contract::RESERVE, &keys, &args(&call(["1", "1"])));
    let items: Vec<String> = match answer {
        Ok(Value::Array(items)) => items.into_iter().map(|v| redis::from_redis_value(v).unwrap()).collect(),
        other => panic!("not an answer: {other:?}"),
    };
    // FIRST: "ok", id, expires, allowed, tried; then A's VERDICT and B's (denied last of four).
    assert_eq!(
        (items[0].as_str(), items[3].as_str(), items[4].as_str()),
        ("ok", "1", "2")
    );
    assert_eq!((items[8].as_str(), items[12].as_str()), ("1", "0"), "{items:?}");
    for counts in [["2", "1"], ["1", "x"], ["1", "0"]] {
        let got = tag(shared().run_script(&contract::RESERVE, &keys, &args(&call(counts))));
        assert!(got.contains("qg contract"), "{counts:?}: {got}");
    }
}

#[test]
fn a_period_may_begin_after_the_instant_by_a_subscriptions_lead_and_no_further() {
    // A subscription starting a few seconds ahead of the node's clock: what it decides before
    // the start counts in the first period, which begins after the instant.
    let call = |id: &str, starts: &str| {
        let hold = ["g", "g@s", starts, "", "1000", "2000", ""];
        with(&[
            &WRITING,
            &["0", id, "60000", "1"],
            &hold,
            &["1", "1", RECORD, "", "", "", "@now"],
        ])
    };
    run(
        &contract::RESERVE,
        &[
            ("ok", call("r_1", "@now+4000")),
            // Further than any start may lie ahead: a node's clock handed the wrong period.
            ("stale", call("r_2", "@now+6000")),
        ],
    );
}

#[test]
fn check_and_usage_answer_as_their_headers_say() {
    let check = |version: &str| with(&[&[version, "1"], &HOLD, &["@now"]]);
    run(&contract::CHECK, &[("ok", check("0")), ("stale", check("3"))]);
    run(&contract::USAGE, &[("ok", with(&[&["1", "g@0", "2000", "", "", ""]]))]);
}

#[test]
fn track_answers_as_its_header_says() {
    let track = |version: &str| {
        with(&[
            &WRITING,
            &[version, "1"],
            &HOLD,
            &["e", "", "1000", "key", "", "track:~t", "", "", "@now"],
        ])
    };
    run(
        &contract::TRACK,
        &[("ok", track("0")), ("stale", track("2")), ("ok", track("0"))],
    );
}

#[test]
fn settling_functions_answer_as_their_headers_say() {
    let reserve = with(&[
        &WRITING,
        &["0", "r_s", "60000", "1"],
        &HOLD,
        &["1", "1", RECORD, "", "", "", "@now"],
    ]);
    let commit = with(&[&WRITING, &["r_s", "", "", "", "key", "", "", ""]]);
    // Amounts for two holds of a record that has one.
    let commit_two = with(&[&WRITING, &["r_s", "2", "1000", "1000", "", "", "key", "", "", ""]]);
    let release = with(&[&WRITING, &["r_s", ""]]);
    let extend = with(&[&WRITING, &["r_s", "60000", "86400000"]]);
    // Nothing reserved yet: each of them finds nothing.
    run(&contract::COMMIT, &[("not_found", commit.clone())]);
    run(&contract::RELEASE, &[("not_found", release.clone())]);
    run(&contract::EXTEND, &[("not_found", extend.clone())]);
    run(&contract::RECLAIM, &[("ok", with(&[&WRITING]))]);
    // One user's keys through a reservation's life: reserved, extended, refused amounts that
    // are not one per hold, committed (a second commit answers the first), then neither
    // released nor extended.
    let user = unique_prefix();
    let keys = slot_keys(&user, 10);
    for (contract, call, want) in [
        (&contract::RESERVE, &reserve, "ok"),
        (&contract::EXTEND, &extend, "ok"),
        (&contract::COMMIT, &commit_two, "mismatch"),
        (&contract::COMMIT, &commit, "ok"),
        (&contract::COMMIT, &commit, "ok"),
        (&contract::RELEASE, &release, "conflict"),
        (&contract::EXTEND, &extend, "ended"),
        (&contract::RECLAIM, &with(&[&WRITING]), "ok"),
    ] {
        let got = tag(shared().run_script(contract, &keys, &args(call)));
        assert_eq!(got, want, "{}: {call:?}", contract.name());
    }
}

#[test]
fn credits_functions_answer_as_their_headers_say() {
    // A grant of 5 credits to balance "credits", effective at once, never expiring.
    let grant = |id: &str, idem: [&str; 2]| {
        let record = format!(r#"{{"balance":"credits","amount":"5000","priority":"50","burnKey":"050:{id}"}}"#);
        with(&[
            &[WRITING[0], idem[0], idem[1], WRITING[3]],
            &[
                id,
                "credits",
                "5000",
                &format!("050:9999999999999:1:0000000000001:{id}"),
                "0",
                "",
                &record,
                "2",
                "86400000",
            ],
        ])
    };
    let void = |id: &str| with(&[&WRITING, &[id]]);
    let balances = with(&[&WRITING, &["1", "credits", "0", "@now"]]);
    // A balance hold of 1 credit on "credits".
    let hold = ["credits", "credits@0", "0", "", "1000", "0", "b/credits/0/||||||"];
    let reserve = with(&[
        &WRITING,
        &["0", "r_c", "60000", "1"],
        &hold,
        &[
            "1",
            "1",
            r#""v":"2","e":"e","qt":"1000","h":[{"g":"credits","f":"credits@0","ps":"0","pe":"","a":"1000","q":"0","m":"b/credits/0/"}]}"#,
            "",
            "",
            "",
            "@now",
        ],
    ]);
    let user = unique_prefix();
    let keys = slot_keys(&user, 11);
    for (contract, call, want) in [
        (&contract::VOID_GRANT, &void("g_1"), "not_found"),
        (&contract::BALANCES, &balances, "ok"),
        (&contract::GRANT, &grant("g_1", ["grant:k", "d1"]), "ok"),
        // The same payment again: the first answer; another body with its key: refused.
        (&contract::GRANT, &grant("g_1", ["grant:k", "d1"]), "repeat"),
        (&contract::GRANT, &grant("g_1", ["grant:k", "d2"]), "reused"),
        (&contract::GRANT, &grant("g_2", ["", ""]), "ok"),
        // A balance may have two live grants here: a third is refused.
        (&contract::GRANT, &grant("g_3", ["", ""]), "limit"),
        (&contract::RESERVE, &reserve, "ok"),
        (&contract::VOID_GRANT, &void("g_2"), "ok"),
        (&contract::BALANCES, &balances, "ok"),
    ] {
        let keys = &keys[..contract.keys];
        let got = tag(shared().run_script(contract, keys, &args(call)));
        assert_eq!(got, want, "{}: {call:?}", contract.name());
    }
}

#[test]
fn adjust_answers_as_its_header_says() {
    // Adds 3 units to group g's lifetime counter, keeping 10 audit entries.
    let adjust = |version: &str, idem: [&str; 2]| {
        with(&[
            &[WRITING[0], idem[0], idem[1], WRITING[3]],
            &[version],
            &HOLD,
            &["3000", "a refund", "10", "key"],
        ])
    };
    let user = unique_prefix();
    let keys = slot_keys(&user, 11);
    for (call, want) in [
        (adjust("0", ["adjust:k", "d1"]), "ok"),
        (adjust("0", ["adjust:k", "d1"]), "repeat"),
        (adjust("0", ["adjust:k", "d2"]), "reused"),
        (adjust("4", ["", ""]), "stale"),
    ] {
        let got = tag(shared().run_script(&contract::ADJUST, &keys, &args(&call)));
        assert_eq!(got, want, "adjust: {call:?}");
    }
}
