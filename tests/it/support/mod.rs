//! Test support: a real Redis per test binary, and `spawn_app()` building the real application
//! on a loopback port with a key prefix of its own, so tests never see each other's state.

pub mod process;
pub mod provider;
pub mod proxy;
pub mod receiver;
pub mod redis;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use quota_gateway::config::Config;
use quota_gateway::startup::Application;
use quota_gateway::surface::store::RedisMode;
use redis::Target;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

pub struct TestApp {
    pub address: String,
    pub root_token: String,
    /// A secret key of project `default` under this app's prefix.
    pub key: String,
    /// The key prefix all of this app's state lives under.
    pub prefix: String,

    pub client: reqwest::Client,
}

/// A fresh prefix per test: every key of the test lives under it.
/// What ledger `entries` add up to, per group, in milli-units: the models' check that the
/// ledger sums to the counters.
pub fn ledger_sums(entries: &[quota_gateway::surface::quota::UsageEvent]) -> std::collections::BTreeMap<String, i64> {
    let mut sums = std::collections::BTreeMap::new();
    for entry in entries {
        for group in &entry.groups {
            *sums.entry(group.group_id.clone()).or_default() += group.amount_milli;
        }
    }
    sums
}

pub fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("qgt{}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn test_config(prefix: &str, root_token: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        redis_mode: RedisMode::Standalone,
        redis_url: None,
        root_token: Some(root_token.to_string()),
        data_dir: std::env::temp_dir(),
        retention_seconds: 86_400,
        ledger_retention_days: 35,
        // A Redis that stops answering is a 503 within a quarter second. Where the suite shares
        // the cores with others (scripts/test runs two suites at a time), Redis may be silent
        // longer for want of a core: QG_TEST_COMMAND_TIMEOUT_MS allows it more.
        command_timeout_ms: std::env::var("QG_TEST_COMMAND_TIMEOUT_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(250),
        key_prefix: prefix.to_string(),
        workers: 2,
        drain_ms: 0,
        webhook_allow_http: false,
        webhook_allow_private: false,
        webhook_retry_scale: 1.0,
        webhook_timeout_ms: 10_000,
        // Leases on, as a node's default; QG_TEST_LEASES=0 runs the suite without them.
        leases: std::env::var("QG_TEST_LEASES").as_deref() != Ok("0"),
        slice_seconds: 10,
        slice_max_seconds: 60,
        sentinel_master: "mymaster".to_string(),
        wait_replicas: 0,
        upstreams: None,
        catalog: None,
        proxy_drains: 64,
        proxy_drain_seconds: 120,
        proxy_max_body_bytes: 32 << 20,
        proxy_max_upload_bytes: 1 << 30,
        proxy_read_idle_seconds: 30,
        proxy_read_budget_bytes: 256 << 20,
        job_margin_seconds: 3600,
        job_video_window_seconds: 3600,
        job_sweep_lead_seconds: 900,
        job_sweep_ms: 10_000,
        job_poll_timeout_ms: 30_000,
        test: quota_gateway::config::TestHooks::default(),
    }
}

/// The service layer alone (no HTTP) on the shared test Redis under `prefix`, its clock synced.
pub async fn service_on_shared(prefix: &str) -> quota_gateway::gateway::Gateway {
    let gateway = quota_gateway::gateway::Gateway::new(&quota_gateway::surface::store::StoreConfig {
        redis_mode: redis::shared().target().mode,
        redis_url: redis::shared().target().url,
        clock_skew_ms: 0,
        sentinel_master: String::new(),
        wait_replicas: 0,
        key_prefix: prefix.to_string(),
        command_timeout: Duration::from_secs(2),
        retention: Duration::from_secs(86_400),
        ledger_retention: Duration::from_secs(35 * 86_400),
    })
    .expect("a gateway");
    gateway.node().sync_clock().await.expect("the clock syncs with redis");
    gateway
}

/// One gateway on the shared test Redis, isolated by its own key prefix.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(&redis::shared().target(), &unique_prefix(), None).await
}

/// A gateway on `redis_url` under `prefix`; a second instance on the same prefix shares the
/// first's state and passes the first's key.
pub async fn spawn_app_on(target: &Target, prefix: &str, key: Option<&str>) -> TestApp {
    spawn_app_with(target, prefix, key, |_| {}).await
}

/// A gateway on a Redis of the test's own whose clock the test steps (`redis::Stepped`): for a
/// test that waits past a TTL or a window, which it steps past instead.
pub async fn spawn_app_stepped() -> (TestApp, redis::Stepped) {
    let clock = redis::Stepped::start();
    let app = spawn_app_on(&clock.target(), &unique_prefix(), None).await;
    (app, clock)
}

/// Another gateway on `clock`'s Redis under `app`'s prefix, started after the test's steps: a
/// node measures Redis's clock as it starts, so what it judges by its own estimate of Redis
/// time (a read's "expired", a user token's expiry) sees every step made before it started.
pub async fn node_after_steps(clock: &redis::Stepped, app: &TestApp) -> TestApp {
    spawn_app_on(&clock.target(), &app.prefix, Some(&app.key)).await
}

/// Two gateways on the shared Redis under one prefix, with `user` subscribed to `plan`: the
/// set-up of every test that races calls from two nodes.
pub async fn two_nodes_with(user: &str, plan: Value) -> (TestApp, TestApp) {
    two_nodes_on(&redis::shared().target(), user, plan).await
}

/// As `two_nodes_with`, on a Redis of the test's own whose clock the test steps.
pub async fn two_nodes_stepped(user: &str, plan: Value) -> (TestApp, TestApp, redis::Stepped) {
    let clock = redis::Stepped::start();
    let (one, two) = two_nodes_on(&clock.target(), user, plan).await;
    (one, two, clock)
}

async fn two_nodes_on(target: &Target, user: &str, plan: Value) -> (TestApp, TestApp) {
    let prefix = unique_prefix();
    let one = spawn_app_on(target, &prefix, None).await;
    let two = spawn_app_on(target, &prefix, Some(&one.key)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    one.put_plan(plan).await;
    one.subscribe(user, &id, None).await;
    (one, two)
}

/// As `spawn_app_on`, with the configuration adjusted first.
pub async fn spawn_app_with(
    target: &Target,
    prefix: &str,
    key: Option<&str>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let root_token = format!("root-{prefix}");
    let mut config = test_config(prefix, &root_token);
    config.redis_mode = target.mode;
    adjust(&mut config);
    let mut app = Application::build(&config, &target.url)
        .await
        .expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let started = app.started();
    tokio::spawn(app.run_until_stopped());
    let first = tokio::time::timeout(Duration::from_secs(20), started)
        .await
        .expect("the gateway reaches redis")
        .expect("the gateway bootstraps");
    let key = match (key, first.default_key) {
        (Some(key), _) => key.to_string(),
        (None, Some(key)) => key,
        (None, None) => panic!("a new prefix creates project default with a key"),
    };
    // Idle connections are dropped well before the gateway's keep-alive (actix's 5 s) ends
    // them: a request sent on a connection the server is closing as idle fails unanswered
    // (`IncompleteMessage`), which a test waiting on a slow start of another node met.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    TestApp {
        address,
        root_token,
        key,
        prefix: prefix.to_string(),
        client,
    }
}

impl TestApp {
    /// The same project and keys, for another node whose address is set after.
    pub fn clone_for_node(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            root_token: self.root_token.clone(),
            key: self.key.clone(),
            prefix: self.prefix.clone(),
            client: self.client.clone(),
        }
    }

    /// A request with the project's secret key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.call_as(&self.key.clone(), method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("the gateway answers")
    }

    /// Calls with `token` and returns the status and JSON body.
    pub async fn json_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let res = self.call_as(token, method, path, body).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Calls and returns the status and JSON body.
    pub async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let res = self.call(method, path, body).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A call that may fail: Ok with the JSON body of a 2xx answer, Err otherwise (an error
    /// status, or no answer at all).
    pub async fn call_try(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.key)
            .timeout(Duration::from_secs(2));
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(res.status().to_string());
        }
        res.json().await.map_err(|e| e.to_string())
    }

    pub async fn put_plan(&self, plan: Value) -> Value {
        let id = plan["id"].as_str().expect("plan id").to_string();
        let (status, body) = self.json(Method::PUT, &format!("/v1/plans/{id}"), Some(plan)).await;
        assert_eq!(status, StatusCode::OK, "put plan: {body}");
        body
    }

    pub async fn subscribe(&self, user: &str, plan: &str, started_at: Option<&str>) -> Value {
        let mut body = json!({ "planId": plan });
        if let Some(at) = started_at {
            body["startedAt"] = json!(at);
        }
        let (status, body) = self
            .json(
                Method::PUT,
                &format!("/v1/users/{}/subscription", encode(user)),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "subscribe: {body}");
        body
    }

    pub async fn reserve(&self, body: Value) -> Value {
        let (status, body) = self.json(Method::POST, "/v1/reserve", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "reserve: {body}");
        body
    }

    pub async fn commit(&self, id: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.json(Method::POST, &format!("/v1/reservations/{id}/commit"), body)
            .await
    }

    pub async fn release(&self, id: &str) -> (StatusCode, Value) {
        self.json(Method::POST, &format!("/v1/reservations/{id}/release"), None)
            .await
    }

    /// The usage ledger `GET /v1/usage-events?{query}` answers as CSV.
    pub async fn usage_events_csv(&self, query: &str) -> String {
        self.client
            .get(format!("{}/v1/usage-events?{query}", self.address))
            .bearer_auth(&self.key)
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Every entry `GET /v1/usage-events?{query}` answers, following `nextCursor` to its end.
    pub async fn usage_events_all(&self, query: &str) -> Vec<Value> {
        let (mut all, mut cursor) = (Vec::new(), String::new());
        loop {
            let (status, page) = self
                .json(Method::GET, &format!("/v1/usage-events?{query}{cursor}"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "usage events: {page}");
            all.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return all,
            }
        }
    }

    /// The ledger entries `query` selects once there are at least `n` (within 10 s): a member's
    /// commit on a slice reaches its team's ledger in the node's next batch of notes, just after
    /// the commit answers.
    pub async fn usage_events_at_least(&self, query: &str, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let all = self.usage_events_all(query).await;
            if all.len() >= n {
                return all;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{query}: {} of {n} entries",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The node's /metrics text.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    /// Redis round trips this node has made so far.
    pub async fn redis_calls(&self) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix("qg_redis_calls_total "))
            .and_then(|v| v.parse().ok())
            .expect("qg_redis_calls_total")
    }

    /// One series' value in the node's /metrics text (0 when absent).
    pub fn metric(text: &str, series: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0, |v| v.parse::<f64>().unwrap() as u64)
    }

    pub async fn usage(&self, user: &str) -> Value {
        let (status, body) = self
            .json(Method::GET, &format!("/v1/users/{}/usage", encode(user)), None)
            .await;
        assert_eq!(status, StatusCode::OK, "usage: {body}");
        body
    }

    /// The counter of one group in a usage, reserve or settle answer.
    pub fn counter<'a>(answer: &'a Value, group: &str) -> &'a Value {
        answer["counters"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["groupId"] == group))
            .unwrap_or_else(|| panic!("no counter {group} in {answer}"))
    }
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The freemium recipe's free plan: 2 lifetime images on model A at 1k.
pub fn freemium_free_plan() -> Value {
    json!({
        "id": "plan_free",
        "name": "Free",
        "periodType": "lifetime",
        "unmatched": "allow",
        "groups": [
            { "id": "lg_free_model_a", "label": "Model A (1k) - 2 lifetime", "unit": "count", "quota": 2,
              "matches": [ { "event": "image.model_a", "metadata": { "variant": "1k" } } ] }
        ]
    })
}

/// Moves an open reservation's (or run's) expiry to `at_ms`, as time passing would: its score
/// in the open set, and the counters hash's "~open" (an instant no open hold expires before,
/// lua/library/modules/prelude.lua's reclaim_due) dropped, as an extension that brings an
/// expiry nearer drops it.
pub fn expire_at(keys: &quota_gateway::surface::store::layout::UserKeys, id: &str, at_ms: &str) {
    let _: i64 = redis::shared().query(&["ZADD", keys.open(), "XX", at_ms, id]);
    let _: i64 = redis::shared().query(&["HDEL", keys.ctr(), "~open"]);
}

/// Waits until the node at `address` (a gateway in a process of its own) answers `/readyz`
/// with 200, for at most 20 s.
pub async fn until_ready(client: &reqwest::Client, address: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("{address}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway at {address} did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
