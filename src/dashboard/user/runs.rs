//! A user's runs as a section of their page: the newest, each linked to its own page (`run/`),
//! with its state, times, steps, fallbacks and what each group used of its budget.

use maud::{html, Markup};

use crate::dashboard::parts::cells::{ending, started, state_pill};
use crate::dashboard::parts::links::run_link;
use crate::dashboard::parts::shown::Shown;
use crate::gateway::RunView;

/// Runs a user's page lists, the newest.
pub(crate) const LISTED: usize = 20;

/// The section of a user's page: `runs`, the newest first as the gateway answers them (one
/// more than `LISTED` is asked for, to know that there are more).
pub(crate) fn for_user(runs: &[RunView]) -> Markup {
    html! {
        h2 id="runs" { "Runs" }
        @if runs.is_empty() {
            p.muted { "No runs: the user started none, or their records are past retention." }
        } @else {
            p.muted { @if runs.len() > LISTED { "The newest " (LISTED) ", newest first; older runs are not listed." } @else { "Newest first." } }
            table {
                thead { tr { th { "Run" } th { "State" } th { "Started" } th { "Ends" } th.num { "Steps" } th.num { "Fallbacks" } th { "Used / budget" } } }
                tbody {
                    @for view in runs.iter().take(LISTED) {
                        tr {
                            td { (run_link(&view.id)) } td { (state_pill(view.state)) }
                            td { (started(view)) } td { (ending(view)) }
                            td.num { (view.run.steps) } td.num { (view.run.fallbacks) }
                            td { @for g in view.run.groups(&view.reservation.holds) {
                                code { (Shown(&g.group)) } " " (g.used) " / " (g.budget) br;
                            } }
                        }
                    }
                }
            }
        }
    }
}
