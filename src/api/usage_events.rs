//! `GET /v1/usage-events?userId=&from=&to=&cursor=&limit=`: a user's usage ledger, a page at a
//! time, oldest first.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::auth::ApiKey;
use super::dto::{UsageEventAnswer, UsageEventPageAnswer};
use super::error::ApiError;
use super::subscriptions::parse_time;
use super::AppState;
use crate::quota::UserId;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

#[derive(Default)]
struct Query {
    user_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn parse_query(query: &str) -> Result<Query, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| ApiError::invalid("query", "must be name=value pairs joined by &, percent-encoded"))?;
    let mut parsed = Query::default();
    for (name, value) in pairs.into_inner() {
        let slot = match name.as_str() {
            "userId" => &mut parsed.user_id,
            "from" => &mut parsed.from,
            "to" => &mut parsed.to,
            "cursor" => &mut parsed.cursor,
            "limit" => &mut parsed.limit,
            _ => return Err(ApiError::invalid(name, "is not a parameter of this route")),
        };
        *slot = Some(value);
    }
    Ok(parsed)
}

/// A cursor is the position of the last entry seen, base64url; anything else is refused.
fn decode_cursor(cursor: &str) -> Option<String> {
    let position = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (ms, seq) = position.split_once('-')?;
    (ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok()).then_some(position)
}

pub async fn list_usage_events(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = parse_query(req.query_string())?;
    let user = query
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("userId", "is required"))
        .and_then(|u| UserId::parse(u).map_err(|d| ApiError::invalid("userId", d)))?;
    let from_ms = query
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?
        .unwrap_or(0);
    let to_ms = query
        .to
        .as_deref()
        .map(|t| parse_time("to", t))
        .transpose()?
        .unwrap_or(i64::MAX);
    if to_ms <= from_ms {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    let after = query
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c).ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API gave")))
        .transpose()?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", "must be a whole number from 1 to 1000"))?,
    };
    let project = key.project(&state).await?;
    let page = state
        .gateway
        .usage_events(&project, &user, from_ms, to_ms, after.as_deref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(UsageEventPageAnswer {
        data: page.data.iter().map(UsageEventAnswer::from).collect(),
        next_cursor: page.next_after.map(|p| URL_SAFE_NO_PAD.encode(p)),
    }))
}
