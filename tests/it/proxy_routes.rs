//! Fallback routes through the proxy (the upstreams file's `routes`), against the provider
//! simulator: a target that answers 503 or a context too long gives way to the next, the answer
//! names what served it, the node counts each fallback per route and reason, and the dashboard
//! shows how often each route fell back and what fallbacks spent. The official clients' view is
//! the Python suite's (sdk/python/tests/test_proxy_routes.py).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::dashboard::Dashboard;
use crate::support::provider::{upstreams_file, Provider};
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// A gateway whose `smart` on openai tries gpt-4o, then gpt-4o-mini; alice on a plan of tokens.
async fn routed(provider: &Provider) -> TestApp {
    let base = upstreams_file(provider, json!({}));
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
    let models: Vec<Value> = provider.stats().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"]["model"].clone())
        .collect();
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
