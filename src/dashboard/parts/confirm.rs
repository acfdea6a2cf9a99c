//! No irreversible click: a form whose change cannot be taken back (void a grant, revoke a
//! key, delete an endpoint) or that changes what a user may spend (block, switch plan) first
//! answers a page that says what will change, and asks again, with a reason where one is
//! recorded; only the form sent from that page (`confirmed=1`) makes the change. Plain
//! forms, no script: the page posts the same fields again.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup};

use super::layout::{csrf, html_response, page};
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::ReasonText;

/// Whether the form was sent from its confirmation page.
pub(crate) fn confirmed(fields: &HashMap<String, String>) -> bool {
    fields.get("confirmed").is_some_and(|v| v == "1")
}

/// The reason the confirmation page asked for: 1 to 256 bytes (`reason`).
pub(crate) fn reason(fields: &HashMap<String, String>) -> Result<ReasonText, ApiError> {
    let text = fields.get("reason").map_or("", |r| r.trim());
    ReasonText::parse(text).map_err(|d| ApiError::invalid("reason", d))
}

/// What a confirmation page asks.
pub(crate) struct Ask<'a> {
    /// The page's section in the navigation, and its title.
    pub section: &'a str,
    pub title: &'a str,
    /// Where the form goes (the form's own action).
    pub action: &'a str,
    /// What will change, for the operator to read before confirming.
    pub what: Markup,
    /// Whether a reason is asked for (it goes into the audit log).
    pub reason: bool,
    /// The confirming button's words.
    pub button: &'a str,
    /// Where Cancel goes.
    pub back: &'a str,
}

/// The confirmation page: the form's fields again, hidden, with `confirmed=1`.
pub(crate) async fn ask(
    state: &AppState,
    session: &Session,
    fields: &HashMap<String, String>,
    ask: Ask<'_>,
) -> Result<HttpResponse, ApiError> {
    let mut carried: Vec<(&String, &String)> = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "confirmed" | "reason"))
        .collect();
    carried.sort();
    let given_reason = fields.get("reason").map(String::as_str).unwrap_or("");
    let body = html! {
        h1 { (ask.title) }
        div.card.confirm {
            (ask.what)
            form method="post" action=(ask.action) {
                (csrf(session))
                input type="hidden" name="confirmed" value="1";
                @for (name, value) in &carried { input type="hidden" name=(name) value=(value); }
                @if ask.reason {
                    p { label for="reason" { "Reason (kept in the audit log)" } br;
                        input #reason type="text" name="reason" required maxlength="256" value=(given_reason); }
                } @else if !given_reason.is_empty() {
                    input type="hidden" name="reason" value=(given_reason);
                }
                button.danger type="submit" { (ask.button) }
                " "
                a href=(ask.back) { "Cancel" }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(state, session, ask.section, ask.title, None, body).await?,
    ))
}
