//! Plans: the list with member counts, and the editor: a plan's JSON (or a recipe's from
//! `examples/`) edited in place, every problem shown by its field, a diff before saving, and
//! the same document tried on the plan's users' last 30 days (`simulations.rs`) without saving.

use std::collections::HashMap;

use crate::quota::operator::Need;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::cells::owner;
use super::parts::confirm;
use super::parts::diff::{self, Line};
use super::parts::forms::query;
use super::parts::layout::{csrf, html_response, page};
use super::parts::links::encode;
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::ids::check_id;
use crate::quota::period::PeriodKind;
use crate::quota::{Plan, PlanDoc};

/// The recipes of `examples/`, compiled in: (file, its plans bundle).
const RECIPES: &[(&str, &str)] = &[
    ("freemium", include_str!("../../examples/freemium.json")),
    ("image-tiers", include_str!("../../examples/image-tiers.json")),
    ("llm", include_str!("../../examples/llm.json")),
    ("stacked", include_str!("../../examples/stacked.json")),
    ("video", include_str!("../../examples/video.json")),
];

/// Every recipe plan as ("file/plan id", pretty JSON).
fn recipe_plans() -> Vec<(String, String)> {
    let mut plans = Vec::new();
    for (file, bundle) in RECIPES {
        let bundle: serde_json::Value = serde_json::from_str(bundle).unwrap_or_default();
        for plan in bundle["plans"].as_array().into_iter().flatten() {
            let id = plan["id"].as_str().unwrap_or("plan");
            plans.push((
                format!("{file}/{id}"),
                serde_json::to_string_pretty(plan).unwrap_or_default(),
            ));
        }
    }
    plans
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let plans = state.gateway.plans(&session.project).await?;
    let counts = state.gateway.plan_member_counts(&session.project).await?;
    let members = |id: &str| counts.iter().find(|(p, _)| p == id).map_or(0, |(_, n)| *n);
    let body = html! {
        h1 { "Plans" }
        form.inline method="get" action="/dashboard/plans/new" {
            label { "New plan from a recipe " select name="recipe" { @for (name, _) in recipe_plans() { option value=(name) { (name) } } } }
            button type="submit" { "Start" }
        }
        table {
            thead { tr { th { "Plan" } th { "Owner" } th.num { "Members" } th { "Groups" } th { span.sr { "Actions" } } } }
            tbody {
                @for plan in &plans {
                    tr {
                        td { code { (Shown(&plan.id)) } br; span.muted { "version " (plan.version) } }
                        td { (owner(plan.doc.owner.as_deref(), plan.doc.review_every.as_deref())) }
                        td.num { (members(&plan.id)) }
                        td { @for g in &plan.groups {
                            (Shown(&g.label)) " (" (g.quota) " " (g.unit.as_str())
                            @if g.period.kind == PeriodKind::Rolling { " in any " (g.period.every) " s, rolling" }
                            ")"
                            // A group owned apart from its plan says by whom.
                            @if g.owner != plan.doc.owner { " " span.muted { "owner " (owner(g.owner.as_deref(), g.review_every.map(|r| r.as_str()))) } }
                            " " br;
                        } }
                        // A plan stored before `.` and `..` were refused has no page: a link would lead elsewhere.
                        td { @if check_id(&plan.id).is_ok() { a href=(format!("/dashboard/plans/{}/edit", encode(&plan.id))) { "Edit" } } }
                    }
                }
                @if plans.is_empty() { tr { td colspan="5" .muted { "No plan yet." } } }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Plans", "Plans", None, body).await?,
    ))
}

/// What the check found for a valid document: the diff against the stored plan, and whether
/// saving replaces a stored plan (then a reason is asked, as for every change that cannot be
/// taken back).
struct Checked {
    diff: Markup,
    replaces: bool,
}

/// The editor: `id` and `text` in a form that checks before it saves, or tries the text on the
/// plan's users (the same form, posted to `TRY`: what is tried is what was typed).
fn editor(session: &Session, id: &str, text: &str, problems: &[(String, String)], checked: Option<Checked>) -> Markup {
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
pub(super) fn editor_form(fields: &HashMap<String, String>) -> (String, String) {
    let id = fields.get("id").map(|s| s.trim().to_string()).unwrap_or_default();
    (id, fields.get("doc").cloned().unwrap_or_default())
}

/// The plan a posted editor form describes, or its problems by field.
pub(super) fn parse_posted(id: &str, text: &str) -> Result<Plan, Vec<(String, String)>> {
    match serde_json::from_str::<PlanDoc>(text) {
        Err(err) => Err(vec![("doc".to_string(), format!("is not a plan document: {err}"))]),
        Ok(doc) => {
            Plan::from_doc(id, doc).map_err(|problems| problems.into_iter().map(|p| (p.field, p.detail)).collect())
        }
    }
}

/// The editor again with `text` as posted, its `problems` or a `flash` above it, answered with
/// `status`: how a refused form is answered.
pub(super) async fn editor_again(
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

pub(super) fn diff_table(old: &str, new: &str) -> Markup {
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

/// `GET /dashboard/plans/{id}/edit` and `GET /dashboard/plans/new?recipe=`.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: Option<web::Path<String>>,
) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let (id, text) = match path {
        Some(id) => {
            let id = id.into_inner();
            let plan = state
                .gateway
                .plan(&session.project, &id)
                .await?
                .ok_or_else(|| ApiError::PlanNotFound(id.clone()))?;
            let mut doc = plan.doc.clone();
            doc.version = None;
            (id, serde_json::to_string_pretty(&doc).unwrap_or_default())
        }
        None => {
            let recipe = query(&req).get("recipe").cloned().unwrap_or_default();
            let found = recipe_plans().into_iter().find(|(name, _)| *name == recipe);
            let (name, text) = found.ok_or_else(|| ApiError::invalid("recipe", "is not a recipe of examples/"))?;
            (name.rsplit('/').next().unwrap_or("plan_new").to_string(), text)
        }
    };
    let costs = match parse_posted(&id, &text) {
        Ok(plan) => costs(&state, &session, &plan).await?,
        Err(_) => None,
    };
    let body = html! { (editor(&session, &id, &text, &[], None)) @if let Some(costs) = costs { (costs) } };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Plans", &id, None, body).await?,
    ))
}

/// What a typical call of each model costs the plan's priced groups, when it has any.
async fn costs(state: &AppState, session: &Session, plan: &Plan) -> Result<Option<Markup>, ApiError> {
    if !plan.prices() {
        return Ok(None);
    }
    let book = state.gateway.price_book(&session.project).await?;
    Ok(super::prices::typical_costs(plan, &book))
}

/// A stored plan's document as the editor shows it (without its version), or None.
pub(super) async fn stored_text(state: &AppState, project: &str, id: &str) -> Result<Option<String>, ApiError> {
    Ok(state.gateway.plan(project, id).await?.map(|old| {
        let mut doc = old.doc.clone();
        doc.version = None;
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }))
}

/// `POST /dashboard/plans/edit`: the editor with a document posted to it (a pricing-lab
/// report's candidate, edited again); nothing is checked or saved until its own forms are sent.
pub async fn edit_posted(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Support).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (id, text) = editor_form(&fields);
    editor_again(&state, &session, (&id, &text), &[], None, StatusCode::OK).await
}

/// `POST /dashboard/plans/save`: check; show problems, or the diff; save once confirmed.
pub async fn save(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Configure).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (id, text) = editor_form(&fields);
    let plan = match parse_posted(&id, &text) {
        Ok(plan) => plan,
        Err(problems) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return editor_again(&state, &session, (&id, &text), &problems, None, status).await;
        }
    };
    if fields.get("confirm").map(String::as_str) != Some("1") {
        let current = stored_text(&state, &session.project, &id).await?.unwrap_or_default();
        let mut new = plan.doc.clone();
        new.version = None;
        let new = serde_json::to_string_pretty(&new).unwrap_or_default();
        let costs = costs(&state, &session, &plan).await?;
        // A plan users are on changes for all of them at once: say how many before saving.
        let on_it = match current.is_empty() {
            true => 0,
            false => state
                .gateway
                .plan_member_counts(&session.project)
                .await?
                .into_iter()
                .find(|(p, _)| *p == id)
                .map_or(0, |(_, n)| n),
        };
        let body = html! {
            @if on_it > 0 {
                div.flash.error role="alert" {
                    "This replaces plan " code { (Shown(&id)) } ", which " strong { (on_it) " " @if on_it == 1 { "user is" } @else { "users are" } } " on: "
                    "every one of them is counted by the new version from their next call."
                }
            } @else if !current.is_empty() {
                div.flash role="status" { "This replaces plan " code { (Shown(&id)) } "; no user is on it." }
            }
            (editor(&session, &id, &new, &[], Some(Checked { diff: diff_table(&current, &new), replaces: !current.is_empty() })))
            @if let Some(costs) = costs { (costs) }
        };
        return Ok(html_response(
            StatusCode::OK,
            page(&state, &session, "Plans", &id, None, body).await?,
        ));
    }
    // Replacing a stored plan changes it for everyone on it: the reason goes to the audit log.
    let mut by = session.actor();
    if stored_text(&state, &session.project, &id).await?.is_some() {
        by = by.because(&confirm::reason(&fields)?);
    }
    state.gateway.put_plan(&session.project, &plan, &by).await?;
    Ok(see_other("/dashboard/plans"))
}
