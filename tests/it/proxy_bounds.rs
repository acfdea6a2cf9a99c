//! The hold bounds what the provider may do: a form read one way only (a part named twice
//! refused, a part arriving after the hold cut off before the provider has a whole request),
//! audio held at what its bytes can carry, the maximum output a call was held at forwarded with
//! it, and an input the provider stores held at its size as the provider reads it. Against the
//! provider simulator, which records what it was sent.

use futures::future::join_all;
use quota_gateway::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{Provider, PROVIDER_KEY};
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// A gateway whose `openai` and `gemini` upstreams are `provider`, with `plan` for alice.
pub(crate) async fn gateway(provider: &Provider, plan: Value) -> TestApp {
    gateway_with(provider, plan, |_| {}).await
}

/// As `gateway`, its settings then `adjust`ed.
async fn gateway_with(provider: &Provider, plan: Value, adjust: impl FnOnce(&mut Config)) -> TestApp {
    std::env::set_var("QG_TEST_BOUNDS_KEY", PROVIDER_KEY);
    let upstreams = json!({ "upstreams": [
        { "name": "openai", "kind": "openai", "baseUrl": provider.url(), "credentialEnv": "QG_TEST_BOUNDS_KEY",
          "forwardHeaders": ["x-sim"] },
        { "name": "gemini", "kind": "gemini", "baseUrl": provider.url(), "credentialEnv": "QG_TEST_BOUNDS_KEY",
          "forwardHeaders": ["x-sim"] } ] });
    let file = std::env::temp_dir().join(format!("{}-bounds-upstreams.json", unique_prefix()));
    std::fs::write(&file, upstreams.to_string()).unwrap();
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |config| {
        config.upstreams = Some(file);
        config.command_timeout_ms = 5_000;
        adjust(config);
    })
    .await;
    app.put_plan(plan).await;
    app.subscribe("alice", "plan_bounds", None).await;
    app
}

/// One group of `quota` measuring `measure` over `events`.
pub(crate) fn plan(quota: u64, measure: Value, events: &[&str]) -> Value {
    let matches: Vec<Value> = events.iter().map(|e| json!({ "event": e })).collect();
    json!({ "id": "plan_bounds", "periodType": "month", "groups": [
        { "id": "g", "unit": "count", "quota": quota, "measure": measure, "matches": matches } ] })
}

/// A multipart body with the boundary `b0` of `parts` (name, filename, bytes).
pub(crate) fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, value) in parts {
        body.extend(b"--b0\r\n");
        let file = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        body.extend(format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").as_bytes());
        body.extend(*value);
        body.extend(b"\r\n");
    }
    body.extend(b"--b0--\r\n");
    body
}

/// A WAV of 8 kHz 8-bit mono (8,000 bytes a second) whose header claims `claimed` seconds,
/// carrying `seconds` of data.
pub(crate) fn wav(claimed: u32, seconds: u32) -> Vec<u8> {
    let mut file = b"RIFF".to_vec();
    file.extend(&(36 + claimed * 8_000).to_le_bytes());
    file.extend(b"WAVEfmt ");
    file.extend(&16u32.to_le_bytes());
    file.extend(&[1, 0, 1, 0]);
    file.extend(&8_000u32.to_le_bytes());
    file.extend(&8_000u32.to_le_bytes());
    file.extend(&[1, 0, 8, 0]);
    file.extend(b"data");
    file.extend(&(claimed * 8_000).to_le_bytes());
    file.resize(file.len() + (seconds * 8_000) as usize, 0x80);
    file
}

pub(crate) async fn post_form(app: &TestApp, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/proxy/openai/{path}", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .header("Content-Type", "multipart/form-data; boundary=b0")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn post_json(app: &TestApp, path: &str, body: Value, sim: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/proxy/{path}", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .header("x-sim", sim)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The paths the simulator was asked for, with how often.
pub(crate) async fn asked(provider: &Provider) -> Value {
    provider.stats().await["paths"].clone()
}

/// The last request the simulator read of `path`.
async fn last_request(provider: &Provider, path: &str) -> Value {
    let stats = provider.stats().await;
    let requests = stats["requests"].as_array().unwrap();
    requests
        .iter()
        .rev()
        .find(|r| r["path"] == path)
        .cloned()
        .unwrap_or(Value::Null)
}

pub(crate) fn used(usage: &Value) -> u64 {
    TestApp::counter(usage, "g")["used"].as_u64().unwrap()
}

#[tokio::test]
async fn a_form_naming_a_part_twice_is_refused_naming_it_and_the_provider_never_has_it_whole() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(
            1_000_000,
            json!({ "metadata": "calls" }),
            &["openai.videos", "openai.transcriptions"],
        ),
    )
    .await;
    // A video whose model, seconds and size each come twice: the provider's parser reads the
    // last, so the gateway reads neither.
    let video = form(&[
        ("model", None, b"sora-2"),
        ("prompt", None, b"a cat"),
        ("seconds", None, b"4"),
        ("model", None, b"sora-2-pro"),
        ("seconds", None, b"12"),
    ]);
    let (status, body) = post_form(&app, "v1/videos", video).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("model") && message.contains("twice"), "{body}");
    // Audio with a second file part: the first file's end is read, the call held, and the
    // second part cuts the upload off on its way, naming the part.
    let audio = form(&[
        ("model", None, b"whisper-1"),
        ("file", Some("a.wav"), &wav(1, 1)),
        ("file", Some("b.wav"), &wav(600, 2)),
    ]);
    let (status, body) = post_form(&app, "v1/audio/transcriptions", audio).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("twice"), "{body}");
    assert_eq!(body["error"]["param"], "file", "{body}");
    let stats = provider.stats().await;
    assert_eq!(stats["usage"]["audio_seconds"], json!(0), "no whole request: {stats}");
    assert_eq!(stats["paths"].get("/v1/videos"), None, "{stats}");
    assert_eq!(used(&app.usage("alice").await), 0);
}

#[tokio::test]
async fn a_second_file_part_after_the_hold_cuts_the_upload_off_and_nothing_is_charged() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(
            10_000,
            json!({ "metadata": "audio_seconds" }),
            &["openai.transcriptions"],
        ),
    )
    .await;
    // 500 s of audio (4 MB): the hold is made after its first bytes, the rest read on the way.
    let audio = form(&[
        ("model", None, b"whisper-1"),
        ("file", Some("a.wav"), &wav(500, 500)),
        ("file", Some("b.wav"), &wav(600, 600)),
    ]);
    let (status, body) = post_form(&app, "v1/audio/transcriptions", audio).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("file") && message.contains("twice"), "{body}");
    let stats = provider.stats().await;
    assert_eq!(stats["usage"]["audio_seconds"], json!(0), "no whole request: {stats}");
    let usage = app.usage("alice").await;
    assert_eq!(used(&usage), 0, "{usage}");
    assert_eq!(TestApp::counter(&usage, "g")["reserved"].as_u64(), Some(0), "{usage}");
    // A part the hold was priced from (whether the answer streams), after it, is cut off the
    // same way.
    let late = form(&[
        ("model", None, b"whisper-1"),
        ("file", Some("a.wav"), &wav(500, 500)),
        ("stream", None, b"true"),
    ]);
    let (status, body) = post_form(&app, "v1/audio/transcriptions", late).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("stream") && message.contains("before the file"),
        "{body}"
    );
    let stats = provider.stats().await;
    assert_eq!(stats["usage"]["audio_seconds"], json!(0), "no whole request: {stats}");
    assert_eq!(used(&app.usage("alice").await), 0);
}

#[tokio::test]
async fn audio_is_held_at_what_its_bytes_carry_whatever_its_header_claims() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(100, json!({ "metadata": "audio_seconds" }), &["openai.translations"]),
    )
    .await;
    // A header claiming 1 s over 600 s of data: held at 600 s, past a quota of 100.
    let lying = form(&[("model", None, b"whisper-1"), ("file", Some("a.wav"), &wav(1, 600))]);
    let (status, body) = post_form(&app, "v1/audio/translations", lying).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // An honest 50 s file fits.
    let honest = form(&[("model", None, b"whisper-1"), ("file", Some("a.wav"), &wav(50, 50))]);
    let (status, body) = post_form(&app, "v1/audio/translations", honest).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(asked(&provider).await["/v1/audio/translations"], json!(1));
    // Its translation reports no duration: settled at the 50 s read of all its data.
    assert_eq!(used(&app.usage("alice").await), 50);
}

#[tokio::test]
async fn a_call_naming_no_maximum_carries_the_one_it_was_held_at_so_no_quota_is_passed() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(
            100_000,
            json!({ "metadata": "output_tokens" }),
            &["openai.chat", "openai.responses", "gemini.generate"],
        ),
    )
    .await;
    let messages = json!([{ "role": "user", "content": "write a long story" }]);
    // gpt-5's output limit (128,000) is past the quota: clamped to what is left, and told so.
    let (status, body) = post_json(
        &app,
        "openai/v1/chat/completions",
        json!({ "model": "gpt-5", "messages": messages }),
        "output=200000",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = last_request(&provider, "/v1/chat/completions").await;
    assert_eq!(sent["body"]["max_completion_tokens"], json!(100_000), "{sent}");
    assert_eq!(used(&app.usage("alice").await), 100_000);
    // Four parallel calls on a fresh user: together they never pass the quota.
    app.subscribe("bob", "plan_bounds", None).await;
    let calls = (0..4).map(|i| {
        let app = &app;
        let (path, body) = match i % 3 {
            0 => (
                "openai/v1/chat/completions",
                json!({ "model": "gpt-5", "messages": [{ "role": "user", "content": "go" }] }),
            ),
            1 => ("openai/v1/responses", json!({ "model": "gpt-5", "input": "go" })),
            _ => (
                "gemini/v1beta/models/gemini-2.5-flash:generateContent",
                json!({ "contents": [{ "role": "user", "parts": [{ "text": "go" }] }] }),
            ),
        };
        async move {
            let res = app
                .client
                .post(format!("{}/proxy/{path}", app.address))
                .bearer_auth(&app.key)
                .header("X-Quota-User", "bob")
                .header("x-sim", "output=200000")
                .json(&body)
                .send()
                .await
                .unwrap();
            res.status()
        }
    });
    let statuses = join_all(calls).await;
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    let stats = provider.stats().await;
    let reported = stats["usage"]["output_tokens"].as_u64().unwrap();
    assert!(
        reported <= 200_000,
        "the provider made {reported} for two quotas of 100,000"
    );
    assert!(used(&app.usage("bob").await) <= 100_000);
    // Gemini's maximum goes where Google's API reads it: its output limit, within the quota.
    app.subscribe("dave", "plan_bounds", None).await;
    let res = app
        .client
        .post(format!(
            "{}/proxy/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            app.address
        ))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "dave")
        .json(&json!({ "contents": [{ "role": "user", "parts": [{ "text": "go" }] }], "generationConfig": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let sent = last_request(&provider, "/v1beta/models/gemini-2.5-flash:generateContent").await;
    assert_eq!(
        sent["body"]["generationConfig"]["maxOutputTokens"],
        json!(65_536),
        "{sent}"
    );
}

#[tokio::test]
async fn an_input_the_provider_stores_is_held_at_its_size_as_the_provider_reads_it() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(
            100_000,
            json!({ "metadata": "input_tokens" }),
            &["openai.responses", "gemini.generate"],
        ),
    )
    .await;
    // Caches and stored responses are made through the gateway, by the user who names them
    // (the plan counts neither a cache's making nor anything but the input tokens).
    let cache = |tokens: u64| {
        let made = json!({ "model": "models/gemini-2.5-flash", "contents": [{ "role": "user", "parts": [{ "text": "a document" }] }] });
        let app = &app;
        async move {
            let (status, body) = post_json(app, "gemini/v1beta/cachedContents", made, &format!("input={tokens}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["name"].as_str().unwrap().to_string()
        }
    };
    let generate = |name: String| {
        json!({ "cachedContent": name, "contents": [{ "role": "user", "parts": [{ "text": "go" }] }],
                "generationConfig": { "maxOutputTokens": 100 } })
    };
    let path = "gemini/v1beta/models/gemini-2.5-flash:generateContent";
    // A cache of 900,000 tokens is held at them: past a quota of 100,000.
    let (status, body) = post_json(&app, path, generate(cache(900_000).await), "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // A cache of 1,000 is held at them, not at the model's context window (1,048,576).
    let (status, body) = post_json(&app, path, generate(cache(1_000).await), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A stored response continued: held at its conversation's size.
    let stored = |input: u64| {
        let made = json!({ "model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 10 });
        let app = &app;
        async move {
            let (status, body) = post_json(app, "openai/v1/responses", made, &format!("input={input},output=10")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["id"].as_str().unwrap().to_string()
        }
    };
    let continued = |id: String| json!({ "model": "gpt-4o-mini", "previous_response_id": id, "input": "and?", "max_output_tokens": 10 });
    let (status, body) = post_json(&app, "openai/v1/responses", continued(stored(5_000).await), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // One whose size cannot be read (deleted at the provider since) is held at the model's
    // context window (128,000 for gpt-4o-mini): past what is left of the quota, so refused
    // before the provider is asked.
    let gone = stored(10).await;
    let deleted = reqwest::Client::new()
        .delete(format!("{}/v1/responses/{gone}", provider.url()))
        .bearer_auth(PROVIDER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let (status, body) = post_json(&app, "openai/v1/responses", continued(gone), "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // One the gateway never saw made is nobody's to continue: 400, naming the field.
    let (status, body) = post_json(&app, "openai/v1/responses", continued("resp_unknown".into()), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], "previous_response_id", "{body}");
    // The two stored responses and the continuation that fit.
    assert_eq!(asked(&provider).await["/v1/responses"], json!(3));
}

/// Opens a connection that sends a chat call's head declaring `declared` bytes and then
/// `sent` bytes of its body, and no more.
async fn stalled(app: &TestApp, user: &str, declared: usize, sent: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /proxy/openai/v1/chat/completions HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         X-Quota-User: {user}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n",
        app.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.to_vec();
    body.resize(sent, b'a');
    stream.write_all(&body).await.unwrap();
    stream
}

/// The status line of the answer a connection gets, within `seconds`.
async fn status_line(stream: &mut tokio::net::TcpStream, seconds: u64) -> String {
    answer_head(stream, seconds)
        .await
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// The head of the answer a connection gets (lowercased), within `seconds`; empty if none.
async fn answer_head(stream: &mut tokio::net::TcpStream, seconds: u64) -> String {
    use tokio::io::AsyncReadExt;
    let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

#[tokio::test]
async fn bodies_that_stall_before_their_hold_pin_a_share_of_the_node_for_a_while_and_others_still_call() {
    let provider = Provider::start();
    let calls = plan(1_000_000, json!({ "metadata": "calls" }), &["openai.chat"]);
    let app = gateway_with(&provider, calls, |config| {
        config.proxy_max_body_bytes = 1 << 20;
        // A quarter of 4 MiB for one user: one stalled megabyte body, not two.
        config.proxy_read_budget_bytes = 4 << 20;
        // Long enough for another user's calls and a third body while the first stalls.
        config.proxy_read_idle_seconds = 5;
    })
    .await;
    app.subscribe("mallory", "plan_bounds", None).await;
    let mut first = stalled(&app, "mallory", 1 << 20, 900 << 10).await;
    // Let the node read the first body before the second begins.
    let _ = status_line(&mut first, 1).await;
    let mut second = stalled(&app, "mallory", 1 << 20, 900 << 10).await;
    let head = answer_head(&mut second, 10).await;
    assert!(head.starts_with("http/1.1 503"), "past the user's share: {head}");
    assert!(head.contains("retry-after: 1\r\n"), "retried shortly: {head}");
    // Another user's calls are all answered while the first body holds mallory's share.
    let chat = json!({ "model": "gpt-4o-mini", "max_tokens": 5, "messages": [{ "role": "user", "content": "hi" }] });
    let answered = join_all((0..5).map(|_| post_json(&app, "openai/v1/chat/completions", chat.clone(), ""))).await;
    let ok = answered.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    assert_eq!(ok, 5, "{answered:?}");
    // ... and were answered while it held it: mallory is still refused after them.
    let mut third = stalled(&app, "mallory", 1 << 20, 900 << 10).await;
    let head = answer_head(&mut third, 10).await;
    assert!(head.starts_with("http/1.1 503"), "still past the user's share: {head}");
    // The stalled body is refused once it has been quiet for the idle time, and its share
    // comes back.
    assert!(status_line(&mut first, 30).await.contains("408"));
    let mut again = stalled(&app, "mallory", 1 << 20, 900 << 10).await;
    let line = status_line(&mut again, 1).await;
    assert!(!line.contains("503"), "{line}");
}

#[tokio::test]
async fn a_body_that_trickles_a_byte_at_a_time_is_refused_once_past_its_pace_though_never_quiet() {
    use tokio::io::AsyncWriteExt;
    let provider = Provider::start();
    let calls = plan(1_000_000, json!({ "metadata": "calls" }), &["openai.chat"]);
    let app = gateway_with(&provider, calls, |config| config.proxy_read_idle_seconds = 2).await;
    app.subscribe("mallory", "plan_bounds", None).await;
    // A byte every half second: never quiet for the idle time, far below the least pace.
    let mut stream = stalled(&app, "mallory", 4 << 10, 64).await;
    let started = std::time::Instant::now();
    let head = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "still read after 20 s"
        );
        if stream.write_all(b"a").await.is_err() {
            break answer_head(&mut stream, 5).await;
        }
        let head = answer_head(&mut stream, 0).await;
        if !head.is_empty() {
            break head;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(head.starts_with("http/1.1 408"), "{head}");
    // Refused at its pace's end: the idle time and a second for each KiB received.
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(1_500),
        "refused after {took:?}"
    );
    assert_eq!(
        asked(&provider).await.get("/v1/chat/completions"),
        None,
        "nothing forwarded"
    );
}
