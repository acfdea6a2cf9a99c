//! The providers' lists of jobs and files (`GET v1/batches`, `v1/files`, `v1/videos`,
//! Anthropic's `v1/messages/batches`), answered by the gateway from the caller's own: the
//! provider's list is every user's of the project's key. Each user's ids are kept in order as
//! the door makes them (`store/listed.rs`); a page is that list's, in the provider's shape and
//! paging (OpenAI's `after`, `limit`, `order`; Anthropic's `after_id`, `before_id`, `limit`;
//! Gemini's batches' `pageSize`, `pageToken`, its page `operations` and `nextPageToken`), so
//! the official clients' `.list()` and its auto-pagination walk the caller's objects and no
//! one else's. Each object is the provider's as it is now, read on the page's behalf (a few at
//! once, each within `READ_WITHIN`): a list shows a job's status as a read of it would, and a
//! job the read finds ended is settled, as any read's. An object the provider no longer has
//! (deleted, expired) leaves the list.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::shapes::MAX_OBJECT_BYTES;
use super::{owned, JobCall};
use crate::http::ApiError;
use crate::proxy::answer::{self, Fault};
use crate::proxy::call::context::Ctx;
use crate::proxy::call::jobs::{self, Object};
use crate::proxy::call::upstream::Kind;
use crate::proxy::provider::{self, Unread};
use crate::quota::{job_key, Cursor, JobKind, JobRecord, Listed};

/// The most objects a page shows, whatever `limit` asks (OpenAI's files list takes up to
/// 10,000): each is a read of the provider's. A client's auto-pagination walks the rest.
pub(crate) const MAX_PAGE: usize = 100;
/// A page's default size, as the providers' (files: `MAX_PAGE`).
const DEFAULT_PAGE: usize = 20;
/// Reads of the provider in flight for one page.
const READS_AT_ONCE: usize = 8;
/// One read's time, at most (the upstream's first-byte timeout when shorter).
const READ_WITHIN: Duration = Duration::from_secs(15);
/// Pages of ids read for one page of objects, when ids are skipped (their records expired, or
/// another `purpose`).
const MAX_ROUNDS: usize = 5;

/// A list's query, as the provider's takes it.
struct Query {
    limit: usize,
    cursor: Cursor,
    oldest_first: bool,
    purpose: Option<String>,
}

/// What the records say of an id of the caller's list.
enum Seen {
    /// Shown: a job (with its record, for its settling) or a file.
    Job(Box<JobRecord>),
    File,
    /// Not on this page (a file of another `purpose` than the query's).
    Skipped,
    /// Its record has expired: it leaves the list.
    Gone,
}

/// Whose list shape and paging a list takes: Gemini's with the field its page lists (its
/// batches' `operations`, its `files`) and the prefix of their names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Anthropic,
    Gemini(&'static str, &'static str),
}

/// Answers the caller's list of `object`s.
pub(super) async fn serve(at: JobCall<'_>, object: Object) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let gemini = ctx.upstream().kind == Kind::Gemini;
    let shape = match object {
        Object::Job(JobKind::MessageBatch) => Shape::Anthropic,
        Object::Job(JobKind::GeminiBatch) => Shape::Gemini("operations", "batches/"),
        Object::File if gemini => Shape::Gemini("files", "files/"),
        _ => Shape::OpenAi,
    };
    let query = query(req.query_string(), shape, object)?;
    let data = door.gateway.data();
    let (project, user, upstream) = (
        ctx.caller.project.as_str(),
        ctx.caller.user.as_str(),
        ctx.upstream().name.as_str(),
    );
    let list = (project, user, upstream, listed(object));
    // The page's ids, with their records, read a page of ids at a time while some are skipped.
    let (mut shown, mut more, mut cursor) = (Vec::new(), false, query.cursor.clone());
    for _ in 0..MAX_ROUNDS {
        let page = data
            .jobs()
            .listed_page(list, query.oldest_first, &cursor, query.limit - shown.len())
            .await?;
        more = page.more;
        let Some(last) = page.ids.last().cloned() else {
            break;
        };
        let keys: Vec<String> = page.ids.iter().map(|id| job_key(upstream, id)).collect();
        let seen: Vec<Seen> = match object {
            Object::Job(kind) => data
                .jobs()
                .jobs_of(project, &keys)
                .await?
                .into_iter()
                .map(|r| match r {
                    Some(r) if r.user == user && r.kind == kind => Seen::Job(Box::new(r)),
                    _ => Seen::Gone,
                })
                .collect(),
            Object::File => data
                .jobs()
                .job_files_of(project, &keys)
                .await?
                .into_iter()
                .map(|f| match f {
                    Some(f) if f.user == user => match query.purpose.as_ref().is_none_or(|p| *p == f.purpose) {
                        true => Seen::File,
                        false => Seen::Skipped,
                    },
                    _ => Seen::Gone,
                })
                .collect(),
        };
        let mut gone = Vec::new();
        for (id, seen) in page.ids.into_iter().zip(seen) {
            match seen {
                Seen::Job(record) => shown.push((id, Some(*record))),
                Seen::File => shown.push((id, None)),
                Seen::Skipped => {}
                Seen::Gone => gone.push(id),
            }
        }
        data.jobs().unlist(list, &gone).await?;
        if shown.len() >= query.limit || !more || matches!(cursor, Cursor::Before(_)) {
            break;
        }
        cursor = Cursor::After(last);
    }
    let (items, gone) = match read_each(at, object, shown).await {
        Ok(read) => read,
        Err(answer) => return Ok(answer),
    };
    data.jobs().unlist(list, &gone).await?;
    Ok(page(items, more, shape))
}

/// Each of the page's objects as the provider has it now, in the page's order, and the ids it
/// has no more; Err: the provider's answer to a read that failed, which the caller gets.
async fn read_each(
    at: JobCall<'_>,
    object: Object,
    shown: Vec<(String, Option<JobRecord>)>,
) -> Result<(Vec<Value>, Vec<String>), HttpResponse> {
    let ctx = at.ctx;
    let gemini = ctx.upstream().kind == Kind::Gemini;
    // Each as the provider has it now, in the page's order.
    let reads = shown.into_iter().map(|(id, record)| async move {
        let found = fetch(ctx, &jobs::object_path(object, &id, gemini)).await;
        (id, record, found)
    });
    let read: Vec<_> = futures_util::stream::iter(reads)
        .buffered(READS_AT_ONCE)
        .collect()
        .await;
    let (mut items, mut gone) = (Vec::with_capacity(read.len()), Vec::new());
    for (id, record, found) in read {
        match found {
            Ok(mut item) => {
                if let Some(record) = record {
                    owned::saw(at, record, &mut item).await;
                }
                items.push(item);
            }
            Err(Unread::Gone) => gone.push(id),
            Err(Unread::Failed(why)) => {
                let message = format!("the provider did not answer a read of {id} for this list: {why}");
                return Err(answer::error(
                    ctx.wire(),
                    StatusCode::BAD_GATEWAY,
                    Fault::new("upstream_unavailable", &message),
                ));
            }
        }
    }
    Ok((items, gone))
}

/// The list a path's objects are kept in.
fn listed(object: Object) -> Listed {
    match object {
        Object::Job(kind) => Listed::Jobs(kind),
        Object::File => Listed::Files,
    }
}

/// The page in the provider's shape: `first_id` and `last_id` those of its objects (the
/// official clients take the next page after the last); Gemini's, its `operations` (or `files`)
/// and, when more follow, a `nextPageToken` that is the last one's id.
fn page(items: Vec<Value>, more: bool, shape: Shape) -> HttpResponse {
    let id = |item: Option<&Value>| item.and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null);
    let (first_id, last_id) = (id(items.first()), id(items.last()));
    let body = match shape {
        Shape::Anthropic => json!({ "data": items, "has_more": more, "first_id": first_id, "last_id": last_id }),
        Shape::OpenAi => {
            json!({ "object": "list", "data": items, "first_id": first_id, "last_id": last_id, "has_more": more })
        }
        Shape::Gemini(field, prefix) => {
            let last = items.last().and_then(|i| i.get("name")).and_then(Value::as_str);
            let token = last.and_then(|n| n.strip_prefix(prefix)).filter(|_| more);
            let mut body = json!({ field: items });
            if let Some(token) = token {
                body["nextPageToken"] = token.into();
            }
            body
        }
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_string())
}

/// Reads `path` of the call's upstream with its credential, each part within `READ_WITHIN`.
async fn fetch(ctx: &Ctx, path: &str) -> Result<Value, Unread> {
    let within = READ_WITHIN.min(ctx.upstream().timeouts.first_byte);
    provider::object(ctx.upstream(), path, (within, within), MAX_OBJECT_BYTES).await
}

/// The query of a list: its page size (at most `MAX_PAGE`) and cursor, in the provider's
/// names, each named once.
fn query(text: &str, shape: Shape, object: Object) -> Result<Query, ApiError> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(text)
        .map_err(|_| ApiError::invalid("query", "is not a query string"))?
        .into_inner();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &pairs {
        if seen.contains(&name.as_str()) {
            return Err(ApiError::invalid(name, "is named twice"));
        }
        seen.push(name);
    }
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let size = if matches!(shape, Shape::Gemini(..)) {
        "pageSize"
    } else {
        "limit"
    };
    let limit = match get(size) {
        None => match object {
            Object::File => MAX_PAGE,
            Object::Job(_) => DEFAULT_PAGE,
        },
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_PAGE),
            _ => return Err(ApiError::invalid(size, "must be a whole number from 1")),
        },
    };
    let (after, before) = match shape {
        Shape::Anthropic => (get("after_id"), get("before_id")),
        Shape::Gemini(..) => (get("pageToken"), None),
        Shape::OpenAi => (get("after"), None),
    };
    let cursor = match (after, before) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("before_id", "may not be given with after_id")),
        (Some(id), None) => Cursor::After(id.to_string()),
        (None, Some(id)) => Cursor::Before(id.to_string()),
        (None, None) => Cursor::Start,
    };
    let openai = shape == Shape::OpenAi;
    let oldest_first = match (openai, get("order")) {
        (true, Some("asc")) => true,
        (true, Some("desc")) | (_, None) | (false, Some(_)) => false,
        (true, Some(_)) => return Err(ApiError::invalid("order", "must be asc or desc")),
    };
    let purpose = match object {
        Object::File => get("purpose").map(str::to_string),
        Object::Job(_) => None,
    };
    Ok(Query {
        limit,
        cursor,
        oldest_first,
        purpose,
    })
}
