//! Fallback routes through the proxy (the upstreams file's `routes`), against the provider
//! simulator: a target that answers 503 or a context too long gives way to the next, the answer
//! names what served it, the node counts each fallback per route and reason, and the dashboard
//! shows how often each route fell back and what fallbacks spent; the ledger's CSV names each
//! attempt's call and place; a 502 or a time-out keeps its hold, committed `estimated`, and
//! gives way. The official clients' view is the Python suite's
//! (sdk/python/tests/test_proxy_routes.py).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::dashboard::Dashboard;
use crate::support::provider::{upstreams_file, Provider};
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// A gateway whose `smart` on openai tries gpt-4o, then gpt-4o-mini; alice on a plan of tokens.
async fn routed(provider: &Provider) -> TestApp {
    routed_with(provider, json!({})).await
}

/// As `routed`, with `extra` merged into each upstream (its `timeouts`).
async fn routed_with(provider: &Provider, extra: Value) -> TestApp {
    let base = upstreams_file(provider, extra);
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    file["routes"] = json!([{ "upstream": "openai", "model": "smart", "targets": [
        { "upstream": "openai", "model": "gpt-4o" }, { "upstream": "openai", "model": "gpt-4o-mini" } ] }]);
    let path = std::env::temp_dir().join(format!("{}-routes.json", unique_prefix()));
    std::fs::write(&path, file.to_string()).unwrap();
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |config| {
        config.upstreams = Some(path);
    })
    .await;
    app.put_plan(json!({ "id": "plan_routes", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000000, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_routes", None).await;
    app
}

/// The model each call the provider saw asked for, in order.
async fn models_asked(provider: &Provider) -> Vec<Value> {
    provider.stats().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"]["model"].clone())
        .collect()
}

async fn smart(app: &TestApp, sim: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .header("x-sim", sim)
        .json(&json!({ "model": "smart", "max_tokens": 10, "messages": [ { "role": "user", "content": "Say hi" } ] }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_target_that_refuses_before_answering_gives_way_and_each_fallback_is_counted_and_shown() {
    let provider = Provider::start();
    let app = routed(&provider).await;
    for sim in ["status=503@gpt-4o", "context=1@gpt-4o"] {
        let res = smart(&app, sim).await;
        assert_eq!(res.status(), StatusCode::OK, "{sim}");
        assert_eq!(res.headers()["x-quota-served-by"], "openai/gpt-4o-mini", "{sim}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
    }
    // A refusal the next target would meet too ends the call, in the provider's words.
    let bad = smart(&app, "status=400@gpt-4o").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad.headers()["x-quota-served-by"], "openai/gpt-4o");
    let models = models_asked(&provider).await;
    assert_eq!(models, ["gpt-4o", "gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "gpt-4o"]);

    let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for reason in ["status_503", "context_length"] {
        let line = format!("qg_proxy_fallbacks_total{{route=\"openai/smart\",reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }

    // The user's page shows what the fallbacks spent; the overview how often each route fell
    // back and why (counted apart from the call: read until it is there, 10 s at most).
    let usage = app.usage("alice").await;
    let fallback = TestApp::counter(&usage, "tokens")["fallbackUsed"].as_u64().unwrap();
    assert!(fallback > 0, "{usage}");
    let dashboard = Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/users/alice").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("{fallback} by fallbacks")), "{page}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = dashboard.get("/dashboard/overview").await;
        let shown = page.contains("<code>openai/smart</code>")
            && page.contains("the provider answered 503")
            && page.contains("the prompt was too long for the model");
        if shown {
            break;
        }
        assert!(Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rows of a CSV text, its quoted fields unquoted (a quote doubled inside one is one).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// alice's ledger once it has `n` entries that end a hold (commits and releases: a call's
/// commit may follow its answer), read until it does (10 s at most).
async fn ended_holds(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entries: Vec<Value> = app
            .usage_events_all("userId=alice")
            .await
            .into_iter()
            .filter(|e| e["kind"] == "commit" || e["kind"] == "release")
            .collect();
        if entries.len() >= n {
            assert_eq!(entries.len(), n, "{entries:?}");
            return entries;
        }
        assert!(Instant::now() < deadline, "{entries:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A call that fell back (a 503, then an answer) in the CSV export: each attempt's rows name the
/// call they are attempts of (`fallbackOf`, the same for both: the call's id, not a
/// reservation's) and their place (`attempt`, 1 then 2), as their ledger entries do.
#[tokio::test]
async fn the_csv_export_names_each_attempts_call_and_place() {
    let provider = Provider::start();
    let app = routed(&provider).await;
    let res = smart(&app, "status=503@gpt-4o").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-quota-served-by"], "openai/gpt-4o-mini");
    let entries = ended_holds(&app, 2).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["release", "commit"], "{entries:?}");
    let call = entries[0]["metadata"]["fallback_of"].as_str().unwrap().to_string();
    assert!(
        call.strip_prefix("call_")
            .is_some_and(|hex| hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit())),
        "{call}"
    );
    assert_eq!(entries[1]["metadata"]["fallback_of"], call.as_str());
    assert_eq!(entries[1]["metadata"]["fallback_reason"], "status_503");

    let csv = app.usage_events_csv("userId=alice").await;
    let rows = csv_rows(&csv);
    let column = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let (id, kind, event) = (column("id"), column("kind"), column("event"));
    let (fallback_of, attempt) = (column("fallbackOf"), column("attempt"));
    let attempts: Vec<(&str, &str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| {
            (
                r[id].as_str(),
                r[kind].as_str(),
                r[fallback_of].as_str(),
                r[attempt].as_str(),
            )
        })
        .collect();
    // One row per entry and group: the plan has one group.
    let ids = [entries[0]["id"].as_str().unwrap(), entries[1]["id"].as_str().unwrap()];
    assert_eq!(
        attempts,
        [
            (ids[0], "release", call.as_str(), "1"),
            (ids[1], "commit", call.as_str(), "2")
        ],
        "{csv}"
    );
    assert!(rows[1..].iter().all(|r| r[event] == "openai.chat"), "{csv}");
}

/// What a routed call's attempts did, from alice's ledger: per call (by `fallback_of`), per
/// attempt in its order, (kind, usage, provider status, fallback reason, quantity, reserved).
type Attempts = std::collections::BTreeMap<String, Vec<(String, Value, Value, Value, Value, Value)>>;

fn attempts_of(entries: &[Value]) -> Attempts {
    let mut calls = Attempts::new();
    for e in entries {
        let m = &e["metadata"];
        let call = calls.entry(m["fallback_of"].as_str().unwrap().to_string()).or_default();
        assert_eq!(m["attempt"], call.len() + 1, "{e}");
        call.push((
            e["kind"].as_str().unwrap().to_string(),
            m["usage"].clone(),
            m["provider_status"].clone(),
            m["fallback_reason"].clone(),
            e["quantity"].clone(),
            e["reserved"].clone(),
        ));
    }
    calls
}

/// A 502 or a time-out at the first target: the provider may have taken the call and may bill
/// it, so the attempt's hold is kept and committed `estimated` (its whole hold), and the call
/// moves on to the next target, which serves it. A 502 at the last target has no next: it is
/// the call's answer, its hold committed `estimated` too. Nothing is released; what the
/// fallbacks spent counts the estimated attempt after the first.
#[tokio::test]
async fn a_502_or_a_time_out_keeps_its_hold_committed_estimated_and_the_call_moves_on() {
    let provider = Provider::start();
    let app = routed_with(&provider, json!({ "timeouts": { "firstByteMs": 400 } })).await;
    for sim in ["status=502@gpt-4o", "stall=3000@gpt-4o"] {
        let res = smart(&app, sim).await;
        assert_eq!(res.status(), StatusCode::OK, "{sim}");
        assert_eq!(res.headers()["x-quota-served-by"], "openai/gpt-4o-mini", "{sim}");
        // (Each call's attempts settled before the next call: they are in the ledger's order.)
        ended_holds(&app, if sim.starts_with("status") { 2 } else { 4 }).await;
    }
    let last = smart(&app, "status=502").await;
    assert_eq!(last.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(last.headers()["x-quota-served-by"], "openai/gpt-4o-mini");
    let body: Value = last.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "the provider's shape: {body}");

    let entries = ended_holds(&app, 6).await;
    let calls = attempts_of(&entries);
    assert_eq!(calls.len(), 3, "{entries:?}");
    // In the ledger's order: the 502 and the answer, the time-out and the answer, two 502s.
    let mut order: Vec<&str> = Vec::new();
    for e in &entries {
        let call = e["metadata"]["fallback_of"].as_str().unwrap();
        if !order.contains(&call) {
            order.push(call);
        }
    }
    let (estimated, reported) = (json!("estimated"), json!("reported"));
    let commit = String::from("commit");
    let seen: Vec<Vec<(&String, &Value, &Value, &Value)>> = order
        .iter()
        .map(|c| calls[*c].iter().map(|(k, u, s, r, _, _)| (k, u, s, r)).collect())
        .collect();
    assert_eq!(
        seen,
        [
            vec![
                (&commit, &estimated, &json!(502), &Value::Null),
                (&commit, &reported, &json!(200), &json!("status_502"))
            ],
            vec![
                (&commit, &estimated, &Value::Null, &Value::Null),
                (&commit, &reported, &json!(200), &json!("timeout"))
            ],
            vec![
                (&commit, &estimated, &json!(502), &Value::Null),
                (&commit, &estimated, &json!(502), &json!("status_502"))
            ],
        ],
        "{entries:?}"
    );
    // An estimated commit counts the whole hold.
    for (_, usage, _, _, quantity, reserved) in calls.values().flatten() {
        if *usage == estimated {
            assert_eq!(quantity, reserved, "{entries:?}");
        }
    }
    let models = models_asked(&provider).await;
    assert_eq!(
        models,
        [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-4o-mini"
        ]
    );
    let usage = app.usage("alice").await;
    let tokens = TestApp::counter(&usage, "tokens");
    let after_first: u64 = calls.values().map(|c| c[1].4.as_u64().unwrap()).sum();
    assert_eq!(tokens["fallbackUsed"], after_first, "{usage}");
    let all: u64 = calls.values().flatten().map(|a| a.4.as_u64().unwrap()).sum();
    assert_eq!(
        (tokens["used"].as_u64(), tokens["reserved"].as_u64()),
        (Some(all), Some(0)),
        "{usage}"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        TestApp::metric(
            &metrics,
            "qg_proxy_fallbacks_total{route=\"openai/smart\",reason=\"status_502\"}"
        ),
        2,
        "two 502s gave way, the last to nothing and uncounted: {metrics}"
    );
    assert_eq!(
        TestApp::metric(
            &metrics,
            "qg_proxy_fallbacks_total{route=\"openai/smart\",reason=\"timeout\"}"
        ),
        1
    );
}
