//! Users: the list, searched by any part of the id in any letter case, filtered by plan and
//! status, a page at a time.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::cells::status_pill;
use super::parts::forms::query;
use super::parts::layout::{html_response, page};
use super::parts::links::{encode, user_link};
use super::parts::session::{current, see_other};
use super::parts::shown::Shown;
use crate::http::{ApiError, AppState};
use crate::quota::{Plan, Status, UserEntry, UserFilter};

const PAGE: usize = 50;

/// What a search asks for, read from the page's query: the text typed, the status chosen (as
/// sent), the filter they make, and the id the page starts after.
struct Search {
    text: Option<String>,
    status: Option<String>,
    filter: UserFilter,
    after: Option<String>,
}

/// `GET /dashboard/users`: a page of the users the search finds.
pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let search = read(&req);
    let users = state
        .gateway
        .accounts()
        .users(&session.project, search.after.as_deref(), PAGE, &search.filter)
        .await?;
    let plans = state.gateway.accounts().plans(&session.project).await?;
    let next = users.next_after.as_deref().map(|after| next_link(&search, after));
    let body = html! {
        h1 { "Users" }
        (search_form(&search, &plans))
        @if let Some(parent) = &search.filter.parent_id {
            p { "Members of " code { (user_link(parent)) } " · " a href="/dashboard/users" { "everyone" } }
        }
        (users_table(&users.data, next.is_some()))
        @if let Some(next) = next { p { a href=(next) { "Next page →" } } }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Users", "Users", None, body).await?,
    ))
}

/// The search the query asks for; a blank field asks nothing.
fn read(req: &HttpRequest) -> Search {
    let q = query(req);
    let get = |name: &str| q.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let filter = UserFilter {
        plan_id: get("plan"),
        status: match get("status").as_deref() {
            Some("active") => Some(Status::Active),
            Some("blocked") => Some(Status::Blocked),
            _ => None,
        },
        prefix: None,
        contains: get("q").map(|q| q.to_lowercase()),
        parent_id: get("parent"),
    };
    Search {
        text: get("q"),
        status: get("status"),
        filter,
        after: get("after"),
    }
}

/// The link to the page after `after`, searching the same.
fn next_link(search: &Search, after: &str) -> String {
    let mut link = format!("/dashboard/users?after={}", encode(after));
    for (name, value) in [
        ("q", &search.text),
        ("plan", &search.filter.plan_id),
        ("parent", &search.filter.parent_id),
    ] {
        if let Some(value) = value {
            link.push_str(&format!("&{name}={}", encode(value)));
        }
    }
    if let Some(status) = &search.status {
        link.push_str(&format!("&status={}", encode(status)));
    }
    link
}

/// The search form, filled with what was asked.
fn search_form(search: &Search, plans: &[Plan]) -> Markup {
    let filter = &search.filter;
    html! {
        form.inline method="get" action="/dashboard/users" {
            label for="q" { "Search" }
            input #q type="search" name="q" placeholder="any part of a user id" value=[search.text.as_deref()];
            select name="plan" aria-label="plan" {
                option value="" { "any plan" }
                @for plan in plans {
                    option value=(plan.id) selected[filter.plan_id.as_deref() == Some(plan.id.as_str())] { (Shown(&plan.id)) }
                }
            }
            select name="status" aria-label="status" {
                option value="" { "any status" }
                @for status in ["active", "blocked"] {
                    option value=(status) selected[search.status.as_deref() == Some(status)] { (status) }
                }
            }
            @if let Some(parent) = &filter.parent_id { input type="hidden" name="parent" value=(parent); }
            button type="submit" { "Find" }
        }
    }
}

/// The users found; when none, whether a next page searches on.
fn users_table(users: &[UserEntry], more: bool) -> Markup {
    html! {
        table {
            thead { tr { th { "User" } th { "Plan" } th { "Status" } th { "Parent" } } }
            tbody {
                @for user in users {
                    tr {
                        td { (user_link(&user.user_id)) }
                        td { (Shown(user.plan_id.as_deref().unwrap_or("default plan"))) }
                        td { (status_pill(user.status)) }
                        td { @if let Some(parent) = &user.parent_id { (user_link(parent)) } }
                    }
                }
                @if users.is_empty() {
                    tr { td colspan="4" .muted {
                        @if more { "None among the users searched so far: the next page searches on." }
                        @else { "No user matches." }
                    } }
                }
            }
        }
    }
}
