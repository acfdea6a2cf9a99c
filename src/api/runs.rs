//! Runs: `POST /v1/runs` holds an agent run's budget before it starts; steps are reserves and
//! tracks that name it (`runId`); `close` commits what the steps used and gives the rest back.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::auth::ApiKey;
use super::body;
use super::dto::{self, CloseBody, ExtendBody, RunAnswer, RunExtendAnswer, RunLimitsDoc, RunList, RunStartAnswer};
use super::event::{ttl_ms, ReserveBody};
use super::query;
use crate::gateway::{Extension, MAX_LISTED_RUNS};
use crate::http::idempotency::idempotency;
use crate::http::step::step;
use crate::http::{ApiError, AppState};
use crate::json::rfc3339;
use crate::quota::{Decision, Milli, ReservationId, ReservationState, RunLimits, UserId};

/// A run lasts 15 minutes unless it says otherwise (and is extended like a reservation).
const DEFAULT_RUN_TTL_SECONDS: i64 = 900;

/// `POST /v1/runs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RunBody {
    #[schema(min_length = 1, max_length = 256)]
    pub user_id: String,
    /// The event whose matched groups the run holds, as a reserve of it would.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub event: String,
    pub quantity: Option<Milli>,
    pub metadata: Option<Map<String, Value>>,
    /// Default 900.
    #[schema(minimum = 1, maximum = 86400)]
    pub ttl_seconds: Option<i64>,
    pub limits: Option<RunLimitsDoc>,
    /// A run of the same user whose remaining budget this child run is carved from.
    pub parent_run_id: Option<String>,
}

impl RunBody {
    fn validate(self) -> Result<(crate::quota::EventInput, RunLimits, i64), ApiError> {
        let ttl_ms = ttl_ms(Some(self.ttl_seconds.unwrap_or(DEFAULT_RUN_TTL_SECONDS)))?;
        let limits = limits(self.limits.unwrap_or_default())?;
        let (mut input, _) = ReserveBody {
            user_id: self.user_id,
            event: Some(self.event),
            quantity: self.quantity,
            metadata: self.metadata,
            alternatives: None,
            ttl_seconds: None,
            run_id: None,
            action_id: None,
            kind: None,
            // A run's budget is what it asks for: it holds whole or not at all.
            fit: Some("whole".into()),
            min_fit: None,
        }
        .validate()?;
        if let Some(parent) = self.parent_run_id {
            // A child run is a step of its parent: it draws its budget from it.
            input.step = step(&input.user, Some(parent), None, None).map_err(|_| {
                ApiError::invalid("parentRunId", "must be a run of this user (POST /v1/runs answers one)")
            })?;
        }
        Ok((input, limits, ttl_ms))
    }
}

fn limits(doc: RunLimitsDoc) -> Result<RunLimits, ApiError> {
    if doc.steps == Some(0) {
        return Err(ApiError::invalid("limits.steps", "must be at least 1"));
    }
    if doc.attempts_per_action == Some(0) {
        return Err(ApiError::invalid("limits.attemptsPerAction", "must be at least 1"));
    }
    let share = match doc.fallback_share {
        Some(share) if !(0.0..=1.0).contains(&share) => {
            return Err(ApiError::invalid("limits.fallbackShare", "must be 0 to 1"))
        }
        share => share.map(|s| (s * 1_000_000.0).round() as u64),
    };
    Ok(RunLimits {
        steps: doc.steps,
        attempts_per_action: doc.attempts_per_action,
        fallbacks: doc.fallbacks,
        fallback_share_ppm: share,
        max_fallback_spend: doc.max_fallback_spend,
    })
}

pub(crate) async fn start_run(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload).await?;
    let body: RunBody = body::parse(&bytes)?;
    let (input, limits, ttl_ms) = body.validate()?;
    let idempotency = idempotency(&req, "run", "", &bytes)?;
    let project = key.project(&state).await?;
    let decision = state
        .gateway
        .data()
        .start_run(&project, &input, &limits, ttl_ms, idempotency.as_ref())
        .await?;
    Ok(HttpResponse::Ok().json(started(&decision, input.user.as_str())))
}

fn started(d: &Decision, user: &str) -> RunStartAnswer {
    RunStartAnswer {
        allowed: d.allowed,
        run_id: d.granted.as_ref().map(|g| g.reservation_id.as_str().to_string()),
        expires_at: d.granted.as_ref().map(|g| rfc3339(g.expires_at_ms)),
        reasons: d.reasons.iter().map(|r| r.code()).collect(),
        denied_by: d.denied_by.iter().filter_map(|x| x.group.clone()).collect(),
        denials: d.denied_by.iter().map(|x| dto::DenialAnswer::of(x, user)).collect(),
        counters: dto::counters(&d.counters, user),
    }
}

/// The run named in the path, or 404.
fn run_id(path: web::Path<String>) -> Result<ReservationId, ApiError> {
    ReservationId::parse_run(&path.into_inner()).ok_or(ApiError::RunNotFound)
}

pub(crate) async fn get_run(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = run_id(path)?;
    let project = key.project(&state).await?;
    let view = state
        .gateway
        .data()
        .run(&project, &id)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    Ok(HttpResponse::Ok().json(RunAnswer::of(&view, id.user().as_str())))
}

/// `GET /v1/runs?userId=`: the user's runs the records keep, newest first.
pub(crate) async fn list_runs(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let [user] = query::params(req.query_string(), ["userId"])?;
    let user = user.ok_or_else(|| ApiError::invalid("userId", "is required"))?;
    let user = UserId::parse(&user).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.project(&state).await?;
    let runs = state.gateway.data().runs(&project, &user, MAX_LISTED_RUNS).await?;
    Ok(HttpResponse::Ok().json(RunList {
        data: runs.iter().map(|v| RunAnswer::of(v, user.as_str())).collect(),
        next_cursor: None,
    }))
}

pub(crate) async fn close_run(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let close: CloseBody = body::parse_optional(&body::read(&req, payload).await?)?;
    let outcome = dto::outcome(close.outcome.as_deref())?;
    let id = run_id(path)?;
    let record = key.secret(&state).await?;
    let view = state
        .gateway
        .data()
        .close_run(&record.project, &id, outcome, &record.key_id)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    Ok(HttpResponse::Ok().json(RunAnswer::of(&view, id.user().as_str())))
}

pub(crate) async fn extend_run(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ExtendBody = body::parse(&body::read(&req, payload).await?)?;
    let ttl_ms = ttl_ms(Some(body.ttl_seconds))?;
    let id = run_id(path)?;
    let project = key.project(&state).await?;
    match state.gateway.data().extend(&project, &id, ttl_ms).await? {
        Extension::Extended { expires_ms, .. } => Ok(HttpResponse::Ok().json(RunExtendAnswer {
            run_id: id.to_string(),
            expires_at: rfc3339(expires_ms),
        })),
        Extension::NotFound => Err(ApiError::RunNotFound),
        Extension::Ended(ReservationState::Committed) => Err(ApiError::RunEnded("closed")),
        Extension::Ended(ReservationState::Released) => Err(ApiError::RunNotFound),
        Extension::Ended(_) => Err(ApiError::RunEnded("expired")),
    }
}
