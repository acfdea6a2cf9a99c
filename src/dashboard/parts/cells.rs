//! What several pages show of a user, a run or a budget in a table's cell or a line: a user's
//! status, a run's state and when it started and ends, who owns a budget. One wording each,
//! wherever it is shown.

use maud::{html, Markup};

use super::numbers::when;
use super::shown::Shown;
use crate::gateway::RunView;
use crate::json::rfc3339;
use crate::quota::{RunState, Status};

/// A user's status as a pill: active or blocked.
pub(crate) fn status_pill(status: Status) -> Markup {
    match status {
        Status::Active => html! { span.pill.active { "active" } },
        Status::Blocked => html! { span.pill.blocked { "blocked" } },
    }
}

/// A run's state as a pill: open, closed or expired.
pub(crate) fn state_pill(state: RunState) -> Markup {
    match state {
        RunState::Open => html! { span.pill.active { "open" } },
        RunState::Closed => html! { span.pill { "closed" } },
        RunState::Expired => html! { span.pill.blocked { "expired" } },
    }
}

/// How a run ends: an open one when it expires, a closed one when it was closed, an expired
/// one when its time ran out (its expiry is settled by the next call after).
pub(crate) fn ending(view: &RunView) -> Markup {
    let r = &view.reservation;
    match view.state {
        RunState::Open => html! { "expires " (when(r.expires_ms)) },
        RunState::Closed => html! { "closed " (when(r.ended_ms.unwrap_or(r.expires_ms))) },
        RunState::Expired => html! { "expired " (when(r.expires_ms)) },
    }
}

/// When a run started, its exact instant (empty when its record does not say).
pub(crate) fn started(view: &RunView) -> String {
    view.reservation.created_ms.map(rfc3339).unwrap_or_default()
}

/// Who owns a budget and how often they review it, as the plan and approval pages show it.
pub(crate) fn owner(owner: Option<&str>, review: Option<&str>) -> Markup {
    html! {
        @match owner { Some(o) => (Shown(o)), None => span.muted { "none named" } }
        @if let Some(r) = review { br; span.muted { "reviewed every " (r) } }
    }
}
