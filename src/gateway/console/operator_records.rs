//! An operator's record changed by compare-and-set: read it with the text it is stored as,
//! make the change of it, write it only while it is still stored as read (`replace_field.lua`),
//! else again on a fresh read. Removals too, so a change never writes over a removal or a
//! removal over a change.

use super::Console;
use crate::gateway::GatewayError;
use crate::quota::operator::OperatorRecord;

/// What a change makes of an operator's record as stored.
pub(super) enum Edit {
    Write(OperatorRecord),
    /// The operator goes: the change left them no role.
    Remove,
    /// No change: the record is no longer the one meant.
    Skip,
}

/// How often a change of an operator's record is made again on a fresh read before it gives
/// up (only changes of that one record in the same milliseconds make it go again).
const CHANGE_ATTEMPTS: usize = 16;

impl Console<'_> {
    /// Writes `change` of the operator stored under `email` over the record as it is stored at
    /// the write (a compare-and-set, removals included): when another change wrote it since
    /// this one read it, the change is made again on a fresh read, so two changes at once both
    /// hold. The record before, and what the change made of it; None when there is no such
    /// operator or the change made none.
    pub(super) async fn change_operator(
        &self,
        email: &str,
        change: impl Fn(&OperatorRecord) -> Edit,
    ) -> Result<Option<(OperatorRecord, Edit)>, GatewayError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some((text, current)) = self.store.load_operator_text(email).await? else {
                return Ok(None);
            };
            let next = change(&current);
            let written = match &next {
                Edit::Skip => return Ok(None),
                Edit::Write(record) => Some(record),
                Edit::Remove => None,
            };
            if self.store.replace_operator(email, &text, written).await? {
                return Ok(Some((current, next)));
            }
        }
        Err(GatewayError::Unsettled(CHANGE_ATTEMPTS))
    }
}
