//! CORS for browser reads of usage: only origins a project lists in `allowedOrigins` get CORS
//! headers; every other origin gets none, so the browser keeps the answer from the page.

use actix_web::http::header::{HeaderValue, ORIGIN, VARY};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::auth::USER_TOKEN_HEADER;
use super::error::ApiError;
use super::AppState;
use crate::store::ProjectSettings;

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
    if settings.allowed_origins.iter().any(|o| o == origin) {
        if let Ok(value) = HeaderValue::from_str(origin) {
            response.insert_header(("Access-Control-Allow-Origin", value));
            response.insert_header((
                "Access-Control-Expose-Headers",
                "RateLimit, RateLimit-Policy, X-Request-Id",
            ));
            response.insert_header((VARY, "Origin"));
        }
    }
}
