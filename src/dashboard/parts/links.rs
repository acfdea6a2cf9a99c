//! Where the dashboard's pages are: a user's page, a run's, the approvals queue, built in one
//! place so that every page links alike and an id in a path or query is always
//! percent-encoded (never a `..` that a URL parser would resolve to another page).

use maud::{html, Markup};

use super::shown::Shown;
use crate::quota::{ApprovalStatus, ReservationId, UserId};

/// The approvals queue's path (the navigation's one link with a count).
pub(crate) const APPROVALS: &str = "/dashboard/approvals";

/// `text` percent-encoded for a URL's path segment or query value: every byte but the
/// unreserved ones.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path of a user's page, percent-encoded. Only for a valid id: `.` and `..` are none,
/// since every URL parser resolves them (encoded too, as `%2E%2E`) to another page.
pub(crate) fn user_href(user: &UserId) -> String {
    format!("/dashboard/users/{}", encode(user.as_str()))
}

/// A user's id as a link to their page; as text only when the id is not one a page can have
/// (one stored before ids were checked as they are now).
pub(crate) fn user_link(user: &str) -> Markup {
    match UserId::parse(user) {
        Ok(id) => html! { a href=(user_href(&id)) { (Shown(user)) } },
        Err(_) => html! { (Shown(user)) },
    }
}

/// The path of a run's page, under its user's (whom the id names).
pub(crate) fn run_href(id: &ReservationId) -> String {
    format!("{}/runs/{}", user_href(id.user()), encode(id.as_str()))
}

/// A run's id as a link to its page; as text only when it is no run id this gateway made.
pub(crate) fn run_link(id: &str) -> Markup {
    match ReservationId::parse_run(id) {
        Some(run) => html! { a href=(run_href(&run)) { code { (Shown(id)) } } },
        None => html! { code { (Shown(id)) } },
    }
}

/// The approvals queue's address: of one status (pending when None), of one user (everyone's
/// when None), after a cursor.
pub(crate) fn approvals_href(
    status: Option<ApprovalStatus>,
    user: Option<&UserId>,
    after: Option<&(i64, String)>,
) -> String {
    let mut params = Vec::new();
    if let Some(status) = status.filter(|s| *s != ApprovalStatus::Pending) {
        params.push(format!("status={}", status.as_str()));
    }
    if let Some(user) = user {
        params.push(format!("user={}", encode(user.as_str())));
    }
    if let Some((ms, id)) = after {
        params.push(format!("after={}", encode(&format!("{ms}.{id}"))));
    }
    if params.is_empty() {
        APPROVALS.to_string()
    } else {
        format!("{APPROVALS}?{}", params.join("&"))
    }
}
