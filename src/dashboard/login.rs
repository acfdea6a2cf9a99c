//! Signing in (only from the dashboard's own page, throttled by the gateway) and out, and a
//! root session's switch of project: the forms of the session itself, and the sign-in page.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::forms::form;
use super::parts::layout::{bare_page, html_response};
use super::parts::session::{current, from_another_site, see_other, session_form, set_cookie};
use crate::gateway::{Credential, SignIn};
use crate::http::{ApiError, AppState};

pub(crate) async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if current(&req, &state).await?.is_some() {
        return Ok(see_other("/dashboard/users"));
    }
    // Where taking up an invitation sends its operator.
    let welcome = req.query_string().split('&').any(|p| p == "welcome=1");
    let notice = welcome.then_some("Your password is set: sign in with your email and it.");
    Ok(login_response(StatusCode::OK, login_with(None, notice)))
}

/// The sign-in page, answered with `status`. Unlike the other pages it sends its referrer to
/// its own origin: under `no-referrer` a browser posts its form with `Origin: null`, which
/// could not be told from another site's.
fn login_response(status: StatusCode, page: maud::Markup) -> HttpResponse {
    let mut res = html_response(status, page);
    res.headers_mut()
        .insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}

pub(crate) async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if from_another_site(&req) {
        let page = login(Some(
            "This sign-in came from another site; nothing was signed in. Sign in here.",
        ));
        return Ok(html_response(StatusCode::FORBIDDEN, page));
    }
    let fields = form(&body);
    let field = |name: &str| fields.get(name).map(|c| c.trim()).unwrap_or("").to_string();
    let email = field("email").to_lowercase();
    // A password is taken as typed: spaces may be part of it.
    let password = fields.get("password").cloned().unwrap_or_default();
    let key = field("credential");
    let credential = if email.is_empty() {
        Credential::Key(&key)
    } else {
        Credential::Password {
            email: &email,
            password: &password,
        }
    };
    // The connection's own peer: headers a client writes (X-Forwarded-For) would let it
    // choose its counter.
    let client = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let (cookie, _) = match state.gateway.console().sign_in(credential, client).await? {
        SignIn::Signed { cookie, session } => (cookie, session),
        SignIn::Refused => {
            let text = match credential {
                Credential::Key(_) => "That is neither a live secret key nor the root token.",
                Credential::Password { .. } => "That email and password do not match an operator.",
            };
            return Ok(login_response(StatusCode::UNAUTHORIZED, login(Some(text))));
        }
        SignIn::Throttled { retry_after_s } => {
            let text = format!("Too many sign-in attempts; try again in {retry_after_s} seconds.");
            let mut res = login_response(StatusCode::TOO_MANY_REQUESTS, login(Some(&text)));
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            return Ok(res);
        }
    };
    let mut res = see_other("/dashboard/users");
    if let Ok(value) = HeaderValue::from_str(&set_cookie(&req, &cookie, None)) {
        res.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(res)
}

pub(crate) async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cookie, _, _) = match session_form(&req, &state, &body).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    state.gateway.console().sign_out(&cookie).await?;
    let mut res = see_other("/dashboard");
    if let Ok(value) = HeaderValue::from_str(&set_cookie(&req, "", Some(0))) {
        res.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(res)
}

/// Root sessions: show another project.
pub(crate) async fn switch_project(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cookie, session, fields) = match session_form(&req, &state, &body).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let project = fields.get("project").cloned().unwrap_or_default();
    state
        .gateway
        .console()
        .switch_project(&cookie, &session, &project)
        .await?;
    Ok(see_other("/dashboard/users"))
}

/// The sign-in page: an operator's email and password, or a secret key or the root token
/// (a single-person install's way, audited as the key).
fn login(error: Option<&str>) -> Markup {
    login_with(error, None)
}

/// The sign-in page with an error, or with news (a password just set).
fn login_with(error: Option<&str>, info: Option<&str>) -> Markup {
    bare_page(
        "Sign in",
        html! {
            div.login.card {
                h1 { "quota-gateway" }
                @if let Some(error) = error { div.flash.error role="alert" { (error) } }
                @if let Some(info) = info { div.flash role="status" { (info) } }
                form method="post" action="/dashboard/login" {
                    p { label for="email" { "Email" } br;
                        input #email type="email" name="email" autocomplete="username" required; }
                    p { label for="password" { "Password" } br;
                        input #password type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { "Sign in" }
                }
                h2 { "Or with a key" }
                form method="post" action="/dashboard/login" {
                    p { label for="credential" { "A project's secret key (qg_sk_…) or the root token" } br;
                        input #credential type="password" name="credential" autocomplete="off" required; }
                    button type="submit" { "Sign in with the key" }
                }
            }
        },
    )
}
