//! The pricing lab's replay: a user's recorded ledger (admitted holds, denials, tracks,
//! adjustments) decided again in time order under a plan, with the functions the gateway
//! prepares holds with, so a candidate plan can be tried on real demand before it is saved.
//! Pure: the caller reads the ledger and the subscriptions.

mod engine;
pub(crate) mod report;
mod timeline;

pub use engine::{replay, Outcome, PlanSpan, Subject};
pub(crate) use report::{Percentiles, Report, Scenario, Totals, UserRow, THRESHOLDS};
pub use timeline::Timeline;
