//! Per-user operations around the subscription: overrides, blocking, adjustments, and the
//! users index.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::ApiKey;
use super::body;
use super::dto::{self, AdjustmentAnswer, SubscriptionAnswer, UserPage};
use super::query;
use super::subscriptions::{user_in_path, OverrideBody};
use crate::gateway::Adjusted;
use crate::http::idempotency::idempotency;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::amount::parse_signed_milli;
use crate::quota::ids::check_id;
use crate::quota::UserFilter;
use crate::quota::{ReasonText, SignedAmount, UserId};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockBody {
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AdjustmentBody {
    pub group_id: String,
    /// Signed units to add; negative refunds.
    #[schema(value_type = f64)]
    pub amount: serde_json::Number,
    pub reason: String,
}

fn reason(text: &str) -> Result<ReasonText, ApiError> {
    ReasonText::parse(text).map_err(|d| ApiError::invalid("reason", d))
}

/// `PUT /v1/users/{userId}/overrides/{groupId}?value=`: a per-user quota for one group of their
/// plan (the gateway checks the plan has it), or with `value`, for one value of a per-value
/// group, before the group's.
pub(crate) async fn put_override(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (user, group) = path.into_inner();
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    check_id(&group).map_err(|d| ApiError::invalid("groupId", d))?;
    let [of_value] = query::params(req.query_string(), ["value"])?;
    let body: OverrideBody = body::parse(&body::read(&req, payload).await?)?;
    let value = body.validate("")?;
    let (project, actor) = key.actor(&state).await?;
    let sub = state
        .gateway
        .accounts()
        .set_value_override(&project, &user, &group, of_value.as_deref(), Some(&value), &actor)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

/// `DELETE /v1/users/{userId}/overrides/{groupId}?value=`: back to the plan's quota (or, for one
/// value, to the group's override).
pub(crate) async fn delete_override(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (user, group) = path.into_inner();
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    check_id(&group).map_err(|d| ApiError::invalid("groupId", d))?;
    let [of_value] = query::params(req.query_string(), ["value"])?;
    let (project, actor) = key.actor(&state).await?;
    let sub = state
        .gateway
        .accounts()
        .set_value_override(&project, &user, &group, of_value.as_deref(), None, &actor)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

/// `POST /v1/users/{userId}/block {reason}`: every event of the user is denied.
pub(crate) async fn block(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let body: BlockBody = body::parse(&body::read(&req, payload).await?)?;
    let reason = reason(&body.reason)?;
    let (project, actor) = key.actor(&state).await?;
    let sub = state
        .gateway
        .accounts()
        .set_blocked(&project, &user, Some(&reason), &actor)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

/// `POST /v1/users/{userId}/unblock`.
pub(crate) async fn unblock(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let _: dto::EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let (project, actor) = key.actor(&state).await?;
    let sub = state
        .gateway
        .accounts()
        .set_blocked(&project, &user, None, &actor)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

/// `POST /v1/users/{userId}/adjustments {groupId, amount, reason}`: a support correction of the
/// current period's counter, never below zero, kept in the user's audit trail.
pub(crate) async fn adjust(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let bytes = body::read(&req, payload).await?;
    let body: AdjustmentBody = body::parse(&bytes)?;
    check_id(&body.group_id).map_err(|d| ApiError::invalid("groupId", d))?;
    let amount =
        parse_signed_milli(&body.amount.to_string()).map_err(|e| ApiError::invalid("amount", e.to_string()))?;
    let reason = reason(&body.reason)?;
    let idempotency = idempotency(&req, "adjust", "", &bytes)?;
    let (project, actor) = key.actor(&state).await?;
    match state
        .gateway
        .data()
        .adjust(
            &project,
            &user,
            &body.group_id,
            amount,
            &reason,
            &actor,
            idempotency.as_ref(),
        )
        .await?
    {
        Adjusted::Done {
            counter, applied_milli, ..
        } => Ok(HttpResponse::Ok().json(AdjustmentAnswer {
            applied: SignedAmount(applied_milli),
            counter: dto::CounterAnswer::of(&counter, user.as_str()),
        })),
        Adjusted::NoPlan => Err(ApiError::SubscriptionNotFound(user.into_string())),
        Adjusted::UnknownGroup(plan) => Err(ApiError::invalid("groupId", format!("is not a group of plan {plan}"))),
        Adjusted::InFlight => Err(ApiError::invalid(
            "groupId",
            "counts in-flight work, which has no usage to adjust; release or let expire its reservations",
        )),
        Adjusted::Balance => Err(ApiError::invalid(
            "groupId",
            "counts against a balance; grant credits (POST /v1/users/{userId}/grants) or void a grant instead",
        )),
    }
}

/// `GET /v1/users/{userId}/adjustments`: the audit trail, newest first.
pub(crate) async fn list_adjustments(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let project = key.project(&state).await?;
    let entries = state.gateway.data().adjustments(&project, &user).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "data": entries.iter().map(dto::AdjustmentEntry::from).collect::<Vec<_>>(), "nextCursor": null })))
}

/// `GET /v1/users?cursor=&limit=&planId=&status=&parentId=`: users by id, a page at a time.
pub(crate) async fn list_users(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [cursor, limit, plan_id, status, parent_id] =
        query::params(req.query_string(), ["cursor", "limit", "planId", "status", "parentId"])?;
    if let Some(parent) = &parent_id {
        UserId::parse(parent).map_err(|d| ApiError::invalid("parentId", d))?;
    }
    let limit = query::limit(limit.as_deref(), 50, 500)?;
    if let Some(plan) = &plan_id {
        check_id(plan).map_err(|d| ApiError::invalid("planId", d))?;
    }
    let status = match status.as_deref() {
        None => None,
        Some("active") => Some(crate::quota::Status::Active),
        Some("blocked") => Some(crate::quota::Status::Blocked),
        Some(_) => return Err(ApiError::invalid("status", "must be active or blocked")),
    };
    let cursor = match &cursor {
        Some(c) => {
            Some(dto::decode_cursor(c).ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API gave"))?)
        }
        None => None,
    };
    let project = key.project(&state).await?;
    let filter = UserFilter {
        plan_id,
        status,
        prefix: None,
        contains: None,
        parent_id,
    };
    let page = state
        .gateway
        .accounts()
        .users(&project, cursor.as_deref(), limit, &filter)
        .await?;
    Ok(HttpResponse::Ok().json(UserPage::from(page)))
}
