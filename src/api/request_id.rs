//! Every response carries `X-Request-Id`, and every error body its `requestId`.
//! Errors that did not come from a handler (actix's own) are turned into problem+json here too,
//! and paths whose ids are not UTF-8 are refused here, before routing (`paths::check`).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;

use super::paths;
use crate::http::ApiError;
use crate::http::AppState;
use crate::secrets::{push_hex, random_bytes};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The gateway's request id on an answer whose `x-request-id` is a provider's.
pub const OWN_HEADER: HeaderName = HeaderName::from_static("x-quota-request-id");

pub use crate::http::RequestId;

/// A node-unique id without a system call per request: a random prefix made once per process
/// and a counter.
pub(crate) fn next_id() -> String {
    static PREFIX: LazyLock<String> = LazyLock::new(|| hex::encode(random_bytes::<6>()));
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let next = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(24);
    id.push_str(&PREFIX);
    // The counter's low 48 bits as 12 hex digits, without `format!`'s machinery.
    push_hex(&mut id, &next.to_be_bytes()[2..]);
    id
}

/// A caller's own id is kept when it is short and plain, so logs can be joined across services.
fn incoming(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&HEADER)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    plain.then(|| value.to_string())
}

/// Gives the request its id, runs it in its span (and, with traces on, its server span), turns
/// any error into problem+json with that id, and records the answer's route, status and
/// latency in the log, the trace and the metrics.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = incoming(&req).unwrap_or_else(next_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.gateway.node().metrics().clone());
    // One span per request; the route is the pattern (never the path, which names users).
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = Empty, status = Empty, latency_ms = Empty);
    let method = req.method().clone();
    let traced = server_span(&req, &id);
    // No clone of the request may be held here: actix routes only a uniquely owned request.
    let called = match paths::check(&req) {
        Err(err) => Ok(req.error_response(err)),
        Ok(()) => {
            let call = next.call(req).instrument(span.clone());
            match &traced {
                Some(cx) => call.with_context(cx.clone()).await,
                None => call.await,
            }
            .map(ServiceResponse::map_into_boxed_body)
        }
    };
    let mut res = match called {
        Ok(res) => answer_problem(res, &id),
        Err(err) => return Err(fail(&err, &id)),
    };
    stamp(&mut res, &id);
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_string());
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.record("route", route.as_str());
    span.record("status", status);
    span.record("latency_ms", latency_ms);
    span.in_scope(|| tracing::info!("request"));
    if let Some(cx) = traced {
        end_server_span(&cx, &method, &route, status);
    }
    if let Some(metrics) = metrics {
        metrics.count(
            "qg_requests_total",
            &[("route", &route), ("status", res.status().as_str())],
        );
    }
    Ok(res)
}

/// With traces on, a server span for the request, continuing the caller's `traceparent`: the
/// request's work runs in its context (its script calls and a proxied call are its children).
fn server_span(req: &ServiceRequest, id: &str) -> Option<Context> {
    let method = req.method();
    req.app_data::<web::Data<AppState>>()
        .and_then(|state| state.gateway.node().traces().cloned())
        .map(|traces| {
            let attributes = vec![
                KeyValue::new("http.request.method", method.to_string()),
                KeyValue::new("quota.request_id", id.to_string()),
            ];
            traces.request(req.headers(), method.to_string(), attributes)
        })
}

/// The answer, or, when it carries an error (a handler's or actix's own), that error as
/// problem+json with the request's id, logged once.
fn answer_problem(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let problem = res.response().error().map(|err| ApiError::of_actix(err, res.status()));
    match problem {
        Some(api_err) => {
            api_err.log(id);
            res.into_response(api_err.problem(id))
        }
        None => res.map_into_boxed_body(),
    }
}

/// An inner middleware's failure as problem+json with the request's id, logged once; actix
/// renders the response given here.
fn fail(err: &actix_web::Error, id: &str) -> actix_web::Error {
    let api_err = ApiError::of_actix(err, err.as_response_error().status_code());
    api_err.log(id);
    let mut response = api_err.problem(id);
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(HEADER, value);
    }
    InternalError::from_response(api_err, response).into()
}

/// Puts the request's id on the answer.
fn stamp(res: &mut ServiceResponse<BoxBody>, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        // A proxied answer carries the provider's own `x-request-id`, which the provider's
        // support asks for: it stays, and the gateway's id goes beside it.
        let name = match res.headers().contains_key(&HEADER) {
            true => OWN_HEADER,
            false => HEADER,
        };
        res.headers_mut().insert(name, value);
    }
}

/// Names the server span by the route's pattern, gives it the answer's status, and ends it.
fn end_server_span(cx: &Context, method: &Method, route: &str, status: u16) {
    let span = cx.span();
    span.update_name(format!("{method} {route}"));
    span.set_attribute(KeyValue::new("http.route", route.to_string()));
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
    if status >= 500 {
        span.set_status(opentelemetry::trace::Status::error(""));
    }
    span.end();
}

#[cfg(test)]
mod tests {
    use super::next_id;

    #[test]
    fn ids_are_a_process_prefix_and_a_counter_in_hex() {
        let (first, second) = (next_id(), next_id());
        for id in [&first, &second] {
            assert_eq!(id.len(), 24, "{id}");
            assert!(
                id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{id}"
            );
        }
        assert_eq!(first[..12], second[..12]);
        let count = |id: &str| u64::from_str_radix(&id[12..], 16).unwrap();
        assert!(count(&second) > count(&first));
    }
}
