//! The provider simulator (`tests/provider/sim.py`) as a child process, one per test, and a
//! gateway whose upstreams point at it: `openai` and `anthropic` (the simulator speaks both),
//! and `gone`, a port nothing listens on.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Once;

use serde_json::{json, Value};

use super::{redis, spawn_app_with, unique_prefix, TestApp};

/// The provider's key, as the operator's environment holds it: the simulator refuses any other.
pub const PROVIDER_KEY: &str = "sk-sim-provider-key";
const PROVIDER_KEY_ENV: &str = "QG_TEST_PROVIDER_KEY";

pub struct Provider {
    pub port: u16,
    child: Child,
    client: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    pub fn start() -> Provider {
        let sim = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/provider/sim.py");
        let mut child = Command::new("python3")
            .args([sim, "--port", "0", "--key", PROVIDER_KEY])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the provider simulator (python3)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("the simulator's first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the simulator said {line:?}"));
        Provider {
            port,
            child,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the simulator counted: calls, the usage it reported, streams, the last requests.
    pub async fn stats(&self) -> Value {
        let res = self
            .client
            .get(format!("{}/_sim/stats", self.url()))
            .send()
            .await
            .expect("stats");
        res.json().await.expect("stats JSON")
    }

    /// The simulator's count of provider calls.
    pub async fn calls(&self) -> u64 {
        self.stats().await["calls"].as_u64().unwrap()
    }

    /// The files the provider has, by its own list (`GET v1/files` with the provider's key).
    pub async fn files(&self) -> Vec<Value> {
        let list: Value = self
            .client
            .get(format!("{}/v1/files", self.url()))
            .bearer_auth(PROVIDER_KEY)
            .send()
            .await
            .expect("the provider's files")
            .json()
            .await
            .expect("the provider's list as JSON");
        list["data"].as_array().cloned().unwrap_or_default()
    }
}

/// Writes an upstreams file for `provider` (with `extra` merged into each upstream) and
/// answers its path.
pub fn upstreams_file(provider: &Provider, extra: Value) -> std::path::PathBuf {
    static ENV: Once = Once::new();
    // The one process-wide variable the gateway reads the key from, set once before any
    // gateway starts.
    ENV.call_once(|| std::env::set_var(PROVIDER_KEY_ENV, PROVIDER_KEY));
    let mut upstreams = vec![
        // The simulator is steered by `x-sim`, a header no provider reads: it is forwarded as an
        // operator would allow a header of their own.
        json!({"name": "openai", "kind": "openai", "baseUrl": provider.url(), "credentialEnv": PROVIDER_KEY_ENV, "forwardHeaders": ["x-sim"]}),
        json!({"name": "anthropic", "kind": "anthropic", "baseUrl": provider.url(), "credentialEnv": PROVIDER_KEY_ENV, "forwardHeaders": ["x-sim"]}),
        json!({"name": "gone", "kind": "openai", "baseUrl": "http://127.0.0.1:9", "credentialEnv": PROVIDER_KEY_ENV}),
        // Azure OpenAI (last, so a test's refusal of a field names the first upstream's): each
        // deployment its own model's name.
        json!({"name": "azure", "kind": "azure-openai", "baseUrl": provider.url(), "credentialEnv": PROVIDER_KEY_ENV, "forwardHeaders": ["x-sim"]}),
    ];
    for upstream in &mut upstreams {
        for (k, v) in extra.as_object().unwrap() {
            upstream[k] = v.clone();
        }
    }
    let path = std::env::temp_dir().join(format!("{}-upstreams.json", unique_prefix()));
    std::fs::write(&path, json!({ "upstreams": upstreams }).to_string()).unwrap();
    path
}

/// A gateway on the shared Redis whose upstreams are `provider`'s; `adjust` changes its config.
pub async fn gateway_for(
    provider: &Provider,
    extra: Value,
    adjust: impl FnOnce(&mut quota_gateway::config::Config),
) -> TestApp {
    gateway_on(&redis::shared().target(), provider, extra, adjust).await
}

/// As `gateway_for`, on a Redis of the test's own.
pub async fn gateway_on(
    target: &redis::Target,
    provider: &Provider,
    extra: Value,
    adjust: impl FnOnce(&mut quota_gateway::config::Config),
) -> TestApp {
    let file = upstreams_file(provider, extra);
    spawn_app_with(target, &unique_prefix(), None, |config| {
        config.upstreams = Some(file);
        adjust(config);
    })
    .await
}
