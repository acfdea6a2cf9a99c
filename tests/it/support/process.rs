//! The gateway binary as a child process, for tests that kill a node with SIGKILL.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quota_gateway::surface::store::RedisMode;

use super::redis::Target;

/// The gateway binary on `port`, against `target` under `prefix`, with extra environment.
pub fn gateway_process(port: u16, target: &Target, prefix: &str, root: &str, env: &[(&str, &str)]) -> Child {
    let mode = match target.mode {
        RedisMode::Cluster => "cluster",
        _ => "standalone",
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_quota-gateway"));
    // The Redis command timeout the in-process nodes get beside a loaded suite
    // (`QG_TEST_COMMAND_TIMEOUT_MS`), unless `env` sets one: at the default 250 ms a child's
    // call could answer 503 where the test waits for it to hang.
    if let Ok(ms) = std::env::var("QG_TEST_COMMAND_TIMEOUT_MS") {
        command.env("QG_COMMAND_TIMEOUT_MS", ms);
    }
    command
        // No drain on a stop unless the test asks for one (`env` may set it).
        .env("QG_DRAIN_MS", "0")
        .envs(env.iter().copied())
        .env("QG_LISTEN", format!("127.0.0.1:{port}"))
        .env("QG_REDIS_URL", &target.url)
        .env("QG_REDIS_MODE", mode)
        .env("QG_KEY_PREFIX", prefix)
        .env("QG_ROOT_TOKEN", root)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the gateway binary")
}

/// Waits until the node at `address` answers ready (at most 20 s).
pub async fn wait_ready(client: &reqwest::Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(res) = client.get(format!("{address}/readyz")).send().await {
            if res.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway process did not become ready");
}
