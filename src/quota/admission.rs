//! Admission: the denials that need no counter (a blocked user, no plan, an event the plan
//! refuses unmatched), decided before any script runs.

use super::decision::Reason;
use super::event::EventInput;
use super::plan::{Plan, Unmatched};
use super::subscription::{Status, Subscription};

/// The plan to decide `input` by, or the reason it is denied without looking at a counter.
pub(crate) fn admit<'p>(sub: &Subscription, plan: Option<&'p Plan>, input: &EventInput) -> Result<&'p Plan, Reason> {
    if sub.status == Status::Blocked {
        return Err(Reason::UserBlocked);
    }
    let plan = plan.ok_or(Reason::NoSubscription)?;
    let unmatched = plan.matched_groups(&input.event, &input.metadata).next().is_none();
    if unmatched && plan.unmatched == Unmatched::Deny {
        return Err(Reason::UnmatchedEvent);
    }
    Ok(plan)
}
