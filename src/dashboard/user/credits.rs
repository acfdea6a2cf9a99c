//! Credits on a user's (or a team's) page: each balance (available, held, debt, soonest
//! expiry) with its grants in burn order, a form that grants credits ("100 promotional
//! credits, valid 30 days") and a Void button on each live grant. Both call the gateway's own
//! verbs, which check the grant by the API's rules and write the audit log.
//!
//! A grant form carries a random nonce beside its CSRF token; the two name the grant's
//! idempotency key, so the same form sent twice (a double click, a resubmission after Back)
//! grants once.

use crate::quota::operator::Need;
use std::collections::HashMap;

use crate::dashboard::parts::numbers::{when, when_or};
use maud::{html, Markup};
use serde_json::json;

use crate::dashboard::parts::forms::nonce;
use crate::dashboard::parts::layout::csrf;
use crate::dashboard::parts::notice::Notice;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::{Gateway, GatewayError, Granting, Idempotency};
use crate::http::ApiError;
use crate::quota::credit::MAX_LIVE_GRANTS;
use crate::quota::ids::check_id;
use crate::quota::{BalanceView, Category, Credit, Grant, GrantInput, Milli, Plan, UserId};
use crate::secrets::digest_hex;

/// The longest grant a form may make, in days (ten years).
pub(crate) const MAX_DAYS: i64 = 3650;
const DAY_MS: i64 = 86_400_000;
/// The priority of a grant made on the dashboard: the API's default.
const PRIORITY: u8 = 50;
/// The balance a grant form names when the plan has no balance group.
const DEFAULT_BALANCE: &str = "credits";

/// The balance a grant form names first: the first balance group's of `plan`, else "credits".
pub(crate) fn default_balance(plan: Option<&Plan>) -> &str {
    plan.iter()
        .flat_map(|p| p.groups.iter())
        .find_map(|g| g.balance.as_ref().map(|b| b.name.as_str()))
        .unwrap_or(DEFAULT_BALANCE)
}

/// A balance group's counter cell: its balance instead of a quota bar.
pub(crate) fn balance_cell(name: &str, credit: &Credit) -> Markup {
    html! {
        span.balance {
            "Balance " code { (Shown(name)) } ": " strong { (credit.available) } " available"
            @if credit.debt > Milli::ZERO { ", " span.debt { (credit.debt) " in debt" } }
        }
    }
}

/// The Credits section: balances, each one's grants in burn order, and the grant form.
/// `balances` is None when they could not be read (the user's plan is missing).
pub(crate) fn section(
    session: &Session,
    href: &str,
    now_ms: i64,
    balances: Option<&[BalanceView]>,
    default_balance: &str,
) -> Markup {
    html! {
        h2 id="credits" { "Credits" }
        @match balances {
            None => { p.muted { "The balances cannot be read: the user's plan does not exist." } }
            Some([]) => { p.muted { "No balances: the plan has no balance group and the user has no grants." } }
            Some(balances) => {
                table.balances {
                    thead { tr { th { "Balance" } th.num { "Available" } th.num { "Held" } th.num { "Debt" } th { "Soonest expiry" } th.num { "Grants" } } }
                    tbody {
                        @for b in balances {
                            tr {
                                td { code { (Shown(&b.name)) } }
                                td.num { (b.credit.available) }
                                td.num { (b.credit.held) }
                                td.num { @if b.credit.debt > Milli::ZERO { span.debt { (b.credit.debt) } } @else { "0" } }
                                td { @match b.credit.soonest {
                                    Some((amount, at)) => { (amount) " on " (when(at)) }
                                    None => { span.muted { "none" } }
                                } }
                                td.num { (b.grants.len()) }
                            }
                        }
                    }
                }
                @for b in balances {
                    h3 { "Grants of " code { (Shown(&b.name)) } ", in burn order" }
                    (grants_table(session, href, now_ms, &b.grants))
                }
            }
        }
        @if session.may(Need::Support) { div.card {
            h3 { "Grant credits" }
            form.inline method="post" action=(format!("{href}/grant")) {
                (csrf(session))
                input type="hidden" name="nonce" value=(nonce());
                label { "Balance " input type="text" name="balance" value=(default_balance) size="12" required maxlength="64"; }
                label { "Amount " input type="number" name="amount" min="0.001" step="0.001" size="8" required; }
                label { "Category " select name="category" {
                    option value="paid" selected { "paid" }
                    option value="promotional" { "promotional" }
                } }
                label { "Valid for " input type="number" name="days" min="1" max=(MAX_DAYS) step="1" size="5" placeholder="always"; " days" }
                label { "Source " input type="text" name="source" maxlength="64" size="16" placeholder="e.g. support"; }
                button type="submit" { "Grant" }
            }
            p.muted { "Granted credits pay any debt first. Promotional credits burn before paid ones of the same priority and expiry. Leave the days empty for credits that never expire." }
        } }
    }
}

fn grants_table(session: &Session, href: &str, now_ms: i64, grants: &[Grant]) -> Markup {
    html! {
        table.grants {
            thead { tr {
                th { "Grant" } th { "Category" } th.num { "Priority" } th.num { "Amount" } th.num { "Remaining" }
                th.num { "Held" } th.num { "Consumed" } th.num { "Expired" } th.num { "Voided" } th { "Status" }
                th { "Expires" } th { "Source" } th { span.sr { "Actions" } }
            } }
            tbody {
                @for g in grants {
                    @let a = &g.amounts;
                    @let status = g.status(now_ms);
                    tr {
                        td { code { (Shown(&g.id)) } br; span.muted { (when(g.created_ms)) } }
                        td { (g.input.category.as_str()) }
                        td.num { (g.input.priority) }
                        td.num { (a.amount) } td.num { (a.remaining) } td.num { (a.held) } td.num { (a.consumed) }
                        td.num { (a.expired) } td.num { (a.voided) }
                        td { (status) @if status == "scheduled" { br; span.muted { "from " (when(g.effective_ms)) } } }
                        td { (when_or(g.input.expires_ms, "never")) }
                        td { (Shown(g.input.source.as_deref().unwrap_or(""))) }
                        td { @if live(g, now_ms) && session.may(Need::Support) {
                            form.inline method="post" action=(format!("{href}/void")) {
                                (csrf(session))
                                input type="hidden" name="grantId" value=(g.id);
                                button.danger type="submit" { "Void" }
                            }
                        } }
                    }
                }
                @if grants.is_empty() { tr { td colspan="13" .muted { "None." } } }
            }
        }
    }
}

/// Whether a grant can still be voided: not voided yet, and something remaining or held.
fn live(g: &Grant, now_ms: i64) -> bool {
    !g.void && matches!(g.status(now_ms), "active" | "scheduled")
}

/// `POST …/grant`: the grant form, checked, then the gateway's grant (which checks it by the
/// API's rules and audits it).
pub(crate) async fn grant(
    gateway: &Gateway,
    session: &Session,
    user: &UserId,
    fields: &HashMap<String, String>,
) -> Result<Notice, ApiError> {
    let text = |name: &str| fields.get(name).map_or("", |v| v.trim());
    let nonce = text("nonce");
    if !(16..=64).contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid("nonce", "is missing; reload the page and try again"));
    }
    let balance = text("balance").to_string();
    let amount = match text("amount") {
        "" => return Err(ApiError::invalid("amount", "is required")),
        amount => Milli::parse(amount).map_err(|e| ApiError::invalid("amount", e.to_string()))?,
    };
    let category = Category::parse(text("category"))
        .ok_or_else(|| ApiError::invalid("category", "must be paid or promotional"))?;
    let days = match text("days") {
        "" => None,
        days => Some(valid_days(days)?),
    };
    let expires_ms = days
        .map(|d| {
            d.checked_mul(DAY_MS)
                .and_then(|span| gateway.node().now_ms().checked_add(span))
                .ok_or_else(days_refused)
        })
        .transpose()?;
    let source = Some(text("source").to_string()).filter(|s| !s.is_empty());
    // A repeat of the form is the same values with the same nonce: compared by what was
    // typed, not by the expiry worked out from it, which moves with the clock.
    let body = json!([balance, amount.0, category.as_str(), days, source]).to_string();
    let key = Idempotency::new(
        format!("dashboard.grant:{}", digest_hex(&format!("{}\n{nonce}", session.csrf))),
        digest_hex(&body),
    );
    let input = GrantInput {
        balance,
        amount,
        priority: PRIORITY,
        category,
        effective_ms: None,
        expires_ms,
        cost_basis: None,
        source,
        metadata: None,
    };
    match gateway
        .data()
        .grant(&session.project, user, &input, &session.actor(), Some(&key))
        .await
    {
        Ok(Granting::Made { .. }) => Ok(Notice::Granted),
        Ok(Granting::TooMany) => Err(ApiError::GrantLimit {
            balance: input.balance,
            limit: MAX_LIVE_GRANTS,
        }),
        Err(GatewayError::IdempotencyReused) => Err(ApiError::invalid(
            "nonce",
            "this form was sent before with other values; reload the page and try again",
        )),
        Err(err) => Err(err.into()),
    }
}

fn days_refused() -> ApiError {
    ApiError::invalid("days", format!("must be a whole number of days from 1 to {MAX_DAYS}"))
}

/// "Valid for N days": a whole number from 1 to `MAX_DAYS`.
fn valid_days(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(d))
        .ok_or_else(days_refused)
}

/// The grant a void form names (`grantId`): given, and an id a grant can have.
pub(super) fn grant_id(fields: &HashMap<String, String>) -> Result<&str, ApiError> {
    let id = fields.get("grantId").map_or("", |v| v.trim());
    if id.is_empty() {
        return Err(ApiError::invalid("grantId", "is required"));
    }
    check_id(id).map_err(|d| ApiError::invalid("grantId", d))?;
    Ok(id)
}

/// `POST …/void`: voids one grant of the user.
pub(crate) async fn void(
    gateway: &Gateway,
    session: &Session,
    user: &UserId,
    fields: &HashMap<String, String>,
) -> Result<Notice, ApiError> {
    let id = grant_id(fields)?;
    let reason = crate::dashboard::parts::confirm::reason(fields)?;
    match gateway
        .data()
        .void_grant(&session.project, user, id, Some(&reason), &session.actor())
        .await?
    {
        Some(_) => Ok(Notice::GrantVoided),
        None => Err(ApiError::GrantNotFound(id.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_whole_and_bounded() {
        assert_eq!(valid_days("30").unwrap(), 30);
        assert_eq!(valid_days("3650").unwrap(), 3650);
        for bad in [
            "0",
            "-1",
            "3651",
            "1.5",
            "x",
            "9223372036854775807",
            "99999999999999999999",
        ] {
            let err = valid_days(bad).unwrap_err().to_string();
            assert_eq!(err, "days: must be a whole number of days from 1 to 3650", "{bad}");
        }
    }

    #[test]
    fn nonces_differ_and_fit_the_form_check() {
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
