//! CORS, for the two surfaces a browser reaches: the usage reads of the API and the proxy. Only
//! origins a project lists in `allowedOrigins` get CORS headers; every other origin gets none,
//! so the browser keeps the answer from the page. A preflight carries no key, so any project's
//! list admits it; the request itself is then held to its own project's list.

use actix_web::http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ORIGIN, VARY,
};
use actix_web::{HttpRequest, HttpResponse};

use super::AppState;

/// What a page may read of each surface's answers.
#[derive(Clone, Copy)]
pub(crate) enum Expose {
    /// Usage reads: the rate-limit headers and the request id.
    Usage,
    /// Proxied calls: also the gateway's denial headers, the call's reservation and the
    /// provider's request ids.
    Proxy,
}

impl Expose {
    fn list(self) -> &'static str {
        match self {
            Expose::Usage => "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id",
            Expose::Proxy => "retry-after, x-should-retry, x-quota-reasons, x-quota-denied-by, x-quota-code, x-quota-reservation, x-quota-served-by, ratelimit, ratelimit-policy, x-request-id, x-quota-request-id, x-upstream-request-id, request-id",
        }
    }
}

/// The request's `Origin`, when it has one.
pub(crate) fn origin(req: &HttpRequest) -> Option<&str> {
    req.headers().get(ORIGIN).and_then(|v| v.to_str().ok())
}

/// The headers that let a page from `origin` read an answer of `expose`'s surface.
pub(crate) fn headers_for(origin: &str, expose: Expose) -> Vec<(HeaderName, HeaderValue)> {
    let Ok(origin) = HeaderValue::from_str(origin) else {
        return Vec::new();
    };
    vec![
        (ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        (ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(expose.list())),
        (VARY, HeaderValue::from_static("Origin")),
    ]
}

/// Adds those headers to an answer already made.
pub(crate) fn insert(headers: &mut HeaderMap, origin: &str, expose: Expose) {
    for (name, value) in headers_for(origin, expose) {
        headers.insert(name, value);
    }
}

/// The answer to an allowed preflight: `methods` and `allow_headers` for ten minutes.
pub(crate) fn preflight(origin: &str, methods: &str, allow_headers: &str) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", origin))
        .insert_header(("Access-Control-Allow-Methods", methods))
        .insert_header(("Access-Control-Allow-Headers", allow_headers))
        .insert_header(("Access-Control-Max-Age", "600"))
        .insert_header((VARY, "Origin"))
        .finish()
}

/// A preflight answered for a surface whose answers any project's origins may read: allowed
/// when any project lists the origin (a preflight carries no key), for `methods` and the
/// headers asked (else `default_headers`); 403 otherwise.
pub(crate) async fn preflight_any(
    state: &AppState,
    req: &HttpRequest,
    methods: &str,
    default_headers: &str,
) -> HttpResponse {
    let origin = origin(req);
    let allowed = match origin {
        Some(origin) => state
            .gateway
            .accounts()
            .origin_allowed_anywhere(origin)
            .await
            .unwrap_or(false),
        None => false,
    };
    let Some(origin) = origin.filter(|_| allowed) else {
        return HttpResponse::Forbidden().finish();
    };
    let asked = req
        .headers()
        .get("access-control-request-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(default_headers);
    preflight(origin, methods, asked)
}

/// CORS headers on an answer made: readable by the page when the caller's project lists its
/// origin (before the project is known, as for a refused key, when any project does, as for a
/// preflight).
pub(crate) async fn allow_answer(
    state: &AppState,
    req: &HttpRequest,
    project: Option<&str>,
    response: &mut HttpResponse,
    expose: Expose,
) {
    let Some(origin) = origin(req) else {
        return;
    };
    let allowed = match project {
        Some(project) => state
            .gateway
            .node()
            .project_settings(project)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.allows_origin(origin)),
        None => state
            .gateway
            .accounts()
            .origin_allowed_anywhere(origin)
            .await
            .unwrap_or(false),
    };
    if allowed {
        insert(response.headers_mut(), origin, expose);
    }
}
