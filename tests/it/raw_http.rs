//! Requests the HTTP layer cannot parse are refused before any route runs; they are answered
//! like every other 4xx (problem+json with a request id), written here byte by byte because no
//! HTTP client sends them.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{spawn_app, TestApp};

/// Sends `request` as it is and reads until the gateway closes the connection. A gateway that
/// stops reading a head too large closes with unread data, which resets the connection: what
/// arrived before the reset is the answer.
pub async fn send_raw(app: &TestApp, request: &[u8]) -> String {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
        answer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(answer).unwrap()
}

/// The status, lower-cased head and JSON body of each answer in `text`, in order.
fn answers(mut text: &str) -> Vec<(u16, String, Value)> {
    let mut all = Vec::new();
    while !text.is_empty() {
        let (head, rest) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("a head in {text:?}"));
        let head = head.to_ascii_lowercase();
        let length = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("content-length: "))
            .map_or(0, |n| n.parse().unwrap());
        let status = head[9..12].parse().unwrap();
        all.push((
            status,
            head,
            serde_json::from_str(&rest[..length]).unwrap_or(Value::Null),
        ));
        text = &rest[length..];
    }
    all
}

fn last_answer(text: &str) -> (u16, String, Value) {
    answers(text).pop().expect("an answer")
}

fn assert_problem(text: &str, status: u16, code: &str) {
    let (got, head, body) = last_answer(text);
    assert_eq!(got, status, "{text}");
    assert!(
        head.contains("\r\ncontent-type: application/problem+json\r\n"),
        "{text}"
    );
    assert!(head.contains("\r\nconnection: close\r\n"), "{text}");
    assert_eq!(body["code"], code, "{text}");
    let id = body["requestId"].as_str().expect("a request id in the body");
    assert!(head.contains(&format!("\r\nx-request-id: {id}\r\n")), "{text}");
}

#[tokio::test]
async fn requests_that_are_not_http_are_refused_as_problem_json_and_change_nothing() {
    let app = spawn_app().await;
    app.put_plan(json!({ "id": "plan_r", "periodType": "month",
        "groups": [ { "id": "g", "unit": "count", "quota": 10, "matches": [ { "event": "*" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_r", None).await;
    let body = r#"{"userId":"alice","event":"x"}"#;
    let reserve = |extra: &str| {
        format!(
            "POST /v1/reserve HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            app.key,
            body.len()
        )
    };

    let nul = send_raw(&app, reserve("X-Note: a\0b\r\n").as_bytes()).await;
    assert_problem(&nul, 400, "invalid_request");
    assert_eq!(last_answer(&nul).2["field"], "request");
    let twice = send_raw(&app, reserve(&format!("Content-Length: {}\r\n", body.len())).as_bytes()).await;
    assert_problem(&twice, 400, "invalid_request");
    let huge = send_raw(
        &app,
        reserve(&format!("X-Note: {}\r\n", "a".repeat(132_000))).as_bytes(),
    )
    .await;
    assert_problem(&huge, 431, "headers_too_large");

    // A good request pipelined before a bad one is answered as usual, then the bad one refused.
    let pipelined = format!("{}{}", reserve(""), reserve("X-Note: a\0b\r\n"));
    let both = send_raw(&app, pipelined.as_bytes()).await;
    let statuses: Vec<u16> = answers(&both).iter().map(|answer| answer.0).collect();
    assert_eq!(statuses, [200, 400], "{both}");
    assert_problem(&both, 400, "invalid_request");

    // Only the one good request was counted.
    let usage = app.usage("alice").await;
    assert_eq!(usage["counters"][0]["reserved"], json!(1), "{usage}");
}

#[tokio::test]
async fn a_request_head_that_never_arrives_whole_is_refused_as_problem_json() {
    let app = spawn_app().await;
    let slow = send_raw(&app, b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
    assert_problem(&slow, 408, "request_timeout");
}
