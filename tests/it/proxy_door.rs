//! The proxy's door under attack: one provider call per Idempotency-Key on any number of nodes,
//! the body forwarded byte for byte, headers by an allow-list, paths normalized before the
//! allow-list reads them, the provider's request id kept, and answers a newcomer understands.
//! Against the provider simulator, which records each call's raw body.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{upstreams_file, Provider};
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// Output tokens per user, and all tokens.
fn plan(output: u64) -> Value {
    json!({ "id": "plan_door", "periodType": "month", "groups": [
        { "id": "output", "unit": "tokens", "quota": output, "measure": { "metadata": "output_tokens" },
          "matches": [ { "event": "openai.chat" }, { "event": "anthropic.messages" } ] },
        { "id": "tokens", "unit": "tokens", "quota": 100000000,
          "matches": [ { "event": "openai.chat" }, { "event": "anthropic.messages" } ] } ] })
}

/// Two nodes on one Redis and one project, both forwarding to `provider`.
async fn two_nodes(provider: &Provider, output: u64) -> (TestApp, TestApp) {
    let file = upstreams_file(provider, json!({}));
    let prefix = unique_prefix();
    let target = redis::shared().target();
    let with = |config: &mut quota_gateway::config::Config| {
        config.upstreams = Some(file.clone());
        // Forty calls at once queue for Redis on a loaded machine: the count is tested, not latency.
        config.command_timeout_ms = 5_000;
    };
    let one = spawn_app_with(&target, &prefix, None, with).await;
    let two = spawn_app_with(&target, &prefix, Some(&one.key), with).await;
    one.put_plan(plan(output)).await;
    one.subscribe("alice", "plan_door", None).await;
    (one, two)
}

fn chat(app: &TestApp, body: &str, sim: &str) -> reqwest::RequestBuilder {
    chat_as(app, "alice", body, sim)
}

fn chat_as(app: &TestApp, user: &str, body: &str, sim: &str) -> reqwest::RequestBuilder {
    app.client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", user)
        .header("x-sim", sim)
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

async fn code_of(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn parallel_calls_sharing_an_idempotency_key_reach_the_provider_once_on_two_nodes() {
    let provider = Provider::start();
    let (one, two) = two_nodes(&provider, 100).await;
    for stream in [false, true] {
        let key = format!("same-key-{stream}");
        let body = json!({ "model": "gpt-4o-mini", "max_tokens": 10, "stream": stream,
                           "messages": [ { "role": "user", "content": "hi" } ] })
        .to_string();
        let calls = (0..40).map(|i| {
            let (app, key, body) = (if i % 2 == 0 { &one } else { &two }, key.clone(), body.clone());
            async move {
                // The first answer is slow, so every other call arrives while it is in flight.
                let res = chat(app, &body, "output=10,stall=400")
                    .header("Idempotency-Key", key)
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                let retry = res.headers().get("x-should-retry").cloned();
                let (_, code) = code_of(res).await;
                (status, code, retry)
            }
        });
        let answers = join_all(calls).await;
        let ok = answers.iter().filter(|(s, ..)| *s == StatusCode::OK).count();
        assert_eq!(ok, 1, "stream {stream}: {answers:?}");
        for (status, code, retry) in answers.iter().filter(|(s, ..)| *s != StatusCode::OK) {
            assert_eq!(*status, StatusCode::CONFLICT, "{answers:?}");
            assert!(
                code == "idempotency_key_in_flight" || code == "idempotency_key_settled",
                "{code}"
            );
            // The SDKs retry a 409 unless told not to: the repeat is final.
            assert_eq!(retry.as_ref().map(|v| v.to_str().unwrap()), Some("false"));
        }
        assert!(
            answers.iter().any(|(_, code, _)| code == "idempotency_key_in_flight"),
            "{answers:?}"
        );
    }
    let stats = provider.stats().await;
    assert_eq!(stats["calls"], 2, "one call per key reached the provider");
    // What the provider billed is what the user was charged.
    let billed = stats["usage"]["output_tokens"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let usage = one.usage("alice").await;
        let output = TestApp::counter(&usage, "output");
        if output["used"] == billed && output["reserved"] == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{output}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A key whose call the provider refused (its hold released: the provider made nothing) makes
/// the next try, once between concurrent repeats; a key whose call was charged makes none.
#[tokio::test]
async fn a_repeat_of_a_key_whose_call_the_provider_refused_is_tried_once_more_and_a_charged_one_never() {
    let provider = Provider::start();
    let (one, two) = two_nodes(&provider, 1000).await;
    let body = json!({ "model": "gpt-4o-mini", "max_tokens": 10, "messages": [ { "role": "user", "content": "hi" } ] })
        .to_string();
    let refused = chat(&one, &body, "status=500")
        .header("Idempotency-Key", "k-refused")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Ten repeats at once over two nodes, the first answered slowly: one try reaches the provider.
    let repeats = (0..10).map(|i| {
        let (app, body) = (if i % 2 == 0 { &one } else { &two }, body.clone());
        async move {
            let res = chat(app, &body, "output=4,stall=300")
                .header("Idempotency-Key", "k-refused")
                .send()
                .await
                .unwrap();
            code_of(res).await
        }
    });
    let answers = join_all(repeats).await;
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == StatusCode::OK).count(),
        1,
        "{answers:?}"
    );
    assert!(answers
        .iter()
        .all(|(s, c)| *s == StatusCode::OK || (*s == StatusCode::CONFLICT && c.starts_with("idempotency_key_"))));
    // Charged now: its repeat is answered 409, and reaches no provider.
    let again = chat(&two, &body, "output=4")
        .header("Idempotency-Key", "k-refused")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(again).await,
        (StatusCode::CONFLICT, "idempotency_key_settled".to_string())
    );
    let stats = provider.stats().await;
    assert_eq!(stats["calls"], 2, "the refused call and its one try: {stats}");
    let usage = one.usage("alice").await;
    let output = TestApp::counter(&usage, "output");
    assert_eq!(
        (output["used"].as_u64(), output["reserved"].as_u64()),
        (Some(4), Some(0)),
        "{output}"
    );
}

#[tokio::test]
async fn the_body_reaches_the_provider_as_sent_with_only_the_usage_ask_spliced_in() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 1000).await;
    // Keys out of order (a strict schema's properties are answered in their order), escapes,
    // spacing and a number written as the caller wrote it.
    let sent = "{ \"stream\": true, \"model\": \"gpt-4o-mini\",\n  \"messages\": [{\"role\": \"user\", \"content\": \"caf\\u00e9 \\\"q\\\"\"}],\n  \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"strict\": true, \"schema\": {\"type\": \"object\", \"properties\": {\"zeta\": {\"type\": \"string\"}, \"alpha\": {\"type\": \"number\"}}}}},\n  \"temperature\": 1.50, \"max_tokens\": 20 }";
    let res = chat(&app, sent, "output=3").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    // The caller did not ask for the usage chunk, and gets none.
    assert!(!text.contains("\"usage\":{"), "{text}");
    // Asked unprompted, a whole answer's body goes as it came.
    let whole = sent.replace("\"stream\": true", "\"stream\": false");
    assert_eq!(
        chat(&app, &whole, "output=3").send().await.unwrap().status(),
        StatusCode::OK
    );
    let stats = provider.stats().await;
    let raws: Vec<&str> = stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["raw"].as_str().unwrap())
        .collect();
    let expected = format!(
        "{},\"stream_options\":{{\"include_usage\":true}}}}",
        sent.strip_suffix('}').unwrap()
    );
    assert_eq!(raws, vec![expected.as_str(), whole.as_str()]);
}

#[tokio::test]
async fn a_call_naming_no_maximum_is_clamped_to_what_is_left_and_the_maximum_spliced_in() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 50).await;
    // gpt-4o-mini's output limit is 16,384 tokens: a call that names no maximum would be held
    // at that and denied to a user with 50 left. It is clamped to what is left instead.
    let sent = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let res = chat(&app, sent, "output=5").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let stats = provider.stats().await;
    let raw = stats["requests"][0]["raw"].as_str().unwrap();
    assert_eq!(
        raw,
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":50}"#
    );
    let usage = app.usage("alice").await;
    assert_eq!(TestApp::counter(&usage, "output")["used"], 5);
    // The ledger shows the clamped hold (its input and the 50 granted), not the 16,384 first
    // asked.
    let entries = app.usage_events_all("userId=alice").await;
    let commit = entries.iter().find(|e| e["kind"] == "commit").expect("a commit");
    let reserved = commit["reserved"].as_u64().unwrap();
    assert!((50..1_000).contains(&reserved), "the clamped hold: {commit}");
    // A call that names its maximum keeps it, and is denied when it does not fit.
    let named = r#"{"model":"gpt-4o-mini","max_tokens":60,"messages":[{"role":"user","content":"hi"}]}"#;
    let res = chat(&app, named, "output=5").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(provider.calls().await, 1);
}

#[tokio::test]
async fn a_denial_caused_by_the_calls_worst_case_says_so() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 100).await;
    let call = |max: u64| {
        format!(r#"{{"model":"gpt-4o-mini","max_tokens":{max},"messages":[{{"role":"user","content":"hi"}}]}}"#)
    };
    assert_eq!(
        chat(&app, &call(60), "output=60").send().await.unwrap().status(),
        StatusCode::OK
    );
    // 40 are left of 100: a call that may write 80 does not fit, and is told so.
    let res = chat(&app, &call(80), "").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("this call may use up to 80 tokens of quota output, and 40 are left; it resets in "),
        "{message}"
    );
    assert!(message.ends_with(", or lower max_tokens"), "{message}");
    // More than the whole quota: no reset makes room, and no Retry-After says otherwise.
    let res = chat(&app, &call(16_000), "").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("more than its whole quota of 100"), "{message}");
    assert_eq!(provider.calls().await, 1);
}

#[tokio::test]
async fn only_allowed_headers_reach_the_provider_and_its_request_id_reaches_the_caller() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 1000).await;
    let sent = r#"{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut req = chat(&app, sent, "output=2")
        .header("OpenAI-Beta", "assistants=v2")
        .header("X-Stainless-Lang", "python")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    for hint in [
        "x-http-method-override",
        "x-original-url",
        "x-rewrite-url",
        "x-forwarded-for",
        "x-forwarded-host",
        "forwarded",
        "x-real-ip",
        "via",
        "max-forwards",
        "api-key",
        "cookie",
    ] {
        req = req.header(hint, "1");
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let provider_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(provider_id.starts_with("req_"), "the provider's: {provider_id}");
    assert!(res.headers().contains_key("x-quota-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let stats = provider.stats().await;
    let headers = stats["requests"][0]["headers"].as_object().unwrap();
    for kept in [
        "openai-beta",
        "x-stainless-lang",
        "traceparent",
        "x-sim",
        "content-type",
    ] {
        assert!(headers.contains_key(kept), "{kept} was not forwarded: {headers:?}");
    }
    let names: Vec<&String> = headers.keys().collect();
    for name in &names {
        let allowed = [
            "host",
            "content-type",
            "content-length",
            "accept",
            "authorization",
            "openai-beta",
            "x-stainless-lang",
            "traceparent",
            "x-sim",
        ];
        assert!(allowed.contains(&name.as_str()), "{name} reached the provider");
    }
    // The gateway's own answers keep its id in x-request-id.
    let res = chat(&app, "{}", "").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().contains_key("x-request-id") && !res.headers().contains_key("x-quota-request-id"));
}

#[tokio::test]
async fn bodies_the_gateway_cannot_read_and_paths_that_leave_their_route_are_refused() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 1000).await;
    let sent = r#"{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let plain = app
        .client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .header("Content-Type", "text/plain")
        .body(sent);
    assert_eq!(plain.send().await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = chat(&app, sent, "")
        .header("Content-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["param"], "Content-Encoding");
    // Dot segments, as written or encoded, are refused before the allow-list (an HTTP client
    // would resolve them, so these go as raw bytes).
    for path in [
        "/proxy/openai/v1/models/..",
        "/proxy/openai/v1/models/%2e%2e",
        "/proxy/openai/v1/models/%2E.",
        "/proxy/openai/v1/models%2f..%2ffiles",
        "/proxy/openai/v1/models/./gpt-4o",
    ] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Quota-User: alice\r\nConnection: close\r\n\r\n",
            app.key
        );
        let answer = crate::raw_http::send_raw(&app, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
    assert_eq!(provider.calls().await, 0);
}

#[tokio::test]
async fn a_user_key_naming_another_user_is_told_which_and_ids_beyond_ascii_can_be_named() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 1000).await;
    app.subscribe("Zoë", "plan_door", None).await;
    let sent = r#"{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let res = chat_as(&app, "Zo%C3%AB", sent, "output=2").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let usage = app.usage("Zoë").await;
    assert_eq!(TestApp::counter(&usage, "output")["used"], 2);
    let (status, minted) = app
        .json(
            reqwest::Method::POST,
            "/v1/user-keys",
            Some(json!({ "userId": "alice", "label": "alice's phone" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let res = app
        .client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(minted["key"].as_str().unwrap())
        .header("X-Quota-User", "bob")
        .header("Content-Type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("user alice") && message.contains("not as bob"),
        "{message}"
    );
}

/// Opens a chat stream as `user`, reads its first two events and leaves.
async fn leave_a_stream(app: &TestApp, user: &str, sim: &str) {
    use futures::StreamExt;
    let body = json!({ "model": "gpt-4o-mini", "max_tokens": 400, "stream": true,
                       "messages": [ { "role": "user", "content": "hi" } ] })
    .to_string();
    let res = chat_as(app, user, &body, sim).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut stream = res.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 2 {
        seen.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
    }
}

#[tokio::test]
async fn drains_are_shared_per_user_and_a_stream_left_without_one_pays_what_it_streamed() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({}));
    // Sixteen drains: four a project, one a user.
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |config| {
        config.upstreams = Some(file);
        config.proxy_drains = 16;
    })
    .await;
    app.put_plan(plan(100_000)).await;
    for user in ["alice", "bob"] {
        app.subscribe(user, "plan_door", None).await;
    }
    // Alice leaves three slow streams of 200 tokens each: her one drain reads the first to its
    // usage; the other two find none free and pay what they streamed, far below their holds.
    for _ in 0..3 {
        leave_a_stream(&app, "alice", "output=200,delay=20").await;
    }
    // Bob, beside her, still gets a drain of his own.
    leave_a_stream(&app, "bob", "output=30,delay=20").await;
    let used = |app: &TestApp, user: &'static str| {
        let app = app.clone_for_node();
        async move {
            let usage = app.usage(user).await;
            let output = TestApp::counter(&usage, "output");
            (output["used"].as_u64().unwrap(), output["reserved"].as_u64().unwrap())
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while used(&app, "bob").await != (30, 0) || used(&app, "alice").await.1 != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "bob {:?}, alice {:?}",
            used(&app, "bob").await,
            used(&app, "alice").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Alice: 200 for the drained stream, a few tokens each for the two she left undrained.
    let (alice, _) = used(&app, "alice").await;
    assert!((202..=220).contains(&alice), "alice was charged {alice}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"qg_proxy_drains_total{upstream="openai",result="refused"} 2"#),
        "{metrics}"
    );
}

/// Reads of `user`'s usage with `key` by eight callers at once for `for_ms`: how many answered.
async fn reads_for(app: &TestApp, key: &str, user: &str, for_ms: u64) -> usize {
    let until = std::time::Instant::now() + std::time::Duration::from_millis(for_ms);
    let readers = (0..8).map(|_| async move {
        let mut done = 0;
        // Bounded in count as in time.
        while std::time::Instant::now() < until && done < 100_000 {
            let res = app
                .client
                .get(format!("{}/v1/users/{user}/usage", app.address))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            done += 1;
        }
        done
    });
    join_all(readers).await.into_iter().sum()
}

/// The reads' pace beside four callers sending 30 MB bodies (each refused once counted), and
/// how many bodies were sent.
async fn beside_bodies(app: &TestApp, reader: &str, body: &bytes::Bytes) -> (usize, usize) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let (address, key, body, stop) = (app.address.clone(), app.key.clone(), body.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(120))
                    .build()
                    .unwrap();
                let mut sent = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 1_000 {
                    let res = client
                        .post(format!("{address}/proxy/openai/v1/chat/completions"))
                        .bearer_auth(&key)
                        .header("X-Quota-User", "mallory")
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    // A body refused before it is read (503, the node's read budget full) may
                    // reach a slow sender as a closed connection once the server stops
                    // draining it: refused either way, and never forwarded (the test checks).
                    if let Ok(res) = res {
                        assert!(
                            [StatusCode::TOO_MANY_REQUESTS, StatusCode::SERVICE_UNAVAILABLE].contains(&res.status()),
                            "{}",
                            res.status()
                        );
                    }
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let attacked = reads_for(app, reader, "r", 1_500).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent: usize = join_all(attackers).await.into_iter().map(Result::unwrap).sum();
    (attacked, sent)
}

// Ratios of two paces read one after the other: beside other suites the machine under each
// differs, so scripts/test runs it alone, with the fault tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a load test: scripts/test runs it alone, with the fault tests"]
async fn a_caller_sending_bodies_of_30_mb_leaves_another_projects_reads_at_half_their_pace_or_more() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 10).await;
    // Another project, reading its user's usage.
    let root = app.root_token.clone();
    let res = app
        .call_as(
            &root,
            reqwest::Method::POST,
            "/v1/projects",
            Some(json!({ "id": "reader" })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, created) = app
        .json_as(
            &root,
            reqwest::Method::POST,
            "/v1/projects/reader/keys",
            Some(json!({ "kind": "secret", "label": "api" })),
        )
        .await;
    let reader = created["key"].as_str().unwrap().to_string();
    let (status, _) = app
        .json_as(&reader, reqwest::Method::PUT, "/v1/plans/plan_door", Some(plan(10)))
        .await;
    assert!(status.is_success());
    let (status, _) = app
        .json_as(
            &reader,
            reqwest::Method::PUT,
            "/v1/users/r/subscription",
            Some(json!({ "planId": "plan_door" })),
        )
        .await;
    assert!(status.is_success());
    // The caller's user has 1,000 tokens in all: its bodies are denied once counted.
    app.put_plan(json!({ "id": "plan_tiny", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000, "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("mallory", "plan_tiny", None).await;
    // Bodies of 30 MB of text from four callers at once, for as long as the reads run; each
    // is denied (its user has 10 tokens), after its count.
    let text = "lorem ipsum dolor sit amet ".repeat(30 * 1024 * 1024 / 27);
    let body = bytes::Bytes::from(
        json!({ "model": "gpt-4o-mini", "max_tokens": 5, "messages": [ { "role": "user", "content": text } ] })
            .to_string(),
    );
    // Three rounds, each the reads alone and then beside the bodies: the ratio of each round's
    // two paces, and the middle one of the three is the test's. One pair of windows read a
    // moment's disturbance of a shared machine as the node's (0.497 once, 0.9 to 1.15 around it).
    let mut ratios = Vec::new();
    let mut sent = 0;
    for _ in 0..3 {
        let alone = reads_for(&app, &reader, "r", 1_500).await;
        let (attacked, round) = beside_bodies(&app, &reader, &body).await;
        sent += round;
        ratios.push((attacked as f64 / alone as f64, alone, attacked));
    }
    assert!(sent > 0);
    ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ratio, alone, attacked) = ratios[1];
    assert!(
        ratio >= 0.5,
        "reads alone {alone}, beside 30 MB bodies {attacked} (the middle of three rounds: {ratios:?}; {sent} bodies sent)"
    );
    assert_eq!(provider.calls().await, 0);
}

#[tokio::test]
async fn a_caller_that_stops_reading_a_stream_is_cut_after_the_idle_timeout_and_charged_what_was_reported() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({ "timeouts": { "idleMs": 1000 } }));
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |config| {
        config.upstreams = Some(file);
    })
    .await;
    app.put_plan(plan(1_000_000)).await;
    app.subscribe("alice", "plan_door", None).await;
    // A long stream (megabytes of events, past what the sockets buffer) its caller never reads.
    let body = json!({ "model": "gpt-4o-mini", "max_tokens": 60000, "stream": true,
                       "messages": [ { "role": "user", "content": "hi" } ] })
    .to_string();
    let res = chat(&app, &body, "output=60000").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The hold is settled with what the provider reported while the response sits unread.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let usage = app.usage("alice").await;
        let output = TestApp::counter(&usage, "output").clone();
        if output["reserved"] == 0 && output["used"] == 60_000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{output}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"qg_proxy_drains_total{upstream="openai",result="completed"} 1"#),
        "{metrics}"
    );
    drop(res);
}

#[tokio::test]
async fn an_expired_user_key_is_401_on_the_api_as_on_the_proxy() {
    let provider = Provider::start();
    let (app, _) = two_nodes(&provider, 1000).await;
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
    let (status, minted) = app
        .json(
            reqwest::Method::POST,
            "/v1/user-keys",
            Some(json!({ "userId": "alice", "label": "brief", "expiresAt": soon })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let key = minted["key"].as_str().unwrap().to_string();
    // Live, it is the proxy's only: 403 on the API.
    let (status, _) = app
        .json_as(&key, reqwest::Method::GET, "/v1/users/alice/usage", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, _) = app
        .json_as(&key, reqwest::Method::GET, "/v1/users/alice/usage", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.json_as(&key, reqwest::Method::GET, "/v1/plans", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let sent = r#"{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let res = app
        .client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_mints_of_a_users_keys_never_pass_the_cap() {
    let provider = Provider::start();
    let (one, two) = two_nodes(&provider, 1000).await;
    let mints = (0..160).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        async move {
            app.json(
                reqwest::Method::POST,
                "/v1/user-keys",
                Some(json!({ "userId": "alice", "label": format!("key {i}") })),
            )
            .await
        }
    });
    let answers = join_all(mints).await;
    let made = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let refused = answers
        .iter()
        .filter(|(s, body)| *s == StatusCode::CONFLICT && body["code"] == "user_key_limit")
        .count();
    assert_eq!((made, refused), (100, 60), "{answers:?}");
    let (_, listed) = one.json(reqwest::Method::GET, "/v1/user-keys?userId=alice", None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(100), "{listed}");
}

#[tokio::test]
async fn a_file_the_provider_fetches_is_held_at_the_context_window_or_the_upstreams_bound() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({}));
    let bounded = upstreams_file(&provider, json!({ "fetchedInputTokens": 2000 }));
    let prefix = unique_prefix();
    let target = redis::shared().target();
    let app = spawn_app_with(&target, &prefix, None, |c| c.upstreams = Some(file)).await;
    let other = spawn_app_with(&target, &prefix, Some(&app.key), |c| c.upstreams = Some(bounded)).await;
    app.put_plan(json!({ "id": "plan_files", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 50000, "matches": [ { "event": "openai.chat" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_files", None).await;
    // A file by id the gateway never saw uploaded is nobody's to name: 400, naming the field.
    let by_id = json!({ "model": "gpt-4o-mini", "max_tokens": 10, "messages": [ { "role": "user", "content": [
        { "type": "text", "text": "summarize" },
        { "type": "file", "file": { "file_id": "file-abc123" } } ] } ] })
    .to_string();
    let res = chat(&app, &by_id, "output=3").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let refused: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        refused["error"]["param"], "messages[0].content[1].file.file_id",
        "{refused}"
    );
    // A file sent whole (a PDF's data): a few bytes here, a whole document at the provider.
    let body = json!({ "model": "gpt-4o-mini", "max_tokens": 10, "messages": [ { "role": "user", "content": [
        { "type": "text", "text": "summarize" },
        { "type": "file", "file": { "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0=" } } ] } ] })
    .to_string();
    // Held at gpt-4o-mini's context window (128,000 tokens), past the 50,000 left: denied.
    let res = chat(&app, &body, "output=3").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // An upstream whose operator bounds what its provider fetches: held at 2,000, admitted.
    let res = chat(&other, &body, "output=3").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(provider.calls().await, 1);
}

/// What an upstream's `passthrough` lets through: any body, streamed both ways unread, and
/// nothing counted.
fn passthrough_call(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, format!("{}/proxy/openai/{path}", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
}

#[tokio::test]
async fn declared_passthrough_paths_pass_any_body_and_answer_streamed_both_ways_counting_nothing() {
    let provider = Provider::start();
    let passthrough = json!({
        "forwardHeaders": ["x-sim"],
        "passthrough": ["POST v1/moderations", "POST v1/uploads/*/parts", "GET v1/containers/*/files/*/content"]
    });
    // A node that reads at most 64 KiB of a body whole and streams at most 4 MiB.
    let app = crate::support::provider::gateway_for(&provider, passthrough, |config| {
        config.proxy_max_body_bytes = 64 << 10;
        config.proxy_max_upload_bytes = 4 << 20;
    })
    .await;
    app.put_plan(plan(1000)).await;
    app.subscribe("alice", "plan_door", None).await;

    // JSON, answered whole.
    let res = passthrough_call(&app, reqwest::Method::POST, "v1/moderations")
        .json(&json!({"input": ["one", "two"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 2, "{body}");

    // A multipart body of 3 MiB (past what the node reads whole), as sent.
    let boundary = "qg-part-boundary";
    let data: Vec<u8> = (0..3u32 << 20).map(|i| (i % 253) as u8).collect();
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"part\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&data);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = passthrough_call(&app, reqwest::Method::POST, "v1/uploads/upload_1/parts")
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["bytes"], form.len(), "{body}");
    let stats = provider.stats().await;
    let seen = stats["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(seen["path"], "/v1/uploads/upload_1/parts");
    let raw: Vec<u8> = seen["raw"].as_str().unwrap().chars().map(|c| c as u32 as u8).collect();
    assert!(raw == form, "the provider read the body as sent");

    // A body past the node's upload bound is refused before it is forwarded.
    let calls = provider.calls().await;
    let res = passthrough_call(&app, reqwest::Method::POST, "v1/uploads/upload_1/parts")
        .header("Content-Type", "application/octet-stream")
        .body(vec![7u8; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["param"], "body", "{body}");
    assert_eq!(provider.calls().await, calls);

    // An answer of 80 MiB (past what any answer read whole may be) arrives whole and as sent.
    // Reading it takes longer than the test client's 10 s on a busy machine: this call has its own.
    let size: usize = 80 << 20;
    let res = passthrough_call(
        &app,
        reqwest::Method::GET,
        &format!("v1/containers/cntr_{size}/files/f1/content"),
    )
    .timeout(std::time::Duration::from_secs(300))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The simulator sends byte i as i % 251: two turns of it cover any 251 bytes from any start.
    let turns: Vec<u8> = (0..502u32).map(|i| (i % 251) as u8).collect();
    let mut stream = res.bytes_stream();
    let mut at = 0usize;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk.unwrap_or_else(|error| panic!("the answer broke at byte {at}: {error}"));
        for piece in chunk.chunks(251) {
            let from = at % 251;
            assert!(piece == &turns[from..from + piece.len()], "the bytes from {at} differ");
            at += piece.len();
        }
    }
    assert_eq!(at, size);

    // One the provider cuts halfway reaches the caller as broken, never as a whole answer.
    let res = passthrough_call(
        &app,
        reqwest::Method::GET,
        "v1/containers/cntr_4000000/files/f1/content",
    )
    .header("x-sim", "cut=1")
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.is_err(), "a cut answer must not read as whole");

    // A path nobody declared is refused unforwarded, and none of the above counted anything.
    let calls = provider.calls().await;
    let res = passthrough_call(&app, reqwest::Method::POST, "v1/uploads")
        .json(&json!({"bytes": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(provider.calls().await, calls);
    let usage = app.usage("alice").await;
    for group in ["output", "tokens"] {
        let counter = TestApp::counter(&usage, group);
        assert_eq!(
            (counter["used"].as_f64(), counter["reserved"].as_f64()),
            (Some(0.0), Some(0.0)),
            "{usage}"
        );
    }
    assert!(app.usage_events_all("userId=alice").await.is_empty());
    assert!(
        !app.metrics().await.contains("qg_proxy_calls_total{"),
        "no counted call"
    );
}

#[tokio::test]
async fn a_passthrough_entry_that_could_reach_a_billed_path_stops_the_node_naming_it_and_case_never_evades_a_count() {
    let provider = Provider::start();
    let target = redis::shared().target();
    for (entry, reaches) in [
        ("POST v1/*", "v1/responses"),
        ("POST v1/comp*", "v1/completions"),
        ("POST v1/Embeddings", "v1/embeddings"),
        ("GET v1/batches", "v1/batches"),
        ("POST v1/fine_tuning/jobs", "v1/fine_tuning"),
    ] {
        let file = upstreams_file(&provider, json!({ "passthrough": ["POST v1/moderations", entry] }));
        let mut config = crate::support::test_config(&unique_prefix(), "root");
        config.redis_mode = target.mode;
        config.upstreams = Some(file);
        let err = match quota_gateway::startup::Application::build(&config, &target.url).await {
            Ok(_) => panic!("{entry}: the node must not start"),
            Err(err) => err.to_string(),
        };
        assert!(err.contains("upstreams[0].passthrough[1]"), "{err}");
        assert!(err.contains(&format!("{entry:?}")) && err.contains(reaches), "{err}");
    }
    // A path written in another case is the path the gateway counts: held, here denied.
    let app =
        crate::support::provider::gateway_for(&provider, json!({ "passthrough": ["POST v1/moderations"] }), |_| {})
            .await;
    app.put_plan(json!({ "id": "plan_none", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1, "matches": [ { "event": "openai.embeddings" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_none", None).await;
    let res = passthrough_call(&app, reqwest::Method::POST, "V1/Embeddings")
        .json(&json!({ "model": "text-embedding-3-small", "input": "one two three four" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(provider.calls().await, 0, "never forwarded free");
}
