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
