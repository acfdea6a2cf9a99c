//! The page frame: header with navigation (with the count of approval requests waiting for a
//! decision) and who is signed in, the flash line, and the security headers every page carries
//! (a strict Content-Security-Policy: no script, styles from the dashboard's own stylesheet
//! only, forms only to itself).

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::links::APPROVALS;
use super::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};

pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet, compiled into the binary.
pub(crate) async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("style.css"))
}

/// An HTML answer with the dashboard's security headers.
pub(crate) fn html_response(status: actix_web::http::StatusCode, body: Markup) -> HttpResponse {
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body.into_string());
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// A hidden CSRF field for a form of this session.
pub(crate) fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A signed-in page: the frame around `body`, with `active` the current section and `flash`
/// a banner (`notice::banner` or `notice::error`). The navigation's count is read for every
/// page, so a request opened while an operator works elsewhere shows on their next click.
pub(crate) async fn page(
    state: &AppState,
    session: &Session,
    active: &str,
    title: &str,
    flash: Option<Markup>,
    body: Markup,
) -> Result<Markup, ApiError> {
    let pending = state.gateway.data().pending_approvals(&session.project).await?;
    Ok(frame(session, pending, (active, title, None), flash, body))
}

/// A signed-in page that reloads itself every `seconds` (a task's progress), by a `refresh`
/// meta element: no script, which the Content-Security-Policy would refuse anyway.
pub(crate) async fn refreshing_page(
    state: &AppState,
    session: &Session,
    (active, title): (&str, &str),
    seconds: u32,
    body: Markup,
) -> Result<Markup, ApiError> {
    let pending = state.gateway.data().pending_approvals(&session.project).await?;
    Ok(frame(session, pending, (active, title, Some(seconds)), None, body))
}

/// The frame of a page, with `pending` approval requests beside the Approvals link, reloading
/// itself every `refresh` seconds when given.
fn frame(
    session: &Session,
    pending: u64,
    (active, title, refresh): (&str, &str, Option<u32>),
    flash: Option<Markup>,
    body: Markup,
) -> Markup {
    let sections = [
        ("Overview", "/dashboard/overview"),
        ("Users", "/dashboard/users"),
        ("Approvals", APPROVALS),
        ("Plans", "/dashboard/plans"),
        ("Prices", "/dashboard/prices"),
        ("Webhooks", "/dashboard/webhooks"),
        ("Audit log", "/dashboard/audit"),
        ("Operators", "/dashboard/operators"),
        ("Keys", "/dashboard/keys"),
        ("Settings", "/dashboard/settings"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, refresh))
            body {
                // The first thing a keyboard reaches: past the navigation to the page.
                a.skip href="#main" { "Skip to the content" }
                header {
                    span.brand { "quota-gateway" }
                    span.pill { "project " (Shown(&session.project)) }
                    nav aria-label="Sections" {
                        @for (name, href) in sections {
                            a href=(href) class=@if name == active { "on" } {
                                (name)
                                // None shown at zero: a count is there to be acted on.
                                @if href == APPROVALS && pending > 0 {
                                    " " span.count title="approval requests waiting for a decision" { (pending) }
                                }
                            }
                        }
                    }
                    @if session.root || session.operator.is_some() {
                        form.inline method="post" action="/dashboard/project" {
                            (csrf(session))
                            input type="text" name="project" value=(session.project) size="12" aria-label="project";
                            button.plain type="submit" { "Switch project" }
                        }
                    }
                    div.who {
                        span { (Shown(&session.actor_label)) " (" (Shown(&session.actor_id)) ", " (session.role.as_str()) ")" }
                        form.inline method="post" action="/dashboard/logout" {
                            (csrf(session))
                            button.plain type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    @if let Some(flash) = flash { (flash) }
                    (body)
                }
            }
        }
    }
}

/// A page outside a session (signing in, taking up an invitation): the same head, no
/// navigation.
pub(crate) fn bare_page(title: &str, body: Markup) -> Markup {
    bare_page_with(title, None, body)
}

/// A page outside a session that reloads itself every `refresh` seconds when given (an error
/// page waiting for the store).
pub(crate) fn bare_page_with(title: &str, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, refresh))
            body { main #main { (body) } }
        }
    }
}

/// Every page's head: its title, the viewport a phone needs, the stylesheet.
fn head(title: &str, refresh: Option<u32>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
            title { (Shown(title)) " · quota-gateway" }
            link rel="stylesheet" href="/dashboard/assets/app.css";
        }
    }
}
