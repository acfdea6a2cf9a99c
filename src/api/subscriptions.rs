//! `PUT`/`GET`/`DELETE /v1/users/{userId}/subscription`: which plan a user is on, since when,
//! and with which overrides.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::ApiKey;
use super::body;
use super::dto::SubscriptionAnswer;
use crate::gateway::ParentChange;
use crate::http::AppState;
use crate::http::{parse_time, ApiError};
use crate::quota::ids::check_id;
use crate::quota::{Milli, Override, UserId};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SubscriptionBody {
    pub plan_id: String,
    /// RFC 3339, the anchor of `subscription_start` periods; not in the future (a start up to
    /// 5 s ahead of the gateway's clock is taken, callers' clocks differing, and what is decided
    /// before it counts in the first period). Absent: a new subscription starts now, an
    /// existing one keeps its start.
    pub started_at: Option<String>,
    pub overrides: Option<BTreeMap<String, OverrideBody>>,
    /// Absent keeps the parent, null removes it, an id sets it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
}

/// A field that may be absent (None), null (Some(None)) or set (Some(Some(value))).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OverrideBody {
    pub quota: Milli,
    pub expires_at: Option<String>,
}

impl OverrideBody {
    /// `field` names the override in errors (`overrides.g.expiresAt`).
    pub(crate) fn validate(&self, field: &str) -> Result<Override, ApiError> {
        let field = format!("{field}expiresAt");
        let expires_at_ms = self.expires_at.as_deref().map(|t| parse_time(&field, t)).transpose()?;
        Override::checked(self.quota, expires_at_ms).map_err(|d| ApiError::invalid(field, d))
    }
}

pub(crate) fn user_in_path(path: web::Path<String>) -> Result<UserId, ApiError> {
    UserId::parse(&path.into_inner()).map_err(|d| ApiError::invalid("userId", d))
}

pub(crate) async fn put_subscription(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let body: SubscriptionBody = body::parse(&body::read(&req, payload).await?)?;
    check_id(&body.plan_id).map_err(|d| ApiError::invalid("planId", d))?;
    let started_ms = match &body.started_at {
        Some(text) => {
            let ms = parse_time("startedAt", text)?;
            state.gateway.accounts().check_started_at(ms)?;
            Some(ms)
        }
        None => None,
    };
    let overrides = match &body.overrides {
        Some(map) => {
            let mut parsed = BTreeMap::new();
            for (group, o) in map {
                check_id(group).map_err(|d| ApiError::invalid(format!("overrides.{group}"), d))?;
                parsed.insert(group.clone(), o.validate(&format!("overrides.{group}."))?);
            }
            Some(parsed)
        }
        None => None,
    };
    let parent = match &body.parent_id {
        None => ParentChange::Keep,
        Some(None) => ParentChange::Remove,
        Some(Some(id)) => {
            UserId::parse(id).map_err(|d| ApiError::invalid("parentId", d))?;
            ParentChange::Set(id)
        }
    };
    let (project, actor) = key.actor(&state).await?;
    let plan = state
        .gateway
        .node()
        .plan(&project, &body.plan_id)
        .await?
        .ok_or(ApiError::PlanNotFound(body.plan_id))?;
    let sub = state
        .gateway
        .accounts()
        .subscribe(&project, &user, &plan, started_ms, overrides.as_ref(), parent, &actor)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

pub(crate) async fn get_subscription(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let project = key.project(&state).await?;
    let sub = state.gateway.accounts().subscription(&project, &user).await?;
    if !sub.exists() {
        return Err(ApiError::SubscriptionNotFound(user.into_string()));
    }
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}

/// Ends the subscription: the user falls back to the default plan; the plan is remembered.
pub(crate) async fn delete_subscription(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let (project, actor) = key.actor(&state).await?;
    let sub = state.gateway.accounts().unsubscribe(&project, &user, &actor).await?;
    Ok(HttpResponse::Ok().json(SubscriptionAnswer::from(&sub)))
}
