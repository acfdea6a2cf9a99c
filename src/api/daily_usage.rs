//! `GET /v1/users/{userId}/daily-usage?from=&to=`: a user's daily rollups (used, reserves
//! admitted and denied, releases, expiries per group), every UTC day of the range, for charts.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;

use super::auth::ApiKey;
use super::dto::{DailyUsageAnswer, DayAnswer};
use super::query;
use super::subscriptions::user_in_path;
use crate::http::ApiError;
use crate::http::AppState;

/// Days answered when the range is not given: the last 30, today included.
const DEFAULT_DAYS: i64 = 30;
/// The longest range one request answers.
const MAX_DAYS: i64 = 366;

/// A `YYYY-MM-DD` date as a UTC day number.
fn day(field: &str, text: &str) -> Result<i64, ApiError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, "must be a date as YYYY-MM-DD"))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    Ok((date - epoch).num_days())
}

pub(crate) async fn daily_usage(
    key: ApiKey,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let user = user_in_path(path)?;
    let [from, to] = query::params(req.query_string(), ["from", "to"])?;
    let from = from.map(|t| day("from", &t)).transpose()?;
    let to = to.map(|t| day("to", &t)).transpose()?;
    let (from, to) = match (from, to) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, from + DEFAULT_DAYS - 1),
        (None, Some(to)) => (to - DEFAULT_DAYS + 1, to),
        (None, None) => {
            let today = state.gateway.data().today();
            (today - DEFAULT_DAYS + 1, today)
        }
    };
    if to < from {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    if to - from >= MAX_DAYS {
        return Err(ApiError::invalid("to", "must be at most 366 days after from"));
    }
    let project = key.project(&state).await?;
    let days = state.gateway.data().daily_usage(&project, &user, from, to).await?;
    Ok(HttpResponse::Ok().json(DailyUsageAnswer {
        user_id: user.to_string(),
        days: days.iter().map(DayAnswer::from).collect(),
    }))
}
