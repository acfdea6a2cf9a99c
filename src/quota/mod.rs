//! The domain: plans, matching, periods, amounts and decisions.
//! No I/O, no async, no actix or redis: time and state come in as arguments.

pub mod amount;
pub mod counter;
pub mod decision;
pub mod ids;
mod matching;
pub mod measure;
pub mod period;
pub mod plan;
pub mod subscription;

pub use amount::Milli;
pub use counter::Counter;
pub use decision::{Decision, Reason};
pub use measure::{Measure, MeasureError};
pub use period::{Anchor, Period, PeriodKind, Window};
pub use plan::{LimitGroup, Mode, Plan, PlanChange, PlanDoc, Problem, Unit, Unmatched};
pub use subscription::{Override, Status, Subscription};
