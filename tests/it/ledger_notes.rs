//! A team's ledger entries of its members' commits on slices, moved from the members' slot
//! outboxes in batches (docs/decisions/0130-ledger-notes-moved-in-batches.md): one script
//! appends a batch of notes, each once however many calls carry it at once, and a burst of
//! commits costs a few such scripts rather than one per commit.

use ::redis::Value;
use futures_util::future::join_all;
use quota_gateway::surface::store::contract;
use serde_json::json;

use crate::leases::{leasing, member_of, plans};
use crate::support::redis::{self, shared, slot_keys};
use crate::support::{unique_prefix, TestApp};

/// append_ledger's arguments (retention a day, the ledger kept a day) for notes `notes` of a
/// member's commits, each of 1,000 milli-units of group `pool`.
fn append(notes: std::ops::Range<usize>) -> Vec<String> {
    let mut args: Vec<String> = ["86400000", "", "", "86400000"].map(String::from).into();
    args.push(notes.len().to_string());
    for n in notes {
        let groups = json!([{ "g": "pool", "a": "1000" }]).to_string();
        let fields = json!(["kind", "commit", "note", n.to_string(), "groups", groups]);
        args.extend([format!("ledger:outbox:{n}-0"), fields.to_string()]);
    }
    args
}

/// How many notes one call appended.
fn appended(keys: &[String], args: &[String]) -> i64 {
    match shared().run_script(&contract::APPEND_LEDGER, keys, args) {
        Ok(Value::Array(items)) => match &items[..] {
            [_, Value::Int(n)] => *n,
            other => panic!("append_ledger: {other:?}"),
        },
        other => panic!("append_ledger: {other:?}"),
    }
}

#[test]
fn overlapping_batches_of_notes_from_eight_connections_append_each_note_once() {
    // Eight calls at once, each with 20 of 45 notes, overlapping their neighbours': a script
    // that looked a note up in one step and appended it in another would append some twice.
    let keys = slot_keys(&unique_prefix(), 10);
    let total: i64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let keys = &keys;
                s.spawn(move || appended(keys, &append(t * 5..t * 5 + 20)))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(total, 55);
    // The ledger (KEYS[8]) has each note once, and the day's used rollup (KEYS[9]) counts each
    // once.
    let entries: Vec<(String, Vec<String>)> = shared().query(&["XRANGE", &keys[7], "-", "+"]);
    let mut notes: Vec<usize> = entries
        .iter()
        .map(|(_, kv)| kv[kv.iter().position(|f| f == "note").unwrap() + 1].parse().unwrap())
        .collect();
    notes.sort_unstable();
    assert_eq!(notes, (0..55).collect::<Vec<_>>());
    let rollups: Vec<String> = shared().query(&["HGETALL", &keys[8]]);
    let used: i64 = rollups
        .chunks(2)
        .filter(|kv| kv[0].ends_with("|pool|u"))
        .map(|kv| kv[1].parse::<i64>().unwrap())
        .sum();
    assert_eq!(used, 55_000);
    // A batch sent again appends nothing.
    assert_eq!(appended(&keys, &append(0..55)), 0);
}

/// The node's append_ledger calls so far.
async fn appends(app: &TestApp) -> u64 {
    TestApp::metric(
        &app.metrics().await,
        r#"qg_script_duration_seconds_count{script="append_ledger"}"#,
    )
}

/// `team`'s ledger once it has `n` entries (waited for, at most 10 s: the notes move after the
/// commits answered).
async fn ledger_of(app: &TestApp, team: &str, n: usize) -> Vec<serde_json::Value> {
    let mut entries = Vec::new();
    for _ in 0..200 {
        entries = app.usage_events_all(&format!("userId={team}&limit=1000")).await;
        if entries.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_members_commits_reaches_the_teams_ledger_once_each_in_a_few_scripts() {
    let prefix = unique_prefix();
    let app = leasing(&redis::shared().target(), &prefix, None, 10).await;
    plans(&app, 100_000).await;
    app.subscribe("team_acme", "plan_team", None).await;
    let members: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for m in &members {
        member_of(&app, m, "team_acme").await;
    }
    let before = appends(&app).await;
    let held = join_all((0..200).map(|i| app.reserve(json!({ "userId": members[i % 10], "event": "render" })))).await;
    let ids: Vec<&str> = held.iter().map(|h| h["reservationId"].as_str().unwrap()).collect();
    for (status, body) in join_all(ids.iter().map(|id| app.commit(id, None))).await {
        assert!(status.is_success(), "{status} {body}");
    }
    // Every commit is the team's entry once, naming its member ...
    let team = ledger_of(&app, "team_acme", 200).await;
    assert_eq!(team.len(), 200);
    for m in &members {
        assert_eq!(team.iter().filter(|e| e["memberId"] == json!(m)).count(), 20, "{m}");
    }
    // ... moved by a few scripts at the team's slot, not one per commit.
    let scripts = appends(&app).await - before;
    assert!(
        (1..=100).contains(&scripts),
        "{scripts} append_ledger calls for 200 commits"
    );
    // And no note is left in the members' outboxes.
    let layout = quota_gateway::surface::store::layout::Layout::new(&prefix);
    for m in &members {
        let keys = layout.user("default", m);
        let left: Vec<(String, Vec<String>)> = shared().query(&["XRANGE", keys.outbox(), "-", "+"]);
        assert!(
            !left.iter().any(|(_, kv)| kv.iter().any(|f| f == "ledger")),
            "{m}: {left:?}"
        );
    }
}
