//! CORS for browser reads of usage (`http::cors` holds the rules the proxy shares).

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::auth::USER_TOKEN_HEADER;
use super::request_id::RequestId;
use crate::http::cors::{self, headers_for, origin, Expose};
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::ProjectSettings;

/// `OPTIONS /v1/users/{userId}/usage`: a preflight carries no key, so any project's list counts;
/// the real request is then held to its own project's list.
pub(crate) async fn preflight(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let origin = origin(&req).ok_or(ApiError::OriginNotAllowed)?;
    if !state.gateway.accounts().origin_allowed_anywhere(origin).await? {
        return Err(ApiError::OriginNotAllowed);
    }
    let allow_headers = format!("Authorization, {USER_TOKEN_HEADER}");
    Ok(cors::preflight(origin, "GET", &allow_headers))
}

/// Adds CORS headers to a usage answer when the request's origin is one the project allows.
pub(crate) fn allow(req: &HttpRequest, settings: &ProjectSettings, response: &mut HttpResponseBuilder) {
    let Some(origin) = origin(req) else { return };
    if settings.allows_origin(origin) {
        for header in headers_for(origin, Expose::Usage) {
            response.insert_header(header);
        }
    }
}

/// An error of a browser read (a 401 that tells the page to mint a new token, a 403, a 503):
/// answered with CORS headers when any project allows the origin, as preflights are, since
/// the key that would name the project may be the very thing that failed. Without them the
/// page would see a CORS failure instead of the answer it is told to handle.
pub(crate) async fn problem_for_browser(
    state: &AppState,
    req: &HttpRequest,
    err: ApiError,
) -> Result<HttpResponse, ApiError> {
    let Some(origin) = origin(req) else { return Err(err) };
    if !state
        .gateway
        .accounts()
        .origin_allowed_anywhere(origin)
        .await
        .unwrap_or(false)
    {
        return Err(err);
    }
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    err.log(&id);
    let mut response = err.problem(&id);
    cors::insert(response.headers_mut(), origin, Expose::Usage);
    Ok(response)
}
