//! The domain: plans, matching, periods, amounts, holds and decisions.
//! No I/O, no async, no actix or redis: time and state come in as arguments.

pub mod account;
pub mod admission;
pub mod alerts;
pub mod alternatives;
pub mod amount;
pub mod approval;
pub mod catalog;
pub mod catalog_import;
pub mod counter;
pub mod credit;
pub mod decision;
pub mod event;
pub mod fit;
pub mod hold;
pub mod ids;
pub mod job;
pub mod ledger;
mod matching;
pub mod measure;
pub mod operator;
pub mod outcomes;
pub mod period;
pub mod plan;
mod plan_doc;
mod plan_kinds;
mod plan_period;
pub mod price;
pub mod price_tiers;
mod priced;
pub mod project;
pub mod replay;
pub mod reservation;
pub mod run;
pub mod subscription;
pub mod value;
pub mod webhook;

pub use account::{
    check_action, AuditEntry, ChangeEntry, ChangeFilter, KeyRecord, PlanDeletion, UserEntry, UserFilter, UserPage,
};
pub use alternatives::{Alternative, Alternatives, FirstFit, MAX_ALTERNATIVES};
pub use amount::{Milli, SignedAmount};
pub use approval::{approval_id, Approval, ApprovalStatus};
pub use counter::{Amounts, Counter};
pub use credit::{
    Balance, BalanceView, Category, CategoryTotals, Credit, CreditSummary, Grant, GrantAmounts, GrantInput,
};
pub use decision::{Decision, Denial, Reason};
pub use event::{EventInput, FallbackOf};
pub use hold::{Hold, Placement, Prepared, SliceHold, StepAnswer, Verdict};
pub use ids::{ReasonText, ReservationId, UserId};
pub use job::{
    job_key, pending_hold, pending_key, BatchFile, Cursor, FileRecord, JobEnd, JobKind, JobRecord, ListPage, Listed,
    PendingJob,
};
pub use ledger::{day_of, CreditMove, DayActivity, UsageDay, UsageEvent, UsageGroup, UsageKind, DAY_MS};
pub use measure::{Measure, MeasureDoc, MeasureError};
pub use outcomes::{check_outcome, Outcomes};
pub use period::{Anchor, Period, PeriodKind, Window};
pub use plan::{LimitGroup, Mode, Plan, PlanChange, PlanDoc, Problem, Review, Unit, Unmatched, MAX_OWNER};
pub use project::ProjectSettings;
pub use reservation::{Reservation, ReservationHold, ReservationState};
pub use run::{RunGroup, RunLimits, RunProgress, RunRecord, RunState, Step, StepKind};
pub use subscription::{Override, Status, Subscription, MAX_OVERRIDES, MAX_OVERRIDE_HOURS};
pub use webhook::{DeliveryRecord, EndpointRecord, RetiredSecret, Try};
