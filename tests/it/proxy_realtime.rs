//! Realtime sessions against the provider simulator: a response held and running when its node
//! is killed is charged its hold by another node's sweeper at its end, never given back (the
//! provider may have billed what it started), and the session's own slot returns with its
//! hold's expiry; a session's time, held a minute at a time, ends the session when the user's
//! seconds are used up.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::proxy_jobs::counter;
use crate::proxy_jobs_bounds::node_process;
use crate::support::provider::{upstreams_file, Provider};
use crate::support::redis;
use crate::support::{spawn_app_with, unique_prefix, TestApp};

fn plan() -> Value {
    json!({ "id": "plan_rt", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1_000_000, "matches": [ { "event": "openai.realtime_response" } ] },
        { "id": "open", "unit": "concurrent", "quota": 2, "matches": [ { "event": "openai.realtime" } ] } ] })
}

/// Waits (at most 300 tries, 100 ms apart) until `done` holds of the user's usage; answers it.
async fn until(app: &TestApp, user: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut usage = Value::Null;
    for _ in 0..300 {
        usage = app.usage(user).await;
        if done(&usage) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    usage
}

#[tokio::test]
async fn a_response_running_when_its_node_dies_is_charged_its_hold_never_given_back() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({}));
    let (target, prefix) = (redis::shared().target(), unique_prefix());
    let app = spawn_app_with(&target, &prefix, None, |c| {
        c.upstreams = Some(file.clone());
        c.job_sweep_ms = 100;
    })
    .await;
    app.put_plan(plan()).await;
    app.subscribe("alice", "plan_rt", None).await;
    // The node that dies holds each response for 3 s at a time.
    let (mut child, address) = node_process(&app, &file, &[("QG_TEST_PROXY_HOLD_TTL_MS", "3000")]).await;
    // Each response waits after its last delta: it runs until the node is gone.
    let mut socket = open(&address, &app.key, ("alice", "output=8, pause=60000")).await;
    let listed = app.usage("alice").await["jobs"].clone();
    assert_eq!(listed[0]["kind"], "realtime_session", "{listed}");
    let ask = json!({"type": "response.create", "response": {"output_modalities": ["text"], "max_output_tokens": 100}});
    socket.send(Message::text(ask.to_string())).await.unwrap();
    expect(&mut socket, "response.output_text.delta").await;
    let (_, held) = counter(&app.usage("alice").await, "tokens");
    assert!(held > 100, "the response is held: {held}");
    assert_eq!(
        counter(&app.usage("alice").await, "open"),
        (0, 1),
        "the session holds its slot"
    );
    child.kill().expect("SIGKILL the node");
    let _ = child.wait();

    let usage = until(&app, "alice", |u| {
        counter(u, "tokens").1 == 0 && counter(u, "open").1 == 0
    })
    .await;
    assert_eq!(counter(&usage, "tokens"), (held, 0), "charged its hold: {usage}");
    assert_eq!(counter(&usage, "open"), (0, 0), "the session's slot came back: {usage}");
    // Its node gone, the session is no longer its user's open job once the sweeper sees it.
    let usage = until(&app, "alice", |u| u["jobs"].as_array().is_some_and(Vec::is_empty)).await;
    assert_eq!(usage["jobs"], json!([]), "{usage}");
    let entries = app.usage_events_all("userId=alice").await;
    let response: Vec<&Value> = entries
        .iter()
        .filter(|e| e["metadata"]["operation"] == "realtime_response")
        .collect();
    let kinds: Vec<&str> = response.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["commit"], "never given back: {entries:?}");
    assert_eq!(response[0]["metadata"]["usage"], "estimated");
    assert_eq!(response[0]["metadata"]["job_kind"], "realtime_response");
}

#[tokio::test]
async fn a_session_ends_when_the_minutes_of_its_users_time_are_used_up() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({}));
    let (target, prefix) = (redis::shared().target(), unique_prefix());
    let app = spawn_app_with(&target, &prefix, None, |c| c.upstreams = Some(file.clone())).await;
    app.put_plan(json!({ "id": "plan_time", "periodType": "month", "groups": [
        { "id": "time", "unit": "seconds", "quota": 3, "measure": { "metadata": "realtime_seconds" },
          "matches": [ { "event": "openai.realtime" } ] },
        { "id": "open", "unit": "concurrent", "quota": 1, "matches": [ { "event": "openai.realtime" } ] } ] }))
        .await;
    app.subscribe("bob", "plan_time", None).await;
    // A node whose holds last 2 s holds the session's time a second at a time.
    let (mut child, address) = node_process(&app, &file, &[("QG_TEST_PROXY_HOLD_TTL_MS", "2000")]).await;
    let mut socket = open(&address, &app.key, ("bob", "")).await;
    // The session counts one in the concurrent group; its seconds, none there.
    assert_eq!(counter(&app.usage("bob").await, "open"), (0, 1));
    expect(&mut socket, "error").await;
    let closed = closed(&mut socket).await;
    assert_eq!(closed, Some(1008), "closed as the plan says");
    let usage = until(&app, "bob", |u| counter(u, "time").1 == 0 && counter(u, "open").1 == 0).await;
    assert_eq!(
        counter(&usage, "time"),
        (3, 0),
        "three seconds, held one at a time: {usage}"
    );
    assert_eq!(counter(&usage, "open"), (0, 0));
    child.kill().expect("stop the node");
    let _ = child.wait();
}

#[tokio::test]
async fn a_provider_that_goes_quiet_mid_response_ends_the_session_and_the_response_is_charged_its_hold() {
    let provider = Provider::start();
    let file = upstreams_file(&provider, json!({ "timeouts": { "idleMs": 1000 } }));
    let (target, prefix) = (redis::shared().target(), unique_prefix());
    let app = spawn_app_with(&target, &prefix, None, |c| c.upstreams = Some(file.clone())).await;
    app.put_plan(plan()).await;
    app.subscribe("carol", "plan_rt", None).await;
    // The response stops after its deltas and never ends.
    let mut socket = open(&app.address, &app.key, ("carol", "output=4, pause=60000")).await;
    let ask = json!({"type": "response.create", "response": {"output_modalities": ["text"], "max_output_tokens": 50}});
    socket.send(Message::text(ask.to_string())).await.unwrap();
    let closed = closed(&mut socket).await;
    assert_eq!(closed, Some(1011), "closed as the provider's failure");
    let usage = until(&app, "carol", |u| counter(u, "tokens").1 == 0).await;
    let (used, held) = counter(&usage, "tokens");
    assert!(used > 50 && held == 0, "charged at its hold: {usage}");
}

/// A session of `user`'s opened on the node at `address` (the simulator steered by `sim`),
/// read to its `session.created`.
async fn open(address: &str, key: &str, (user, sim): (&str, &str)) -> Socket {
    let url = format!(
        "{}/proxy/openai/v1/realtime?model=gpt-realtime",
        address.replace("http", "ws")
    );
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    headers.insert("x-quota-user", user.parse().unwrap());
    if !sim.is_empty() {
        headers.insert("x-sim", sim.parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the session opens");
    expect(&mut socket, "session.created").await;
    socket
}

/// The code the session closes with (within 10 s); None for no close frame.
async fn closed(socket: &mut Socket) -> Option<u16> {
    let read = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the session closes")
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads the session until an event of `kind` (within 10 s).
async fn expect<S>(socket: &mut S, kind: &str)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let read = async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Text(text)) = message {
                let event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == kind {
                    return;
                }
            }
        }
        panic!("the session ended before {kind}");
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("no {kind} within 10 s"));
}
