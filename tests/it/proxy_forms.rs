//! Every form the proxy prices is read one way, to its last corner: a field the hold reads may
//! not come after it (nor end after it), a part whose headers name it two ways is refused where
//! the provider would read the other name, a batch file's second `file` part never reaches the
//! provider whole, and a transcription too long for its quota is told to send a shorter file.
//! Against the provider simulator, which reads a form as Python's parsers do.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::proxy_bounds::{form, gateway, plan, post_form, used, wav};
use crate::proxy_jobs::{jsonl, line};
use crate::support::provider::{Provider, PROVIDER_KEY};
use crate::support::TestApp;

/// A refusal's message, after asserting its status and the part it names.
fn refused(status: StatusCode, body: &Value, param: &str) -> String {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
    body["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// What the simulator's uploads came to: no whole audio request is one with no usage.
async fn transcribed_seconds(provider: &Provider) -> Value {
    provider.stats().await["usage"]["audio_seconds"].clone()
}

#[tokio::test]
async fn a_prompt_after_the_file_cuts_the_upload_off_since_its_tokens_are_held() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(6_000, json!({ "metadata": "input_tokens" }), &["openai.transcriptions"]),
    )
    .await;
    // 500 s of audio (4 MB) is 5,000 audio tokens; a prompt of 1,500 words beside it passes the
    // 6,000 left.
    let prompt = "word ".repeat(1_500);
    let before = form(&[
        ("model", None, b"gpt-4o-transcribe"),
        ("prompt", None, prompt.as_bytes()),
        ("file", Some("a.wav"), &wav(500, 500)),
    ]);
    let (status, body) = post_form(&app, "v1/audio/transcriptions", before).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the prompt is held: {body}");
    // After a file large enough to be held on its way, the prompt would reach the provider
    // unheld: it cuts the upload off instead.
    let after = form(&[
        ("model", None, b"gpt-4o-transcribe"),
        ("file", Some("a.wav"), &wav(500, 500)),
        ("prompt", None, prompt.as_bytes()),
    ]);
    let (status, body) = post_form(&app, "v1/audio/transcriptions", after).await;
    let message = refused(status, &body, "prompt");
    assert!(message.contains("before the file"), "{body}");
    let stats = provider.stats().await;
    assert_eq!(stats["usage"]["input_tokens"], json!(0), "no whole request: {stats}");
    let usage = app.usage("alice").await;
    assert_eq!(used(&usage), 0, "{usage}");
    assert_eq!(TestApp::counter(&usage, "g")["reserved"].as_u64(), Some(0), "{usage}");
}

#[tokio::test]
async fn a_priced_field_begun_before_the_hold_and_ended_after_it_cuts_the_upload_off() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(100, json!({ "metadata": "audio_seconds" }), &["openai.transcriptions"]),
    )
    .await;
    // The model and a whole file, then a prompt's first words: enough for the hold.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let mut head = form(&[("model", None, b"whisper-1"), ("file", Some("a.wav"), &wav(1, 1))]);
    head.truncate(head.len() - b"--b0--\r\n".len());
    head.extend(b"--b0\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhello");
    tx.send(Ok(Bytes::from(head))).await.unwrap();
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let sent = app
        .client
        .post(format!("{}/proxy/openai/v1/audio/transcriptions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .header("Content-Type", "multipart/form-data; boundary=b0")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let call = tokio::spawn(sent);
    // Once the call is held, the prompt's last words and the form's end.
    let mut held = false;
    for _ in 0..200 {
        let usage = app.usage("alice").await;
        if TestApp::counter(&usage, "g")["reserved"].as_u64() > Some(0) {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(held, "the call was never held");
    tx.send(Ok(Bytes::from_static(b" world\r\n--b0--\r\n"))).await.unwrap();
    drop(tx);
    let res = call.await.unwrap().unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let message = refused(status, &body, "prompt");
    assert!(message.contains("before the file"), "{body}");
    assert_eq!(transcribed_seconds(&provider).await, json!(0), "no whole request");
    assert_eq!(used(&app.usage("alice").await), 0);
}

/// A video form of a prompt and one part whose headers are `headers`, its value 12.
fn named_two_ways(headers: &str) -> Vec<u8> {
    let mut body = form(&[("prompt", None, b"a cat")]);
    body.truncate(body.len() - b"--b0--\r\n".len());
    body.extend(format!("--b0\r\n{headers}\r\n\r\n12\r\n--b0--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn a_part_named_two_ways_in_its_headers_is_refused_where_the_provider_reads_the_other_name() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(1_000, json!({ "metadata": "video_seconds" }), &["openai.videos"]),
    )
    .await;
    let forms = [
        "Content-Disposition: form-data; name=\"note\"; name=\"seconds\"",
        "Content-Disposition: form-data; name=\"note\"\r\nContent-Disposition: form-data; name=\"seconds\"",
    ];
    // The provider reads the last name: a 12 s video, where a reader of the first would have
    // held the default 4 s.
    let sim = reqwest::Client::new();
    for headers in forms {
        let res = sim
            .post(format!("{}/v1/videos", provider.url()))
            .bearer_auth(PROVIDER_KEY)
            .header("Content-Type", "multipart/form-data; boundary=b0")
            .body(named_two_ways(headers))
            .send()
            .await
            .unwrap();
        let made: Value = res.json().await.unwrap();
        assert_eq!(made["seconds"], "12", "{made}");
    }
    let before = provider.stats().await["paths"]["/v1/videos"].clone();
    for (headers, why) in forms
        .iter()
        .zip(["more than once", "more than one Content-Disposition"])
    {
        let (status, body) = post_form(&app, "v1/videos", named_two_ways(headers)).await;
        let message = refused(status, &body, "note");
        assert!(message.contains(why), "{body}");
    }
    assert_eq!(provider.stats().await["paths"]["/v1/videos"], before);
    assert_eq!(used(&app.usage("alice").await), 0);
}

#[tokio::test]
async fn a_batch_file_whose_file_part_comes_twice_is_refused_and_the_provider_stores_no_file() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(1_000_000, json!({ "metadata": "calls" }), &["openai.batches"]),
    )
    .await;
    // A first file large enough that its bytes go on to the provider before the second part.
    let lines: Vec<Value> = (0..3_000).map(line).collect();
    let first = jsonl(&lines);
    let body = form(&[
        ("purpose", None, b"batch"),
        ("file", Some("a.jsonl"), first.as_bytes()),
        ("file", Some("b.jsonl"), jsonl(&lines[..1]).as_bytes()),
    ]);
    let (status, answer) = post_form(&app, "v1/files", body).await;
    let message = refused(status, &answer, "file");
    assert!(message.contains("twice"), "{answer}");
    let stats = provider.stats().await;
    let uploads = stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/v1/files");
    assert!(uploads.into_iter().all(|r| r["body"].get("file").is_none()), "{stats}");
    let listed = provider.files().await;
    assert!(listed.is_empty(), "{listed:?}");
    let usage = app.usage("alice").await;
    assert_eq!(used(&usage), 0, "{usage}");
    assert_eq!(TestApp::counter(&usage, "g")["reserved"].as_u64(), Some(0), "{usage}");
}

#[tokio::test]
async fn a_transcription_denied_for_its_quota_is_told_to_send_a_shorter_file() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(100, json!({ "metadata": "audio_seconds" }), &["openai.transcriptions"]),
    )
    .await;
    let long = form(&[("model", None, b"whisper-1"), ("file", Some("a.wav"), &wav(200, 200))]);
    let (status, body) = post_form(&app, "v1/audio/transcriptions", long).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("up to 200") && message.contains("send a shorter file"),
        "{body}"
    );
    assert_eq!(provider.stats().await["paths"].get("/v1/audio/transcriptions"), None);
}
