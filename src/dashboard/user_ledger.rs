//! `GET /dashboard/users/{userId}/ledger`: a user's whole ledger a page at a time, newest
//! first, filtered by kind of entry and to the calls made through the proxy. A filtered page
//! looks at a bounded number of entries, so its cost never grows with the ledger: it may come
//! back short and still lead to older entries.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::forms::query;
use super::parts::layout::{html_response, page};
use super::parts::ledger::{entries_table, proxied};
use super::parts::links::{encode, user_href};
use super::parts::session::{current, see_other};
use super::parts::shown::Shown;
use crate::http::{ApiError, AppState};
use crate::quota::ids::stream_position;
use crate::quota::{UsageEvent, UsageKind, UserId};

/// Entries a page shows.
const PAGE: usize = 50;
/// Entries read per look.
const BATCH: usize = 200;
/// Entries a filtered page looks at, at most.
const MAX_SCAN: usize = 2_000;

/// What a page keeps of the entries it reads.
struct Filter {
    kind: Option<UsageKind>,
    proxied: bool,
}

impl Filter {
    /// The filter the query asks for, and the position the page starts before; a value this
    /// page never offers is refused by its field.
    fn asked(req: &HttpRequest) -> Result<(Filter, Option<String>), ApiError> {
        let asked = query(req);
        let given = |name: &str| asked.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let kind = match given("kind") {
            None => None,
            Some(k) => Some(UsageKind::parse(k).ok_or_else(|| ApiError::invalid("kind", "is not a kind of entry"))?),
        };
        let filter = Filter {
            kind,
            proxied: given("proxied") == Some("1"),
        };
        let before = given("before")
            .map(|b| stream_position(b).ok_or_else(|| ApiError::invalid("before", "is not a position this page gave")))
            .transpose()?;
        Ok((filter, before.map(String::from)))
    }

    fn keeps(&self, e: &UsageEvent) -> bool {
        self.kind.is_none_or(|k| e.kind == k) && (!self.proxied || proxied(e).is_some())
    }

    /// The link to the ledger at `href` filtered the same, from `before` (None: the newest).
    fn link(&self, href: &str, before: Option<&str>) -> String {
        let mut link = format!("{href}/ledger?");
        if let Some(k) = self.kind {
            link.push_str(&format!("kind={}&", k.as_str()));
        }
        if self.proxied {
            link.push_str("proxied=1&");
        }
        if let Some(b) = before {
            link.push_str(&format!("before={}", encode(b)));
        }
        link.trim_end_matches(['&', '?']).to_string()
    }
}

/// `GET /dashboard/users/{userId}/ledger`: one page of the user's ledger.
pub(crate) async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let user = UserId::parse(&path.into_inner()).map_err(|d| ApiError::invalid("userId", d))?;
    let (filter, before) = Filter::asked(&req)?;
    let (shown, next) = read_page(&state, &session.project, &user, &filter, before.as_deref()).await?;
    let href = user_href(&user);
    let body = html! {
        h1 { "Ledger of " a href=(href) { code { (Shown(user.as_str())) } } }
        p.muted { "Every entry of the user's ledger, newest first, " (PAGE) " a page." }
        (filter_form(&href, &filter))
        (entries_table(&shown, None))
        p.pager {
            @if before.is_some() { a href=(filter.link(&href, None)) { "Newest" } " " }
            @if let Some(next) = &next { a href=(filter.link(&href, Some(next))) { "Older entries" } }
            @else if !shown.is_empty() { span.muted { "The oldest entry kept." } }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Users", user.as_str(), None, body).await?,
    ))
}

/// The entries of one page from `before` that `filter` keeps, and the position older entries
/// follow from (None: there are none). It reads `BATCH` at a time and stops at `MAX_SCAN`.
async fn read_page(
    state: &AppState,
    project: &str,
    user: &UserId,
    filter: &Filter,
    before: Option<&str>,
) -> Result<(Vec<UsageEvent>, Option<String>), ApiError> {
    let (mut shown, mut scanned, mut at) = (Vec::new(), 0, before.map(String::from));
    let next = loop {
        let batch = state
            .gateway
            .data()
            .recent_usage_events(project, user, at.as_deref(), BATCH)
            .await?;
        let (read, full) = (batch.len(), batch.len() == BATCH);
        let (mut last, mut left) = (None, false);
        for (i, e) in batch.into_iter().enumerate() {
            scanned += 1;
            last = Some(e.position.clone());
            if filter.keeps(&e) {
                shown.push(e);
                if shown.len() == PAGE {
                    left = i + 1 < read;
                    break;
                }
            }
        }
        // Older entries follow when this read left some, or was full (the ledger goes on).
        let more = full || left;
        if shown.len() == PAGE || scanned >= MAX_SCAN || !full {
            break if more { last } else { None };
        }
        at = last;
    };
    Ok((shown, next))
}

/// The form that filters by kind and to the calls through the proxy.
fn filter_form(href: &str, filter: &Filter) -> Markup {
    html! {
        form.filters method="get" action=(format!("{href}/ledger")) {
            label { "Kind " select name="kind" {
                option value="" selected[filter.kind.is_none()] { "every kind" }
                @for k in UsageKind::ALL { option value=(k.as_str()) selected[filter.kind == Some(k)] { (k.as_str()) } }
            } }
            label { input type="checkbox" name="proxied" value="1" checked[filter.proxied]; " calls through the proxy only" }
            button type="submit" { "Filter" }
        }
    }
}
