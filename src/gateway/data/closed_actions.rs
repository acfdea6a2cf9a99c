//! Stop conditions of retries and fallbacks: an action whose attempt ended in an error that no
//! retry fixes (a bad request, a refused key, a billing limit, a policy refusal) takes no more
//! attempts. The mark is written when the attempt ends and read before the next one reserves,
//! so every attempt that starts after the failure is refused.

use super::DataPlane;
use crate::gateway::GatewayError;
use crate::quota::Step;
use crate::quota::UserId;

impl DataPlane {
    /// Closes `step`'s action to further attempts; `why` is kept for the refusal's message.
    pub(crate) async fn close_action(
        &self,
        project: &str,
        user: &UserId,
        step: &Step,
        why: &str,
    ) -> Result<(), GatewayError> {
        if step.action.is_empty() {
            return Ok(());
        }
        let run = step.run_id.as_str();
        Ok(self
            .store
            .close_action(project, user.as_str(), run, &step.action, why)
            .await?)
    }

    /// Why `step`'s action was closed, if it was.
    pub(crate) async fn closed_action(
        &self,
        project: &str,
        user: &UserId,
        step: &Step,
    ) -> Result<Option<String>, GatewayError> {
        if step.action.is_empty() {
            return Ok(None);
        }
        let run = step.run_id.as_str();
        Ok(self
            .store
            .closed_action(project, user.as_str(), run, &step.action)
            .await?)
    }
}
