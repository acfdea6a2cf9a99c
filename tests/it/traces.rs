//! Traces over OTLP/HTTP, received on loopback by a receiver that decodes them with the
//! OpenTelemetry project's own protobuf definitions: a proxied call is its request's span, the
//! call's `chat <model>` span with the GenAI attributes the provider's usage says, and the
//! script calls under it; the caller's `traceparent` is continued, and the provider gets the
//! call's; a collector that takes nothing costs the calls nothing, and its dropped spans are
//! counted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::provider::{gateway_for, Provider};
use crate::support::TestApp;

/// A collector on loopback: every span it was sent.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    _server: actix_web::dev::ServerHandle,
}

async fn receiver() -> Receiver {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let kept = spans.clone();
    let server = HttpServer::new(move || {
        let kept = kept.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |body: web::Bytes| {
                let kept = kept.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf");
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            kept.lock().unwrap().extend(scope.spans);
                        }
                    }
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .body(ExportTraceServiceResponse::default().encode_to_vec())
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver {
        url: format!("http://127.0.0.1:{port}/v1/traces"),
        spans,
        _server: handle,
    }
}

/// A collector that accepts connections and never answers.
async fn stalled() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://127.0.0.1:{port}/v1/traces")
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    match kv.value.as_ref()?.value.as_ref()? {
        Any::StringValue(s) => Some(json!(s)),
        Any::IntValue(i) => Some(json!(i)),
        Any::BoolValue(b) => Some(json!(b)),
        Any::DoubleValue(d) => Some(json!(d)),
        _ => None,
    }
}

fn plan() -> Value {
    json!({ "id": "plan_traced", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000000, "matches": [ { "event": "openai.chat" } ] } ] })
}

async fn chat(app: &TestApp, traceparent: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/proxy/openai/v1/chat/completions", app.address))
        .bearer_auth(&app.key)
        .header("X-Quota-User", "alice")
        .json(
            &json!({ "model": "gpt-4o-mini", "max_tokens": 10, "messages": [ { "role": "user", "content": "hi" } ] }),
        );
    if let Some(parent) = traceparent {
        req = req.header("traceparent", parent);
    }
    req.send().await.unwrap()
}

/// A gateway in front of `provider` that sends its spans to `collector`, 50 ms after each.
async fn traced_gateway(provider: &Provider, collector: &Receiver) -> TestApp {
    let endpoint = collector.url.clone();
    gateway_for(provider, json!({}), move |c| {
        c.test.traces_endpoint = Some(endpoint);
        c.test.traces_delay_ms = 50;
    })
    .await
}

#[tokio::test]
async fn a_proxied_call_is_a_request_span_a_genai_span_and_its_script_calls_continuing_the_callers_trace() {
    let collector = receiver().await;
    let provider = Provider::start();
    let app = traced_gateway(&provider, &collector).await;
    app.put_plan(plan()).await;
    app.subscribe("alice", "plan_traced", None).await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let res = chat(&app, Some(&format!("00-{trace}-b7ad6b7169203331-01"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let reservation = res.headers()["x-quota-reservation"].to_str().unwrap().to_string();
    let answer: Value = res.json().await.unwrap();
    let trace_id = hex::decode(trace).unwrap();
    let mut ours = Vec::new();
    for _ in 0..100 {
        ours = collector
            .spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect::<Vec<_>>();
        if ours.iter().any(|s| s.name.starts_with("chat ")) && ours.iter().any(|s| s.kind == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request = ours.iter().find(|s| s.kind == 2).expect("the request's server span");
    assert_eq!(request.name, "POST /proxy/{upstream}/{path:.*}");
    assert_eq!(
        request.parent_span_id,
        hex::decode("b7ad6b7169203331").unwrap(),
        "the caller's trace, continued"
    );
    assert_eq!(attribute(request, "http.response.status_code"), Some(json!(200)));
    let call = ours
        .iter()
        .find(|s| s.name == "chat gpt-4o-mini")
        .expect("the call's span");
    assert_eq!(call.parent_span_id, request.span_id);
    assert_eq!(call.kind, 3, "a client span");
    assert_eq!(attribute(call, "gen_ai.operation.name"), Some(json!("chat")));
    assert_eq!(attribute(call, "gen_ai.provider.name"), Some(json!("openai")));
    assert_eq!(attribute(call, "gen_ai.request.model"), Some(json!("gpt-4o-mini")));
    assert_eq!(
        attribute(call, "gen_ai.usage.input_tokens"),
        Some(answer["usage"]["prompt_tokens"].clone())
    );
    assert_eq!(
        attribute(call, "gen_ai.usage.output_tokens"),
        Some(answer["usage"]["completion_tokens"].clone())
    );
    assert_eq!(attribute(call, "quota.decision"), Some(json!("allowed")));
    assert_eq!(attribute(call, "quota.reservation_id"), Some(json!(reservation)));
    assert_eq!(attribute(call, "quota.usage"), Some(json!("reported")));
    assert_eq!(
        attribute(call, "enduser.id"),
        None,
        "the end user only where the project opts in"
    );
    let scripts: Vec<&Span> = ours.iter().filter(|s| s.name.starts_with("FCALL ")).collect();
    assert!(
        scripts
            .iter()
            .any(|s| s.name == "FCALL reserve" && s.parent_span_id == call.span_id),
        "the hold's script call under the call: {:?}",
        ours.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert!(scripts
        .iter()
        .all(|s| attribute(s, "db.system.name") == Some(json!("redis"))));
    // The provider got the call's own span as its parent, in the caller's trace.
    let seen = provider.stats().await["requests"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let sent = seen["headers"]["traceparent"].as_str().unwrap().to_string();
    assert_eq!(sent, format!("00-{trace}-{}-01", hex::encode(&call.span_id)), "{seen}");

    // A project that opts in has its end user named.
    let patched = app
        .call_as(
            &app.root_token,
            reqwest::Method::PATCH,
            "/v1/projects/default",
            Some(json!({ "traceUsers": true })),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(patched.json::<Value>().await.unwrap()["traceUsers"], true);
    let named = "4bf92f3577b34da6a3ce929d0e0e4736";
    chat(&app, Some(&format!("00-{named}-00f067aa0ba902b7-01"))).await;
    let named = hex::decode(named).unwrap();
    let mut user = None;
    for _ in 0..100 {
        user = collector
            .spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.trace_id == named && s.name.starts_with("chat "))
            .and_then(|s| attribute(s, "enduser.id"));
        if user.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(user, Some(json!("alice")));
}

#[tokio::test]
async fn a_collector_that_takes_nothing_costs_the_calls_nothing_and_its_dropped_spans_are_counted() {
    let provider = Provider::start();
    let endpoint = stalled().await;
    let traced = gateway_for(&provider, json!({}), move |c| {
        c.test.traces_endpoint = Some(endpoint);
        c.test.traces_queue = 4;
        c.test.traces_delay_ms = 10;
    })
    .await;
    let plain = gateway_for(&provider, json!({}), |_| {}).await;
    for app in [&traced, &plain] {
        app.put_plan(plan()).await;
        app.subscribe("alice", "plan_traced", None).await;
    }
    // Alternating, so both see the same moment of the machine.
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        for (app, times) in [(&traced, &mut with), (&plain, &mut without)] {
            let started = Instant::now();
            assert_eq!(chat(app, None).await.status(), StatusCode::OK);
            times.push(started.elapsed());
        }
    }
    with.sort();
    without.sort();
    let (with, without) = (with[with.len() / 2], without[without.len() / 2]);
    assert!(
        with.as_secs_f64() <= without.as_secs_f64() * 3.0,
        "a stalled collector slowed the calls: median {with:?} traced against {without:?}"
    );
    let dropped = |metrics: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with("qg_trace_spans_dropped_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let metrics = traced.metrics().await;
    assert!(
        dropped(&metrics) > 0,
        "the spans no queue could take are counted: {metrics}"
    );
    assert_eq!(dropped(&plain.metrics().await), 0, "an untraced node makes no span");
}

#[tokio::test]
async fn a_realtime_session_is_a_span_and_each_of_its_responses_one_in_it() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let collector = receiver().await;
    let provider = Provider::start();
    let app = traced_gateway(&provider, &collector).await;
    app.put_plan(json!({ "id": "plan_voice", "periodType": "month", "groups": [
        { "id": "tokens", "unit": "tokens", "quota": 1000000, "matches": [ { "event": "openai.realtime_response" } ] } ] }))
        .await;
    app.subscribe("alice", "plan_voice", None).await;
    let url = format!(
        "{}/proxy/openai/v1/realtime?model=gpt-realtime",
        app.address.replace("http", "ws")
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", app.key).parse().unwrap());
    request.headers_mut().insert("x-quota-user", "alice".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let ask = json!({"type": "response.create", "response": {"output_modalities": ["text"], "max_output_tokens": 30}});
    let mut asked = false;
    let done = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else { continue };
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == "session.created" && !asked {
                asked = true;
                socket.send(Message::text(ask.to_string())).await.unwrap();
            }
            if event["type"] == "response.done" {
                return event;
            }
        }
        panic!("the session ended before its response");
    })
    .await
    .expect("a response within 10 s");
    socket.close(None).await.unwrap();
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = collector.spans.lock().unwrap().clone();
        let named = |n: &str| spans.iter().any(|s| s.name == n);
        if named("realtime gpt-realtime") && named("realtime_response gpt-realtime") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let session = spans
        .iter()
        .find(|s| s.name == "realtime gpt-realtime")
        .expect("the session's span");
    let response = spans
        .iter()
        .find(|s| s.name == "realtime_response gpt-realtime")
        .expect("its response's span");
    assert_eq!(
        response.parent_span_id, session.span_id,
        "the response is the session's"
    );
    assert_eq!(response.trace_id, session.trace_id);
    assert_eq!(attribute(session, "quota.usage"), Some(json!("released")));
    assert_eq!(
        attribute(response, "gen_ai.usage.output_tokens"),
        Some(done["response"]["usage"]["output_tokens"].clone())
    );
    assert_eq!(attribute(response, "quota.usage"), Some(json!("reported")));
}
