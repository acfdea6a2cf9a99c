//! The session a request carries and the checks every form goes through: the session cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS, scoped to `/dashboard`), the CSRF token,
//! the role a change needs, and whether a sign-in came from another site.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::forms::form;
use super::layout::{bare_page, html_response};
use super::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::operator::Need;
use crate::secrets::digests_equal;

const COOKIE: &str = "qg_session";

/// The session cookie's value, from the `Cookie` headers.
fn cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// The session cookie; `max_age_s` None keeps it for the browser session (the server's idle
/// expiry ends the session itself), Some(0) removes it.
pub(crate) fn set_cookie(req: &HttpRequest, value: &str, max_age_s: Option<u64>) -> String {
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let max_age = max_age_s.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    format!("{COOKIE}={value}; Path=/dashboard; HttpOnly; SameSite=Strict{max_age}{secure}")
}

/// A 303 to `to` (the answer to every form).
pub(crate) fn see_other(to: &str) -> HttpResponse {
    let mut res = HttpResponse::SeeOther().finish();
    if let Ok(value) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// The request's live session and its cookie, if any.
pub(crate) async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<(String, Session)>, ApiError> {
    let Some(cookie) = cookie(req) else {
        return Ok(None);
    };
    Ok(state.gateway.console().session(&cookie).await?.map(|s| (cookie, s)))
}

/// A form posted without its session's CSRF token.
#[derive(Debug)]
struct Forged;

/// A form of `session` posted with its CSRF token: its fields.
fn checked(session: &Session, body: &[u8]) -> Result<HashMap<String, String>, Forged> {
    let fields = form(body);
    let given = fields.get("csrf").map(String::as_str).unwrap_or("");
    let digest = |t: &str| crate::secrets::digest(t);
    if given.is_empty() || !digests_equal(&digest(given), &digest(&session.csrf)) {
        return Err(Forged);
    }
    Ok(fields)
}

/// A form posted to the dashboard: the session's cookie, the session and the form's fields;
/// or the answer to give instead (to sign-in without a session, 403 without the CSRF token,
/// 403 when the session's role may not make a change that needs `need`).
pub(crate) async fn posted(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
    need: Need,
) -> Result<Result<(String, Session, HashMap<String, String>), HttpResponse>, ApiError> {
    Ok(match session_form(req, state, body).await? {
        Ok((_, session, _)) if !session.may(need) => Err(refused(&session)),
        form => form,
    })
}

/// A form any session may post (signing out, switching projects).
pub(crate) async fn session_form(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<Result<(String, Session, HashMap<String, String>), HttpResponse>, ApiError> {
    let Some((cookie, session)) = current(req, state).await? else {
        return Ok(Err(see_other("/dashboard")));
    };
    Ok(match checked(&session, body) {
        Ok(fields) => Ok((cookie, session, fields)),
        Err(Forged) => Err(expired_form()),
    })
}

/// The answer to a change the session's role may not make: 403, nothing changed.
fn refused(session: &Session) -> HttpResponse {
    let body = bare_page(
        "Not allowed",
        maud::html! {
            h1 { "Your role cannot make this change" }
            p { "You are " (session.role.as_str()) " in project " (Shown(&session.project)) "; nothing was changed. "
                "An owner of the project can change your role." }
            p { a href="/dashboard/users" { "Back to the dashboard" } }
        },
    );
    html_response(StatusCode::FORBIDDEN, body)
}

/// The answer to a form without its CSRF token: 403, nothing changed.
fn expired_form() -> HttpResponse {
    let body = bare_page(
        "Form expired",
        maud::html! {
            h1 { "This form has expired" }
            p { "Nothing was changed. Go back, reload the page and try again." }
            p { a href="/dashboard/users" { "Back to the dashboard" } }
        },
    );
    html_response(StatusCode::FORBIDDEN, body)
}

/// Whether a sign-in was posted by a page of another origin: a site that auto-posts its own
/// key would sign the visitor in to the attacker's project (login CSRF). Browsers say where
/// a request came from in `Sec-Fetch-Site`, which no page can set: only `same-origin` (the
/// sign-in page's own form) and `none` (typed, bookmarked) pass; a page on a sibling host or
/// another port is `same-site`, and refused like any other. Browsers without it send `Origin`
/// with every POST, whose host and port must be this request's `Host` (`null`, sent for an
/// opaque origin or a page that sends no referrer, is refused). A client that sends neither is
/// no browser, so no visitor's browser can be made to send it.
pub(crate) fn from_another_site(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let authority = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, a)| a);
    let info = req.connection_info();
    authority.is_none_or(|a| !a.eq_ignore_ascii_case(info.host()))
}
