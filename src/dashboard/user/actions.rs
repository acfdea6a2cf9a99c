//! The support actions of a user's page, each a form posted with the session's CSRF token.
//! Each calls the same gateway verb as the API, with values built by the same checked
//! constructors, so one rule holds on both. Done, it redirects back to the user with a notice
//! code; refused, it answers the user's page again with the error above it.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::answer;
use super::ask::{ask_first, chosen_plan};
use super::credits;
use super::user_keys;
use crate::dashboard::parts::confirm;
use crate::dashboard::parts::links::user_href;
use crate::dashboard::parts::notice::{self, Notice};
use crate::dashboard::parts::session::{posted, see_other};
use crate::gateway::console::sessions::Session;
use crate::gateway::{Adjusted, Gateway, ParentChange};
use crate::http::{ApiError, AppState};
use crate::quota::amount::parse_signed_milli;
use crate::quota::ids::check_id;
use crate::quota::operator::Need;
use crate::quota::{Milli, Override, ReasonText, UserId};

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

/// Takes `action` with the form's `fields`; the notice to show when done.
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
    match action {
        "block" => {
            gateway
                .accounts()
                .set_blocked(project, user, Some(&reason(fields)?), by)
                .await?;
            Ok(Notice::Blocked)
        }
        "unblock" => {
            gateway.accounts().set_blocked(project, user, None, by).await?;
            Ok(Notice::Unblocked)
        }
        "plan" => {
            let plan = chosen_plan(gateway, project, fields).await?;
            let by = &by.clone().because(&reason(fields)?);
            gateway
                .accounts()
                .subscribe(project, user, &plan, None, None, ParentChange::Keep, by)
                .await?;
            Ok(Notice::PlanSwitched)
        }
        "override" => set_override(gateway, session, user, fields).await,
        "unoverride" => {
            // The value as the override list shows it (an empty one is the whole group's).
            let of_value = fields.get("value").map(String::as_str).filter(|v| !v.is_empty());
            gateway
                .accounts()
                .set_value_override(project, user, group(fields)?, of_value, None, by)
                .await?;
            Ok(Notice::OverrideRemoved)
        }
        "adjust" => adjust(gateway, session, user, fields).await,
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

/// Sets the override a bump form asks for: a group's (or one value's) quota, for some hours
/// or until removed.
async fn set_override(
    gateway: &Gateway,
    session: &Session,
    user: &UserId,
    fields: &HashMap<String, String>,
) -> Result<Notice, ApiError> {
    let group = group(fields)?;
    let quota = Milli::parse(field(fields, "quota")?).map_err(|e| ApiError::invalid("quota", e.to_string()))?;
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
        .set_value_override(&session.project, user, group, of_value, Some(&value), &session.actor())
        .await?;
    Ok(Notice::OverrideSet)
}

/// Adds the signed amount an adjust form asks for to a group's counter, with its reason.
async fn adjust(
    gateway: &Gateway,
    session: &Session,
    user: &UserId,
    fields: &HashMap<String, String>,
) -> Result<Notice, ApiError> {
    let group = group(fields)?;
    let amount =
        parse_signed_milli(field(fields, "amount")?).map_err(|e| ApiError::invalid("amount", e.to_string()))?;
    match gateway
        .data()
        .adjust(
            &session.project,
            user,
            group,
            amount,
            &reason(fields)?,
            &session.actor(),
            None,
        )
        .await?
    {
        Adjusted::Done { .. } => Ok(Notice::Adjusted),
        Adjusted::NoPlan => Err(ApiError::SubscriptionNotFound(user.to_string())),
        Adjusted::UnknownGroup(plan) => Err(ApiError::invalid("groupId", format!("is not a group of plan {plan}"))),
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

/// A field the form must fill, trimmed.
fn field<'a>(fields: &'a HashMap<String, String>, name: &'static str) -> Result<&'a str, ApiError> {
    fields
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(name, "is required"))
}

/// The form's reason; blank is refused by the reason's own rule, worded as the API words it.
fn reason(fields: &HashMap<String, String>) -> Result<ReasonText, ApiError> {
    let text = fields.get("reason").map_or("", |r| r.trim());
    ReasonText::parse(text).map_err(|d| ApiError::invalid("reason", d))
}

/// The form's group id, checked as an id.
fn group(fields: &HashMap<String, String>) -> Result<&str, ApiError> {
    let group = field(fields, "groupId")?;
    check_id(group).map_err(|d| ApiError::invalid("groupId", d))?;
    Ok(group)
}
