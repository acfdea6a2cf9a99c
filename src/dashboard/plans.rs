//! Plans: the list with member counts, and the editor (its form in `parts/plan_editor.rs`): a
//! plan's JSON (or a recipe's from `examples/`) edited in place, every problem shown by its
//! field, a diff before saving, what a typical call costs its priced groups, and the same
//! document tried on the plan's users' last 30 days (`simulations/`) without saving.

use crate::quota::operator::Need;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Map};

use super::parts::cells::owner;
use super::parts::confirm;
use super::parts::forms::query;
use super::parts::layout::{html_response, page};
use super::parts::links::encode;
use super::parts::plan_editor::{diff_table, editor, editor_again, editor_form, parse_posted, stored_text, Checked};
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::http::{ApiError, AppState};
use crate::quota::ids::check_id;
use crate::quota::period::PeriodKind;
use crate::quota::price::{dollars, PriceBook};
use crate::quota::{Measure, Plan, Unit};

/// The recipes of `examples/`, compiled in: (file, its plans bundle).
const RECIPES: &[(&str, &str)] = &[
    ("freemium", include_str!("../../examples/freemium.json")),
    ("image-tiers", include_str!("../../examples/image-tiers.json")),
    ("llm", include_str!("../../examples/llm.json")),
    ("stacked", include_str!("../../examples/stacked.json")),
    ("video", include_str!("../../examples/video.json")),
];

/// A typical call the plan editor prices: 1,000 input and 500 output tokens.
const TYPICAL_INPUT: u64 = 1_000;
const TYPICAL_OUTPUT: u64 = 500;

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

pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let plans = state.gateway.accounts().plans(&session.project).await?;
    let counts = state.gateway.accounts().plan_member_counts(&session.project).await?;
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

/// `GET /dashboard/plans/{id}/edit` and `GET /dashboard/plans/new?recipe=`.
pub(crate) async fn edit(
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
                .node()
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
    let book = state.gateway.node().price_book(&session.project).await?;
    Ok(typical_costs(plan, &book))
}

/// `POST /dashboard/plans/edit`: the editor with a document posted to it (a pricing-lab
/// report's candidate, edited again); nothing is checked or saved until its own forms are sent.
pub(crate) async fn edit_posted(
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
pub(crate) async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
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
                .accounts()
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
    state.gateway.accounts().put_plan(&session.project, &plan, &by).await?;
    Ok(see_other("/dashboard/plans"))
}

/// What a typical call of each model costs each priced group of `plan` (its markup, its unit),
/// for the plan editor; None when no group prices calls by their model.
fn typical_costs(plan: &Plan, book: &PriceBook) -> Option<Markup> {
    let priced: Vec<_> = plan
        .groups
        .iter()
        .filter_map(|g| match &g.measure {
            Measure::Price(rule) => Some((g, rule)),
            _ => None,
        })
        .collect();
    if priced.is_empty() {
        return None;
    }
    let mut models: Vec<&String> = book.by_model.keys().collect();
    models.sort();
    let mut metadata = Map::new();
    metadata.insert("input_tokens".into(), json!(TYPICAL_INPUT));
    metadata.insert("output_tokens".into(), json!(TYPICAL_OUTPUT));
    Some(html! {
        h2 { "What a typical call costs" }
        p.muted { "A call of " (TYPICAL_INPUT) " input and " (TYPICAL_OUTPUT) " output tokens, as each priced group counts it (its markup included), by the prices in force now." }
        @for (g, rule) in &priced {
            h3 { code { (Shown(&g.id)) } " in " (if g.balance.is_some() { "credits" } else { "cents" }) ", markup " (dollars(rule.markup_micro)) }
            table {
                thead { tr { th { "Model" } th { "Price from" } th { "A typical call" } } }
                tbody {
                    @for model in &models {
                        @let mut with = metadata.clone();
                        @let _ = with.insert("model".into(), json!(model));
                        @let price = book.of(&with);
                        @let resolved = g.measure.resolve(price.as_ref()).ok().flatten();
                        tr {
                            td { code { (Shown(model)) } }
                            @match resolved.as_deref() {
                                Some(Measure::Priced(p)) => {
                                    td { (p.origin.as_str()) }
                                    td { @match p.amount(&with) { Ok(a) => { (a) } Err(_) => { "—" } } }
                                }
                                _ => { td { "none" } td { "denied: unpriced_model" } }
                            }
                        }
                    }
                }
            }
        }
        @if priced.iter().any(|(g, _)| g.unit != Unit::Cents && g.balance.is_none()) {
            p.muted { "A priced group counts cents, or a balance's credits." }
        }
    })
}
