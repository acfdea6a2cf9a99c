//! `GET /v1/usage-events?userId=&memberId=&from=&to=&cursor=&limit=`: the usage ledger, oldest
//! first per user: one user's (a parent's filtered by member with `memberId`), or (without
//! `userId`) every user's with entries, day by day. As JSON a
//! page at a time; with `Accept: application/x-ndjson` or `text/csv` the whole range, streamed.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::auth::ApiKey;
use super::dto::{UsageEventAnswer, UsageEventPageAnswer};
use super::{ledger_csv, query};
use crate::gateway::{Gateway, LedgerCursor, LedgerQuery};
use crate::http::headers::accepts;
use crate::http::AppState;
use crate::http::{parse_time, ApiError};
use crate::quota::UserId;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;
/// Entries read per step while streaming.
const STREAM_PAGE: usize = 500;

/// A cursor is base64url of "<day>\n<user>\n<position>" (user ids hold no control
/// characters; the day is empty outside the ledger index's days). Cursors of the earlier
/// "<user>\n<position>" form are read as cursors outside the index's days.
fn encode_cursor(cursor: &LedgerCursor) -> String {
    let day = cursor.day.map(|d| d.to_string()).unwrap_or_default();
    let position = cursor.after.as_deref().unwrap_or("");
    URL_SAFE_NO_PAD.encode(format!("{day}\n{}\n{position}", cursor.user))
}

fn decode_cursor(text: &str) -> Option<LedgerCursor> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let parts: Vec<&str> = decoded.split('\n').collect();
    let (day, user, position) = match parts[..] {
        [user, position] => (None, user, position),
        ["", user, position] => (None, user, position),
        [day, user, position] => (Some(day.parse::<i64>().ok().filter(|d| *d >= 0)?), user, position),
        _ => return None,
    };
    let after = match position {
        "" => None,
        p => Some(query::stream_position(p)?.to_string()),
    };
    Some(LedgerCursor {
        day,
        user: UserId::parse(user).ok()?,
        after,
    })
}

/// How the answer is written.
#[derive(Clone, Copy)]
enum Format {
    Page,
    Ndjson,
    Csv,
}

fn format(req: &HttpRequest) -> Format {
    if accepts(req, "application/x-ndjson") {
        Format::Ndjson
    } else if accepts(req, "text/csv") {
        Format::Csv
    } else {
        Format::Page
    }
}

/// What a listing asks for, checked: whose entries, over which times, from where, how many.
struct Asked {
    user: Option<UserId>,
    member: Option<UserId>,
    from_ms: i64,
    to_ms: i64,
    cursor: Option<LedgerCursor>,
    limit: usize,
}

pub(crate) async fn list_usage_events(
    key: ApiKey,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let asked = read(&req)?;
    let project = key.project(&state).await?;
    let format = format(&req);
    if let Format::Page = format {
        return answer_page(&state, &project, asked).await;
    }
    let walk = Walk {
        gateway: state.gateway.clone(),
        project,
        user: asked.user,
        member: asked.member,
        from_ms: asked.from_ms,
        to_ms: asked.to_ms,
        cursor: asked.cursor,
        started: false,
        format,
    };
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        _ => "application/x-ndjson",
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .streaming(futures_util::stream::unfold(walk, Walk::step)))
}

/// The listing the query asks for, each refusal naming its parameter.
fn read(req: &HttpRequest) -> Result<Asked, ApiError> {
    let [user, member, from, to, cursor, limit] = query::params(
        req.query_string(),
        ["userId", "memberId", "from", "to", "cursor", "limit"],
    )?;
    let user = user
        .as_deref()
        .map(|u| UserId::parse(u).map_err(|d| ApiError::invalid("userId", d)))
        .transpose()?;
    let member = member
        .as_deref()
        .map(|m| UserId::parse(m).map_err(|d| ApiError::invalid("memberId", d)))
        .transpose()?;
    if member.is_some() && user.is_none() {
        return Err(ApiError::invalid(
            "memberId",
            "filters one parent's ledger: give its userId too",
        ));
    }
    let from_ms = from.as_deref().map(|t| parse_time("from", t)).transpose()?.unwrap_or(0);
    let to_ms = to
        .as_deref()
        .map(|t| parse_time("to", t))
        .transpose()?
        .unwrap_or(i64::MAX);
    if to_ms <= from_ms {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    let cursor = cursor
        .as_deref()
        .map(|c| decode_cursor(c).ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API gave")))
        .transpose()?;
    // A cursor names the user its page ended in; under a user filter it must be that user, so
    // a written cursor cannot read another user's entries past the filter.
    if let (Some(cursor), Some(only)) = (&cursor, &user) {
        if cursor.user != *only {
            return Err(ApiError::invalid("cursor", "was given for another userId"));
        }
    }
    let limit = query::limit(limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(Asked {
        user,
        member,
        from_ms,
        to_ms,
        cursor,
        limit,
    })
}

/// One page of the listing as JSON, with the cursor of the next.
async fn answer_page(state: &AppState, project: &str, asked: Asked) -> Result<HttpResponse, ApiError> {
    let page = state
        .gateway
        .data()
        .usage_events(
            project,
            &LedgerQuery {
                user: asked.user.as_ref(),
                member: asked.member.as_ref(),
                from_ms: asked.from_ms,
                to_ms: asked.to_ms,
            },
            asked.cursor,
            asked.limit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(UsageEventPageAnswer {
        data: page.data.iter().map(UsageEventAnswer::from).collect(),
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

/// A streamed reading of the whole range, a page per step. A failure midway ends the stream
/// early (the status went out with the first byte), so a reader checks it got every entry by
/// the ids it expects, or reads again: ids are stable.
struct Walk {
    gateway: Gateway,
    project: String,
    user: Option<UserId>,
    member: Option<UserId>,
    from_ms: i64,
    to_ms: i64,
    cursor: Option<LedgerCursor>,
    started: bool,
    format: Format,
}

impl Walk {
    async fn step(mut self) -> Option<(Result<Bytes, ApiError>, Walk)> {
        if self.started && self.cursor.is_none() {
            return None;
        }
        let first = !self.started;
        self.started = true;
        let page = self
            .gateway
            .data()
            .usage_events(
                &self.project,
                &LedgerQuery {
                    user: self.user.as_ref(),
                    member: self.member.as_ref(),
                    from_ms: self.from_ms,
                    to_ms: self.to_ms,
                },
                self.cursor.take(),
                STREAM_PAGE,
            )
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(%err, "usage events stream ended early");
                return Some((Err(err.into()), self));
            }
        };
        self.cursor = page.next;
        let mut out = String::new();
        if first {
            if let Format::Csv = self.format {
                out.push_str(ledger_csv::HEADER);
            }
        }
        for entry in &page.data {
            let answer = UsageEventAnswer::from(entry);
            let written = match self.format {
                Format::Csv => ledger_csv::rows(&answer, &mut out),
                _ => serde_json::to_string(&answer).map(|line| {
                    out.push_str(&line);
                    out.push('\n');
                }),
            };
            // An entry that cannot be written ends the stream, logged; it is never a blank line.
            if let Err(err) = written {
                let err = ApiError::Internal(format!("usage event {} could not be written: {err}", answer.id));
                tracing::error!(%err, "usage events stream ended early");
                self.cursor = None;
                return Some((Err(err), self));
            }
        }
        Some((Ok(Bytes::from(out)), self))
    }
}
