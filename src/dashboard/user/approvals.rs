//! The approval requests of a user waiting for a decision, as a section of their page, with a
//! link to decide them in the approvals queue (the queue's page decides; this only lists).

use maud::{html, Markup};

use crate::dashboard::parts::links::approvals_href;
use crate::dashboard::parts::numbers::when;
use crate::dashboard::parts::shown::Shown;
use crate::quota::{Approval, UserId};

/// A page of requests and where the next one starts (the time and id of its last request).
pub(crate) type Requests = (Vec<Approval>, Option<(i64, String)>);

/// The section of a user's page listing their requests waiting for a decision (`pending`,
/// the first of them), with a link to decide them in the queue; nothing when there are none.
pub(crate) fn for_user(user: &UserId, pending: &Requests) -> Markup {
    let (list, more) = pending;
    html! {
        @if !list.is_empty() {
            div.card.waiting {
                h2 id="approvals" { "Waiting for approval" }
                table {
                    thead { tr { th { "Group" } th { "Denied event" } th.num { "Amount" } th.num { "Used" } th.num { "Held" } th.num { "Quota" } th { "Requested" } } }
                    tbody {
                        @for a in list {
                            tr {
                                td { code { (Shown(&a.group_id)) } @if let Some(v) = &a.value { " · " (Shown(v)) } } td { (Shown(&a.event)) } td.num { (a.amount) }
                                td.num { (a.used) } td.num { (a.held) } td.num { (a.quota) } td { (when(a.requested_at_ms)) }
                            }
                        }
                    }
                }
                p { a href=(approvals_href(None, Some(user), None)) {
                    @if more.is_some() { "These and more wait for a decision: decide them in the queue" } @else { "Decide in the approvals queue" }
                } }
            }
        }
    }
}
