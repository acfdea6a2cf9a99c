//! Every error under `/dashboard` as a page: what happened, in words, a way back, and the
//! request's id to quote. The API's problem+json is for programs; an operator who followed a
//! stale link, or whose Redis went away, gets a page like every other.
//!
//! A middleware on the dashboard's scope turns any error a handler returns (or the scope's
//! own "no such page") into HTML, so no handler needs its own error page.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, ResponseError};
use maud::html;

use super::parts::layout::{bare_page_with, html_response};
use super::parts::links::user_href;
use super::parts::shown::Shown;
use crate::http::{ApiError, RequestId};
use crate::quota::UserId;

/// Seconds before a page that found the store down tries again by itself.
const RETRY_SECONDS: u32 = 5;

/// The scope's default: a path under `/dashboard` that is no page.
pub(crate) async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// Answers any error of a dashboard handler as a page, logged once as the API logs it.
pub(crate) async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(err) = res.response().error() else {
        return Ok(res);
    };
    let err = ApiError::of_actix(err, res.status());
    let id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    err.log(&id);
    let page = page_for(res.request(), &err, &id);
    Ok(res.into_response(page))
}

/// The page for `err`, answered to `req`.
fn page_for(req: &HttpRequest, err: &ApiError, request_id: &str) -> actix_web::HttpResponse {
    let status = err.status_code();
    let unavailable = matches!(err, ApiError::Unavailable(_));
    let (title, said) = words(err, status);
    let back = way_back(req);
    // A page the store could not serve asks again by itself; a form is never sent again
    // without the operator (its answer might have been a change).
    let again = unavailable && req.method() == Method::GET;
    let body = html! {
        div.card role="alert" {
            h1 { (title) }
            p { (said) }
            @if !unavailable && status != StatusCode::INTERNAL_SERVER_ERROR {
                p.muted { (Shown(&err.to_string())) " (" code { (err.code().as_str()) } ")" }
            }
            @if again { p.muted { "This page tries again every " (RETRY_SECONDS) " seconds." } }
            p {
                a href=(back.0) { (back.1) }
                @if back.0 != "/dashboard" { " · " a href="/dashboard" { "The dashboard's start" } }
            }
            @if !request_id.is_empty() {
                p.muted { "Request " code { (request_id) } " (quote it when you ask for help)." }
            }
        }
    };
    let refresh = again.then_some(RETRY_SECONDS);
    let mut answer = html_response(status, bare_page_with(title, refresh, body));
    if unavailable {
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    answer
}

/// The page's heading and its one line, by what went wrong.
fn words(err: &ApiError, status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::SERVICE_UNAVAILABLE if matches!(err, ApiError::Unavailable(_)) => (
            "The store is not answering",
            "Redis did not answer in time, so nothing was read or changed. It is usually back within seconds.",
        ),
        StatusCode::NOT_FOUND => (
            "Not found",
            "There is nothing here: the link may be old (reports are kept a day), or what it named was removed.",
        ),
        StatusCode::GONE => ("No longer here", "What this link named has expired."),
        StatusCode::CONFLICT => (
            "Not done",
            "The change conflicts with the current state; nothing was changed.",
        ),
        s if s.is_client_error() => ("Not done", "The change was refused as sent; nothing was changed."),
        _ => (
            "Something went wrong",
            "The gateway could not answer this request. Nothing acknowledged is lost; try again.",
        ),
    }
}

/// Where to go back to: a user's page from a page or change of theirs (their id as the route
/// read it, checked as every user id is), else the section's first page.
fn way_back(req: &HttpRequest) -> (String, &'static str) {
    if let Some(user) = req.match_info().get("userId").and_then(|u| UserId::parse(u).ok()) {
        return (user_href(&user), "Back to the user");
    }
    let parts: Vec<&str> = req.path().trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        // A report is reached from the plan editor.
        ["dashboard", "simulations", ..] => ("/dashboard/plans".to_string(), "Back to the plans"),
        ["dashboard", section, ..] if SECTIONS.contains(section) => {
            (format!("/dashboard/{section}"), "Back to the section")
        }
        _ => ("/dashboard".to_string(), "Back to the dashboard"),
    }
}

/// The sections a way back may name (never a segment taken from the path as it came).
const SECTIONS: [&str; 10] = [
    "overview",
    "users",
    "approvals",
    "plans",
    "prices",
    "webhooks",
    "audit",
    "operators",
    "keys",
    "settings",
];
