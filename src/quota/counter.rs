//! A counter: one limit group's usage in its current window, as every data-plane answer shows it.

use super::amount::Milli;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub group_id: String,
    pub label: String,
    pub unit: &'static str,
    pub mode: &'static str,
    pub quota: Milli,
    pub used: Milli,
    pub reserved: Milli,
    pub period_start_ms: Option<i64>,
    /// `None` for lifetime groups, which never reset.
    pub resets_at_ms: Option<i64>,
}

impl Counter {
    /// Committed usage plus open holds.
    pub fn count(&self) -> Milli {
        Milli(self.used.0 + self.reserved.0)
    }

    pub fn remaining(&self) -> Milli {
        self.quota.saturating_sub(self.count())
    }

    pub fn exceeded(&self) -> bool {
        self.count() > self.quota
    }
}

impl Counter {
    /// The counter of `group` in `window`, from the amounts the store read: used, held, and
    /// the quota in force (a live override, else the group's).
    pub fn of(group: &super::LimitGroup, window: super::Window, amounts: impl Into<(Milli, Milli, Milli)>) -> Counter {
        let (used, reserved, quota) = amounts.into();
        Counter {
            group_id: group.id.clone(),
            label: group.label.clone(),
            unit: group.unit.as_str(),
            mode: group.mode.as_str(),
            quota,
            used,
            reserved,
            period_start_ms: window.end_ms.map(|_| window.start_ms),
            resets_at_ms: window.end_ms,
        }
    }
}
