//! The first phase: where the path sends the call (its upstream, wire format and operation,
//! refused when the path is not one the gateway forwards), then who pays (`caller.rs`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::answer;
use super::caller::{self, Caller};
use super::context::{Ctx, Target};
use super::upstreams::{Kind, Upstream};
use super::wire::{self, Wire};
use super::Proxy;
use crate::http::{ApiError, AppState};

/// A path the gateway does not forward: answered 404 in the wire format it was meant for.
pub(crate) struct Unrouted {
    wire: &'static dyn Wire,
    code: &'static str,
    message: String,
}

impl Unrouted {
    pub(crate) fn answer(&self) -> HttpResponse {
        answer::error(self.wire, StatusCode::NOT_FOUND, self.code, &self.message, None)
    }
}

/// The upstream the path names.
pub(crate) fn upstream(proxy: &Proxy, req: &HttpRequest) -> Result<Arc<Upstream>, Unrouted> {
    let name = req.match_info().get("upstream").unwrap_or_default();
    proxy.upstreams.by_name.get(name).cloned().ok_or_else(|| Unrouted {
        wire: wire::of(Kind::OpenAi),
        code: "upstream_not_found",
        message: format!("this gateway has no upstream named {name}"),
    })
}

/// The call's target on `upstream`.
pub(crate) fn target(upstream: Arc<Upstream>, req: &HttpRequest) -> Result<Target, Unrouted> {
    let wire = wire::of(upstream.kind);
    let unrouted = |message: String| Unrouted {
        wire,
        code: "route_not_found",
        message,
    };
    let Some(path) = normal_path(req) else {
        let message = "the path has a dot segment or an encoded separator; the gateway forwards plain paths only";
        return Err(unrouted(message.to_string()));
    };
    let Some(route) = wire::route(wire, &upstream.passthrough, req.method().as_str(), &path) else {
        return Err(unrouted(format!(
            "the gateway does not forward {} /{path}",
            req.method()
        )));
    };
    Ok(Target {
        upstream,
        wire,
        route,
        path,
    })
}

/// Who pays for the call.
pub(crate) async fn caller(state: &AppState, req: &HttpRequest, target: &Target) -> Result<Caller, ApiError> {
    let in_query = target
        .wire
        .key_param()
        .and_then(|name| query_value(req.query_string(), name));
    caller::identify(state, req.headers(), in_query).await
}

/// The query without the parameter `name` (a caller's key never goes upstream).
pub(crate) fn query_without(query: &str, name: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(name))
        .collect();
    kept.join("&")
}

/// The value of the query parameter `name`, as sent (a key has no characters to decode).
fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

/// Whether the caller's project may use the upstream.
pub(crate) fn allowed(ctx: &Ctx) -> Result<(), ApiError> {
    match ctx.upstream().allows(&ctx.caller.project) {
        true => Ok(()),
        false => Err(ApiError::Forbidden),
    }
}

/// The path after `/proxy/{upstream}/` as it will be forwarded, or None when it has a `.` or
/// `..` segment (as written or percent-encoded) or an encoded `/` or `\`: the upstream's URL
/// would resolve those to another path than the one the allow-list read.
fn normal_path(req: &HttpRequest) -> Option<String> {
    let raw = req.uri().path();
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || raw.contains('\\') {
        return None;
    }
    let path = req.match_info().get("path").unwrap_or_default();
    let dotted = |segment: &str| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    let raw_tail = raw.splitn(4, '/').nth(3).unwrap_or_default();
    if path.split('/').any(dotted) || raw_tail.split('/').any(dotted) {
        return None;
    }
    Some(path.to_string())
}
