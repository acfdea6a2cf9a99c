//! Gemini through the proxy, against the simulator speaking Google's API: Google names no
//! request id in a header, so a call's ledger entry keeps its answer's `responseId` as the
//! provider's request id, whether the answer came whole, as server-sent events or as one JSON
//! array.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{gateway_for, Provider, PROVIDER_KEY};
use crate::support::{unique_prefix, TestApp};

const FLASH: &str = "gemini-2.5-flash";

/// A gateway whose `gemini` upstream is the simulator, `x-sim` forwarded to steer it.
async fn gateway(provider: &Provider) -> TestApp {
    let file = std::env::temp_dir().join(format!("{}-gemini-upstreams.json", unique_prefix()));
    let upstreams = json!({ "upstreams": [
        { "name": "gemini", "kind": "gemini", "baseUrl": provider.url(),
          "credentialEnv": "QG_TEST_PROVIDER_KEY", "forwardHeaders": ["x-sim"] } ] });
    std::fs::write(&file, upstreams.to_string()).unwrap();
    // (gateway_for sets the key's variable before any gateway starts.)
    let app = gateway_for(provider, json!({}), |c| c.upstreams = Some(file)).await;
    app.put_plan(json!({ "id": "plan_gemini", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000000, "matches": [ { "event": "gemini.generate" } ] } ] }))
        .await;
    app.subscribe("gina", "plan_gemini", None).await;
    app
}

/// A call as Google's client sends it, the project's key in `x-goog-api-key`; `verb` is
/// `generateContent` or `streamGenerateContent`, `query` its query (`alt=sse`, or none).
async fn generate(app: &TestApp, verb: &str, query: &str) -> reqwest::Response {
    let body = json!({ "contents": [ { "role": "user", "parts": [ { "text": "Say hello to the quota gateway" } ] } ],
        "generationConfig": { "maxOutputTokens": 50 } });
    app.client
        .post(format!(
            "{}/proxy/gemini/v1beta/models/{FLASH}:{verb}?{query}",
            app.address
        ))
        .header("x-goog-api-key", &app.key)
        .header("X-Quota-User", "gina")
        .header("x-sim", "output=4")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `provider_request_id` of the user's commit entries, oldest first, once all `n` are in.
async fn recorded_ids(app: &TestApp, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let entries = app.usage_events_all("userId=gina").await;
        let commits: Vec<Value> = entries
            .iter()
            .filter(|e| e["kind"] == "commit")
            .map(|e| e["metadata"]["provider_request_id"].clone())
            .collect();
        if commits.len() == n {
            return commits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} commits were not recorded");
}

#[tokio::test]
async fn a_gemini_calls_entry_keeps_its_answers_response_id_whole_streamed_or_as_an_array() {
    let provider = Provider::start();
    let app = gateway(&provider).await;

    let whole = generate(&app, "generateContent", "").await;
    assert_eq!(whole.status(), StatusCode::OK);
    // Google names no request id in a header, so the gateway passes none on.
    assert!(
        whole.headers().get("x-upstream-request-id").is_none(),
        "{:?}",
        whole.headers()
    );
    let whole: Value = whole.json().await.unwrap();
    let whole_id = whole["responseId"]
        .as_str()
        .expect("the answer's responseId")
        .to_string();
    assert_eq!(recorded_ids(&app, 1).await, [json!(whole_id)]);

    // Server-sent events: every event names the answer; the entry keeps it.
    let sse = generate(&app, "streamGenerateContent", "alt=sse").await;
    assert_eq!(sse.status(), StatusCode::OK);
    let text = sse.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(events.len() > 1, "{text}");
    let sse_id = events[0]["responseId"]
        .as_str()
        .expect("each event's responseId")
        .to_string();
    assert!(events.iter().all(|e| e["responseId"] == json!(sse_id)), "{text}");

    // One JSON array, relayed element by element.
    let array = generate(&app, "streamGenerateContent", "").await;
    assert_eq!(array.status(), StatusCode::OK);
    let array: Vec<Value> = array.json().await.unwrap();
    let array_id = array[0]["responseId"]
        .as_str()
        .expect("each element's responseId")
        .to_string();

    assert_ne!(whole_id, sse_id);
    assert_eq!(
        recorded_ids(&app, 3).await,
        [json!(whole_id), json!(sse_id), json!(array_id)]
    );
    // The provider saw its own key.
    let stats = provider.stats().await;
    assert_eq!(stats["requests"][0]["headers"]["x-goog-api-key"], PROVIDER_KEY);
}
