//! The audit log's changes as a table, newest first: who made each, what, on which user or
//! resource. The audit log shows it a page at a time, a user's page their trail, the
//! overview the latest changes.

use maud::{html, Markup};

use super::links::user_link;
use super::numbers::when;
use super::shown::Shown;
use crate::quota::ChangeEntry;

/// Changes as a table, newest first.
pub(crate) fn changes_table(changes: &[ChangeEntry]) -> Markup {
    html! {
        table {
            thead { tr { th { "Time" } th { "Who" } th { "What" } th { "On" } th { "Details" } } }
            tbody {
                @for c in changes {
                    tr {
                        td { (when(c.at_ms)) }
                        td { (Shown(&c.actor_label)) br; span.muted { (Shown(&c.actor_id)) } }
                        td { code { (c.action) } }
                        td { @if c.user.as_deref() == Some(c.target.as_str()) { (user_link(&c.target)) } @else { (Shown(&c.target)) } }
                        td { code { (Shown(&c.detail)) } }
                    }
                }
                @if changes.is_empty() { tr { td colspan="5" .muted { "No change recorded." } } }
            }
        }
    }
}
