//! Speech answered as audio bytes (the official client's default), which reports no usage,
//! against the provider simulator (one 417-byte MP3 frame, 26 ms, a character of input): settled
//! at what was delivered, its characters and input tokens as sent and its audio output tokens
//! from the audio's length, marked `estimated`; an answer cut before its end at its hold.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{gateway_for, Provider};
use crate::support::TestApp;

/// Cents at the catalog's prices: gpt-4o-mini-tts's $12 a million output tokens.
fn plan() -> Value {
    json!({ "id": "plan_speech", "periodType": "month", "groups": [
        { "id": "cents", "unit": "cents", "quota": 100, "measure": { "price": "catalog" },
          "matches": [ { "event": "openai.speech" } ] } ] })
}

async fn speak(app: &TestApp, input: &str, sim: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/proxy/openai/v1/audio/speech", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "sam")
        .header("x-sim", sim)
        .json(&json!({ "model": "gpt-4o-mini-tts", "voice": "alloy", "input": input }))
        .send()
        .await
        .unwrap()
}

/// The user's commits, once there are `count` (a commit follows its answer's end).
async fn commits(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let entries: Vec<Value> = app
            .usage_events_all("userId=sam")
            .await
            .into_iter()
            .filter(|e| e["kind"] == "commit")
            .collect();
        if entries.len() >= count {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} commits");
}

#[tokio::test]
async fn speech_answered_as_bytes_settles_at_the_audio_delivered_and_a_cut_answer_at_its_hold() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan()).await;
    app.subscribe("sam", "plan_speech", None).await;
    let input = "hello there";
    let res = speak(&app, input, "").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    let audio = res.bytes().await.unwrap();
    assert_eq!(audio.len(), 417 * input.len());
    let [whole] = &commits(&app, 1).await[..] else {
        panic!("one commit")
    };
    let meta = &whole["metadata"];
    // 4,587 bytes at 128 kbit/s: 287 ms, at 1,250 tokens a minute.
    let tokens = (287u64 * 1250).div_ceil(60_000);
    assert_eq!(
        (&meta["usage"], &meta["output_tokens"], &meta["audio_output_tokens"]),
        (&json!("estimated"), &json!(tokens), &json!(tokens)),
        "{whole}"
    );
    assert_eq!(meta["input_characters"], json!(input.len()));
    assert!(meta["input_tokens"].as_u64().unwrap() > 0, "{whole}");
    // Its hold was the model's 4,000 output tokens, 4.8 cents; what was delivered, under a
    // hundredth of a cent.
    let used = || async {
        TestApp::counter(&app.usage("sam").await, "cents")["used"]
            .as_f64()
            .unwrap()
    };
    let charged = used().await;
    assert!(charged > 0.0 && charged < 0.01, "{charged}");

    // Cut halfway: what reached the caller is not the audio's length, so its hold's output.
    let res = speak(&app, input, "cut=1").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.is_err(), "the answer broke off");
    let both = commits(&app, 2).await;
    let cut = both.iter().find(|e| *e != whole).unwrap();
    assert_eq!(
        (&cut["metadata"]["usage"], &cut["metadata"]["output_tokens"]),
        (&json!("estimated"), &json!(4000)),
        "{cut}"
    );
    assert!(used().await - charged >= 4.8);
}
