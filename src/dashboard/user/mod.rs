//! A user's page: their approval requests waiting for a decision (linked to the queue), plan,
//! status, every counter as a bar with used, held, quota and reset (a balance group's as its
//! balance, a per-value group's one per value), a chart of daily usage, a team's spend by
//! member, the user's credits (balances, grants, and the forms that grant and void them),
//! the newest runs (linked to their pages), recent ledger entries (what was used, through
//! which key, by which member, for which run's step), the audit trail, and the support
//! actions' forms. One page in a folder: its sections beside this file, and the support
//! actions (`actions.rs`, confirmed first where `ask.rs` asks), which answer a refused form
//! with this page again.

pub(crate) mod actions;
mod approvals;
mod ask;
mod counters;
mod credits;
mod jobs;
mod runs;
mod spend;
mod support;
mod user_keys;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::cells::status_pill;
use super::parts::changes::changes_table;
use super::parts::chart::daily_chart;
use super::parts::forms::query;
use super::parts::layout::{csrf, html_response, page};
use super::parts::ledger::entries_table;
use super::parts::links::{encode, user_href, user_link};
use super::parts::notice::{banner, Notice};
use super::parts::numbers::{self, when};
use super::parts::session::{current, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{GatewayError, RunView, Usage};
use crate::http::{ApiError, AppState};
use crate::quota::operator::Need;
use crate::quota::value::parse_value_key;
use crate::quota::{
    ApprovalStatus, BalanceView, ChangeEntry, ChangeFilter, JobRecord, KeyRecord, Plan, Reservation, Subscription,
    UsageDay, UsageEvent, UserId,
};
use spend::spend_by_member;

/// Ledger entries a user's page shows.
const RECENT: usize = 20;
/// Requests waiting for a decision a user's page lists (the queue has the rest).
const WAITING: usize = 10;

pub(crate) async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let user = UserId::parse(&path.into_inner()).map_err(|d| ApiError::invalid("userId", d))?;
    // A code from the fixed list, never text from the URL.
    let flash = query(&req)
        .get("flash")
        .and_then(|code| Notice::from_code(code))
        .map(banner);
    // An id nobody used shows no action forms until the operator says it is meant: a form
    // sent for a mistyped id would make that user.
    let reveal = query(&req).get("new").is_some_and(|v| v == "1");
    let body = user_page(&state, &session, &user, reveal).await?;
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Users", user.as_str(), flash, body).await?,
    ))
}

/// The user's page with `flash` above it, answered with `status` (a form's error is the page
/// again, with the error, and the error's status).
pub(crate) async fn answer(
    state: &AppState,
    session: &Session,
    user: &UserId,
    status: StatusCode,
    flash: Option<Markup>,
) -> Result<HttpResponse, ApiError> {
    let body = user_page(state, session, user, true).await?;
    Ok(html_response(
        status,
        page(state, session, "Users", user.as_str(), flash, body).await?,
    ))
}

/// What a user's page shows, read before any of it is drawn.
struct Facts {
    sub: Subscription,
    /// None when no plan applies to the user.
    usage: Option<Usage>,
    plans: Vec<Plan>,
    days: Vec<UsageDay>,
    events: Vec<UsageEvent>,
    changes: Vec<ChangeEntry>,
    open: Vec<(String, Reservation)>,
    open_jobs: Vec<JobRecord>,
    runs: Vec<RunView>,
    keys: Vec<KeyRecord>,
    spend: Option<Markup>,
    waiting: approvals::Requests,
    now_ms: i64,
    /// None when no plan applies to the user.
    balances: Option<Vec<BalanceView>>,
}

async fn user_page(state: &AppState, session: &Session, user: &UserId, reveal: bool) -> Result<Markup, ApiError> {
    if !reveal && !state.gateway.accounts().user_seen(&session.project, user).await? {
        return Ok(never_seen(user));
    }
    let facts = read(state, &session.project, user).await?;
    let href = user_href(user);
    let plan = facts
        .usage
        .as_ref()
        .and_then(|u| u.plan_id.as_deref())
        .and_then(|id| facts.plans.iter().find(|p| p.id == id));
    let default_balance = credits::default_balance(plan);
    Ok(html! {
        h1 { "User " code { (Shown(user.as_str())) } " " (status_pill(facts.sub.status)) }
        (approvals::for_user(user, &facts.waiting))
        div.grid {
            (plan_card(session, user, &href, &facts))
            (usage_card(&facts.days, &facts.plans))
        }
        (counters::table(&facts.sub, facts.usage.as_ref()))
        @if let Some(spend) = &facts.spend { (spend) }
        (credits::section(session, &href, facts.now_ms, facts.balances.as_deref(), default_balance))
        @if session.may(Need::Support) {
            (support::actions(session, &href, &facts.plans, &facts.sub, &counters::groups(facts.usage.as_ref())))
        }
        (runs::for_user(&facts.runs))
        (user_keys::section(session, &href, &facts.keys))
        (jobs::section(&facts.open_jobs, facts.now_ms))
        (open_reservations(&facts.open))
        h2 { "Recent usage (ledger)" }
        p.muted { "The newest " (RECENT) " entries, newest first. "
            a href=(format!("{href}/ledger")) { "Every entry, with filters" } }
        (entries_table(&facts.events, None))
        h2 { "Audit trail" }
        (changes_table(&facts.changes))
    })
}

/// Reads everything the page shows of `user`; a user no plan applies to has no usage nor
/// balances, and their page says so rather than failing.
async fn read(state: &AppState, project: &str, user: &UserId) -> Result<Facts, ApiError> {
    let gateway = &state.gateway;
    let sub = gateway.accounts().subscription(project, user).await?;
    let usage = match gateway.data().usage(project, user).await {
        Ok(usage) => Some(usage),
        Err(GatewayError::PlanMissing(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let plans = gateway.accounts().plans(project).await?;
    let today = gateway.data().today();
    let days = gateway.data().daily_usage(project, user, today - 29, today).await?;
    let events = gateway.data().recent_usage_events(project, user, None, RECENT).await?;
    let (changes, _) = gateway
        .accounts()
        .changes(project, None, &ChangeFilter::of_user(user.as_str()), 20)
        .await?;
    let open = gateway.data().open_reservations(project, user, 20).await?;
    let open_jobs = gateway.data().jobs().open_jobs(project, user.as_str(), 50).await?;
    let runs = gateway.data().runs(project, user, runs::LISTED + 1).await?;
    let keys = gateway.accounts().user_keys(project, user).await?;
    let spend = spend_by_member(gateway, project, user, usage.as_ref()).await?;
    let waiting = gateway
        .data()
        .approvals(project, Some(ApprovalStatus::Pending), Some(user), None, WAITING)
        .await?;
    let (now_ms, balances) = match gateway.data().balances(project, user).await {
        Ok((now_ms, balances)) => (now_ms, Some(balances)),
        Err(GatewayError::PlanMissing(_)) => (gateway.node().now_ms(), None),
        Err(err) => return Err(err.into()),
    };
    Ok(Facts {
        sub,
        usage,
        plans,
        days,
        events,
        changes,
        open,
        open_jobs,
        runs,
        keys,
        spend,
        waiting,
        now_ms,
        balances,
    })
}

/// The card of the user's plan, parent, block and overrides (each removable by support).
fn plan_card(session: &Session, user: &UserId, href: &str, facts: &Facts) -> Markup {
    let sub = &facts.sub;
    html! {
        div.card {
            p { "Plan: " strong { (Shown(facts.usage.as_ref().and_then(|u| u.plan_id.as_deref()).unwrap_or("none"))) }
                @if sub.plan_id.is_none() { span.muted { " (the project's default plan)" } } }
            @if let Some(parent) = &sub.parent_id {
                p { "Draws on the budget of " code { (user_link(parent)) } }
            }
            p { a href=(format!("/dashboard/users?parent={}", encode(user.as_str()))) { "Members" } }
            @if let Some(reason) = &sub.reason { p { "Blocked: " (Shown(reason)) } }
            @if let Some(started) = sub.started_at_ms { p.muted { "Subscribed since " (when(started)) } }
            @for (key, o) in &sub.overrides {
                @let (group, value) = parse_value_key(key).unwrap_or((key.as_str(), None));
                p.muted {
                    "Override " code { (Shown(group)) }
                    @if let Some(v) = &value { " · value " code { (Shown(v)) } }
                    ": " (o.quota) @if let Some(at) = o.expires_at_ms { " until " (when(at)) }
                    @if session.may(Need::Support) {
                        " "
                        form.inline method="post" action=(format!("{href}/unoverride")) {
                            (csrf(session))
                            input type="hidden" name="groupId" value=(group);
                            input type="hidden" name="value" value=(value.as_deref().unwrap_or(""));
                            button.plain type="submit" aria-label=(format!("Remove the override of {key}")) { "Remove" }
                        }
                    }
                }
            }
        }
    }
}

/// The card of the last 30 days' usage: a chart per unit that was used.
fn usage_card(days: &[UsageDay], plans: &[Plan]) -> Markup {
    let measures = numbers::measures(plans);
    let mut chart_measures: Vec<&str> = days
        .iter()
        .flat_map(|d| d.groups.iter())
        .filter(|(_, a)| a.used_milli > 0)
        .filter_map(|(g, _)| measures.get(g.as_str()).copied())
        .collect();
    chart_measures.sort();
    chart_measures.dedup();
    html! {
        div.card {
            h2 { "Daily usage, last 30 days" }
            // One chart per unit: tokens and cents added together would mean nothing.
            @for measure in &chart_measures {
                h3 { (measure) }
                (daily_chart(days, measure, &measures))
            }
            @if chart_measures.is_empty() { p.muted { "No usage in the last 30 days." } }
        }
    }
}

/// The table of the user's open reservations, soonest to expire first.
fn open_reservations(open: &[(String, Reservation)]) -> Markup {
    html! {
        h2 { "Open reservations" }
        table {
            thead { tr { th { "Reservation" } th { "Event" } th { "Holds" } th { "Expires" } } }
            tbody {
                @for (id, r) in open {
                    tr { td { code { (Shown(id)) } } td { (Shown(&r.event)) }
                         td { @for h in &r.holds { code { (Shown(&h.group)) } " " (h.amount) " " } }
                         td { (when(r.expires_ms)) } }
                }
                @if open.is_empty() { tr { td colspan="4" .muted { "None." } } }
            }
        }
    }
}

/// The page of an id the project has never seen: no subscription, no usage. Its actions are
/// one deliberate click away.
fn never_seen(user: &UserId) -> Markup {
    html! {
        h1 { "User " code { (Shown(user.as_str())) } " " span.pill { "never seen" } }
        div.card {
            p { "This project has never seen this user: no subscription, no usage, nothing held. "
                "Check the id; ids are compared exactly, letter case included." }
            p { a href=(format!("/dashboard/users?q={}", encode(user.as_str()))) { "Search for ids containing it" } }
            p.muted { "Subscribing them, or any other action, creates the user. "
                a href=(format!("{}?new=1", user_href(user))) { "Show the actions for a new user" } }
        }
    }
}
