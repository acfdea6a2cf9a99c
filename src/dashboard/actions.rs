//! The support actions of a user's page, each a form posted with the session's CSRF token and
//! answered with a redirect back to the user and a line saying what happened.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::session::{posted, see_other};
use super::users::{encode, user_href};
use crate::gateway::sessions::Session;
use crate::gateway::{Adjusted, ParentChange};
use crate::http::{ApiError, AppState};
use crate::quota::amount::parse_signed_milli;
use crate::quota::{Milli, Override, SignedAmount, UserId};

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
        Ok((line, change, detail)) => {
            let actor = session.actor();
            let gateway = &state.gateway;
            gateway
                .record_change(&session.project, &actor, change, user.as_str(), Some(&user), detail)
                .await;
            line
        }
        Err(ApiError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
        Err(err) => format!("error:{err}"),
    };
    Ok(see_other(&format!(
        "{}?flash={}",
        user_href(user.as_str()),
        encode(&flash)
    )))
}

/// What an action did: the line shown, and the change for the audit log.
type Done = (String, &'static str, serde_json::Value);

async fn apply(
    state: &AppState,
    session: &Session,
    user: &UserId,
    action: &str,
    fields: &HashMap<String, String>,
) -> Result<Done, ApiError> {
    let gateway = &state.gateway;
    let project = &session.project;
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
            gateway.set_blocked(project, user, Some(&reason)).await?;
            Ok(("Blocked.".into(), "user.block", json!({ "reason": reason })))
        }
        "unblock" => {
            gateway.set_blocked(project, user, None).await?;
            Ok(("Unblocked.".into(), "user.unblock", json!({})))
        }
        "plan" => {
            let plan_id = field("planId")?;
            let plan = gateway
                .plan(project, &plan_id)
                .await?
                .ok_or(ApiError::PlanNotFound(plan_id.clone()))?;
            gateway
                .subscribe(project, user, &plan, None, None, ParentChange::Keep)
                .await?;
            Ok((
                format!("Now on {plan_id}."),
                "subscription.put",
                json!({ "planId": plan_id }),
            ))
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
                .set_override(project, user, &group, Some(&Override { quota, expires_at_ms }))
                .await?;
            let detail = json!({ "groupId": group, "quota": quota, "expiresAtMs": expires_at_ms });
            Ok((format!("Quota of {group} set to {quota}."), "override.set", detail))
        }
        "adjust" => {
            let group = field("groupId")?;
            let amount =
                parse_signed_milli(&field("amount")?).map_err(|_| ApiError::invalid("amount", "must be a number"))?;
            let reason = field("reason")?;
            match gateway
                .adjust(project, user, &group, amount, &reason, &session.actor_id)
                .await?
            {
                Adjusted::Done { applied_milli, .. } => {
                    let detail = json!({ "groupId": group, "applied": SignedAmount(applied_milli), "reason": reason });
                    Ok((format!("Adjusted {group}."), "usage.adjust", detail))
                }
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
