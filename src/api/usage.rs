//! `GET /v1/users/{userId}/usage`: every group of the user's plan, read-only.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use super::auth::ApiKey;
use super::dto::{self, JobAnswer, ParentUsageAnswer, UsageAnswer};
use super::{cors, headers};
use crate::gateway::Usage;
use crate::http::ApiError;
use crate::http::AppState;
use crate::quota::{Status, UserId};

/// Open jobs a usage read lists, at most (the oldest).
const MAX_JOBS_SHOWN: usize = 100;

pub(crate) async fn usage(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    match read(&state, &path, &req).await {
        Ok(response) => Ok(response),
        Err(err) => cors::problem_for_browser(&state, &req, err).await,
    }
}

async fn read(state: &AppState, user: &str, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    // The key is read here rather than as an extractor, so its 401 gets CORS headers too.
    let key = ApiKey::from_request(req, &mut Payload::None).await?;
    let user = UserId::parse(user).map_err(|d| ApiError::invalid("userId", d))?;
    let project = key.reader_project(state, req, &user).await?;
    // The user's open jobs are read beside the usage script (another slot), not after it.
    let data = state.gateway.data();
    let jobs = data.jobs();
    let (usage, jobs) = futures_util::join!(
        data.usage(&project, &user),
        jobs.open_jobs(&project, user.as_str(), MAX_JOBS_SHOWN)
    );
    let (usage, jobs) = (usage?, jobs?);
    let mut response = HttpResponse::Ok();
    let settings = state
        .gateway
        .node()
        .project_settings(&project)
        .await?
        .unwrap_or_default();
    cors::allow(req, &settings, &mut response);
    headers::rate_limit(&mut response, &usage.counters, usage.read_at_ms);
    let parents = usage
        .parents
        .iter()
        .map(|(parent, pool)| ParentUsageAnswer {
            subject_id: parent.as_str().to_string(),
            plan_id: pool.plan_id.clone(),
            status: status(pool),
            period: pool.period.map(Into::into),
            counters: dto::counters(&pool.counters, parent.as_str()),
        })
        .collect();
    let now = data.now_ms();
    let jobs = jobs.iter().map(|job| JobAnswer::of(job, now)).collect();
    Ok(response.json(UsageAnswer {
        status: status(&usage),
        counters: dto::counters(&usage.counters, user.as_str()),
        user_id: user.into_string(),
        plan_id: usage.plan_id,
        period: usage.period.map(Into::into),
        parent_id: usage.parent_id,
        parents,
        jobs,
    }))
}

fn status(usage: &Usage) -> &'static str {
    match (&usage.plan_id, usage.status) {
        (_, Status::Blocked) => "blocked",
        (None, Status::Active) => "no_subscription",
        (Some(_), Status::Active) => "active",
    }
}
