//! CORS for browser reads of usage: only origins a project lists in `allowedOrigins` get CORS
//! headers; every other origin gets none, so the browser keeps the answer from the page.

use actix_web::http::header::{
    HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ORIGIN, VARY,
};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::auth::USER_TOKEN_HEADER;
use super::request_id::RequestId;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::ProjectSettings;

fn origin(req: &HttpRequest) -> Option<&str> {
    req.headers().get(ORIGIN).and_then(|v| v.to_str().ok())
}

/// `OPTIONS /v1/users/{userId}/usage`: a preflight carries no key, so any project's list counts;
/// the real request is then held to its own project's list.
pub async fn preflight(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let origin = origin(&req).ok_or(ApiError::OriginNotAllowed)?;
    if !state.gateway.origin_allowed_anywhere(origin).await? {
        return Err(ApiError::OriginNotAllowed);
    }
    Ok(HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", origin))
        .insert_header(("Access-Control-Allow-Methods", "GET"))
        .insert_header((
            "Access-Control-Allow-Headers",
            format!("Authorization, {USER_TOKEN_HEADER}"),
        ))
        .insert_header(("Access-Control-Max-Age", "600"))
        .insert_header((VARY, "Origin"))
        .finish())
}

/// Adds CORS headers to a usage answer when the request's origin is one the project allows.
pub fn allow(req: &HttpRequest, settings: &ProjectSettings, response: &mut HttpResponseBuilder) {
    let Some(origin) = origin(req) else { return };
    if settings.allows_origin(origin) {
        for header in headers_for(origin) {
            response.insert_header(header);
        }
    }
}

/// An error of a browser read (a 401 that tells the page to mint a new token, a 403, a 503):
/// answered with CORS headers when any project allows the origin, as preflights are, since
/// the key that would name the project may be the very thing that failed. Without them the
/// page would see a CORS failure instead of the answer it is told to handle.
pub async fn problem_for_browser(state: &AppState, req: &HttpRequest, err: ApiError) -> Result<HttpResponse, ApiError> {
    let Some(origin) = origin(req) else { return Err(err) };
    if !state.gateway.origin_allowed_anywhere(origin).await.unwrap_or(false) {
        return Err(err);
    }
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    err.log(&id);
    let mut response = err.problem(&id);
    for (name, value) in headers_for(origin) {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

fn headers_for(origin: &str) -> Vec<(HeaderName, HeaderValue)> {
    let Ok(origin) = HeaderValue::from_str(origin) else {
        return Vec::new();
    };
    vec![
        (ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        (
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("RateLimit, RateLimit-Policy, Retry-After, X-Request-Id"),
        ),
        (VARY, HeaderValue::from_static("Origin")),
    ]
}
