//! The support actions of a user's page, each a form posted with the session's CSRF token.
//! Each calls the same gateway verb as the API, with values built by the same checked
//! constructors, so one rule holds on both. Done, it redirects back to the user with a notice
//! code; refused, it answers the user's page again with the error above it.

use crate::quota::operator::Need;
use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::answer;
use super::credits;
use super::user_keys;
use crate::dashboard::parts::confirm::{self, Ask};
use crate::dashboard::parts::links::user_href;
use crate::dashboard::parts::notice::{self, Notice};
use crate::dashboard::parts::session::{posted, see_other};
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::SwitchRow;
use crate::gateway::{Adjusted, Gateway, ParentChange};
use crate::http::{ApiError, AppState};
use crate::quota::amount::parse_signed_milli;
use crate::quota::ids::check_id;
use crate::quota::{Milli, Override, Plan, ReasonText, UserId};
use maud::{html, Markup};

/// `POST /dashboard/users/{userId}/{action}`: one support action, then back to the user.
pub(crate) async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Support).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (user, action) = path.into_inner();
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    if !confirm::confirmed(&fields) {
        match ask_first(&state, &session, &user, &action, &fields).await {
            Ok(Some(page)) => return Ok(page),
            Ok(None) => {}
            Err(err @ (ApiError::Unavailable(_) | ApiError::Internal(_))) => return Err(err),
            Err(err) => {
                let status = err.status_code();
                return answer(&state, &session, &user, status, Some(notice::error(&err.to_string()))).await;
            }
        }
    }
    match apply(&state, &session, &user, &action, &fields).await {
        Ok(done) => Ok(see_other(&format!("{}?flash={}", user_href(&user), done.code()))),
        // Not a refusal: the page could not be made either.
        Err(err @ (ApiError::Unavailable(_) | ApiError::Internal(_) | ApiError::RouteNotFound)) => Err(err),
        Err(err) => {
            let status = err.status_code();
            answer(&state, &session, &user, status, Some(notice::error(&err.to_string()))).await
        }
    }
}

async fn apply(
    state: &AppState,
    session: &Session,
    user: &UserId,
    action: &str,
    fields: &HashMap<String, String>,
) -> Result<Notice, ApiError> {
    let gateway = &state.gateway;
    let project = &session.project;
    let by = &session.actor();
    let field = |name: &'static str| {
        fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid(name, "is required"))
    };
    // Blank is refused by the reason's own rule, worded as the API words it.
    let reason = || {
        let text = fields.get("reason").map_or("", |r| r.trim());
        ReasonText::parse(text).map_err(|d| ApiError::invalid("reason", d))
    };
    let group = || {
        let group = field("groupId")?;
        check_id(group).map_err(|d| ApiError::invalid("groupId", d))?;
        Ok::<_, ApiError>(group)
    };
    match action {
        "block" => {
            gateway
                .accounts()
                .set_blocked(project, user, Some(&reason()?), by)
                .await?;
            Ok(Notice::Blocked)
        }
        "unblock" => {
            gateway.accounts().set_blocked(project, user, None, by).await?;
            Ok(Notice::Unblocked)
        }
        "plan" => {
            let plan = chosen_plan(gateway, project, fields).await?;
            let by = &by.clone().because(&reason()?);
            gateway
                .accounts()
                .subscribe(project, user, &plan, None, None, ParentChange::Keep, by)
                .await?;
            Ok(Notice::PlanSwitched)
        }
        "override" => {
            let group = group()?;
            let quota = Milli::parse(field("quota")?).map_err(|e| ApiError::invalid("quota", e.to_string()))?;
            let value = match fields.get("hours").map(|h| h.trim()).filter(|h| !h.is_empty()) {
                Some(hours) => {
                    let refused = |d: &str| ApiError::invalid("hours", d);
                    let hours: i64 = hours
                        .parse()
                        .map_err(|_| refused("must be a whole number of hours from 1 to 8760"))?;
                    Override::for_hours(quota, gateway.node().now_ms(), hours).map_err(refused)?
                }
                None => Override::checked(quota, None).map_err(|d| ApiError::invalid("hours", d))?,
            };
            // A per-value group's override may name one value (as typed: a value may have
            // spaces around it); empty means the whole group.
            let of_value = fields.get("value").map(String::as_str).filter(|v| !v.is_empty());
            gateway
                .accounts()
                .set_value_override(project, user, group, of_value, Some(&value), by)
                .await?;
            Ok(Notice::OverrideSet)
        }
        "unoverride" => {
            // The value as the override list shows it (an empty one is the whole group's).
            let of_value = fields.get("value").map(String::as_str).filter(|v| !v.is_empty());
            gateway
                .accounts()
                .set_value_override(project, user, group()?, of_value, None, by)
                .await?;
            Ok(Notice::OverrideRemoved)
        }
        "adjust" => {
            let group = group()?;
            let amount =
                parse_signed_milli(field("amount")?).map_err(|e| ApiError::invalid("amount", e.to_string()))?;
            match gateway
                .data()
                .adjust(project, user, group, amount, &reason()?, by, None)
                .await?
            {
                Adjusted::Done { .. } => Ok(Notice::Adjusted),
                Adjusted::NoPlan => Err(ApiError::SubscriptionNotFound(user.to_string())),
                Adjusted::UnknownGroup(plan) => {
                    Err(ApiError::invalid("groupId", format!("is not a group of plan {plan}")))
                }
                Adjusted::InFlight => Err(ApiError::invalid(
                    "groupId",
                    "counts in-flight work, which has no usage to adjust",
                )),
                Adjusted::Balance => Err(ApiError::invalid(
                    "groupId",
                    "counts against a balance; grant credits or void a grant instead",
                )),
            }
        }
        "revoke-key" => {
            user_keys::may_revoke(session)?;
            let key = user_keys::named(gateway, project, user, fields).await?;
            let by = &by.clone().because(&confirm::reason(fields)?);
            gateway.accounts().revoke_user_key(project, &key.key_id, by).await?;
            Ok(Notice::KeyRevoked)
        }
        "grant" => credits::grant(gateway, session, user, fields).await,
        "void" => credits::void(gateway, session, user, fields).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

/// The plan a switch form names (`planId`), as stored.
async fn chosen_plan(
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
async fn ask_first(
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
