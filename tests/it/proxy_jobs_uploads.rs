//! File uploads (`v1/files`) are read as every body the gateway reads before it answers: a
//! stalled upload of one long line takes its memory from the node's read budget, within its
//! user's share (503 with Retry-After past it) and is ended past the read idle time (408),
//! while other users upload; and an upload resent with its Idempotency-Key under a new
//! multipart boundary is answered its first file, the provider making one.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

use crate::proxy_jobs::{call, form, jsonl, line, plan, upload};
use crate::proxy_jobs_bounds::node_process;
use crate::support::provider::{gateway_for, upstreams_file, Provider};
use crate::support::TestApp;

/// The largest line read, and the node's read budget: a user's share is 16 MiB.
const MAX_BODY: usize = 16 << 20;
const BUDGET: usize = 64 << 20;
/// Each stalled upload's one line: two fit in a share, a third does not.
const LINE: usize = 6 << 20;
const STALLED: usize = 10;

/// Opens an upload of a batch file as `user` whose file is one line of `LINE` bytes that never
/// ends, declaring more: its answer's half, and the writer, which keeps the connection open.
async fn stalled_upload(address: &str, key: &str, user: &str) -> (OwnedReadHalf, JoinHandle<OwnedWriteHalf>) {
    let host = address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut body = b"--b0\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--b0\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"long.jsonl\"\r\n\r\n{\"custom_id\": \""
        .to_vec();
    body.resize(LINE, b'a');
    let head = format!(
        "POST /proxy/openai/v1/files HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\
         X-Quota-User: {user}\r\nContent-Type: multipart/form-data; boundary=b0\r\nContent-Length: {}\r\n\r\n",
        LINE * 2
    );
    let writer = tokio::spawn(async move {
        // A refused upload's writes may fail: its answer is what the test reads.
        let _ = write.write_all(head.as_bytes()).await;
        let _ = write.write_all(&body).await;
        write
    });
    (read, writer)
}

/// The head of the answer a connection gets (lowercased), within `seconds`; empty if none.
async fn answer_head(read: &mut OwnedReadHalf, seconds: u64) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
        match tokio::time::timeout_at(deadline, read.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

/// The node's resident memory at its peak so far, in KiB (Linux's /proc).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Uploads a batch file of `lines` as `user` to the node at `address`: its status.
async fn upload_to(app: &TestApp, address: &str, user: &str, lines: usize) -> StatusCode {
    let all: Vec<Value> = (0..lines).map(line).collect();
    let (content_type, body) = form("batch", &jsonl(&all));
    let res = app
        .client
        .post(format!("{address}/proxy/openai/v1/files"))
        .bearer_auth(&app.key)
        .header("X-Quota-User", user)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    res.status()
}

#[tokio::test]
async fn stalled_uploads_of_one_long_line_take_a_users_share_of_the_node_and_end_after_the_idle_time() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    app.put_plan(plan("plan_jobs", 1_000_000)).await;
    let file = upstreams_file(&provider, json!({}));
    let (max_body, budget) = (MAX_BODY.to_string(), BUDGET.to_string());
    let env = [
        ("QG_PROXY_MAX_BODY_BYTES", max_body.as_str()),
        ("QG_PROXY_READ_BUDGET_BYTES", budget.as_str()),
        ("QG_PROXY_READ_IDLE_SECONDS", "4"),
    ];
    let (mut node, address) = node_process(&app, &file, &env).await;
    assert_eq!(upload_to(&app, &address, "alice", 3).await, StatusCode::OK);
    let before = peak_kib(node.id());

    // Two uploads stall within mallory's share, one after the other; then the rest at once,
    // each past it.
    let mut first = Vec::new();
    for _ in 0..2 {
        let (read, writer) = stalled_upload(&address, &app.key, "mallory").await;
        let writer = writer.await.unwrap();
        first.push((read, writer));
        // Let the node read it before the next begins.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let admitted = peak_kib(node.id()).saturating_sub(before);
    let mut rest = join_all((2..STALLED).map(|_| stalled_upload(&address, &app.key, "mallory"))).await;
    // Another user's uploads are answered meanwhile (one at a time: a project's lines are
    // counted a few uploads at a time).
    let mut answered = 0;
    for _ in 0..5 {
        answered += usize::from(upload_to(&app, &address, "alice", 2).await == StatusCode::OK);
    }
    assert_eq!(answered, 5);

    let refused = join_all(rest.iter_mut().map(|(read, _)| answer_head(read, 60))).await;
    let refusing = peak_kib(node.id()).saturating_sub(before + admitted);
    for head in &refused {
        assert!(head.starts_with("http/1.1 503"), "past mallory's share: {head}");
        assert!(head.contains("retry-after: 1\r\n"), "{head}");
        assert!(head.contains("x-quota-code: read_budget_full"), "{head}");
    }
    for (read, _) in &mut first {
        let head = answer_head(read, 60).await;
        assert!(head.starts_with("http/1.1 408"), "ended past the idle time: {head}");
    }
    // The node's memory grew by less for the eight refused uploads than for the two it kept
    // (each 6 MiB kept, and a node without the budget keeps every line).
    assert!(
        refusing < admitted,
        "the node grew {refusing} KiB for the refused uploads, {admitted} KiB for the two kept"
    );
    // Ended, the uploads gave their share back.
    assert_eq!(upload_to(&app, &address, "mallory", 2).await, StatusCode::OK);
    for (_, writer) in rest {
        writer.abort();
    }
    node.kill().expect("stop the node");
    let _ = node.wait();
}

/// Uploads `content` as alice's batch file under `boundary`, with the Idempotency-Key `key` and
/// the simulator's `sim`.
async fn keyed_upload(app: &TestApp, boundary: &str, content: &str, (key, sim): (&str, &str)) -> (StatusCode, Value) {
    let (_, body) = form("batch", content);
    let body = String::from_utf8(body).unwrap().replace("qgjobsboundary", boundary);
    let res = call(app, reqwest::Method::POST, "alice", "v1/files")
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .header("Idempotency-Key", key)
        .header("x-sim", sim)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_file_resent_with_its_key_under_another_boundary_is_answered_its_first_file() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    let content = jsonl(&[line(0), line(1)]);
    // The provider fails the first try: it made no file, and the retry makes one.
    let (status, failed) = keyed_upload(&app, "----one111", &content, ("file-1", "status=500")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{failed}");
    let (status, first) = keyed_upload(&app, "----two2222222", &content, ("file-1", "")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = keyed_upload(&app, "----three33", &content, ("file-1", "")).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &first["id"]), "{again}");
    assert_eq!(again["bytes"], first["bytes"]);
    assert_eq!(provider.files().await.len(), 1, "one file at the provider");
    // Another file under the same key is another call; the file is its uploader's as any.
    let other = jsonl(&[line(2)]);
    let (status, reused) = keyed_upload(&app, "----one111", &other, ("file-1", "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    let (status, listed) = crate::proxy_jobs::get(&app, "alice", "v1/files").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    // Without a key, the same file again is another file.
    let (status, _) = upload(&app, "alice", &[line(0), line(1)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(provider.files().await.len(), 2);
}

#[tokio::test]
async fn uploads_of_one_key_at_once_make_one_file_the_others_told_it_is_in_flight() {
    let provider = Provider::start();
    let app = gateway_for(&provider, json!({}), |_| {}).await;
    let content = jsonl(&[line(0)]);
    // The provider takes its time answering: the first upload is in flight while the rest end.
    let boundaries = ["----a1", "----bb22", "----ccc333", "----dddd4444"];
    let answers = join_all(
        boundaries
            .iter()
            .map(|b| keyed_upload(&app, b, &content, ("file-at-once", "stall=1500"))),
    )
    .await;
    let made: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, a)| a)
        .collect();
    assert_eq!(made.len(), 1, "{answers:?}");
    for (status, answer) in &answers {
        assert!(
            *status == StatusCode::OK || answer["error"]["code"] == "idempotency_key_in_flight",
            "{answers:?}"
        );
    }
    assert_eq!(provider.files().await.len(), 1, "one file at the provider");
    let (status, again) = keyed_upload(&app, "----e5", &content, ("file-at-once", "")).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &made[0]["id"]));
}
