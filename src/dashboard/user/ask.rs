//! The confirmation pages of the support actions that cannot be taken back or change what
//! the user may spend (block, void a grant, revoke a key, switch the plan), and the plan a
//! switch form names.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::HttpResponse;
use maud::{html, Markup};

use super::credits;
use super::user_keys;
use crate::dashboard::parts::confirm::{self, Ask};
use crate::dashboard::parts::links::user_href;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{Gateway, SwitchRow};
use crate::http::{ApiError, AppState};
use crate::quota::ids::check_id;
use crate::quota::{Milli, Plan, UserId};

/// The plan a switch form names (`planId`), as stored.
pub(super) async fn chosen_plan(
    gateway: &Gateway,
    project: &str,
    fields: &HashMap<String, String>,
) -> Result<Arc<Plan>, ApiError> {
    let plan_id = fields
        .get("planId")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid("planId", "is required"))?;
    check_id(plan_id).map_err(|d| ApiError::invalid("planId", d))?;
    gateway
        .node()
        .plan(project, plan_id)
        .await?
        .ok_or_else(|| ApiError::PlanNotFound(plan_id.to_string()))
}

/// The confirmation page of an action that cannot be taken back or changes what the user may
/// spend; None for the others, which are made at once.
pub(super) async fn ask_first(
    state: &AppState,
    session: &Session,
    user: &UserId,
    action: &str,
    fields: &HashMap<String, String>,
) -> Result<Option<HttpResponse>, ApiError> {
    let href = user_href(user);
    let form_action = format!("{href}/{action}");
    let who = user.as_str();
    let (title, what, reason, button) = match action {
        "block" => (
            "Block this user?",
            html! { p { "Every event of " code { (Shown(who)) } " will be denied (" code { "user_blocked" } ") until someone unblocks them. Holds already made stay." } },
            true,
            "Block",
        ),
        "void" => {
            let id = credits::grant_id(fields)?;
            let (_, balances) = state.gateway.data().balances(&session.project, user).await?;
            let Some(grant) = balances.iter().flat_map(|b| b.grants.iter()).find(|g| g.id == id) else {
                return Err(ApiError::GrantNotFound(id.to_string()));
            };
            let a = &grant.amounts;
            let what = html! {
                p { "Grant " code { (Shown(id)) } " of balance " code { (Shown(&grant.input.balance)) }
                    " ends now: its " strong { (a.remaining) } " remaining credits are gone for good"
                    @if a.held > Milli::ZERO { " (" (a.held) " held by calls in flight are voided when they end)" } "." }
                p.muted { "A void cannot be undone; a new grant gives credits again." }
            };
            ("Void this grant?", what, true, "Void the grant")
        }
        "revoke-key" => {
            user_keys::may_revoke(session)?;
            let key = user_keys::named(&state.gateway, &session.project, user, fields).await?;
            let what = html! {
                p { "User key " code { (key.hint) } " (" (Shown(&key.label)) ") of " code { (Shown(who)) }
                    " stops working on every node within a second: calls through the proxy with it are refused from then on." }
                p.muted { "A revoked key cannot be restored; a new one is minted through the API." }
            };
            ("Revoke this user key?", what, true, "Revoke the key")
        }
        "plan" => {
            let plan = chosen_plan(&state.gateway, &session.project, fields).await?;
            let rows = state
                .gateway
                .accounts()
                .switch_preview(&session.project, user, &plan)
                .await?;
            (
                "Switch this user's plan?",
                switch_table(who, &plan.id, &rows),
                true,
                "Switch",
            )
        }
        _ => return Ok(None),
    };
    let ask = Ask {
        section: "Users",
        title,
        action: &form_action,
        what,
        reason,
        button,
        back: &href,
    };
    confirm::ask(state, session, fields, ask).await.map(Some)
}

/// Before → after of each group of the plan switched to.
fn switch_table(user: &str, plan: &str, rows: &[SwitchRow]) -> Markup {
    html! {
        p { code { (Shown(user)) } " moves to " code { (Shown(plan)) } ". Each group of it, now and right after the switch:" }
        div.scroll { table {
            thead { tr { th { "Group" } th { "On a switch" } th.num { "Used now" } th.num { "Used after" } th.num { "Quota after" } } }
            tbody {
                @for r in rows {
                    tr {
                        td { (Shown(&r.after.label)) @if let Some(v) = &r.after.value { " · " (Shown(v)) }
                             br; span.muted { code { (Shown(&r.after.group_id)) } } }
                        td { @if r.ruled { (format!("{:?}", r.rule).to_lowercase()) } @else { "kept" } }
                        td.num { @match &r.before { Some(b) => { (b.used) " of " (b.quota) }, None => span.muted { "not in the current plan" } } }
                        td.num { strong { (r.after.used) } }
                        td.num { (r.after.quota) }
                    }
                }
            }
        } }
        p.muted { "A carried group keeps its counter only within the same period: a group whose period is anchored differently in the new plan starts the new period's counter." }
    }
}
