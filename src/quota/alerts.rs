//! Alerts: thresholds (percent of a group's quota) whose crossing, and a group's first denial
//! in a period, become webhook events. The scripts decide them; this is the plan's side and
//! the events as the domain sees them.

use super::plan_check::{GroupCheck, Problems};

/// Thresholds of a plan that names none.
pub(crate) const DEFAULT_ALERTS: [u16; 2] = [80, 100];
/// The highest threshold: soft groups pass their quota, so 150 % can mean something.
const MAX_THRESHOLD: u32 = 1000;
const MAX_THRESHOLDS: usize = 10;

/// A plan's or group's `alerts` list, checked, sorted and without repeats.
pub(crate) fn thresholds(list: &[u32]) -> Result<Vec<u16>, &'static str> {
    if list.len() > MAX_THRESHOLDS {
        return Err("must list at most 10 thresholds");
    }
    if list.iter().any(|t| !(1..=MAX_THRESHOLD).contains(t)) {
        return Err("must be whole percents from 1 to 1000");
    }
    let mut sorted: Vec<u16> = list.iter().map(|t| *t as u16).collect();
    sorted.sort_unstable();
    sorted.dedup();
    Ok(sorted)
}

/// The thresholds as the scripts take them: "50,80,100" ("" for none).
pub(crate) fn script_list(thresholds: &[u16]) -> String {
    thresholds.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// The plan's `alerts`: its groups' thresholds unless they name their own.
pub(super) fn of_plan(list: Option<&[u32]>, problems: &mut Problems) -> Vec<u16> {
    match list.map(thresholds) {
        None => DEFAULT_ALERTS.to_vec(),
        Some(Ok(list)) => list,
        Some(Err(detail)) => {
            problems.add("alerts", detail);
            Vec::new()
        }
    }
}

/// A group's thresholds: its own `alerts`, else the plan's; none on a balance group (no quota
/// to take a percent of, its `lowBalance` instead) nor on a rolling window (its counters are
/// sub-windows, not periods).
pub(super) fn of_group(check: &mut GroupCheck, balance: bool, rolling: bool, plan: &[u16]) -> Vec<u16> {
    match check.doc.alerts.as_deref().map(thresholds) {
        None if balance => Vec::new(),
        Some(_) if balance => {
            check.problem("alerts", "must be absent on a balance group");
            Vec::new()
        }
        _ if rolling => Vec::new(),
        None => plan.to_vec(),
        Some(Ok(list)) => list,
        Some(Err(detail)) => {
            check.problem("alerts", detail);
            Vec::new()
        }
    }
}

/// What the scripts take as a group's thresholds: a balance group's `lowBalance` amounts in
/// milli-units, else the percents of its quota.
pub(super) fn script_arg(check: &mut GroupCheck, alerts: &[u16]) -> String {
    let g = check.doc;
    match &g.low_balance {
        Some(amounts) if g.balance.is_some() => {
            if amounts.len() > 10 {
                check.problem("lowBalance", "must list at most 10 amounts");
            }
            let mut milli: Vec<u64> = amounts.iter().map(|m| m.0).collect();
            milli.sort_unstable();
            milli.dedup();
            milli.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        }
        _ => script_list(alerts),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlertKind {
    /// Usage (open holds for in-flight groups) went from below a threshold to at or above it.
    ThresholdCrossed,
    /// The first denial of the user by the group in the period.
    LimitReached,
    /// A balance's available credits fell to or below a `lowBalance` amount.
    LowBalance,
    /// A balance's available credits fell to 0.
    Depleted,
    /// An approval group's first denial in a period opened an approval request.
    ApprovalRequested,
    /// An approval request was approved or declined.
    ApprovalDecided,
}

impl AlertKind {
    /// The webhook event type.
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            AlertKind::ThresholdCrossed => "quota.threshold_crossed",
            AlertKind::LimitReached => "quota.limit_reached",
            AlertKind::LowBalance => "credits.low_balance",
            AlertKind::Depleted => "credits.depleted",
            AlertKind::ApprovalRequested => "quota.approval_requested",
            AlertKind::ApprovalDecided => "quota.approval_decided",
        }
    }

    /// Every kind, as endpoints may ask for them.
    pub(crate) const ALL: [AlertKind; 6] = [
        AlertKind::ThresholdCrossed,
        AlertKind::LimitReached,
        AlertKind::LowBalance,
        AlertKind::Depleted,
        AlertKind::ApprovalRequested,
        AlertKind::ApprovalDecided,
    ];

    /// An approval request's event, which also keeps the project's list of them.
    pub(crate) fn of_approvals(self) -> bool {
        matches!(self, AlertKind::ApprovalRequested | AlertKind::ApprovalDecided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_sorted_unique_and_bounded() {
        assert_eq!(thresholds(&[100, 50, 80, 50]), Ok(vec![50, 80, 100]));
        assert_eq!(thresholds(&[]), Ok(vec![]));
        assert!(thresholds(&[0]).is_err());
        assert!(thresholds(&[1001]).is_err());
        assert_eq!(script_list(&[50, 100]), "50,100");
    }
}
