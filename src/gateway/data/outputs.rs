//! What a committed call's output came to, said after its commit: an output is often judged
//! later than the call (a user keeps an image, or asks again). Said at every level the
//! reservation reached, each level's record naming the next, as a commit is; said again it
//! changes nothing, and a changed word moves the count (outcomes.lua).

use super::parents::walk_up;
use super::DataPlane;
use crate::gateway::GatewayError;
use crate::quota::{ReservationId, ReservationState, UserId};
use crate::store::OutcomeReply;

/// How saying an outcome went.
#[derive(Debug)]
pub enum Said {
    NotFound,
    /// The reservation is not committed (held, released or expired): nothing to judge yet, or
    /// no output at all.
    NotCommitted(ReservationState),
    /// Its outcome was changed as often as one may be (8 times): each change is a ledger entry.
    Judged,
    /// Said: the outcome said before, None for none.
    Said {
        previous: Option<String>,
    },
}

impl DataPlane {
    /// Says `outcome` of the committed reservation `id`, at the user's level and each level
    /// above that its records name; the answer is the user's level's.
    pub(crate) async fn set_outcome(
        &self,
        project: &str,
        id: &ReservationId,
        outcome: &str,
        key_id: &str,
    ) -> Result<Said, GatewayError> {
        let user = id.user();
        let said = Saying { id, outcome, key_id };
        let (previous, parent) = match self.outcome_level(project, user, &said, "").await? {
            OutcomeReply::NotFound => return Ok(Said::NotFound),
            OutcomeReply::NotCommitted(state) => return Ok(Said::NotCommitted(state)),
            OutcomeReply::Judged => return Ok(Said::Judged),
            OutcomeReply::Said {
                previous,
                reservation,
                fired,
            } => {
                self.moved_after(&reservation, fired);
                (previous, reservation.parent)
            }
        };
        walk_up(user, parent, async |above| {
            Ok(
                match self.outcome_level(project, above.subject, &said, user.as_str()).await? {
                    OutcomeReply::Said { reservation, fired, .. } => {
                        self.alerts().alerts_fired(fired);
                        reservation.parent
                    }
                    // A level that never held (a node stopped between levels when reserving).
                    OutcomeReply::NotFound | OutcomeReply::NotCommitted(_) | OutcomeReply::Judged => None,
                },
            )
        })
        .await?;
        Ok(Said::Said { previous })
    }

    /// Says it at `subject`'s level (`member` names the user at a parent's level).
    async fn outcome_level(
        &self,
        project: &str,
        subject: &UserId,
        said: &Saying<'_>,
        member: &str,
    ) -> Result<OutcomeReply, GatewayError> {
        let ledger = self.node.keeps_ledger(project).await?;
        self.node
            .drive(project, subject, async || {
                Ok(self
                    .store
                    .set_outcome(project, subject, said.id, said.outcome, said.key_id, member, ledger)
                    .await?)
            })
            .await
    }
}

/// What is said, of which reservation, by which key.
struct Saying<'a> {
    id: &'a ReservationId,
    outcome: &'a str,
    key_id: &'a str,
}
