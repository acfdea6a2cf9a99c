//! The project's audit log, a page at a time, newest first, filtered by user, action (or a
//! resource's every action) and who made the change; and the changes table that the user's
//! page and the overview show too.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::parts::changes::changes_table;
use super::parts::forms::query;
use super::parts::layout::{html_response, page};
use super::parts::links::encode;
use super::parts::session::{current, see_other};
use crate::gateway::audit::Action;
use crate::http::{ApiError, AppState};
use crate::quota::ids::check_id;
use crate::quota::{check_action, ChangeFilter, UserId};

/// Changes a page of the audit log shows.
const PAGE: usize = 50;

/// `GET /dashboard/audit?user=&action=&actor=&before=`: a page of the log; each filter is
/// checked as the API checks it, and a bad one is named on the page.
pub(crate) async fn audit(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let asked = query(&req);
    let given = |name: &str| {
        asked
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let filter = ChangeFilter {
        user: given("user"),
        action: given("action"),
        actor: given("actor"),
    };
    let before = given("before");
    let problem = checked(&filter, before.as_deref()).err();
    let (changes, next) = match &problem {
        None => {
            state
                .gateway
                .accounts()
                .changes(&session.project, before.as_deref(), &filter, PAGE)
                .await?
        }
        Some(_) => (Vec::new(), None),
    };
    let filters = |before: Option<&str>| {
        let mut link = String::from("/dashboard/audit?");
        for (name, value) in [
            ("user", &filter.user),
            ("action", &filter.action),
            ("actor", &filter.actor),
        ] {
            if let Some(v) = value {
                link.push_str(&format!("{name}={}&", encode(v)));
            }
        }
        if let Some(b) = before {
            link.push_str(&format!("before={}", encode(b)));
        }
        link.trim_end_matches(['&', '?']).to_string()
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Every change made by a key or an operator of this project, through the API or here, newest first, "
            (PAGE) " a page." }
        form.filters method="get" action="/dashboard/audit" {
            label { "User id " input type="text" name="user" value=[filter.user.as_deref()] size="16"; }
            label { "Action " input type="text" name="action" value=[filter.action.as_deref()] size="16"
                list="audit-actions" placeholder="user or user.block"; }
            datalist #audit-actions {
                @for a in Action::ALL { option value=(a.as_str()) {} }
            }
            label { "By (key or operator id) " input type="text" name="actor" value=[filter.actor.as_deref()] size="16"; }
            button type="submit" { "Filter" }
            @if !filter.is_empty() { " " a href="/dashboard/audit" { "Show every change" } }
        }
        @if let Some(problem) = &problem { div.flash.error role="alert" { (problem) } }
        (changes_table(&changes))
        p.pager {
            @if before.is_some() { a href=(filters(None)) { "Newest" } " " }
            @if let Some(next) = &next { a href=(filters(Some(next))) { "Older changes" } }
            @else if !changes.is_empty() { span.muted { "The oldest change kept." } }
        }
    };
    Ok(html_response(
        status,
        page(&state, &session, "Audit log", "Audit log", None, body).await?,
    ))
}

/// The filter and page start as the API would take them, or what is wrong, by field.
fn checked(filter: &ChangeFilter, before: Option<&str>) -> Result<(), String> {
    if let Some(u) = &filter.user {
        UserId::parse(u).map_err(|d| format!("User id: {d}"))?;
    }
    if let Some(a) = &filter.action {
        check_action(a).map_err(|d| format!("Action: {d}"))?;
    }
    if let Some(a) = &filter.actor {
        check_id(a).map_err(|d| format!("By: {d}"))?;
    }
    // A page starts at an entry id this page gave (a stream id): anything else is an old or
    // edited link.
    if before.is_some_and(|b| crate::quota::ids::stream_position(b).is_none()) {
        return Err("This page's link is not one the log gave; start from the newest.".into());
    }
    Ok(())
}
