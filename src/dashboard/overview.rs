//! `GET /dashboard/overview`: reserves admitted and denied per day and the heaviest users of
//! each group, from every user's rollups (computed in the background, `Accounts::overview`, and
//! dated on the page), users per plan, the latest alerts sent and the latest changes.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::changes::changes_table;
use super::parts::chart::decisions_chart;
use super::parts::layout::{csrf, html_response, page, refreshing_page};
use super::parts::links::user_link;
use super::parts::numbers::{amount, measures, when, when_or};
use super::parts::session::{current, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{Activity, Overview, RouteFallbacks};
use crate::http::{ApiError, AppState};
use crate::quota::operator::Need;
use crate::quota::{ChangeFilter, DeliveryRecord};

/// The days the overview covers, today included.
const DAYS: i64 = 30;

/// `GET /dashboard/overview`: users per plan, the latest alerts sent, the latest changes.
pub(crate) async fn overview(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let project = &session.project;
    let mut members = state.gateway.accounts().plan_member_counts(project).await?;
    members.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let alerts = latest_alerts(&state, project).await?;
    let (changes, _) = state
        .gateway
        .accounts()
        .changes(project, None, &ChangeFilter::default(), 10)
        .await?;
    let today = state.gateway.data().today();
    let fallbacks = state.gateway.data().route_fallbacks(project, DAYS).await?;
    let Overview { activity, computing } = state.gateway.accounts().overview(project, DAYS, false).await?;
    let Some(activity) = activity else {
        // The first computation of a large project: the page waits for it by reloading.
        let body = html! {
            h1 { "Overview" }
            p role="status" { "Computing the overview from every user's rollups; this page reloads itself until it is ready." }
        };
        let markup = refreshing_page(&state, &session, ("Overview", "Overview"), 2, body).await?;
        return Ok(html_response(StatusCode::OK, markup));
    };
    let measures = measures(&state.gateway.accounts().plans(project).await?);
    let body = html! {
        h1 { "Overview" }
        (as_of(&session, &activity, computing))
        (activity_cards(&activity, today, &measures))
        div.grid {
            (plans_card(&members))
            (alerts_card(&alerts))
        }
        (fallbacks_card(&fallbacks))
        h2 { "Latest changes" }
        (changes_table(&changes))
    };
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Overview", "Overview", None, body).await?,
    ))
}

/// The ten latest quota alerts sent to any of the project's webhook endpoints, newest first.
async fn latest_alerts(state: &AppState, project: &str) -> Result<Vec<(String, DeliveryRecord)>, ApiError> {
    let mut alerts = Vec::new();
    for (id, _) in state.gateway.accounts().webhooks(project).await? {
        alerts.extend(state.gateway.accounts().webhook_deliveries(project, &id, 20).await?);
    }
    alerts.retain(|(_, d)| d.kind.starts_with("quota."));
    alerts.sort_by_key(|(_, d)| std::cmp::Reverse(d.created));
    alerts.truncate(10);
    Ok(alerts)
}

/// What the counts are of and when they were made, and the button that counts again.
fn as_of(session: &Session, activity: &Activity, computing: bool) -> Markup {
    html! {
        div.muted {
            "Usage from every user's rollups (" (users(activity.users)) "), as of " (when(activity.as_of_ms)) ". "
            @if computing { "A newer count is being made; reload in a moment." }
            @else if session.may(Need::Support) {
                form.inline method="post" action="/dashboard/overview" {
                    (csrf(session)) button.plain type="submit" { "Count again now" }
                }
            }
        }
    }
}

/// The cards of the last `DAYS` days to `today`: reserves admitted and denied, top users per group.
fn activity_cards(activity: &Activity, today: i64, measures: &BTreeMap<String, &'static str>) -> Markup {
    let days: Vec<(i64, (i64, i64))> = (today - (DAYS - 1)..=today)
        .map(|d| (d, activity.days.get(&d).copied().unwrap_or_default()))
        .collect();
    html! {
        div.grid {
            div.card {
                h2 { "Reserves admitted and denied, last 30 days" }
                (decisions_chart(&days))
            }
            div.card {
                h2 { "Top users, last 30 days" }
                // Per group: tokens, cents and renders are never added together.
                @for (group, top) in &activity.top {
                    @let measure = measures.get(group).copied().unwrap_or("units");
                    h3 { code { (Shown(group)) } " (" (measure) ")" }
                    table {
                        thead { tr { th { "User" } th.num { "Used" } } }
                        tbody {
                            @for (user, used) in top { tr { td { (user_link(user)) } td.num { (amount(*used, measure)) } } }
                        }
                    }
                }
                @if activity.top.is_empty() { p.muted { "No usage yet." } }
            }
        }
    }
}

/// The card of how many users each plan has, the most first.
fn plans_card(members: &[(String, i64)]) -> Markup {
    html! {
        div.card {
            h2 { "Users per plan" }
            table {
                thead { tr { th { "Plan" } th.num { "Users" } } }
                tbody {
                    @for (plan, n) in members { tr { td { code { (Shown(plan)) } } td.num { (n) } } }
                    @if members.is_empty() { tr { td colspan="2" .muted { "No subscription yet." } } }
                }
            }
        }
    }
}

/// The card of the latest alerts sent.
fn alerts_card(alerts: &[(String, DeliveryRecord)]) -> Markup {
    html! {
        div.card {
            h2 { "Latest alerts" }
            table {
                thead { tr { th { "When" } th { "Type" } th { "User" } th { "Group" } } }
                tbody {
                    @for (_, d) in alerts {
                        @let event: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
                        tr { td { (when_or(d.created, "")) } td { (d.kind) }
                             td { (Shown(event["data"]["userId"].as_str().unwrap_or(""))) }
                             td { (Shown(event["data"]["groupId"].as_str().unwrap_or(""))) " " (event["data"]["threshold"].as_u64().map(|t| format!("{t}%")).unwrap_or_default()) } }
                    }
                    @if alerts.is_empty() { tr { td colspan="4" .muted { "No alert sent (alerts go to webhook endpoints)." } } }
                }
            }
        }
    }
}

/// The card of the routes that fell back to their next target, and why.
fn fallbacks_card(fallbacks: &[RouteFallbacks]) -> Markup {
    html! {
        div.card {
            h2 { "Fallback routes, last 30 days" }
            p.muted { "Attempts of a route of the proxy's upstreams file that gave way to its next target, and why." }
            table {
                thead { tr { th { "Route" } th { "Why it moved on" } th.num { "Times" } } }
                tbody {
                    @for f in fallbacks {
                        tr { td { code { (Shown(&f.route)) } } td { (fallback_reason(&f.reason)) } td.num { (f.count) } }
                    }
                    @if fallbacks.is_empty() { tr { td colspan="3" .muted { "No route fell back." } } }
                }
            }
        }
    }
}

/// Why an attempt gave way, as a person reads it (`proxy/fallback.rs` names the reasons).
fn fallback_reason(reason: &str) -> String {
    match reason {
        "denied" => "the user's plan denied the target".to_string(),
        "unreachable" => "the provider could not be reached".to_string(),
        "broken" => "the connection broke before an answer".to_string(),
        "timeout" => "no answer in time".to_string(),
        "context_length" => "the prompt was too long for the model".to_string(),
        other => match other.strip_prefix("status_") {
            Some(status) => format!("the provider answered {status}"),
            None => other.to_string(),
        },
    }
}

/// A count of users as a person writes it: `1 user`, `3,025 users`.
fn users(n: usize) -> String {
    match n {
        1 => "1 user".to_string(),
        n => amount(n as f64, "users"),
    }
}

/// `POST /dashboard/overview`: starts a new count now (unless one is under way), then shows
/// the page (post/redirect/get: a reload of it starts none).
pub(crate) async fn count_again(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, _) = match posted(&req, &state, &body, Need::Support).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    state.gateway.accounts().overview(&session.project, DAYS, true).await?;
    Ok(see_other("/dashboard/overview"))
}
