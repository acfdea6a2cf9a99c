//! A user's page: their approval requests waiting for a decision (linked to the queue), plan,
//! status, every counter as a bar with used, held, quota and reset (a balance group's as its
//! balance, a per-value group's one per value), a chart of daily usage, a team's spend by
//! member, the user's credits (balances, grants, and the forms that grant and void them),
//! the newest runs (linked to their pages), recent ledger entries (what was used, through
//! which key, by which member, for which run's step), the audit trail, and the support
//! actions' forms. One page in a folder: its sections beside this file, and the support
//! actions (`actions.rs`), which answer a refused form with this page again.

pub(crate) mod actions;
mod approvals;
mod credits;
mod jobs;
mod runs;
mod spend;
mod user_keys;

use super::parts::numbers::{when, when_or};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::cells::status_pill;
use super::parts::changes::changes_table;
use super::parts::chart::{bar, daily_chart};
use super::parts::forms::query;
use super::parts::layout::{csrf, html_response, page};
use super::parts::ledger::entries_table;
use super::parts::links::{encode, user_href, user_link};
use super::parts::notice::{banner, Notice};
use super::parts::numbers;
use super::parts::session::{current, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{GatewayError, Usage};
use crate::http::{ApiError, AppState};
use crate::quota::operator::Need;
use crate::quota::value::{parse_value_key, value_key, MAX_VALUE_BYTES};
use crate::quota::{ApprovalStatus, ChangeFilter, Counter, Milli, Status, Subscription, UserId, MAX_OVERRIDE_HOURS};
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

async fn user_page(state: &AppState, session: &Session, user: &UserId, reveal: bool) -> Result<Markup, ApiError> {
    let gateway = &state.gateway;
    let project = &session.project;
    if !reveal && !gateway.accounts().user_seen(project, user).await? {
        return Ok(never_seen(user));
    }
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
    let plan = usage
        .as_ref()
        .and_then(|u| u.plan_id.as_deref())
        .and_then(|id| plans.iter().find(|p| p.id == id));
    let default_balance = credits::default_balance(plan);
    let measures = numbers::measures(&plans);
    let mut chart_measures: Vec<&str> = days
        .iter()
        .flat_map(|d| d.groups.iter())
        .filter(|(_, a)| a.used_milli > 0)
        .filter_map(|(g, _)| measures.get(g.as_str()).copied())
        .collect();
    chart_measures.sort();
    chart_measures.dedup();
    let href = user_href(user);
    // A group once, however many values it counts per.
    let mut groups: Vec<String> = Vec::new();
    for c in usage.iter().flat_map(|u| u.counters.iter()) {
        if !groups.contains(&c.group_id) {
            groups.push(c.group_id.clone());
        }
    }
    Ok(html! {
        h1 { "User " code { (Shown(user.as_str())) } " " (status_pill(sub.status)) }
        (approvals::for_user(user, &waiting))
        div.grid {
            div.card {
                p { "Plan: " strong { (Shown(usage.as_ref().and_then(|u| u.plan_id.as_deref()).unwrap_or("none"))) }
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
            div.card {
                h2 { "Daily usage, last 30 days" }
                // One chart per unit: tokens and cents added together would mean nothing.
                @for measure in &chart_measures {
                    h3 { (measure) }
                    (daily_chart(&days, measure, &measures))
                }
                @if chart_measures.is_empty() { p.muted { "No usage in the last 30 days." } }
            }
        }
        h2 { "Counters" }
        table {
            thead { tr { th { "Group" } th { "Unit" } th { span.sr { "Share used" } } th.num { "Used" } th.num { "Held" } th.num { "Quota" } th { "Resets" } } }
            tbody {
                @for (subject, c) in usage.iter().flat_map(levels) {
                    tr {
                        td { (Shown(&c.label)) br; span.muted { (Shown(&c.group_id))
                            // A per-value group has a row, and a bar, per value it counts.
                            @if let Some(v) = &c.value { " · value " code { (Shown(v)) } }
                            @if let Some(s) = subject { " · pool of " (user_link(s)) } } }
                        td { (c.unit.as_str()) }
                        @if let Some((name, credit)) = &c.credit {
                            td { (credits::balance_cell(name, credit)) }
                            td.num { (c.used) } td.num { (c.reserved) } td.num.muted { "balance" }
                        } @else {
                            // A team's capacity leased to its members' slices is given out: it
                            // fills the bar with what is held.
                            td { (bar(c.used, Milli(c.reserved.0 + c.leased.0), c.quota)) }
                            td.num {
                                (c.used)
                                // What its outputs came to, once any was said: a call may look
                                // cheap and its accepted results not.
                                @if !c.outcomes.is_empty() { br; span.muted.outcomes { (outcomes(c)) } }
                                // What a routed call's later targets committed of it.
                                @if c.fallback_used > Milli::ZERO { br; span.muted.fallback { (c.fallback_used) " by fallbacks" } }
                            }
                            td.num {
                                (c.reserved)
                                @if c.leased > Milli::ZERO { br; span.muted { (c.leased) " leased" } }
                            }
                            td.num {
                                (c.quota)
                                // The user's own quota, not the plan's: say so where it counts.
                                @if subject.is_none() && overridden(&sub, c) {
                                    " " span.pill.override title="a per-user override sets this quota" { "override" }
                                }
                            }
                        }
                        td { (when_or(c.resets_at_ms, "never")) }
                    }
                }
            }
        }
        @if let Some(spend) = spend { (spend) }
        (credits::section(session, &href, now_ms, balances.as_deref(), default_balance))
        @if session.may(Need::Support) { h2 { "Support actions" }
        div.grid {
            div.card {
                form.inline method="post" action=(format!("{href}/plan")) {
                    (csrf(session))
                    label { "Switch plan " select name="planId" { @for p in &plans { option value=(p.id) selected[sub.plan_id.as_deref() == Some(p.id.as_str())] { (Shown(&p.id)) } } } }
                    button type="submit" { "Switch" }
                }
                p.muted { "On a switch, each group of the new plan carries its counter, resets it, or blocks the rest of the period (its onPlanChange):" }
                ul.muted { @for p in &plans { li { code { (Shown(&p.id)) } ": " @for g in &p.groups { (Shown(&g.id)) " " (format!("{:?}", g.on_plan_change).to_lowercase()) "; " } } } }
                form.inline method="post" action=(format!("{href}/override")) {
                    (csrf(session))
                    label { "Group " select name="groupId" { @for g in &groups { option value=(g) { (Shown(g)) } } } }
                    label { "New quota " input type="number" name="quota" min="0" step="0.001" required; }
                    label { "For hours " input type="number" name="hours" min="1" max=(MAX_OVERRIDE_HOURS) placeholder="empty: until removed"; }
                    label { "Of one value " input type="text" name="value" maxlength=(MAX_VALUE_BYTES) placeholder="per-value groups only"; }
                    button type="submit" { "Bump quota" }
                }
            }
            div.card {
                form.inline method="post" action=(format!("{href}/adjust")) {
                    (csrf(session))
                    label { "Group " select name="groupId" { @for g in &groups { option value=(g) { (Shown(g)) } } } }
                    label { "Amount " input type="number" name="amount" step="0.001" placeholder="-3 refunds 3" required; }
                    label { "Reason " input type="text" name="reason" required maxlength="256"; }
                    button type="submit" { "Adjust" }
                }
                @if sub.status == Status::Blocked {
                    form.inline method="post" action=(format!("{href}/unblock")) {
                        (csrf(session)) button type="submit" { "Unblock" }
                    }
                } @else {
                    form.inline method="post" action=(format!("{href}/block")) {
                        (csrf(session))
                        label { "Reason " input type="text" name="reason" required maxlength="256"; }
                        button.danger type="submit" { "Block" }
                    }
                }
            }
        } }
        (runs::for_user(&runs))
        (user_keys::section(session, &href, &keys))
        (jobs::section(&open_jobs, now_ms))
        h2 { "Open reservations" }
        table {
            thead { tr { th { "Reservation" } th { "Event" } th { "Holds" } th { "Expires" } } }
            tbody {
                @for (id, r) in &open {
                    tr { td { code { (Shown(id)) } } td { (Shown(&r.event)) }
                         td { @for h in &r.holds { code { (Shown(&h.group)) } " " (h.amount) " " } }
                         td { (when(r.expires_ms)) } }
                }
                @if open.is_empty() { tr { td colspan="4" .muted { "None." } } }
            }
        }
        h2 { "Recent usage (ledger)" }
        p.muted { "The newest " (RECENT) " entries, newest first. "
            a href=(format!("{href}/ledger")) { "Every entry, with filters" } }
        (entries_table(&events, None))
        h2 { "Audit trail" }
        (changes_table(&changes))
    })
}

/// Whether the user's own counter `c` counts against an override: of its value, or of its
/// group (which a per-value group's values without their own take).
fn overridden(sub: &Subscription, c: &Counter) -> bool {
    let of_value = c.value.as_deref().map(|v| value_key(&c.group_id, v));
    of_value.is_some_and(|k| sub.overrides.contains_key(&k)) || sub.overrides.contains_key(&c.group_id)
}

/// A usage's counters with their subject: the user's own (None), then each parent's.
fn levels(usage: &Usage) -> impl Iterator<Item = (Option<&str>, &Counter)> {
    let own = usage.counters.iter().map(|c| (None, c));
    let pools = usage
        .parents
        .iter()
        .flat_map(|(parent, pool)| pool.counters.iter().map(move |c| (Some(parent.as_str()), c)));
    own.chain(pools)
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

/// A counter's outcomes as the counters table shows them: "2 accepted of 4 · 20 per accepted".
fn outcomes(c: &Counter) -> Markup {
    let said: u64 = c.outcomes.0.iter().map(|(_, n)| n).sum();
    html! {
        (c.outcomes.accepted()) " accepted of " (said)
        @if let Some(cost) = c.outcomes.cost_per_accepted(c.used) { " · " (cost) " per accepted" }
    }
}
