//! A burst of proxied calls at once: each call's Redis commands queue behind the others' on a
//! busy machine, and queueing is not Redis being away, so every call is answered (never 503
//! `backend_unavailable`) while Redis keeps answering. Here at the suite's command timeout;
//! `faults::burst` runs the same burst alone at the node's default, on both topologies.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::provider::{gateway_on, Provider};
use crate::support::redis::{self, Target};

/// Two hundred proxied calls of one user at once, on a node given one worker thread (as a node
/// given one core: every call's commands share one connection and one thread), with
/// `command_timeout_ms` when given. Asserts every call was answered 200 and reached the
/// provider once.
pub(crate) async fn two_hundred_at_once(target: &Target, command_timeout_ms: Option<u64>) {
    let provider = Provider::start();
    let app = gateway_on(target, &provider, json!({}), |c| {
        c.workers = 1;
        if let Some(ms) = command_timeout_ms {
            c.command_timeout_ms = ms;
        }
    })
    .await;
    app.put_plan(json!({ "id": "plan_burst", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 100000000, "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("burst", "plan_burst", None).await;
    let calls = (0..200).map(|_| {
        let app = &app;
        async move {
            let body = json!({ "model": "gpt-4o-mini", "max_tokens": 10,
                "messages": [ { "role": "user", "content": "Say hello to the world in five words" } ] });
            let res = app
                .client
                .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
                .bearer_auth(&app.key)
                .header("X-Quota-User", "burst")
                .header("x-sim", "output=10")
                .timeout(std::time::Duration::from_secs(60))
                .json(&body)
                .send()
                .await
                .expect("an answer within a minute");
            let status = res.status();
            (status, res.text().await.unwrap_or_default())
        }
    });
    let answers = join_all(calls).await;
    let unavailable: Vec<&(StatusCode, String)> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        unavailable.is_empty(),
        "{} answered 503: {:?}",
        unavailable.len(),
        unavailable.first()
    );
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK), "{answers:?}");
    assert_eq!(provider.calls().await, 200);
}

#[tokio::test]
async fn two_hundred_parallel_proxied_calls_with_room_for_all_answer_none_503() {
    two_hundred_at_once(&redis::shared().target(), None).await;
}
