//! A run's page, `/dashboard/users/{userId}/runs/{runId}`: its budget per group, limits,
//! attempts per action, fallbacks, parent and children, and its steps as the user's ledger
//! recorded them, with the levers of an open run (`levers.rs`). Read through the gateway's
//! `run`, as the API reads it; a run id names its user, so no page shows another user's run.
//! The user's page lists their newest runs (`user/runs.rs`).

pub(crate) mod levers;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::cells::{ending, started, state_pill};
use super::parts::chart::bar;
use super::parts::layout::{html_response, page};
use super::parts::ledger::{entries_table, read_bounded};
use super::parts::links::{run_link, user_link};
use super::parts::session::{current, see_other};
use super::parts::shown::Shown;
use crate::gateway::{Gateway, GatewayError, LedgerQuery, RunView};
use crate::http::{ApiError, AppState};
use crate::quota::operator::Need;
use crate::quota::{ReservationId, RunState, UsageEvent, UserId};

/// Ledger entries a run's page reads at most, from the run's start, to find its steps.
const MAX_ENTRIES: usize = 2_000;
/// Ledger entries one read asks for.
const PAGE: usize = 500;
/// How far before a run's start its steps' entries may be stamped: the start is the node's
/// decision instant, the entries Redis's time, and the scripts take an instant within this
/// of their own (lua/library/modules/holds.lua, DECISION_SKEW_MS).
const CLOCK_MARGIN_MS: i64 = 2_000;

/// A limit, or "none".
fn limit(value: Option<u64>) -> Markup {
    match value {
        Some(v) => html! { (v) },
        None => html! { span.muted { "none" } },
    }
}

/// `GET /dashboard/users/{userId}/runs/{runId}`.
pub(crate) async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let (user, run) = path.into_inner();
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    // The id names its user: another user's run is no run of this page, as an unknown one.
    let id = ReservationId::parse_run(&run)
        .filter(|id| id.user() == &user)
        .ok_or(ApiError::RunNotFound)?;
    let view = state
        .gateway
        .data()
        .run(&session.project, &id)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    let (steps, capped) = steps(&state.gateway, &session.project, &view, &user).await?;
    let body = html! {
        (run_page(&user, &view, &steps, capped))
        @if view.state == RunState::Open && session.may(Need::Support) { (levers::forms(&session, &id)) }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Users", id.as_str(), None, body).await?,
    ))
}

/// The run's entries in `user`'s ledger, oldest first, and whether the bound stopped the
/// reading. The gateway reads a ledger by user and time, not by run: this reads the user's
/// entries from the run's start on (less `CLOCK_MARGIN_MS`), at most `MAX_ENTRIES`, and keeps
/// those naming the run (a late commit after the run ended included).
async fn steps(
    gateway: &Gateway,
    project: &str,
    view: &RunView,
    user: &UserId,
) -> Result<(Vec<UsageEvent>, bool), GatewayError> {
    let query = LedgerQuery {
        user: Some(user),
        member: None,
        from_ms: view.reservation.created_ms.map_or(0, |ms| ms - CLOCK_MARGIN_MS),
        to_ms: i64::MAX,
    };
    let mut steps = Vec::new();
    let read = async |cursor, limit| gateway.data().usage_events(project, &query, cursor, limit).await;
    let capped = read_bounded(MAX_ENTRIES, PAGE, read, |events| {
        steps.extend(
            events
                .into_iter()
                .filter(|e| e.step.as_ref().is_some_and(|s| s.run == view.id)),
        )
    })
    .await?;
    Ok((steps, capped))
}

fn run_page(user: &UserId, view: &RunView, steps: &[UsageEvent], capped: bool) -> Markup {
    let (r, run) = (&view.reservation, &view.run);
    let limits = &run.limits;
    html! {
        h1 { "Run " code { (Shown(&view.id)) } " " (state_pill(view.state)) }
        div.grid {
            div.card {
                p { "User " code { (user_link(user.as_str())) } ", event " code { (Shown(&r.event)) } }
                p { "Started " (started(view)) "; " (ending(view)) }
                @if let Some(step) = &r.step {
                    p { "Carved from run " (run_link(&step.run)) }
                }
                p { "Child runs: "
                    @for child in &run.children { (run_link(child)) " " }
                    @if run.children.is_empty() { span.muted { "none" } } }
            }
            div.card {
                p { "Steps: " strong { (run.steps) } ", at most " (limit(limits.steps)) }
                p { "Fallbacks: " strong { (run.fallbacks) } ", at most " (limit(limits.fallbacks)) }
                p { "Attempts per action: at most " (limit(limits.attempts_per_action)) }
                p { "Fallbacks' share of each budget: at most "
                    @match limits.fallback_share_ppm {
                        Some(ppm) => { (ppm as f64 / 10_000.0) "%" }
                        None => { span.muted { "none" } }
                    } }
            }
        }
        h2 { "Budget" }
        table {
            thead { tr { th { "Group" } th { "Unit" } th { span.sr { "Share used" } } th.num { "Budget" } th.num { "Used" } th.num { "Open" } th.num { "Remaining" } th.num { "Fallback spend" } } }
            tbody {
                @for g in run.groups(&r.holds) {
                    tr {
                        td { code { (Shown(&g.group)) } } td { (g.unit.as_str()) }
                        td { (bar(g.used, g.open, g.budget)) }
                        td.num { (g.budget) } td.num { (g.used) } td.num { (g.open) } td.num { (g.remaining()) } td.num { (g.fallback_spent) }
                    }
                }
            }
        }
        h2 { "Attempts per action" }
        table {
            thead { tr { th { "Action" } th.num { "Attempts" } } }
            tbody {
                @for (action, attempts) in &run.attempts {
                    tr { td { code { (Shown(action)) } } td.num { (attempts) } }
                }
                @if run.attempts.is_empty() { tr { td colspan="2" .muted { "None." } } }
            }
        }
        h2 { "Steps" }
        p.muted { "The run's entries in the user's ledger (commits and tracks of its steps, child runs' closes), oldest first; a step still open, or released, has none." }
        @if capped {
            p.flash.error { "Only the first " (MAX_ENTRIES) " entries of the user's ledger from the run's start were read: later steps are not shown." }
        }
        (entries_table(steps, Some(&view.id)))
    }
}
