//! The support actions' forms of a user's page: switch plan, bump a quota, adjust a counter,
//! block and unblock. `actions.rs` answers them.

use maud::{html, Markup};

use crate::dashboard::parts::layout::csrf;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::quota::value::MAX_VALUE_BYTES;
use crate::quota::{Plan, Status, Subscription, MAX_OVERRIDE_HOURS};

/// The section of support actions on the page at `href`; `groups` are the user's own counters'.
pub(crate) fn actions(session: &Session, href: &str, plans: &[Plan], sub: &Subscription, groups: &[String]) -> Markup {
    html! {
        h2 { "Support actions" }
        div.grid {
            (plan_and_quota(session, href, plans, sub, groups))
            (adjust_and_block(session, href, sub, groups))
        }
    }
}

/// The card that switches the plan and bumps a group's quota.
fn plan_and_quota(session: &Session, href: &str, plans: &[Plan], sub: &Subscription, groups: &[String]) -> Markup {
    html! {
        div.card {
            form.inline method="post" action=(format!("{href}/plan")) {
                (csrf(session))
                label { "Switch plan " select name="planId" { @for p in plans { option value=(p.id) selected[sub.plan_id.as_deref() == Some(p.id.as_str())] { (Shown(&p.id)) } } } }
                button type="submit" { "Switch" }
            }
            p.muted { "On a switch, each group of the new plan carries its counter, resets it, or blocks the rest of the period (its onPlanChange):" }
            ul.muted { @for p in plans { li { code { (Shown(&p.id)) } ": " @for g in &p.groups { (Shown(&g.id)) " " (format!("{:?}", g.on_plan_change).to_lowercase()) "; " } } } }
            form.inline method="post" action=(format!("{href}/override")) {
                (csrf(session))
                label { "Group " select name="groupId" { @for g in groups { option value=(g) { (Shown(g)) } } } }
                label { "New quota " input type="number" name="quota" min="0" step="0.001" required; }
                label { "For hours " input type="number" name="hours" min="1" max=(MAX_OVERRIDE_HOURS) placeholder="empty: until removed"; }
                label { "Of one value " input type="text" name="value" maxlength=(MAX_VALUE_BYTES) placeholder="per-value groups only"; }
                button type="submit" { "Bump quota" }
            }
        }
    }
}

/// The card that adjusts a counter and blocks (or unblocks) the user.
fn adjust_and_block(session: &Session, href: &str, sub: &Subscription, groups: &[String]) -> Markup {
    html! {
        div.card {
            form.inline method="post" action=(format!("{href}/adjust")) {
                (csrf(session))
                label { "Group " select name="groupId" { @for g in groups { option value=(g) { (Shown(g)) } } } }
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
    }
}
