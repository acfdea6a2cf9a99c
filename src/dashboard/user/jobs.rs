//! A user's open async jobs (batches, videos) on their page: each holds its worst case until
//! the provider says it ended. One still open past its window is marked overdue (stuck at the
//! provider): the gateway charges its hold, `estimated`, when the hold ends.

use maud::{html, Markup};

use crate::dashboard::parts::numbers::when;
use crate::dashboard::parts::shown::Shown;
use crate::quota::JobRecord;

/// The open jobs, oldest first.
pub(crate) fn section(jobs: &[JobRecord], now_ms: i64) -> Markup {
    html! {
        h2 id="jobs" { "Open jobs (batches, videos)" }
        @if jobs.is_empty() {
            p.muted { "None: no batch or video of this user's is running through the proxy." }
        } @else {
            table {
                thead { tr { th { "Job" } th { "Kind" } th { "Holds" } th { "Submitted" } th { "Due" } th { "Hold ends" } } }
                tbody {
                    @for job in jobs {
                        tr {
                            td { code { (Shown(&job.id)) } br; span.muted { (Shown(&job.upstream)) " · " (Shown(&job.model)) } }
                            td { (job.kind.as_str()) }
                            td { @for (count, value) in &job.held { code { (Shown(count)) } " " (value) " " } }
                            td { (when(job.created_ms)) br; span.muted { (age(now_ms - job.created_ms)) " ago" } }
                            td {
                                (when(job.due_ms))
                                @if now_ms > job.due_ms {
                                    " " span.pill.overdue title="still open past its window: the provider may be stuck; its hold is charged, estimated, when it ends" { "overdue" }
                                }
                            }
                            td { (when(job.ends_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// A duration as a person reads it: seconds, minutes or hours.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1_000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7_199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3_600),
    }
}
