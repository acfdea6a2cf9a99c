//! An open run's levers on its page, their forms and what they post: close it (what its steps
//! used is committed, the rest given back; confirmed first, with a reason, since it cannot be
//! undone) or extend it by minutes. `POST /dashboard/users/{userId}/runs/{runId}/{close|extend}`,
//! each held to the support role and recorded in the audit log as the operator's.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use crate::dashboard::parts::confirm::{self, Ask};
use crate::dashboard::parts::layout::csrf;
use crate::dashboard::parts::links::run_href;
use crate::dashboard::parts::session::{posted, see_other};
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{Extension, RunView};
use crate::http::{ApiError, AppState};
use crate::json::rfc3339;
use crate::quota::operator::Need;
use crate::quota::{ReservationId, ReservationState, RunState, UserId};

/// The longest an extension from the page may reach, in minutes (a day, as the API's).
const MAX_MINUTES: i64 = 1_440;

/// An open run's forms: extend it by minutes, or close it (a confirmation first).
pub(crate) fn forms(session: &Session, id: &ReservationId) -> Markup {
    let href = run_href(id);
    html! {
        h2 { "Support actions" }
        div.card {
            form.inline method="post" action=(format!("{href}/extend")) {
                (csrf(session))
                label { "Extend to " input type="number" name="minutes" min="1" max=(MAX_MINUTES) value="60" required; " minutes from now" }
                " " button type="submit" { "Extend the run" }
            }
            " "
            form.inline method="post" action=(format!("{href}/close")) {
                (csrf(session))
                button.danger type="submit" { "Close the run…" }
            }
        }
    }
}

/// `POST /dashboard/users/{userId}/runs/{runId}/{close|extend}`: one lever, then back to the run.
pub(crate) async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Support).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (user, run, action) = path.into_inner();
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let id = ReservationId::parse_run(&run)
        .filter(|id| id.user() == &user)
        .ok_or(ApiError::RunNotFound)?;
    match action.as_str() {
        "close" => {
            if !confirm::confirmed(&fields) {
                return ask_to_close(&state, &session, &fields, &id).await;
            }
            close(&state, &session, &fields, &id).await?;
        }
        "extend" => extend(&state, &session, &fields, &id).await?,
        _ => return Err(ApiError::RouteNotFound),
    }
    Ok(see_other(&run_href(&id)))
}

/// The page that asks to confirm a close, with what it commits and gives back.
async fn ask_to_close(
    state: &AppState,
    session: &Session,
    fields: &HashMap<String, String>,
    id: &ReservationId,
) -> Result<HttpResponse, ApiError> {
    let view = open_run(state, &session.project, id).await?;
    let href = run_href(id);
    let action = format!("{href}/close");
    let ask = Ask {
        section: "Users",
        title: "Close this run?",
        action: &action,
        what: closing(&view),
        reason: true,
        button: "Close the run",
        back: &href,
    };
    confirm::ask(state, session, fields, ask).await
}

/// Closes the run, confirmed, with the operator's reason.
async fn close(
    state: &AppState,
    session: &Session,
    fields: &HashMap<String, String>,
    id: &ReservationId,
) -> Result<(), ApiError> {
    let by = session.actor().because(&confirm::reason(fields)?);
    let view = state
        .gateway
        .data()
        .close_run_as(&session.project, id, &by)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    if view.state == RunState::Expired {
        return Err(ApiError::RunEnded("expired"));
    }
    Ok(())
}

/// Extends the run to the minutes from now the form asks for.
async fn extend(
    state: &AppState,
    session: &Session,
    fields: &HashMap<String, String>,
    id: &ReservationId,
) -> Result<(), ApiError> {
    let minutes = fields
        .get("minutes")
        .and_then(|m| m.trim().parse::<i64>().ok())
        .filter(|m| (1..=MAX_MINUTES).contains(m))
        .ok_or_else(|| ApiError::invalid("minutes", format!("must be a whole number from 1 to {MAX_MINUTES}")))?;
    // An extension moves the end later, never earlier: a shorter time would cut the
    // run's budget short under the name of extending it.
    let view = open_run(state, &session.project, id).await?;
    let ends = view.reservation.expires_ms;
    if state.gateway.node().now_ms() + minutes * 60_000 <= ends {
        let detail = format!(
            "must reach past the run's end, {}: it is held until then already",
            rfc3339(ends)
        );
        return Err(ApiError::invalid("minutes", detail));
    }
    match state
        .gateway
        .data()
        .extend_run_as(&session.project, id, minutes * 60_000, &session.actor())
        .await?
    {
        Extension::Extended { .. } => Ok(()),
        Extension::NotFound | Extension::Ended(ReservationState::Released) => Err(ApiError::RunNotFound),
        Extension::Ended(ReservationState::Committed) => Err(ApiError::RunEnded("closed")),
        Extension::Ended(_) => Err(ApiError::RunEnded("expired")),
    }
}

/// The run, refused when it is missing or has ended.
async fn open_run(state: &AppState, project: &str, id: &ReservationId) -> Result<RunView, ApiError> {
    let view = state
        .gateway
        .data()
        .run(project, id)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    if view.state != RunState::Open {
        return Err(ended(&view));
    }
    Ok(view)
}

/// The refusal of a lever on a run that has ended.
fn ended(view: &RunView) -> ApiError {
    match view.state {
        RunState::Closed => ApiError::RunEnded("closed"),
        _ => ApiError::RunEnded("expired"),
    }
}

/// What a close does, per group: commits what the steps used, gives back the rest, open
/// steps' holds included.
fn closing(view: &RunView) -> maud::Markup {
    html! {
        p { "Run " code { (Shown(&view.id)) } " ends now. Per group, what its steps used is committed "
            "and the rest of its budget goes back to the user:" }
        table {
            thead { tr { th { "Group" } th.num { "Committed" } th.num { "Given back" } } }
            tbody {
                @for g in view.run.groups(&view.reservation.holds) {
                    tr { td { code { (Shown(&g.group)) } } td.num { (g.used) }
                         td.num { (crate::quota::Milli(g.budget.0.saturating_sub(g.used.0))) } }
                }
            }
        }
        p.muted { "What steps still open hold is given back too. A closed run cannot be opened again." }
    }
}
