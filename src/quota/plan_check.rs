//! A plan document under check: the problems found, each with the JSON path of its field,
//! and one group's check, which names its problems under `groups[i].`. Every feature's check
//! (`plan_kinds.rs`, `plan_period.rs`, `alerts.rs`, ...) writes here, below the plan it makes.

use super::plan_doc::GroupDoc;

/// One thing wrong with a plan, with the JSON path of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub detail: String,
}

/// The problems found in a plan document, in the order they were found: each check adds its
/// own and goes on, so one answer lists them all.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, field: impl Into<String>, detail: &str) {
        self.0.push(Problem {
            field: field.into(),
            detail: detail.to_string(),
        });
    }
}

/// One group of a plan document under check: its problems are named under `groups[i].`.
pub(super) struct GroupCheck<'a> {
    pub(super) doc: &'a GroupDoc,
    pub(super) index: usize,
    pub(super) problems: &'a mut Problems,
}

impl GroupCheck<'_> {
    /// A problem with `field` of the group (`quota`, `period.type`, `matches[0].event`).
    pub(super) fn problem(&mut self, field: &str, detail: &str) {
        self.problems.add(format!("groups[{}].{field}", self.index), detail);
    }
}
