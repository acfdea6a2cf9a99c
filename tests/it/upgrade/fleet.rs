//! A fleet of gateway processes of two builds (the previous release, `QG_OLD_BIN`, and this
//! one) on the shared Redis, behind a balancer of the test's own: a node joins it once ready
//! and leaves it before it is stopped with SIGTERM, as a load balancer watching `/readyz`
//! would. A call that reaches no node (a connection refused or cut at a swap) is sent again,
//! with its Idempotency-Key, to another node, and counted as refused.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::redis::{free_port, shared};
use crate::support::{unique_prefix, until_ready};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Build {
    Old,
    New,
}

impl Build {
    fn binary(self) -> PathBuf {
        match self {
            Build::Old => std::env::var("QG_OLD_BIN")
                .expect(
                    "QG_OLD_BIN: the previous release's binary (scripts/upgrade-from builds it; scripts/test sets it)",
                )
                .into(),
            Build::New => env!("CARGO_BIN_EXE_quota-gateway").into(),
        }
    }

    pub fn other(self) -> Build {
        match self {
            Build::Old => Build::New,
            Build::New => Build::Old,
        }
    }
}

struct Node {
    build: Build,
    address: String,
    child: tokio::process::Child,
}

/// One answer: the build that gave it, its status and its body.
pub type Answer = (Build, StatusCode, Value);

pub struct Fleet {
    pub prefix: String,
    pub root: String,
    key: Mutex<String>,
    /// The nodes the balancer sends to, in the order they joined.
    live: Mutex<Vec<(Build, String)>>,
    nodes: tokio::sync::Mutex<Vec<Node>>,
    client: reqwest::Client,
    next: AtomicUsize,
    /// Attempts that reached no node and were sent again.
    pub refused: AtomicUsize,
}

impl Fleet {
    pub fn new() -> Fleet {
        let prefix = unique_prefix();
        Fleet {
            root: format!("root-{prefix}-of-forty-characters-or-so"),
            prefix,
            key: Mutex::new(String::new()),
            live: Mutex::new(Vec::new()),
            nodes: tokio::sync::Mutex::new(Vec::new()),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(1))
                .build()
                .expect("an HTTP client"),
            next: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        }
    }

    /// Starts a node of `build` and adds it to the balancer once it answers ready; the first
    /// node's start makes the project, whose secret key the fleet then mints.
    pub async fn start(&self, build: Build) {
        let port = free_port();
        let target = shared().target();
        let timeout = std::env::var("QG_TEST_COMMAND_TIMEOUT_MS").unwrap_or_else(|_| "250".into());
        let child = tokio::process::Command::new(build.binary())
            .env("QG_LISTEN", format!("127.0.0.1:{port}"))
            .env("QG_REDIS_URL", &target.url)
            .env("QG_REDIS_MODE", target.mode.as_str())
            .env("QG_KEY_PREFIX", &self.prefix)
            .env("QG_ROOT_TOKEN", &self.root)
            .env("QG_COMMAND_TIMEOUT_MS", timeout)
            .env("QG_WORKERS", "2")
            // A short drain: calls the balancer sent before the node left it are answered.
            .env("QG_DRAIN_MS", "250")
            .env("QG_WEBHOOK_ALLOW_HTTP", "true")
            .env("QG_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("QG_WEBHOOK_RETRY_SCALE", "0.001")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start a gateway node");
        let address = format!("http://127.0.0.1:{port}");
        until_ready(&self.client, &address).await;
        if self.key.lock().unwrap().is_empty() {
            let minted = self
                .client
                .post(format!("{address}/v1/projects/default/keys"))
                .bearer_auth(&self.root)
                .json(&json!({ "kind": "secret", "label": "upgrade" }))
                .send()
                .await
                .expect("the first node answers");
            let minted: Value = minted.json().await.expect("a key");
            *self.key.lock().unwrap() = minted["key"].as_str().expect("a secret key").to_string();
        }
        self.nodes.lock().await.push(Node {
            build,
            address: address.clone(),
            child,
        });
        self.live.lock().unwrap().push((build, address));
    }

    /// Takes the longest-running node of `build` out of the balancer, then stops it with
    /// SIGTERM and waits until it has exited (at most 20 s).
    pub async fn stop(&self, build: Build) {
        let mut nodes = self.nodes.lock().await;
        let at = nodes
            .iter()
            .position(|n| n.build == build)
            .expect("a node of that build");
        let mut node = nodes.remove(at);
        self.live.lock().unwrap().retain(|(_, a)| *a != node.address);
        let pid = node.child.id().expect("a running node").to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM to the node");
        let exit = tokio::time::timeout(Duration::from_secs(20), node.child.wait())
            .await
            .expect("the node exits within 20 s of SIGTERM")
            .expect("the node's exit status");
        assert!(exit.success(), "{build:?} node exited with {exit:?}");
    }

    /// The live builds.
    pub fn builds(&self) -> Vec<Build> {
        self.live.lock().unwrap().iter().map(|(b, _)| *b).collect()
    }

    /// The next live node (of `build`, if given), in turn.
    fn pick(&self, build: Option<Build>) -> Option<(Build, String)> {
        let live = self.live.lock().unwrap();
        let fit: Vec<&(Build, String)> = live.iter().filter(|(b, _)| build.is_none_or(|w| *b == w)).collect();
        if fit.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Some(fit[n % fit.len()].clone())
    }

    /// A call with the project's key through the balancer (to a node of `build` only, if
    /// given): sent again, for at most 20 s, while it reaches no node; None when no node of
    /// `build` is live.
    pub async fn send(
        &self,
        build: Option<Build>,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: &str,
    ) -> Option<Answer> {
        let key = self.key.lock().unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (which, address) = self.pick(build)?;
            let mut req = self
                .client
                .request(method.clone(), format!("{address}{path}"))
                .bearer_auth(&key);
            if !idem.is_empty() {
                req = req.header("Idempotency-Key", idem);
            }
            if let Some(body) = &body {
                req = req.json(body);
            }
            match req.send().await {
                Ok(res) => {
                    let status = res.status();
                    return Some((which, status, res.json().await.unwrap_or(Value::Null)));
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "no node answered {path} within 20 s: {e}");
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// A call of the set-up or a read (`body` null: none), made on a node of `build`, that
    /// must answer 2xx.
    pub async fn must(&self, build: Build, method: Method, path: &str, body: Value) -> Value {
        let body = (!body.is_null()).then_some(body);
        let (_, status, answer) = self
            .send(Some(build), method, path, body, "")
            .await
            .expect("a live node of that build");
        assert!(status.is_success(), "{path} on {build:?}: {status} {answer}");
        answer
    }

    /// Every ledger entry of `user`, read through a node of `build`.
    pub async fn ledger(&self, build: Build, user: &str) -> Vec<Value> {
        let (mut all, mut cursor) = (Vec::new(), String::new());
        loop {
            let path = format!("/v1/usage-events?userId={user}{cursor}");
            let (_, status, page) = self
                .send(Some(build), Method::GET, &path, None, "")
                .await
                .expect("a node");
            assert_eq!(status, StatusCode::OK, "{page}");
            all.extend(page["data"].as_array().expect("entries").iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return all,
            }
        }
    }
}
