//! A plan's periods as its document states them: the plan's default (`periodType`,
//! `periodAnchor`), each group's own (`period`), and what a rolling window, being a rate, may
//! not be. The arithmetic of periods is `period.rs`'s.

use super::period::{Anchor, Period, PeriodKind, MAX_ROLLING_SECONDS};
use super::plan_check::{GroupCheck, Problems};
use super::plan_doc::PlanDoc;
use super::plan_doc::{PeriodDoc, ANCHORS, PERIOD_TYPES};
use super::plan_kinds::{Inherited, Mode, Unit};

/// The plan's default period, and whether the plan names a `periodType` its groups may take
/// (a rolling window is a group's own, never a plan's).
pub(super) fn of_plan(doc: &PlanDoc, problems: &mut Problems) -> (Period, bool) {
    let mut kind = doc.period_type.as_deref().map(PeriodKind::parse);
    if let Some(None) = kind {
        problems.add("periodType", PERIOD_TYPES);
    }
    if kind == Some(Some(PeriodKind::Rolling)) {
        problems.add(
            "periodType",
            "must be a calendar period: a rolling window is a group's (period: {\"type\": \"rolling\", \"seconds\": 60})",
        );
        kind = None;
    }
    let anchor = doc.period_anchor.as_deref().map(Anchor::parse);
    if let Some(None) = anchor {
        problems.add("periodAnchor", ANCHORS);
    }
    let period = Period {
        kind: kind.flatten().unwrap_or(PeriodKind::Month),
        every: 1,
        anchor: anchor.flatten().unwrap_or(Anchor::Calendar),
    };
    (period, kind.is_some())
}

/// A group's period: its own `period`, else the plan's; of a rolling window, its length in
/// seconds. `(unit, mode, balance)` are the group's, which a rolling window restricts.
pub(super) fn of_group(check: &mut GroupCheck, plan: &Inherited, (unit, mode, balance): (Unit, Mode, bool)) -> Period {
    let g = check.doc;
    let spec = g.period.clone().unwrap_or_default();
    let kind = match spec.kind.as_deref().map(PeriodKind::parse) {
        Some(Some(kind)) => kind,
        Some(None) => {
            check.problem("period.type", PERIOD_TYPES);
            plan.period.kind
        }
        // A balance group without an allowance has no period of its own to keep: its
        // counter counts what it burned, for all time.
        None if !plan.period_named && g.balance.is_some() && g.allowance.is_none() => PeriodKind::Lifetime,
        None => {
            if !plan.period_named {
                check.problem("period.type", "is required when the plan has no periodType");
            }
            plan.period.kind
        }
    };
    let anchor = match spec.anchor.as_deref().map(Anchor::parse) {
        Some(Some(anchor)) => anchor,
        Some(None) => {
            check.problem("period.anchor", ANCHORS);
            plan.period.anchor
        }
        None => plan.period.anchor,
    };
    let mut every = spec.every.unwrap_or(1);
    if every == 0 || every > 1000 {
        check.problem("period.every", "must be 1 to 1000");
    }
    if kind == PeriodKind::Rolling {
        every = rolling_seconds(check, &spec, (unit, mode, balance));
    } else if spec.seconds.is_some() {
        check.problem("period.seconds", "is only for a rolling period");
    }
    Period {
        kind,
        every: every.max(1),
        anchor,
    }
}

/// A rolling window's length in seconds (`every` and `anchor` say nothing of it), and what
/// its group may not be: a rolling window is a rate, with no period to approve a request in,
/// count values in, clamp within or cross thresholds in.
fn rolling_seconds(check: &mut GroupCheck, spec: &PeriodDoc, (unit, mode, balance): (Unit, Mode, bool)) -> u32 {
    let g = check.doc;
    let seconds = match spec.seconds {
        Some(seconds @ 1..=MAX_ROLLING_SECONDS) => seconds,
        _ => {
            check.problem("period.seconds", "must be 1 to 86400 on a rolling period");
            1
        }
    };
    for (field, given) in [("every", spec.every.is_some()), ("anchor", spec.anchor.is_some())] {
        if given {
            check.problem(
                &format!("period.{field}"),
                "must be absent on a rolling period: it rolls with time",
            );
        }
    }
    // A rolling window is a rate: of calls, or of tokens; money and credits are budgets.
    if balance || !matches!(unit, Unit::Count | Unit::Tokens) {
        check.problem(
            "period.type",
            "rolling windows count calls or tokens: only on a count or tokens group",
        );
    }
    if mode == Mode::Approval {
        check.problem(
            "mode",
            "must be \"hard\" or \"soft\" on a rolling window: a request is per period",
        );
    }
    if g.per.is_some() {
        check.problem("per", "must not be on a rolling window");
    }
    if g.fit.as_deref() == Some("clamp") {
        check.problem("fit", "must not clamp on a rolling window");
    }
    if g.alerts.as_ref().is_some_and(|a| !a.is_empty()) {
        check.problem(
            "alerts",
            "must be absent on a rolling window: it has no period to cross thresholds in",
        );
    }
    seconds
}
