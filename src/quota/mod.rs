//! The domain: plans, matching, periods, amounts, holds and decisions.
//! No I/O, no async, no actix or redis: time and state come in as arguments.

pub(crate) mod account;
pub(crate) mod admission;
pub(crate) mod alerts;
pub(crate) mod alternatives;
pub(crate) mod amount;
pub(crate) mod approval;
pub(crate) mod catalog;
pub(crate) mod catalog_import;
pub(crate) mod counter;
pub(crate) mod credit;
mod curve;
pub(crate) mod decision;
mod dollars;
pub(crate) mod event;
mod event_numbers;
pub(crate) mod fit;
pub(crate) mod hold;
pub(crate) mod ids;
pub(crate) mod job;
pub(crate) mod ledger;
mod matching;
pub(crate) mod measure;
pub(crate) mod operator;
pub(crate) mod outcomes;
pub(crate) mod period;
pub(crate) mod plan;
mod plan_check;
mod plan_doc;
mod plan_kinds;
mod plan_period;
pub(crate) mod price;
pub(crate) mod price_tiers;
mod priced;
pub(crate) mod project;
pub(crate) mod replay;
pub(crate) mod reservation;
pub(crate) mod run;
pub(crate) mod subscription;
pub(crate) mod value;
pub(crate) mod webhook;

pub(crate) use account::{
    check_action, AuditEntry, ChangeEntry, ChangeFilter, KeyRecord, PlanDeletion, UserEntry, UserFilter, UserPage,
};
pub(crate) use alternatives::{Alternative, Alternatives, FirstFit, MAX_ALTERNATIVES};
pub(crate) use amount::{Milli, SignedAmount};
pub(crate) use approval::{Approval, ApprovalStatus};
pub(crate) use counter::{Amounts, Counter};
pub(crate) use credit::{
    Balance, BalanceView, Category, CategoryTotals, Credit, CreditSummary, Grant, GrantAmounts, GrantInput,
};
pub(crate) use decision::{Decision, Denial, Reason};
pub(crate) use event::{EventInput, FallbackOf};
pub(crate) use hold::{Hold, Placement, Prepared, SliceHold, StepAnswer, Verdict};
pub(crate) use ids::{ReasonText, ReservationId, UserId};
pub(crate) use job::{
    job_key, pending_hold, pending_key, BatchFile, Cursor, FileRecord, JobEnd, JobKind, JobRecord, LinesSoFar,
    ListPage, Listed, PendingJob, UploadSession,
};
pub(crate) use ledger::{day_of, CreditMove, DayActivity, UsageDay, UsageEvent, UsageGroup, UsageKind, DAY_MS};
pub(crate) use measure::{Measure, MeasureDoc, MeasureError};
pub(crate) use outcomes::{check_outcome, Outcomes};
pub(crate) use period::Window;
pub(crate) use plan::{LimitGroup, Mode, Plan, PlanChange, PlanDoc, Problem, Review, Unit, MAX_OWNER};
pub(crate) use project::ProjectSettings;
pub(crate) use reservation::{Reservation, ReservationHold, ReservationState};
pub(crate) use run::{RunLimits, RunProgress, RunRecord, RunState, Step, StepKind};
pub(crate) use subscription::{Override, Status, Subscription, MAX_OVERRIDES, MAX_OVERRIDE_HOURS};
pub(crate) use webhook::{DeliveryRecord, EndpointRecord};
