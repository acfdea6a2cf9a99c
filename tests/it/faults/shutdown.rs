//! Graceful shutdown: SIGTERM turns /readyz to 503 at once (the default drain, no QG_DRAIN_MS
//! set), requests in flight finish and new ones are still served while it lasts, the managed
//! Redis stops cleanly, and the process exits 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::redis::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn sigterm_drains_by_default_finishes_in_flight_requests_and_exits_zero() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("qg-shutdown-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_quota-gateway"))
        .env("QG_LISTEN", format!("127.0.0.1:{port}"))
        .env("QG_DATA_DIR", &dir)
        .env("QG_ROOT_TOKEN", "root-shutdown")
        .env_remove("QG_DRAIN_MS")
        .env_remove("QG_REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the gateway binary with its own redis");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(res) = client.get(format!("{address}/readyz")).send().await {
            if res.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the gateway did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dir.join("redis.sock").exists());

    // A request in flight: headers and half the body sent before the signal.
    let body = br#"{"id": "drained"}"#;
    let mut in_flight = TcpStream::connect(("127.0.0.1", port)).unwrap();
    in_flight.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        in_flight,
        "POST /v1/projects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer root-shutdown\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    in_flight.write_all(&body[..5]).unwrap();

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let draining = client.get(format!("{address}/readyz")).send().await.unwrap();
    assert_eq!(draining.status(), 503, "draining nodes leave the load balancer");
    // A balancer that has not noticed yet is still served.
    let served = client
        .get(format!("{address}/v1/projects"))
        .bearer_auth("root-shutdown")
        .send()
        .await
        .expect("a request during the drain is served");
    assert_eq!(served.status(), 200, "the node serves through its drain");

    in_flight.write_all(&body[5..]).unwrap();
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    while !answer.contains("drained") {
        let n = in_flight.read(&mut buf).expect("the in-flight request is answered");
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the gateway did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    assert!(!dir.join("redis.sock").exists(), "the managed redis stopped cleanly");
    let _ = std::fs::remove_dir_all(&dir);
}
