//! Async jobs through the door, against the provider simulator: a batch file priced line by
//! line as it streams, a batch held at its lines' sum from submission and settled from the
//! provider's numbers once (whichever node or the sweeper sees it end), its objects served only
//! to its owner, videos as in-flight jobs of a `concurrent` group, and one submission per
//! Idempotency-Key.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{gateway_for, upstreams_file, Provider};
use crate::support::{redis, spawn_app_with, unique_prefix, TestApp};

/// Batch tokens per user (`batch`), and videos in flight (`videos`: one a job, each proxied
/// call's `calls`) with their seconds (`seconds`).
pub(crate) fn plan(id: &str, tokens: u64) -> Value {
    json!({ "id": id, "periodType": "month", "groups": [
        { "id": "batch", "unit": "tokens", "quota": tokens, "matches": [ { "event": "openai.batches" }, { "event": "anthropic.batches" } ] },
        { "id": "videos", "unit": "concurrent", "quota": 3, "measure": { "metadata": "calls" },
          "matches": [ { "event": "openai.videos" } ] },
        { "id": "seconds", "unit": "count", "quota": 1000, "measure": { "metadata": "video_seconds" },
          "matches": [ { "event": "openai.videos" } ] } ] })
}

/// One chat line of a batch file.
pub(crate) fn line(i: usize) -> Value {
    json!({ "custom_id": format!("req-{i}"), "method": "POST", "url": "/v1/chat/completions",
            "body": { "model": "gpt-4o-mini", "max_tokens": 20, "messages": [ { "role": "user", "content": "say hi" } ] } })
}

pub(crate) fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A multipart body of `purpose` and a file part holding `content`, as the official clients send it.
pub(crate) fn form(purpose: &str, content: &str) -> (String, Vec<u8>) {
    let boundary = "qgjobsboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"batch.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n\
         {content}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

pub(crate) fn call(app: &TestApp, method: reqwest::Method, user: &str, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, format!("{}/proxy/openai/{path}", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", user)
}

/// Uploads a batch file of `lines` as `user`: the status and the answer.
pub(crate) async fn upload(app: &TestApp, user: &str, lines: &[Value]) -> (StatusCode, Value) {
    let (content_type, body) = form("batch", &jsonl(lines));
    let res = call(app, reqwest::Method::POST, user, "v1/files")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Creates a batch of `file` as `user`, steered by `sim`.
pub(crate) async fn create(app: &TestApp, user: &str, file: &str, sim: &str) -> (StatusCode, Value) {
    let res = call(app, reqwest::Method::POST, user, "v1/batches")
        .header("x-sim", sim)
        .json(&json!({ "input_file_id": file, "endpoint": "/v1/chat/completions", "completion_window": "24h" }))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get(app: &TestApp, user: &str, path: &str) -> (StatusCode, Value) {
    let res = call(app, reqwest::Method::GET, user, path).send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

pub(crate) fn counter(usage: &Value, group: &str) -> (u64, u64) {
    let c = TestApp::counter(usage, group);
    (c["used"].as_u64().unwrap(), c["reserved"].as_u64().unwrap())
}

/// A line's worst case, as a batch of one holds it.
async fn worst_of_a_line(app: &TestApp) -> u64 {
    app.put_plan(plan("plan_probe", 1_000_000_000)).await;
    app.subscribe("probe", "plan_probe", None).await;
    let (status, file) = upload(app, "probe", &[line(0)]).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    let (status, batch) = create(app, "probe", file["id"].as_str().unwrap(), "reads=100").await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let usage = app.usage("probe").await;
    let jobs = usage["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{usage}");
    assert_eq!(jobs[0]["id"], batch["id"]);
    assert_eq!(jobs[0]["kind"], "batch");
    let held = &jobs[0]["held"];
    let worst = held["input_tokens"].as_u64().unwrap() + held["output_tokens"].as_u64().unwrap();
    assert_eq!(
        counter(&usage, "batch"),
        (0, worst),
        "the batch holds its line's worst case"
    );
    worst
}

#[tokio::test]
async fn a_batch_past_its_budget_is_refused_whole_and_one_within_it_settles_its_reported_usage_once() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({}));
    let (prefix, target) = (unique_prefix(), redis::shared().target());
    let with = |c: &mut quota_gateway::config::Config| c.upstreams = Some(file.clone());
    let one = spawn_app_with(&target, &prefix, None, with).await;
    let two = spawn_app_with(&target, &prefix, Some(&one.key), with).await;
    let worst = worst_of_a_line(&one).await;
    let lines: Vec<Value> = (0..1000).map(line).collect();
    one.put_plan(plan("plan_600", 600 * worst)).await;
    one.put_plan(plan("plan_1000", 1000 * worst)).await;
    one.subscribe("short", "plan_600", None).await;
    one.subscribe("enough", "plan_1000", None).await;

    let (status, short_file) = upload(&one, "short", &lines).await;
    assert_eq!(status, StatusCode::OK, "{short_file}");
    let (status, denied) = create(&one, "short", short_file["id"].as_str().unwrap(), "reads=1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{denied}");
    let message = denied["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("send fewer requests (a smaller batch)"), "{denied}");
    assert!(!message.contains("maximum output"), "{denied}");
    assert_eq!(
        counter(&one.usage("short").await, "batch"),
        (0, 0),
        "refused whole: nothing held"
    );

    let (status, file) = upload(&one, "enough", &lines).await;
    assert_eq!(status, StatusCode::OK);
    let (status, batch) = create(&one, "enough", file["id"].as_str().unwrap(), "reads=1").await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let id = batch["id"].as_str().unwrap().to_string();
    assert_eq!(counter(&one.usage("enough").await, "batch"), (0, 1000 * worst));
    // Both nodes read it at once, each read seeing it completed: settled once.
    let reads = (0..8).map(|i| {
        let (app, path) = (if i % 2 == 0 { &one } else { &two }, format!("v1/batches/{id}"));
        async move { get(app, "enough", &path).await }
    });
    let seen = join_all(reads).await;
    let reported = seen
        .iter()
        .map(|(status, b)| {
            assert_eq!(*status, StatusCode::OK, "{b}");
            assert_eq!(b["status"], "completed", "{b}");
            b["usage"]["total_tokens"].as_u64().unwrap()
        })
        .max()
        .unwrap();
    assert!(reported > 0 && reported < 1000 * worst);
    let usage = one.usage("enough").await;
    assert_eq!(
        counter(&usage, "batch"),
        (reported, 0),
        "the reported usage, the rest released"
    );
    assert_eq!(usage["jobs"], json!([]), "no job open");
    let entries = one.usage_events_all("userId=enough").await;
    let commits: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] == "commit" && e["metadata"]["job_id"] == id.as_str())
        .collect();
    assert_eq!(commits.len(), 1, "one commit for the batch: {entries:?}");
    assert_eq!(commits[0]["metadata"]["job_kind"], "batch");
}

#[tokio::test]
async fn a_batch_and_its_files_are_served_only_to_its_owner() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    for user in ["owner", "other"] {
        app.subscribe(user, "plan_jobs", None).await;
    }
    let (_, file) = upload(&app, "owner", &[line(0), line(1)]).await;
    let file_id = file["id"].as_str().unwrap();
    // Another user may not build a batch of it, nor read it.
    let (status, refused) = create(&app, "other", file_id, "reads=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(
        get(&app, "other", &format!("v1/files/{file_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, batch) = create(&app, "owner", file_id, "reads=1").await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let id = batch["id"].as_str().unwrap();
    let (status, theirs) = get(&app, "other", &format!("v1/batches/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{theirs}");
    assert!(theirs["error"]["message"].as_str().unwrap().contains(id));
    let cancel = call(&app, reqwest::Method::POST, "other", &format!("v1/batches/{id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    // A user key is its user.
    let (_, minted) = app
        .json(
            reqwest::Method::POST,
            "/v1/user-keys",
            Some(json!({ "userId": "other" })),
        )
        .await;
    let key = minted["key"].as_str().unwrap();
    let res = app
        .client
        .get(format!("{}/proxy/openai/v1/batches/{id}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Its owner reads it ended, and then its output file.
    let (status, ended) = get(&app, "owner", &format!("v1/batches/{id}")).await;
    assert_eq!((status, ended["status"].as_str()), (StatusCode::OK, Some("completed")));
    let output = ended["output_file_id"].as_str().unwrap();
    let res = call(
        &app,
        reqwest::Method::GET,
        "owner",
        &format!("v1/files/{output}/content"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap().lines().count(), 2);
    assert_eq!(
        get(&app, "other", &format!("v1/files/{output}/content")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_sweeper_settles_a_batch_near_its_holds_end_with_no_read_from_its_caller() {
    let provider = Provider::start();
    let app = sweeping(&provider).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let (_, file) = upload(&app, "alice", &[line(0), line(1), line(2)]).await;
    // usage=none: the batch object says no usage; the sweeper sums its output file's lines.
    let (status, batch) = create(&app, "alice", file["id"].as_str().unwrap(), "reads=1, usage=none").await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let commit = swept(&app, "alice").await;
    assert_eq!(commit["metadata"]["usage"], "reported");
}

/// A gateway for `provider` whose every job is due a poll as soon as it is made, its sweeper
/// looking often.
async fn sweeping(provider: &Provider) -> TestApp {
    gateway_for(provider, json!({}), |c| {
        c.job_sweep_lead_seconds = 200_000;
        c.job_sweep_ms = 100;
    })
    .await
}

/// Waits (10 s at most) for the sweeper to settle `user`'s one batch of three lines: answers
/// its commit entry, its `batch` counter the output file's lines summed, nothing held.
async fn swept(app: &TestApp, user: &str) -> Value {
    let mut usage = Value::Null;
    for _ in 0..100 {
        usage = app.usage(user).await;
        if usage["jobs"] == json!([]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(usage["jobs"], json!([]), "settled by the sweeper: {usage}");
    let (used, held) = counter(&usage, "batch");
    assert_eq!(held, 0);
    // Three lines, each the simulator's count: 3 words and 6 of structure in, 5 out.
    assert!(used > 0 && used % 3 == 0, "the output file's lines summed: {used}");
    let entries = app.usage_events_all(&format!("userId={user}")).await;
    entries.into_iter().find(|e| e["kind"] == "commit").expect("a commit")
}

#[tokio::test]
async fn the_sweeper_settles_an_azure_batch_reading_its_output_file_at_azures_own_path() {
    let provider = Provider::start();
    let app = sweeping(&provider).await;
    let azure_plan = json!({ "id": "plan_azure_jobs", "periodType": "month", "groups": [
        { "id": "batch", "unit": "tokens", "quota": 1_000_000, "matches": [ { "event": "azure.batches" } ] } ] });
    app.put_plan(azure_plan).await;
    app.subscribe("alice", "plan_azure_jobs", None).await;
    // As the AzureOpenAI client calls it: `openai/...` with an `api-version`, its key in
    // `api-key`, its lines' path and its batch's endpoint without `/v1`.
    let azure = |method: reqwest::Method, path: &str| {
        app.client
            .request(
                method,
                format!("{}/proxy/azure/openai/{path}?api-version=2024-10-21", app.address),
            )
            .header("api-key", &app.key)
            .header("X-Quota-User", "alice")
    };
    let lines: Vec<Value> = (0..3)
        .map(|i| {
            let mut l = line(i);
            l["url"] = json!("/chat/completions");
            l
        })
        .collect();
    let (content_type, body) = form("batch", &jsonl(&lines));
    let res = azure(reqwest::Method::POST, "files")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let file: Value = res.json().await.unwrap();
    let res = azure(reqwest::Method::POST, "batches")
        .header("x-sim", "reads=1, usage=none")
        .json(&json!({ "input_file_id": file["id"], "endpoint": "/chat/completions", "completion_window": "24h" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{file}");
    let commit = swept(&app, "alice").await;
    assert_eq!(
        (commit["event"].as_str(), commit["metadata"]["usage"].as_str()),
        (Some("azure.batches"), Some("reported"))
    );
}

#[tokio::test]
async fn a_fourth_video_waits_for_one_of_three_in_flight_and_a_failed_one_costs_nothing() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let video = |sim: &'static str, key: Option<&'static str>| {
        let mut req = call(&app, reqwest::Method::POST, "alice", "v1/videos")
            .header("x-sim", sim)
            .json(&json!({ "model": "sora-2", "prompt": "a cat", "seconds": "8", "size": "720x1280" }));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, v) = video("reads=1", None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (status, fourth) = video("reads=1", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{fourth}");
    let usage = app.usage("alice").await;
    assert_eq!(counter(&usage, "seconds"), (0, 24));
    assert_eq!(usage["jobs"].as_array().unwrap().len(), 3);
    // One completes: its 8 seconds count, and a fourth may go.
    let (_, done) = get(&app, "alice", &format!("v1/videos/{}", ids[0])).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(counter(&app.usage("alice").await, "seconds"), (8, 16));
    let (status, fourth) = video("reads=1, end=failed", Some("video-key-1")).await;
    assert_eq!(status, StatusCode::OK, "{fourth}");
    // Its retry with the same key is the same job, submitted once.
    let (status, again) = video("reads=1, end=failed", Some("video-key-1")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], fourth["id"]);
    let (_, failed) = get(&app, "alice", &format!("v1/videos/{}", fourth["id"].as_str().unwrap())).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        counter(&app.usage("alice").await, "seconds"),
        (8, 16),
        "a failed video costs nothing"
    );
}

#[tokio::test]
async fn a_batch_file_with_a_line_the_gateway_cannot_price_never_reaches_the_provider_whole() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let mut lines: Vec<Value> = (0..50).map(line).collect();
    lines[36] = json!({ "custom_id": "x", "method": "POST", "url": "/v1/fine_tuning/jobs", "body": {} });
    let (status, refused) = upload(&app, "alice", &lines).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("line 37"), "{refused}");
    let mut other_model = (0..3).map(line).collect::<Vec<_>>();
    other_model[2]["body"]["model"] = json!("gpt-4o");
    let (status, refused) = upload(&app, "alice", &other_model).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("line 3"), "{refused}");
    // The provider has no file of either: each upload was broken off before its end.
    assert_eq!(provider.files().await.len(), 0);
    let (status, ok) = upload(&app, "alice", &[line(0)]).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(provider.files().await.len(), 1);
}

#[tokio::test]
async fn an_anthropic_message_batch_holds_its_requests_and_settles_from_its_results() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let requests: Vec<Value> = (0..4)
        .map(|i| {
            json!({ "custom_id": format!("r{i}"), "params": { "model": "claude-sonnet-4-5", "max_tokens": 30,
                          "messages": [ { "role": "user", "content": "hello there" } ] } })
        })
        .collect();
    let res = app
        .client
        .post(format!("{}/proxy/anthropic/v1/messages/batches", app.address))
        .header("x-api-key", &app.key)
        .header("X-Quota-User", "alice")
        .header("anthropic-version", "2023-06-01")
        .header("x-sim", "reads=1, failures=1")
        .json(&json!({ "requests": requests }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let batch: Value = res.json().await.unwrap();
    let id = batch["id"].as_str().unwrap();
    let (_, held) = counter(&app.usage("alice").await, "batch");
    assert!(held >= 4 * 30, "four requests at their worst: {held}");
    let res = app
        .client
        .get(format!("{}/proxy/anthropic/v1/messages/batches/{id}", app.address))
        .header("x-api-key", &app.key)
        .header("X-Quota-User", "alice")
        .send()
        .await
        .unwrap();
    let ended: Value = res.json().await.unwrap();
    assert_eq!(ended["processing_status"], "ended", "{ended}");
    let results = ended["results_url"].as_str().unwrap();
    assert!(
        results.starts_with(&app.address) && results.contains("/proxy/anthropic/"),
        "{results}"
    );
    let res = app
        .client
        .get(results)
        .header("x-api-key", &app.key)
        .header("X-Quota-User", "alice")
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    let reported: u64 = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["result"]["type"] == "succeeded")
        .map(|l| {
            let u = &l["result"]["message"]["usage"];
            u["input_tokens"].as_u64().unwrap() + u["output_tokens"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(text.lines().count(), 4);
    assert_eq!(
        counter(&app.usage("alice").await, "batch"),
        (reported, 0),
        "three succeeded, one errored"
    );
}

#[tokio::test]
async fn a_batch_is_priced_at_the_catalogs_batch_prices_and_a_video_at_its_sizes_price_per_second() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(json!({ "id": "plan_dollars", "periodType": "month", "groups": [
        { "id": "spend", "unit": "cents", "quota": 100000, "measure": { "price": "catalog" },
          "matches": [ { "event": "openai.batches" }, { "event": "openai.videos" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_dollars", None).await;
    // A video of 8 seconds of sora-2-pro at 1024x1792, $0.50 a second: $4.00 held, and
    // committed at its reported seconds.
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .header("x-sim", "reads=1")
        .json(&json!({ "model": "sora-2-pro", "prompt": "a cat", "seconds": "8", "size": "1024x1792" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let video: Value = res.json().await.unwrap();
    assert_eq!(counter(&app.usage("alice").await, "spend"), (0, 400));
    get(&app, "alice", &format!("v1/videos/{}", video["id"].as_str().unwrap())).await;
    assert_eq!(counter(&app.usage("alice").await, "spend"), (400, 0));
    // A batch of gpt-4o-mini lines: its reported tokens at $0.075 and $0.30 a million.
    let (_, file) = upload(&app, "alice", &[line(0), line(1)]).await;
    let (status, batch) = create(&app, "alice", file["id"].as_str().unwrap(), "reads=1").await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let (_, ended) = get(&app, "alice", &format!("v1/batches/{}", batch["id"].as_str().unwrap())).await;
    let (input, output) = (
        ended["usage"]["input_tokens"].as_u64().unwrap(),
        ended["usage"]["output_tokens"].as_u64().unwrap(),
    );
    // Thousandths of a cent, rounded up: tokens times micro-dollars a million, over 10^7.
    let milli_cents = (input * 75_000 + output * 300_000).div_ceil(10_000_000);
    let spend = TestApp::counter(&app.usage("alice").await, "spend").clone();
    assert_eq!(
        spend["used"].as_f64().unwrap(),
        400.0 + milli_cents as f64 / 1000.0,
        "{spend}"
    );
    assert_eq!(spend["reserved"].as_f64(), Some(0.0));
}

#[tokio::test]
async fn a_users_page_lists_their_open_jobs_and_marks_one_past_its_window_overdue() {
    let provider = Provider::start();
    // A video's window is a second, its hold's margin an hour: past its second it is overdue.
    let app = gateway_for(&provider, json!({}), |c| c.job_video_window_seconds = 1).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .header("x-sim", "reads=50")
        .json(&json!({ "model": "sora-2", "prompt": "a slow cat", "seconds": "4" }))
        .send()
        .await
        .unwrap();
    let video: Value = res.json().await.unwrap();
    let id = video["id"].as_str().unwrap();
    let dashboard = crate::dashboard::Dashboard::sign_in(&app).await;
    let (status, page) = dashboard.get("/dashboard/users/alice").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(id) && page.contains("video_seconds"),
        "the job and its hold: {page}"
    );
    assert!(!page.contains(">overdue<"), "within its window");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (_, page) = dashboard.get("/dashboard/users/alice").await;
    assert!(page.contains(">overdue<"), "past its window");
    let usage = app.usage("alice").await;
    assert_eq!(usage["jobs"][0]["overdue"], true, "{usage}");
}

#[tokio::test]
async fn a_video_that_never_ends_is_charged_its_hold_estimated_when_the_hold_ends() {
    let provider = Provider::start();
    // A second's window, a second's margin: the sweeper polls from the start and gives up at
    // the hold's end.
    let app = gateway_for(&provider, json!({}), |c| {
        c.job_video_window_seconds = 1;
        c.job_margin_seconds = 1;
        c.job_sweep_lead_seconds = 2;
        c.job_sweep_ms = 100;
    })
    .await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    app.subscribe("alice", "plan_jobs", None).await;
    let res = call(&app, reqwest::Method::POST, "alice", "v1/videos")
        .header("x-sim", "reads=1000")
        .json(&json!({ "model": "sora-2", "prompt": "a cat that never ends", "seconds": "12" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut usage = Value::Null;
    for _ in 0..80 {
        usage = app.usage("alice").await;
        if usage["jobs"] == json!([]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(usage["jobs"], json!([]), "{usage}");
    assert_eq!(counter(&usage, "seconds"), (12, 0), "its hold, committed");
    let entries = app.usage_events_all("userId=alice").await;
    let commit = entries
        .iter()
        .find(|e| e["kind"] == "commit" || e["kind"] == "late_commit")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(commit["metadata"]["usage"], "estimated");
    assert_eq!(commit["metadata"]["job_kind"], "video");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("qg_proxy_job_polls_total{outcome=\"open\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("qg_proxy_job_polls_total{outcome=\"expired\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "qg_proxy_jobs_settled_total{upstream=\"openai\",kind=\"video\",outcome=\"estimated\",by=\"sweep\"} 1"
        ),
        "{metrics}"
    );
}
