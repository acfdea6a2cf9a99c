//! Approvals: the queue of requests that approval groups opened, oldest first as the API lists
//! them, each with the denied event, the counter when it was denied, and two forms: Approve (a
//! new quota until a time, by default the end of the request's period) and Decline (a reason).
//! Both call the gateway's own decision, which decides a request once, writes the approval's
//! override and audits it. The decided requests are listed by status beside the queue.
//!
//! A decision's form sent after its request was decided (a double click, Back and send again,
//! two operators at once) is no error: the queue answers with what the request was decided as.

use crate::quota::operator::Need;
use std::collections::HashMap;

use super::parts::numbers::{when, when_or};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup};

use super::parts::cells::owner;
use super::parts::forms::query;
use super::parts::layout::{csrf, html_response, page};
use super::parts::links::{approvals_href, encode, user_link, APPROVALS};
use super::parts::notice::{self, banner, Notice};
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::approvals::{Deciding, Verdict};
use crate::gateway::console::sessions::Session;
use crate::gateway::Gateway;
use crate::http::{parse_time, ApiError, AppState};
use crate::json::rfc3339;
use crate::quota::ids::check_id;
use crate::quota::{Approval, ApprovalStatus, Milli, ReasonText, UserId};

/// Requests a page lists.
const PAGE: usize = 50;

/// What a queue page shows: a status, maybe one user's requests only, from a cursor.
#[derive(Default)]
struct View {
    status: Option<ApprovalStatus>,
    user: Option<UserId>,
    after: Option<(i64, String)>,
}

impl View {
    fn of(q: &HashMap<String, String>) -> Result<View, ApiError> {
        let get = |name: &str| q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        Ok(View {
            // Anything else is the queue, as the users list reads an unknown status as any.
            status: get("status").and_then(ApprovalStatus::parse),
            user: get("user")
                .map(|u| UserId::parse(u).map_err(|d| ApiError::invalid("user", d)))
                .transpose()?,
            after: get("after").map(cursor).transpose()?,
        })
    }

    fn status(&self) -> ApprovalStatus {
        self.status.unwrap_or(ApprovalStatus::Pending)
    }
}

/// A page's cursor: "<requested ms>.<approval id>" of the last request the previous page showed,
/// or of where its reading stopped.
fn cursor(text: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::invalid("after", "must be a next page's link of this page");
    let (ms, id) = text.split_once('.').ok_or_else(bad)?;
    check_id(id).map_err(|_| bad())?;
    Ok((ms.parse().map_err(|_| bad())?, id.to_string()))
}

/// `GET /dashboard/approvals?status=&user=&after=&flash=`: the queue, or the decided requests.
pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let q = query(&req);
    // A code from the fixed list, never text from the URL.
    let flash = q.get("flash").and_then(|code| Notice::from_code(code)).map(banner);
    answer(&state, &session, &View::of(&q)?, StatusCode::OK, flash).await
}

/// The queue page of `view` with `flash` above it, answered with `status` (a refused form is
/// the queue again, with the error, and the error's status).
async fn answer(
    state: &AppState,
    session: &Session,
    view: &View,
    status: StatusCode,
    flash: Option<Markup>,
) -> Result<HttpResponse, ApiError> {
    let gateway = &state.gateway;
    let shown = view.status();
    let (list, next) = gateway
        .data()
        .approvals(
            &session.project,
            Some(shown),
            view.user.as_ref(),
            view.after.clone(),
            PAGE,
        )
        .await?;
    let now_ms = gateway.node().now_ms();
    let user = view.user.as_ref();
    let body = html! {
        h1 { "Approvals" }
        p.muted { "An approval group denies like a hard one; its first denial of a user in a period opens one request, and it denies as pending until the request is decided. Approving raises the user's quota of the group (an override) until the time given, or the end of the request's period; declining keeps it denying at its quota." }
        nav.tabs aria-label="Requests by status" {
            @for s in ApprovalStatus::ALL {
                a href=(approvals_href(Some(s), user, None)) class=@if s == shown { "on" } { (title(s)) }
            }
        }
        @if let Some(user) = user {
            p { "Requests of " code { (user_link(user.as_str())) } " · " a href=(approvals_href(Some(shown), None, None)) { "everyone's" } }
        }
        @if shown == ApprovalStatus::Pending {
            p.muted { "Oldest first. Until: an RFC 3339 time such as 2026-01-31T09:30:00Z; left empty, the end of the request's period (never, for a lifetime group)." }
            (pending_table(session, &list, now_ms))
        } @else {
            p.muted { "Oldest request first." }
            (decided_table(&list))
        }
        @if let Some(next) = &next { p { a href=(approvals_href(Some(shown), user, Some(next))) { "Next page →" } } }
    };
    Ok(html_response(
        status,
        page(state, session, "Approvals", "Approvals", flash, body).await?,
    ))
}

fn title(status: ApprovalStatus) -> &'static str {
    match status {
        ApprovalStatus::Pending => "Pending",
        ApprovalStatus::Approved => "Approved",
        ApprovalStatus::Declined => "Declined",
    }
}

/// A request's period: when it ends (or ended: approving it then needs a time of its own).
fn period(a: &Approval, now_ms: i64) -> Markup {
    html! {
        @match a.period_end_ms {
            Some(end) if end <= now_ms => { "period ended " (when(end)) }
            Some(end) => { "period ends " (when(end)) }
            None => { "lifetime" }
        }
    }
}

/// The quota an Approve form offers: the quota doubled, or more when that would still not
/// admit the denied event over what was used and held when it was denied.
fn suggested_quota(a: &Approval) -> Milli {
    let doubled = a.quota.0.saturating_mul(2);
    let needed = a.used.0.saturating_add(a.held.0).saturating_add(a.amount.0);
    Milli(doubled.max(needed).min(Milli::MAX.0))
}

fn pending_table(session: &Session, list: &[Approval], now_ms: i64) -> Markup {
    html! {
        table.approvals {
            thead { tr {
                th { "User" } th { "Group" } th { "Owner" } th { "Denied event" } th.num { "Amount" }
                th.num { "Used" } th.num { "Held" } th.num { "Quota" } th { "Requested" } th { "Decision" }
            } }
            tbody {
                @for a in list {
                    @let action = |verb: &str| format!("{APPROVALS}/{}/{verb}", encode(&a.id));
                    // Each cell names its column (`data-label`): on a phone the rows are cards,
                    // and the label stands where the header would.
                    tr {
                        td data-label="User" { (user_link(&a.user_id)) br; span.muted { code { (Shown(&a.id)) } } }
                        td data-label="Group" {
                            code { (Shown(&a.group_id)) }
                            @if let Some(v) = &a.value { " · " (Shown(v)) }
                            br; span.muted { (period(a, now_ms)) }
                        }
                        td data-label="Owner" { (owner(a.owner.as_deref(), a.review_every.as_deref())) }
                        td data-label="Denied event" { (Shown(&a.event)) }
                        td.num data-label="Amount" { (a.amount) }
                        td.num data-label="Used" { (a.used) } td.num data-label="Held" { (a.held) } td.num data-label="Quota" { (a.quota) }
                        td data-label="Requested" { (when(a.requested_at_ms)) }
                        td.decision { @if session.may(Need::Support) {
                            form.inline method="post" action=(action("approve")) {
                                (csrf(session))
                                label { "New quota " input type="number" name="quota" min="0" step="0.001" size="8" required value=(suggested_quota(a)); }
                                label { "until " input type="text" name="expiresAt" size="22" maxlength="40"
                                    placeholder=(a.period_end_ms.map(rfc3339).unwrap_or_else(|| "never".into())); }
                                button type="submit" { "Approve" }
                            }
                            form.inline method="post" action=(action("decline")) {
                                (csrf(session))
                                input type="text" name="reason" placeholder="why not" required maxlength="256" aria-label="reason";
                                button.danger type="submit" { "Decline" }
                            }
                        } @else { span.muted { "A support operator decides." } } }
                    }
                }
                @if list.is_empty() { tr { td colspan="10" .muted { "No request waits for a decision." } } }
            }
        }
    }
}

fn decided_table(list: &[Approval]) -> Markup {
    html! {
        table.approvals {
            thead { tr {
                th { "User" } th { "Group" } th { "Owner" } th { "Denied event" } th.num { "Amount" }
                th.num { "Used" } th.num { "Held" } th.num { "Quota" } th { "Requested" }
                th { "Decided" } th { "Decision" } th { "By" }
            } }
            tbody {
                @for a in list {
                    tr {
                        td { (user_link(&a.user_id)) br; span.muted { code { (Shown(&a.id)) } } }
                        td { code { (Shown(&a.group_id)) } @if let Some(v) = &a.value { " · " (Shown(v)) } }
                        td { (owner(a.owner.as_deref(), a.review_every.as_deref())) }
                        td { (Shown(&a.event)) }
                        td.num { (a.amount) }
                        td.num { (a.used) } td.num { (a.held) } td.num { (a.quota) }
                        td { (when(a.requested_at_ms)) }
                        td { (when_or(a.decided_at_ms, "")) }
                        td { @match a.status {
                            ApprovalStatus::Approved => {
                                "quota " (a.approved_quota.unwrap_or_default()) " "
                                (a.expires_at_ms.map(|at| format!("until {}", rfc3339(at))).unwrap_or_else(|| "until removed".into()))
                            }
                            _ => { (Shown(a.reason.as_deref().unwrap_or(""))) }
                        } }
                        td { (Shown(a.decided_by.as_deref().unwrap_or(""))) }
                    }
                }
                @if list.is_empty() { tr { td colspan="12" .muted { "None." } } }
            }
        }
    }
}

/// `POST /dashboard/approvals/{approvalId}/{approve|decline}`: one decision, then the queue
/// with its notice.
pub(crate) async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Support).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let (id, action) = path.into_inner();
    match apply(&state.gateway, &session, &id, &action, &fields).await {
        Ok(done) => Ok(see_other(&format!("{APPROVALS}?flash={}", done.code()))),
        // Not a refusal: the page could not be made either.
        Err(err @ (ApiError::Unavailable(_) | ApiError::Internal(_) | ApiError::RouteNotFound)) => Err(err),
        Err(err) => {
            let status = err.status_code();
            let flash = Some(notice::error(&err.to_string()));
            answer(&state, &session, &View::default(), status, flash).await
        }
    }
}

async fn apply(
    gateway: &Gateway,
    session: &Session,
    id: &str,
    action: &str,
    fields: &HashMap<String, String>,
) -> Result<Notice, ApiError> {
    let text = |name: &str| fields.get(name).map_or("", |v| v.trim());
    let verdict = match action {
        "approve" => Verdict::Approve {
            quota: match text("quota") {
                "" => return Err(ApiError::invalid("quota", "is required")),
                quota => Milli::parse(quota).map_err(|e| ApiError::invalid("quota", e.to_string()))?,
            },
            expires_ms: expiry(text("expiresAt"))?,
        },
        "decline" => {
            // Blank is refused by the reason's own rule, worded as the API words it.
            let reason = ReasonText::parse(text("reason")).map_err(|d| ApiError::invalid("reason", d))?;
            Verdict::Decline {
                reason: reason.as_str().to_string(),
            }
        }
        _ => return Err(ApiError::RouteNotFound),
    };
    check_id(id).map_err(|d| ApiError::invalid("approvalId", d))?;
    match gateway
        .data()
        .decide_approval(&session.project, id, &verdict, &session.actor())
        .await?
    {
        Deciding::Done(_) => Ok(match verdict {
            Verdict::Approve { .. } => Notice::Approved,
            Verdict::Decline { .. } => Notice::Declined,
        }),
        Deciding::Already(a) => Ok(match a.status {
            ApprovalStatus::Approved => Notice::AlreadyApproved,
            ApprovalStatus::Declined => Notice::AlreadyDeclined,
            ApprovalStatus::Pending => Notice::AlreadyDecided,
        }),
        Deciding::NotFound => Err(ApiError::ApprovalNotFound(id.to_string())),
    }
}

/// An Approve form's "until": None when empty (the gateway then takes the end of the request's
/// period), else an RFC 3339 time, read and worded as the API's `expiresAt`. Whether it is in
/// the future and in range is the gateway's to say, for both.
fn expiry(text: &str) -> Result<Option<i64>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    parse_time("expiresAt", text).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(used: u64, held: u64, quota: u64, amount: u64) -> Approval {
        Approval {
            id: "apr_1".into(),
            user_id: "u".into(),
            group_id: "g".into(),
            value: None,
            period_start_ms: 0,
            period_end_ms: None,
            status: ApprovalStatus::Pending,
            event: "e".into(),
            amount: Milli::from_units(amount),
            used: Milli::from_units(used),
            held: Milli::from_units(held),
            quota: Milli::from_units(quota),
            requested_at_ms: 0,
            decided_at_ms: None,
            approved_quota: None,
            expires_at_ms: None,
            reason: None,
            decided_by: None,
            plan_id: None,
            owner: None,
            review_every: None,
        }
    }

    #[test]
    fn the_offered_quota_doubles_and_always_admits_the_denied_event() {
        assert_eq!(suggested_quota(&request(5, 0, 5, 1)), Milli::from_units(10));
        assert_eq!(suggested_quota(&request(5, 3, 5, 40)), Milli::from_units(48));
        assert_eq!(suggested_quota(&request(0, 0, 0, 1)), Milli::from_units(1));
        assert_eq!(
            suggested_quota(&request(0, 0, 1_000_000_000_000, 1)),
            Milli::MAX,
            "never above the largest quota"
        );
    }

    #[test]
    fn until_is_empty_or_an_rfc3339_time() {
        assert_eq!(expiry("").unwrap(), None);
        assert_eq!(expiry("2026-01-31T09:30:00Z").unwrap(), Some(1_769_851_800_000));
        assert_eq!(expiry("2026-01-31T10:30:00+01:00").unwrap(), Some(1_769_851_800_000));
        for bad in ["tomorrow", "2026-01-31", "2026-01-31 09:30", "1769851800000"] {
            let err = expiry(bad).unwrap_err().to_string();
            assert_eq!(
                err, "expiresAt: must be an RFC 3339 time like 2026-01-31T09:30:00Z",
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_read_back_from_the_links_they_make() {
        let at = (1_700_000_000_000, "apr_0123abcd".to_string());
        let href = approvals_href(Some(ApprovalStatus::Declined), None, Some(&at));
        assert_eq!(
            href,
            "/dashboard/approvals?status=declined&after=1700000000000.apr_0123abcd"
        );
        assert_eq!(cursor("1700000000000.apr_0123abcd").unwrap(), at);
        for bad in ["", "apr_1", "x.apr_1", "1.a|b", "1."] {
            assert!(cursor(bad).is_err(), "{bad}");
        }
        assert_eq!(approvals_href(Some(ApprovalStatus::Pending), None, None), APPROVALS);
        let user = UserId::parse("a b").unwrap();
        assert_eq!(
            approvals_href(None, Some(&user), None),
            "/dashboard/approvals?user=a%20b"
        );
    }
}
