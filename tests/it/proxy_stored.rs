//! A Responses call naming context the provider keeps and no read can size (a `conversation`, a
//! stored `prompt`) is held at the model's context window: a quota smaller than the window
//! denies it before the provider hears of it, and the denial's ledger entry shows the hold.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::proxy_bounds::{asked, gateway, plan, post_json};
use crate::support::provider::Provider;

/// gpt-4o-mini's context window, as the catalog has it.
const WINDOW: u64 = 128_000;

#[tokio::test]
async fn a_conversation_or_stored_prompt_is_held_at_the_context_window_and_denied_under_it_unasked() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(100_000, json!({ "metadata": "input_tokens" }), &["openai.responses"]),
    )
    .await;
    // A stored response of the user's own, made through the gateway.
    let (status, made) = post_json(
        &app,
        "openai/v1/responses",
        json!({ "model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 10 }),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let asked_before = asked(&provider).await;
    let calls = [
        json!({ "model": "gpt-4o-mini", "conversation": "conv_68a1", "input": "and?", "max_output_tokens": 10 }),
        json!({ "model": "gpt-4o-mini", "conversation": { "id": "conv_68a1" }, "input": "and?", "max_output_tokens": 10 }),
        json!({ "model": "gpt-4o-mini", "prompt": { "id": "pmpt_68a1", "version": "2" }, "max_output_tokens": 10 }),
        // Beside a conversation, a stored response is not read either: the conversation's
        // size is unknown whatever the response's.
        json!({ "model": "gpt-4o-mini", "conversation": "conv_68a1", "previous_response_id": made["id"],
                "input": "and?", "max_output_tokens": 10 }),
    ];
    for call in &calls {
        let (status, body) = post_json(&app, "openai/v1/responses", call.clone(), "").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{call}: {body}");
    }
    assert_eq!(asked(&provider).await, asked_before, "the provider was never asked");
    let denied: Vec<Value> = app
        .usage_events_all("userId=alice&limit=100")
        .await
        .into_iter()
        .filter(|e| e["kind"] == "denied")
        .collect();
    assert_eq!(denied.len(), calls.len(), "{denied:?}");
    for entry in &denied {
        // The window, and the few tokens the body itself carries.
        let held = entry["metadata"]["input_tokens"].as_u64().unwrap_or(0);
        assert!((WINDOW..WINDOW + 100).contains(&held), "{entry}");
    }
}
