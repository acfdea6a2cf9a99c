//! Traces over OTLP/HTTP (protobuf), when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: a span per HTTP request (continuing a caller's
//! `traceparent`), a child per Redis script call, and a proxied call's span named and
//! attributed as OpenTelemetry's GenAI conventions say. Built on the OpenTelemetry project's
//! API, SDK and OTLP exporter; what this file adds is the batching in front of the exporter,
//! because a node must never wait for a collector: finished spans go into a bounded queue,
//! one thread exports them in batches, and a span that finds the queue full is dropped and
//! counted (`qg_trace_spans_dropped_total`). Nothing set: no span is made anywhere (each site
//! asks `Option<Traces>` first), so an untraced node pays nothing.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter as _, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::Metrics;

/// Spans a batch sends at most.
const BATCH: usize = 512;
/// How long one export may take before its batch is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the node's traces are configured with (`OTEL_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceSettings {
    /// Where spans go: the traces endpoint itself (`…/v1/traces`).
    pub(crate) endpoint: String,
    /// Finished spans waiting for an export, at most (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub(crate) queue: usize,
    /// How long a span waits for its batch, at most (`OTEL_BSP_SCHEDULE_DELAY`).
    pub(crate) delay: Duration,
}

impl TraceSettings {
    /// The settings the standard variables name, or None when no endpoint is set (or
    /// `OTEL_SDK_DISABLED` is true). A protocol this node does not speak is an error naming it.
    pub(crate) fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<TraceSettings>, String> {
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let endpoint = match (
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) if !traces.trim().is_empty() => traces.trim().to_string(),
            (_, Some(base)) if !base.trim().is_empty() => format!("{}/v1/traces", base.trim().trim_end_matches('/')),
            _ => return Ok(None),
        };
        for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            if let Some(protocol) = get(name).filter(|p| !p.trim().is_empty()) {
                if protocol.trim() != "http/protobuf" {
                    return Err(format!(
                        "{name}: {protocol} is not exported by this gateway; use http/protobuf (a collector's port 4318)"
                    ));
                }
                break;
            }
        }
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| format!("{name}: must be a whole number")),
            }
        };
        Ok(Some(TraceSettings {
            endpoint,
            queue: number("OTEL_BSP_MAX_QUEUE_SIZE", 2048)?.clamp(1, 1 << 20) as usize,
            delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000)?.clamp(10, 60_000)),
        }))
    }
}

/// The node's tracer, when traces are on.
#[derive(Debug)]
pub(crate) struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Traces {
    /// Starts exporting to `settings.endpoint`; finished spans a full queue cannot take are
    /// counted in `metrics`.
    pub(crate) fn start(settings: &TraceSettings, metrics: Arc<Metrics>) -> Result<Arc<Traces>, String> {
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("traces: {e}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(Http(client))
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
        let (tx, rx) = mpsc::sync_channel(settings.queue);
        let delay = settings.delay;
        std::thread::Builder::new()
            .name("qg-traces".into())
            .spawn(move || export_forever(exporter, rx, delay))
            .map_err(|e| format!("traces: {e}"))?;
        let mut resource = Resource::builder();
        if std::env::var("OTEL_SERVICE_NAME").is_err() {
            resource = resource.with_service_name("quota-gateway");
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Batches { tx, metrics })
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("quota-gateway");
        Ok(Arc::new(Traces { provider, tracer }))
    }

    /// A server span for an HTTP request, continuing the caller's `traceparent` if it sent one:
    /// the context the request's work runs in.
    pub(crate) fn request(
        &self,
        headers: &actix_web::http::header::HeaderMap,
        name: String,
        attributes: Vec<KeyValue>,
    ) -> Context {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        parent.with_span(span)
    }

    /// A child of the current context's span (none when the current context has no span).
    pub(crate) fn child(&self, name: String, kind: SpanKind, attributes: Vec<KeyValue>) -> Option<Context> {
        let cx = Context::current();
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &cx);
        Some(cx.with_span(span))
    }
}

impl Drop for Traces {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Writes the current span's context as `traceparent` (and `tracestate`) into `set`, when
/// there is a span: a call upstream continues the trace the gateway is in.
pub(crate) fn inject(mut set: impl FnMut(&str, String)) -> bool {
    let cx = Context::current();
    if !cx.span().span_context().is_valid() {
        return false;
    }
    let mut fields = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut fields);
    for (k, v) in fields {
        set(&k, v);
    }
    true
}

/// Sets attributes on the span of the current context, if any.
pub(crate) fn note(attributes: impl IntoIterator<Item = KeyValue>) {
    let cx = Context::current();
    let span = cx.span();
    if span.span_context().is_valid() {
        span.set_attributes(attributes);
    }
}

struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Finished spans into a bounded queue, never waiting: a full queue drops the span, counted.
struct Batches {
    tx: SyncSender<SpanData>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches").finish_non_exhaustive()
    }
}

impl SpanProcessor for Batches {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        match self.tx.try_send(span) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.metrics.count("qg_trace_spans_dropped_total", &[]),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The export thread: batches of up to `BATCH` spans, each sent at most `delay` after its first
/// span came, on an event loop of its own; a batch the collector does not take in time is
/// given up. Ends when the node's tracer is gone.
fn export_forever(exporter: opentelemetry_otlp::SpanExporter, rx: Receiver<SpanData>, delay: Duration) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        tracing::error!("traces: no event loop for the exporter; spans are not exported");
        return;
    };
    loop {
        let first = match rx.recv() {
            Ok(span) => span,
            Err(_) => return,
        };
        let mut batch = vec![first];
        let due = Instant::now() + delay;
        while batch.len() < BATCH {
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(span) => batch.push(span),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let sent = runtime.block_on(async { tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(batch)).await });
        if !matches!(sent, Ok(Ok(()))) {
            tracing::warn!("traces: a batch of spans was not taken by the collector");
        }
    }
}

/// The exporter's HTTP through the node's own client.
#[derive(Debug)]
struct Http(reqwest::Client);

#[async_trait]
impl HttpClient for Http {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let answer = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await?;
        let mut response = Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_standard_variables_turn_traces_on_and_name_what_is_wrong() {
        assert_eq!(TraceSettings::from_env(env(&[])), Ok(None));
        let on = TraceSettings::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]))
            .unwrap()
            .unwrap();
        assert_eq!(on.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!((on.queue, on.delay), (2048, Duration::from_secs(5)));
        let own = TraceSettings::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/traces"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(own.endpoint, "http://b:4318/traces");
        let off = TraceSettings::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
            ("OTEL_SDK_DISABLED", "true"),
        ]));
        assert_eq!(off, Ok(None));
        let grpc = TraceSettings::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]));
        assert!(grpc.unwrap_err().starts_with("OTEL_EXPORTER_OTLP_PROTOCOL: grpc"));
        let queue = TraceSettings::from_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "x"),
        ]));
        assert!(queue.unwrap_err().starts_with("OTEL_BSP_MAX_QUEUE_SIZE"));
    }
}
