//! The counters table of a user's page: each counter of the user's own, then of each pool they
//! draw on, as a bar with used, held, quota and reset (a balance group's as its balance, a
//! per-value group's one row per value).

use maud::{html, Markup};

use super::credits;
use crate::dashboard::parts::chart::bar;
use crate::dashboard::parts::links::user_link;
use crate::dashboard::parts::numbers::when_or;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::Usage;
use crate::quota::value::value_key;
use crate::quota::{Counter, Milli, Subscription};

/// The counters table of the user whose subscription is `sub`; `usage` is None when no plan
/// applies to them.
pub(crate) fn table(sub: &Subscription, usage: Option<&Usage>) -> Markup {
    html! {
        h2 { "Counters" }
        table {
            thead { tr { th { "Group" } th { "Unit" } th { span.sr { "Share used" } } th.num { "Used" } th.num { "Held" } th.num { "Quota" } th { "Resets" } } }
            tbody {
                @for (subject, c) in usage.into_iter().flat_map(levels) {
                    (row(sub, subject, c))
                }
            }
        }
    }
}

/// The groups of the user's own counters, each once however many values it counts per.
pub(crate) fn groups(usage: Option<&Usage>) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for c in usage.iter().flat_map(|u| u.counters.iter()) {
        if !groups.contains(&c.group_id) {
            groups.push(c.group_id.clone());
        }
    }
    groups
}

/// One counter's row; `subject` is the pool's owner, None for the user's own.
fn row(sub: &Subscription, subject: Option<&str>, c: &Counter) -> Markup {
    html! {
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
                    @if subject.is_none() && overridden(sub, c) {
                        " " span.pill.override title="a per-user override sets this quota" { "override" }
                    }
                }
            }
            td { (when_or(c.resets_at_ms, "never")) }
        }
    }
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

/// A counter's outcomes as the counters table shows them: "2 accepted of 4 · 20 per accepted".
fn outcomes(c: &Counter) -> Markup {
    let said: u64 = c.outcomes.0.iter().map(|(_, n)| n).sum();
    html! {
        (c.outcomes.accepted()) " accepted of " (said)
        @if let Some(cost) = c.outcomes.cost_per_accepted(c.used) { " · " (cost) " per accepted" }
    }
}
