//! Async jobs bound what the provider does, against the provider simulator: a job whose node
//! is killed while the provider makes it is found at the provider and settled (or, never found,
//! charged its hold at its end, never given back); a running job is never charged before its
//! hold ends; a provider that hangs delays no other's settlement, its polls end at their
//! time-out and its job is charged its hold at its end; a video resent under a new
//! multipart boundary is its first job; and a video is settled at what the provider made.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::proxy_jobs::{call, counter, get, line, plan, upload};
use crate::support::process::{gateway_process, wait_ready};
use crate::support::provider::{gateway_for, upstreams_file, Provider};
use crate::support::redis::{self, free_port};
use crate::support::{spawn_app_with, unique_prefix, TestApp};

/// Waits (at most 200 tries, 100 ms apart) until `done` holds of the user's usage; answers it.
async fn until(app: &TestApp, user: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut usage = Value::Null;
    for _ in 0..200 {
        usage = app.usage(user).await;
        if done(&usage) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    usage
}

/// A gateway process on `app`'s Redis and prefix, with `env`, and its address.
pub(crate) async fn node_process(
    app: &TestApp,
    file: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    let port = free_port();
    let mut all = vec![("QG_UPSTREAMS", file.to_str().unwrap())];
    all.extend_from_slice(env);
    let child = gateway_process(port, &redis::shared().target(), &app.prefix, &app.root_token, &all);
    let address = format!("http://127.0.0.1:{port}");
    wait_ready(&app.client, &address).await;
    (child, address)
}

/// Waits until the provider has seen a call of `path` (its stall begun), at most 10 s.
async fn until_sent(provider: &Provider, path: &str) {
    for _ in 0..100 {
        let stats = provider.stats().await;
        if stats["requests"].as_array().unwrap().iter().any(|r| r["path"] == path) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the provider never saw {path}");
}

#[tokio::test]
async fn a_batch_whose_node_is_killed_while_the_provider_makes_it_is_found_there_and_settled() {
    let provider = Provider::start();
    // The node waits out the provider's stall; the survivor looks for the job once the
    // submission's first byte and idle time are past.
    let file = upstreams_file(&provider, json!({ "timeouts": { "firstByteMs": 2500, "idleMs": 500 } }));
    let (target, prefix) = (redis::shared().target(), unique_prefix());
    let app = spawn_app_with(&target, &prefix, None, |c| {
        c.upstreams = Some(file.clone());
        c.job_sweep_lead_seconds = 200_000;
        c.job_sweep_ms = 100;
    })
    .await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let (_, uploaded) = upload(&app, "alice", &[line(0), line(1)]).await;
    let (mut child, address) = node_process(&app, &file, &[]).await;
    let submit = app
        .client
        .post(format!("{address}/proxy/openai/v1/batches"))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .header("x-sim", "stall=1500, reads=1")
        .json(
            &json!({ "input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h" }),
        )
        .send();
    let waiting = tokio::spawn(submit);
    until_sent(&provider, "/v1/batches").await;
    child.kill().expect("SIGKILL the node");
    let _ = child.wait();
    assert!(waiting.await.unwrap().is_err(), "the node died before answering");
    let (_, held) = counter(&app.usage("alice").await, "batch");
    assert!(held > 0, "its hold stands");

    let usage = until(&app, "alice", |u| counter(u, "batch").1 == 0).await;
    let (used, held) = counter(&usage, "batch");
    assert!(used > 0 && held == 0, "settled at the provider's usage: {usage}");
    let jobs = provider.stats().await["jobs"].clone();
    let id = jobs.as_object().unwrap().keys().next().unwrap().clone();
    let (status, read) = get(&app, "alice", &format!("v1/batches/{id}")).await;
    assert_eq!(
        (status, read["status"].as_str()),
        (StatusCode::OK, Some("completed")),
        "its owner reads it: {read}"
    );
    let marker = read["metadata"]["quota_gateway_hold"].as_str().unwrap_or("");
    assert!(marker.starts_with("r_"), "the batch carries its hold's id: {read}");
    let entries = app.usage_events_all("userId=alice").await;
    let commits: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "commit").collect();
    assert_eq!(commits.len(), 1, "{entries:?}");
    assert_eq!(commits[0]["metadata"]["job_id"], id.as_str());
    assert_eq!(commits[0]["metadata"]["usage"], "reported");
    assert!(app
        .metrics()
        .await
        .contains("qg_proxy_jobs_adopted_total{upstream=\"openai\"} 1"));
}

#[tokio::test]
async fn a_video_whose_node_is_killed_and_that_the_provider_never_made_is_charged_its_hold_never_given_back() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({ "timeouts": { "firstByteMs": 2500, "idleMs": 500 } }));
    let (target, prefix) = (redis::shared().target(), unique_prefix());
    let app = spawn_app_with(&target, &prefix, None, |c| {
        c.upstreams = Some(file.clone());
        c.job_sweep_lead_seconds = 30;
        c.job_sweep_ms = 100;
    })
    .await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    // The killed node held the video for 2 s of window and 3 s of margin.
    let env = [("QG_JOB_VIDEO_WINDOW_SECONDS", "2"), ("QG_JOB_MARGIN_SECONDS", "3")];
    let (mut child, address) = node_process(&app, &file, &env).await;
    let submit = app
        .client
        .post(format!("{address}/proxy/openai/v1/videos"))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        // The provider refuses it after the stall: it makes no video.
        .header("x-sim", "stall=1500, status=500")
        .json(&json!({ "model": "sora-2", "prompt": "a cat", "seconds": "12" }))
        .send();
    let waiting = tokio::spawn(submit);
    until_sent(&provider, "/v1/videos").await;
    child.kill().expect("SIGKILL the node");
    let _ = child.wait();
    let _ = waiting.await;
    assert_eq!(counter(&app.usage("alice").await, "seconds"), (0, 12));

    let usage = until(&app, "alice", |u| counter(u, "seconds") == (12, 0)).await;
    assert_eq!(counter(&usage, "seconds"), (12, 0), "charged its hold: {usage}");
    let entries = app.usage_events_all("userId=alice").await;
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        !kinds.contains(&"expiry") && !kinds.contains(&"release"),
        "never given back: {kinds:?}"
    );
    let commit = entries
        .iter()
        .find(|e| e["kind"] == "commit")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(commit["metadata"]["usage"], "estimated");
    assert_eq!(commit["metadata"]["job_kind"], "video");
}

#[tokio::test]
async fn a_running_video_is_not_charged_before_its_hold_ends_and_failing_then_costs_nothing() {
    let provider = Provider::start();
    // The hold lives 4 s; the sweeper polls at once, and would next poll 10 s later: past
    // the hold's end.
    let app = gateway_for(&provider, json!({}), |c| {
        c.job_video_window_seconds = 1;
        c.job_margin_seconds = 3;
        c.job_sweep_lead_seconds = 30;
        c.job_sweep_ms = 100;
    })
    .await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .header("x-sim", "reads=3, end=failed")
        .json(&json!({ "model": "sora-2", "prompt": "a cat", "seconds": "8" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let mut polled = false;
    for _ in 0..100 {
        let polls = TestApp::metric(&app.metrics().await, "qg_proxy_job_polls_total{outcome=\"open\"}");
        if polls >= 1 {
            polled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(polled, "the sweeper polled it once");
    assert_eq!(
        counter(&app.usage("alice").await, "seconds"),
        (0, 8),
        "still held, not charged"
    );
    // It fails: its hold goes back, and the release names the job.
    get(&app, "alice", &format!("v1/videos/{id}")).await;
    let (_, failed) = get(&app, "alice", &format!("v1/videos/{id}")).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(counter(&app.usage("alice").await, "seconds"), (0, 0));
    let entries = app.usage_events_all("userId=alice").await;
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["release"], "{entries:?}");
    assert_eq!(entries[0]["metadata"]["job_id"], id.as_str());
}

#[tokio::test]
async fn a_provider_that_hangs_delays_no_other_upstreams_settlement() {
    let provider = Provider::start();
    // Another upstream on the same simulator, whose job's reads hang (`read_stall`).
    let file = upstreams_file(&provider, json!({}));
    let mut upstreams: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut slow = upstreams["upstreams"][0].clone();
    slow["name"] = json!("slow");
    upstreams["upstreams"].as_array_mut().unwrap().push(slow);
    std::fs::write(&file, upstreams.to_string()).unwrap();
    let app = spawn_app_with(&redis::shared().target(), &unique_prefix(), None, |c| {
        c.upstreams = Some(file.clone());
        c.job_sweep_lead_seconds = 200_000;
        c.job_sweep_ms = 100;
        // Longer than the test: a poll of the hung job never ends within it.
        c.job_poll_timeout_ms = 120_000;
    })
    .await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    app.subscribe("bob", "plan_jobs", None).await;
    let video = |upstream: &str, user: &str, sim: &'static str| {
        app.client
            .post(format!("{}/proxy/{upstream}/v1/videos", app.address))
            .bearer_auth(&app.key)
            .header("X-Quota-User", user)
            .header("x-sim", sim)
            .json(&json!({ "model": "sora-2", "prompt": "a cat", "seconds": "4" }))
            .send()
    };
    // Alice's job first, so it is due first; each read of it hangs for a minute.
    let alice = video("slow", "alice", "reads=1, read_stall=60000").await.unwrap();
    assert_eq!(alice.status(), StatusCode::OK);
    let bob = video("openai", "bob", "reads=1").await.unwrap();
    assert_eq!(bob.status(), StatusCode::OK);
    let usage = until(&app, "bob", |u| counter(u, "seconds") == (4, 0)).await;
    assert_eq!(counter(&usage, "seconds"), (4, 0), "bob's settled: {usage}");
    // (The plan counts none of the `slow` upstream's videos: its job is only open.)
    let alice = app.usage("alice").await;
    assert_eq!(
        alice["jobs"].as_array().map(Vec::len),
        Some(1),
        "alice's still open: {alice}"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        TestApp::metric(&metrics, "qg_proxy_job_polls_total{outcome=\"ended\"}"),
        1,
        "{metrics}"
    );
    assert_eq!(
        TestApp::metric(&metrics, "qg_proxy_job_polls_total{outcome=\"failed\"}"),
        0,
        "alice's poll still waits: {metrics}"
    );
}

#[tokio::test]
async fn a_poll_of_a_hung_provider_ends_at_its_time_out_and_the_job_is_charged_its_hold_at_its_end() {
    let provider = Provider::start();
    // Held for 1 s of window and 2 s of margin; each poll given 300 ms, each read of the job
    // hanging a minute.
    let app = gateway_for(&provider, json!({}), |c| {
        c.job_video_window_seconds = 1;
        c.job_margin_seconds = 2;
        c.job_sweep_lead_seconds = 200_000;
        c.job_sweep_ms = 100;
        c.job_poll_timeout_ms = 300;
    })
    .await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .header("x-sim", "reads=1, read_stall=60000")
        .json(&json!({ "model": "sora-2", "prompt": "a cat", "seconds": "4" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let usage = until(&app, "alice", |u| counter(u, "seconds") == (4, 0)).await;
    assert_eq!(
        counter(&usage, "seconds"),
        (4, 0),
        "charged its hold at its end: {usage}"
    );
    // (The sweeper counts its poll once the charge is written: the counter may follow the
    // usage by a moment.)
    let expired = "qg_proxy_job_polls_total{outcome=\"expired\"}";
    let mut metrics = app.metrics().await;
    for _ in 0..50 {
        if TestApp::metric(&metrics, expired) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = app.metrics().await;
    }
    // The first poll ended at its time-out, not a minute later, and left the last one, at the
    // hold's end, free to charge it.
    assert_eq!(
        TestApp::metric(&metrics, "qg_proxy_job_polls_total{outcome=\"failed\"}"),
        1,
        "{metrics}"
    );
    assert_eq!(
        TestApp::metric(&metrics, "qg_proxy_job_polls_total{outcome=\"expired\"}"),
        1,
        "{metrics}"
    );
    let entries = app.usage_events_all("userId=alice").await;
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["commit"], "never given back: {entries:?}");
    assert_eq!(entries[0]["metadata"]["usage"], "estimated");
}

/// A video form as the official client sends it, under `boundary`, with a reference image.
fn video_form(boundary: &str, image: &[u8]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in [("prompt", "a cat"), ("model", "sora-2"), ("seconds", "8")] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"ref.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(image);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_video_resent_with_its_key_under_another_boundary_is_answered_its_first_job() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let send = |boundary: &'static str, image: &'static [u8]| {
        let (content_type, body) = video_form(boundary, image);
        call(&app, reqwest::Method::POST, "alice", "v1/videos")
            .header("Content-Type", content_type)
            .header("Idempotency-Key", "video-form-1")
            .header("x-sim", "reads=50")
            .body(body)
            .send()
    };
    let first = send("----one1111", b"\x89PNG....").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let again = send("----another2222222", b"\x89PNG....").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"], "{again}");
    let made = provider.stats().await["paths"]["/v1/videos"].as_u64();
    assert_eq!(made, Some(1), "submitted once");
    // Another reference image under the same key is another call.
    let other = send("----one1111", b"\x89PNG!!!!").await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(counter(&app.usage("alice").await, "seconds"), (0, 8));
}

#[tokio::test]
async fn a_video_is_settled_at_the_model_size_and_seconds_the_provider_made() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(json!({ "id": "plan_dollars", "periodType": "month", "groups": [
        { "id": "spend", "unit": "cents", "quota": 100000, "measure": { "price": "catalog" },
          "matches": [ { "event": "openai.videos" } ] },
        { "id": "seconds", "unit": "count", "quota": 10, "measure": { "metadata": "video_seconds" },
          "matches": [ { "event": "openai.videos" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_dollars", None).await;
    // 8 s of sora-2-pro at 1024x1792 ($0.50 a second) held; the provider made 4 s of sora-2
    // at 720x1280 ($0.10 a second).
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .header("x-sim", "reads=1, made=sora-2/720x1280/4")
        .json(&json!({ "model": "sora-2-pro", "prompt": "a cat", "seconds": "8", "size": "1024x1792" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let video: Value = res.json().await.unwrap();
    assert_eq!(counter(&app.usage("alice").await, "spend"), (0, 400));
    get(&app, "alice", &format!("v1/videos/{}", video["id"].as_str().unwrap())).await;
    let usage = app.usage("alice").await;
    assert_eq!(counter(&usage, "spend"), (40, 0), "{usage}");
    assert_eq!(counter(&usage, "seconds"), (4, 0));
    let entries = app.usage_events_all("userId=alice").await;
    let commit = entries.iter().find(|e| e["kind"] == "commit").unwrap();
    assert_eq!(commit["metadata"]["model"], "sora-2", "{commit}");
    assert_eq!(commit["metadata"]["size"], "720x1280");
    // A video past what is left is refused naming what makes it fit.
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .json(&json!({ "model": "sora-2", "prompt": "a long cat", "seconds": "12" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let denied: Value = res.json().await.unwrap();
    let message = denied["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("ask for fewer seconds or a smaller size"), "{denied}");
}
