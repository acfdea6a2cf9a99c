//! The support actions of a user's page, each a form posted with the session's CSRF token and
//! answered with a redirect back to the user and a line saying what happened.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};

use super::session::{posted, see_other};
use super::users::{encode, user_href};
use crate::gateway::sessions::Session;
use crate::gateway::{Adjusted, ParentChange};
use crate::http::{ApiError, AppState};
use crate::quota::amount::parse_signed_milli;
use crate::quota::{Milli, Override, UserId};

/// `POST /dashboard/users/{userId}/{action}`: one support action, then back to the user.
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (user, action) = path.into_inner();
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let outcome = apply(&state, &session, &user, &action, &fields).await;
    let flash = match outcome {
        Ok(line) => line,
        Err(ApiError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
        Err(err) => format!("error:{err}"),
    };
    Ok(see_other(&format!(
        "{}?flash={}",
        user_href(user.as_str()),
        encode(&flash)
    )))
}

async fn apply(
    state: &AppState,
    session: &Session,
    user: &UserId,
    action: &str,
    fields: &HashMap<String, String>,
) -> Result<String, ApiError> {
    let gateway = &state.gateway;
    let project = &session.project;
    let by = &session.actor();
    let field = |name: &'static str| {
        fields
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid(name, "is required"))
    };
    match action {
        "block" => {
            let reason = field("reason")?;
            gateway.set_blocked(project, user, Some(&reason), by).await?;
            Ok("Blocked.".into())
        }
        "unblock" => {
            gateway.set_blocked(project, user, None, by).await?;
            Ok("Unblocked.".into())
        }
        "plan" => {
            let plan_id = field("planId")?;
            let plan = gateway
                .plan(project, &plan_id)
                .await?
                .ok_or(ApiError::PlanNotFound(plan_id.clone()))?;
            gateway
                .subscribe(project, user, &plan, None, None, ParentChange::Keep, by)
                .await?;
            Ok(format!("Now on {plan_id}."))
        }
        "override" => {
            let group = field("groupId")?;
            let quota: Milli = field("quota")?
                .parse()
                .map_err(|_| ApiError::invalid("quota", "must be a number of units"))?;
            let expires_at_ms = match fields.get("hours").map(|h| h.trim()).filter(|h| !h.is_empty()) {
                Some(hours) => {
                    let hours: i64 = hours
                        .parse()
                        .map_err(|_| ApiError::invalid("hours", "must be whole hours"))?;
                    Some(gateway.now_ms() + hours * 3_600_000)
                }
                None => None,
            };
            gateway
                .set_override(project, user, &group, Some(&Override { quota, expires_at_ms }), by)
                .await?;
            Ok(format!("Quota of {group} set to {quota}."))
        }
        "adjust" => {
            let group = field("groupId")?;
            let amount =
                parse_signed_milli(&field("amount")?).map_err(|_| ApiError::invalid("amount", "must be a number"))?;
            let reason = field("reason")?;
            match gateway.adjust(project, user, &group, amount, &reason, by).await? {
                Adjusted::Done { .. } => Ok(format!("Adjusted {group}.")),
                Adjusted::NoPlan => Err(ApiError::invalid("userId", "is on no plan")),
                Adjusted::UnknownGroup(plan) => Err(ApiError::invalid("groupId", format!("is not a group of {plan}"))),
                Adjusted::InFlight => Err(ApiError::invalid(
                    "groupId",
                    "counts in-flight work, which has no usage to adjust",
                )),
            }
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
