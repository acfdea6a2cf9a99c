//! The plan editor's form, shared by the editor's pages and the pricing lab that tries what
//! it posts: a plan's id and JSON document, every problem shown by its field, the diff of what
//! changes, and the stored document as the editor shows it.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup};

use super::diff::{self, Line};
use super::layout::{csrf, html_response, page};
use super::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::{Plan, PlanDoc};

/// What the check found for a valid document: the diff against the stored plan, and whether
/// saving replaces a stored plan (then a reason is asked, as for every change that cannot be
/// taken back).
pub(crate) struct Checked {
    pub diff: Markup,
    pub replaces: bool,
}

/// The editor: `id` and `text` in a form that checks before it saves, or tries the text on the
/// plan's users (the same form, posted to `TRY`: what is tried is what was typed).
pub(crate) fn editor(
    session: &Session,
    id: &str,
    text: &str,
    problems: &[(String, String)],
    checked: Option<Checked>,
) -> Markup {
    html! {
        h1 { "Plan " code { (Shown(id)) } }
        @if !problems.is_empty() {
            div.flash.error { "The plan is not valid; nothing was saved:" ul { @for (field, detail) in problems { li { code { (Shown(field)) } ": " (Shown(detail)) } } } }
        }
        @if let Some(checked) = checked {
            h2 { "What changes" }
            (checked.diff)
            form method="post" action="/dashboard/plans/save" {
                (csrf(session))
                input type="hidden" name="id" value=(id);
                input type="hidden" name="doc" value=(text);
                input type="hidden" name="confirm" value="1";
                @if checked.replaces {
                    p { label for="reason" { "Reason (kept in the audit log)" } br;
                        input #reason type="text" name="reason" required maxlength="256"; }
                }
                button type="submit" { "Save this plan" }
            }
            h2 { "Or edit again" }
        }
        form method="post" action="/dashboard/plans/save" {
            (csrf(session))
            p { label { "Plan id " input type="text" name="id" value=(id) required maxlength="64"; } }
            p { label for="doc" { "The plan document (JSON)" } }
            textarea #doc name="doc" rows="28" cols="100" spellcheck="false" { (text) }
            // Check first: Enter in the id field submits with the form's first button.
            p {
                button type="submit" { "Check" } " "
                button.plain type="submit" formaction=(TRY) { "Try on the last 30 days" }
                " " span.muted { "replays the recorded demand of this plan's users under this document; nothing is saved" }
            }
        }
    }
}

/// Where the editor's form is posted to try the document (`simulations::try_plan`).
const TRY: &str = "/dashboard/plans/try";

/// The plan id and document an editor's form posted (the id trimmed, the document as typed).
pub(crate) fn editor_form(fields: &HashMap<String, String>) -> (String, String) {
    let id = fields.get("id").map(|s| s.trim().to_string()).unwrap_or_default();
    (id, fields.get("doc").cloned().unwrap_or_default())
}

/// The plan a posted editor form describes, or its problems by field.
pub(crate) fn parse_posted(id: &str, text: &str) -> Result<Plan, Vec<(String, String)>> {
    match serde_json::from_str::<PlanDoc>(text) {
        Err(err) => Err(vec![("doc".to_string(), format!("is not a plan document: {err}"))]),
        Ok(doc) => {
            Plan::from_doc(id, doc).map_err(|problems| problems.into_iter().map(|p| (p.field, p.detail)).collect())
        }
    }
}

/// The editor again with `text` as posted, its `problems` or a `flash` above it, answered with
/// `status`: how a refused form is answered.
pub(crate) async fn editor_again(
    state: &AppState,
    session: &Session,
    (id, text): (&str, &str),
    problems: &[(String, String)],
    flash: Option<Markup>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let body = editor(session, id, text, problems, None);
    Ok(html_response(
        status,
        page(state, session, "Plans", id, flash, body).await?,
    ))
}

/// What changes from `old` to `new`, line by line: the editor's step before saving, and the
/// pricing lab's candidate against the stored plan.
pub(crate) fn diff_table(old: &str, new: &str) -> Markup {
    html! {
        pre.card {
            @for line in diff::lines(old, new) {
                @match line {
                    Line::Same(l) => { "  " (l) "\n" }
                    Line::Removed(l) => { del { "- " (l) } "\n" }
                    Line::Added(l) => { ins { "+ " (l) } "\n" }
                }
            }
        }
    }
}

/// A stored plan's document as the editor shows it (without its version), or None.
pub(crate) async fn stored_text(state: &AppState, project: &str, id: &str) -> Result<Option<String>, ApiError> {
    Ok(state.gateway.node().plan(project, id).await?.map(|old| {
        let mut doc = old.doc.clone();
        doc.version = None;
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }))
}
