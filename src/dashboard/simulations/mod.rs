//! The pricing lab on the dashboard. The plan editor's "Try on the last 30 days" posts the
//! document as edited (with the session's CSRF token) and starts a simulation of it on the
//! users of the plan it edits (`Lab::start_simulation`); `/dashboard/simulations/{id}`
//! shows its progress, reloading itself every second, then its report (`report.rs`). Nothing
//! here saves a plan or changes a user: saving stays the editor's own form.

mod report;

use super::parts::numbers::when;
use crate::quota::operator::Need;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup};

use super::parts::layout::{csrf, html_response, page, refreshing_page};
use super::parts::links::encode;
use super::parts::notice;
use super::parts::plan_editor::{diff_table, editor_again, editor_form, parse_posted, stored_text};
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::lab::simulations::{Candidate, Cohort, Simulation, SimulationRequest, SimulationStatus};
use crate::gateway::GatewayError;
use crate::http::{ApiError, AppState};
use crate::quota::ids::check_id;
use report::report;

/// How often a running simulation's page reloads itself, in seconds.
const REFRESH_S: u32 = 1;

/// The path of a simulation's page.
pub(crate) fn simulation_href(id: &str) -> String {
    format!("/dashboard/simulations/{}", encode(id))
}

/// The editor page of a stored plan, or None for an id no page can have.
pub(crate) fn plan_href(id: &str) -> Option<String> {
    check_id(id)
        .ok()
        .map(|_| format!("/dashboard/plans/{}/edit", encode(id)))
}

/// `POST /dashboard/plans/try`: the editor's form, tried on the plan's users over the last 30
/// days; to the simulation's page, or the editor again with what refused it.
pub(crate) async fn try_plan(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Support).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (id, text) = editor_form(&fields);
    let form = (id.as_str(), text.as_str());
    let plan = match parse_posted(&id, &text) {
        Ok(plan) => plan,
        Err(problems) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return editor_again(&state, &session, form, &problems, None, status).await;
        }
    };
    // The last 30 days: the gateway's default range.
    let request = SimulationRequest {
        candidate: Candidate::Draft(Box::new(plan)),
        cohort: Cohort::Plan(id.clone()),
        from_ms: None,
        to_ms: None,
    };
    let err = match state.gateway.lab().start_simulation(&session.project, request).await {
        Ok(simulation) => return Ok(see_other(&simulation_href(&simulation.id))),
        Err(err) => err,
    };
    // The cohort is the plan's users: a plan not stored yet has none.
    let text_of = match &err {
        GatewayError::PlanNotFound(plan) => {
            format!("no plan {plan} in this project, so no user is on it: save the plan first, then try changes to it")
        }
        other => other.to_string(),
    };
    let err = ApiError::from(err);
    match err {
        // Not a refusal: the page could not be made either.
        ApiError::Unavailable(_) | ApiError::Internal(_) => Err(err),
        // A bound (`simulation_bound`), or the plan gone: its message above the editor.
        _ => {
            let flash = Some(notice::error(&text_of));
            editor_again(&state, &session, form, &[], flash, err.status_code()).await
        }
    }
}

/// `GET /dashboard/simulations/{simulationId}`: a simulation of the session's project.
pub(crate) async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let id = path.into_inner();
    let simulation = state
        .gateway
        .lab()
        .simulation(&session.project, &id)
        .await?
        .ok_or_else(|| ApiError::SimulationNotFound(id.clone()))?;
    let head = heading(&simulation);
    let markup = match (simulation.status, &simulation.report) {
        (SimulationStatus::Running, _) => {
            let body = html! { (head) (running(&simulation)) };
            refreshing_page(&state, &session, ("Plans", &id), REFRESH_S, body).await?
        }
        (SimulationStatus::Done, Some(done)) => {
            let stored = stored_text(&state, &session.project, &simulation.candidate_plan_id).await?;
            let body = html! {
                (head) (report(done))
                (candidate(&session, &simulation, stored.as_deref()))
                (nothing_saved(&simulation))
            };
            page(&state, &session, "Plans", &id, None, body).await?
        }
        (SimulationStatus::Done | SimulationStatus::Failed, _) => {
            let body = html! { (head) (failed(&simulation)) (nothing_saved(&simulation)) };
            page(&state, &session, "Plans", &id, None, body).await?
        }
    };
    Ok(html_response(StatusCode::OK, markup))
}

fn status_pill(status: SimulationStatus) -> Markup {
    match status {
        SimulationStatus::Running => html! { span.pill { "running" } },
        SimulationStatus::Done => html! { span.pill.active { "done" } },
        SimulationStatus::Failed => html! { span.pill.blocked { "failed" } },
    }
}

/// A plan's id, linked to its editor when it may have one.
fn plan_link(id: &str) -> Markup {
    match plan_href(id) {
        Some(href) => html! { a href=(href) { code { (Shown(id)) } } },
        None => html! { code { (Shown(id)) } },
    }
}

/// What was tried on whom, over which range.
fn heading(s: &Simulation) -> Markup {
    html! {
        h1 { "Simulation " code { (Shown(&s.id)) } " " (status_pill(s.status)) }
        div.card {
            p { "Candidate: plan " code { (Shown(&s.candidate_plan_id)) } " as it was tried (below the report)" }
            p { "Cohort: "
                @match &s.cohort {
                    Cohort::Plan(plan) => { "the users on plan " (plan_link(plan)) }
                    Cohort::Users(users) => { (users.len()) " named users" }
                } }
            p { "Recorded demand from " (when(s.from_ms)) " to " (when(s.to_ms)) }
            p.muted { "Started " (when(s.created_ms))
                @if let Some(at) = s.finished_ms { "; finished " (when(at)) } }
        }
    }
}

fn running(s: &Simulation) -> Markup {
    let p = &s.progress;
    html! {
        h2 { "Replaying" }
        p { (p.users_done) " of " (p.users) " users replayed, " (p.entries) " ledger entries read." }
        progress.progress max=(p.users.max(1)) value=(p.users_done) { (p.users_done) " of " (p.users) }
        p.muted { "This page reloads itself every second until the report is ready." }
    }
}

fn failed(s: &Simulation) -> Markup {
    html! {
        div.flash.error role="alert" {
            "The simulation stopped without a report"
            @if let Some(error) = &s.error {
                @if let Some(bound) = &error.bound { " (bound " code { (Shown(bound)) } ")" }
                ": " (Shown(&error.detail))
            }
        }
    }
}

/// The candidate the report is of: what it changes in the stored plan, and the forms that
/// edit it again or save it (through the editor's check, which says whom a replacement
/// touches before it saves).
fn candidate(session: &Session, s: &Simulation, stored: Option<&str>) -> Markup {
    let Some(doc) = &s.candidate else {
        return html! {};
    };
    let text = serde_json::to_string_pretty(doc).unwrap_or_default();
    let id = &s.candidate_plan_id;
    html! {
        h2 { "The candidate" }
        @match stored {
            Some(stored) if stored == text => { p.muted { "The same document as plan " code { (Shown(id)) } " as stored now." } }
            Some(stored) => {
                p.muted { "What it changes in plan " code { (Shown(id)) } " as stored now:" }
                (diff_table(stored, &text))
            }
            None => { p.muted { "A new plan: no plan " code { (Shown(id)) } " is stored." } (diff_table("", &text)) }
        }
        @if session.may(Need::Support) {
            form.inline method="post" action="/dashboard/plans/edit" {
                (csrf(session))
                input type="hidden" name="id" value=(id);
                input type="hidden" name="doc" value=(text);
                button.plain type="submit" { "Edit again" }
            }
        }
        @if session.may(Need::Configure) {
            " "
            form.inline method="post" action="/dashboard/plans/save" {
                (csrf(session))
                input type="hidden" name="id" value=(id);
                input type="hidden" name="doc" value=(text);
                button type="submit" { "Save this candidate…" }
            }
        }
    }
}

/// The line every ended simulation closes with: it changed nothing, and where to save.
fn nothing_saved(s: &Simulation) -> Markup {
    html! {
        p.muted {
            "Nothing was saved: a simulation only reads the ledger and the plans. "
            @if let Cohort::Plan(plan) = &s.cohort {
                @if let Some(href) = plan_href(plan) {
                    "To change the plan, edit and save it in " a href=(href) { "the plan editor" }
                    " (it opens the plan as stored)."
                }
            }
        }
    }
}
