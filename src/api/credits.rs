//! Credits: grants made, listed and voided, and a user's balances. Reserve, commit, release and
//! track hold and burn them through the plan's balance groups.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::body;
use super::dto::{
    self, BalanceAnswer, BalanceList, CreditSummaryAnswer, GrantAnswer, GrantBody, GrantList, GrantMadeAnswer,
};
use super::event::check_metadata;
use super::query;
use super::subscriptions::user_in_path;
use crate::gateway::Granting;
use crate::http::idempotency::idempotency;
use crate::http::AppState;
use crate::http::{parse_time, ApiError};
use crate::json::rfc3339;
use crate::quota::credit::MAX_LIVE_GRANTS;
use crate::quota::ids::check_id;
use crate::quota::{Category, GrantInput, UserId};

impl GrantBody {
    fn input(self) -> Result<GrantInput, ApiError> {
        // A grant's metadata follows the rules an event's does (it is written to the ledger).
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata)?;
        }
        Ok(GrantInput {
            category: match self.category.as_deref() {
                None => Category::Paid,
                Some(text) => Category::parse(text)
                    .ok_or_else(|| ApiError::invalid("category", "must be \"paid\" or \"promotional\""))?,
            },
            effective_ms: self
                .effective_at
                .as_deref()
                .map(|t| parse_time("effectiveAt", t))
                .transpose()?,
            expires_ms: self
                .expires_at
                .as_deref()
                .map(|t| parse_time("expiresAt", t))
                .transpose()?,
            balance: self.balance,
            amount: self.amount,
            priority: self.priority.unwrap_or(50),
            cost_basis: self.cost_basis,
            source: self.source,
            metadata: self.metadata,
        })
    }
}

/// `POST /v1/users/{userId}/grants`: adds credits to a balance; they pay debt first. With an
/// Idempotency-Key (a payment's id), a repeat answers the first grant and grants nothing.
pub(crate) async fn create_grant(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let bytes = body::read(&req, payload).await?;
    let body: GrantBody = body::parse(&bytes)?;
    let balance = body.balance.clone();
    let input = body.input()?;
    let idempotency = idempotency(&req, "grant", user.as_str(), &bytes)?;
    let (project, actor) = key.actor(&state).await?;
    match state
        .gateway
        .data()
        .grant(&project, &user, &input, &actor, idempotency.as_ref())
        .await?
    {
        Granting::Made { grant, debt_paid } => Ok(HttpResponse::Created().json(GrantMadeAnswer {
            grant: GrantAnswer::of(&grant, state.gateway.node().now_ms()),
            debt_paid,
        })),
        Granting::TooMany => Err(ApiError::GrantLimit {
            balance,
            limit: MAX_LIVE_GRANTS,
        }),
    }
}

/// `GET /v1/users/{userId}/grants?balance=`: every grant of the user (of one balance), in burn
/// order.
pub(crate) async fn list_grants(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let [balance] = query::params(req.query_string(), ["balance"])?;
    if let Some(name) = &balance {
        check_id(name).map_err(|d| ApiError::invalid("balance", d))?;
    }
    let project = key.project(&state).await?;
    let (now_ms, balances) = state.gateway.data().balances(&project, &user).await?;
    let grants = balances
        .iter()
        .filter(|b| balance.as_deref().is_none_or(|name| b.name == name))
        .flat_map(|b| b.grants.iter().map(|g| GrantAnswer::of(g, now_ms)))
        .collect();
    Ok(HttpResponse::Ok().json(GrantList {
        data: grants,
        next_cursor: None,
    }))
}

/// `POST /v1/users/{userId}/grants/{grantId}/void`: ends a grant: what it has remaining now,
/// what it holds when given back.
pub(crate) async fn void_grant(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (user, grant_id) = path.into_inner();
    let user = user_in_path(web::Path::from(user))?;
    let _: dto::EmptyBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let (project, actor) = key.actor(&state).await?;
    match state
        .gateway
        .data()
        .void_grant(&project, &user, &grant_id, None, &actor)
        .await?
    {
        Some(grant) => Ok(HttpResponse::Ok().json(GrantAnswer::of(&grant, state.gateway.node().now_ms()))),
        None => Err(ApiError::GrantNotFound(grant_id)),
    }
}

/// `GET /v1/users/{userId}/balances`: every balance of the user with its grants.
pub(crate) async fn balances(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let project = key.project(&state).await?;
    let (now_ms, balances) = state.gateway.data().balances(&project, &user).await?;
    Ok(HttpResponse::Ok().json(BalanceList {
        data: balances.iter().map(|b| BalanceAnswer::of(b, now_ms)).collect(),
        next_cursor: None,
    }))
}

/// `GET /v1/balances/summary?balance=&userId=&from=&to=`: what the ledger says of credits:
/// granted, burned (and its revenue by cost basis), voided, expired (breakage) and
/// outstanding, paid and promotional apart.
pub(crate) async fn summary(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [balance, user, from, to] = query::params(req.query_string(), ["balance", "userId", "from", "to"])?;
    if let Some(name) = &balance {
        check_id(name).map_err(|d| ApiError::invalid("balance", d))?;
    }
    let user = user
        .as_deref()
        .map(|u| UserId::parse(u).map_err(|d| ApiError::invalid("userId", d)))
        .transpose()?;
    let from_ms = from.as_deref().map(|t| parse_time("from", t)).transpose()?;
    let to_ms = to.as_deref().map(|t| parse_time("to", t)).transpose()?;
    if let (Some(from), Some(to)) = (from_ms, to_ms) {
        if to <= from {
            return Err(ApiError::invalid("to", "must be after from"));
        }
    }
    let project = key.project(&state).await?;
    let (summary, truncated) = state
        .gateway
        .data()
        .credits_summary(
            &project,
            balance.as_deref(),
            user.as_ref(),
            from_ms.unwrap_or(0),
            to_ms.unwrap_or(i64::MAX),
        )
        .await?;
    Ok(HttpResponse::Ok().json(CreditSummaryAnswer::of(
        &summary,
        balance,
        from_ms.map(rfc3339),
        to_ms.map(rfc3339),
        truncated,
    )))
}
