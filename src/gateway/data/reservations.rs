//! Reading one reservation, and extending a held one with `extend.lua`.

use std::time::Instant;

use super::parents::walk_up;
use super::DataPlane;
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::{Reservation, ReservationId, ReservationState, UserId};
use crate::store::Extended;

/// A reservation lives at most this long after its creation, however often it is extended: two
/// days, so the hold of an async job (a batch's day and a margin) lives as long as the job.
pub const MAX_LIFETIME_MS: i64 = 48 * 3_600_000;

/// How an extend went: as `extend.lua` answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    NotFound,
    /// The reservation is no longer held.
    Ended(ReservationState),
    Extended {
        expires_ms: i64,
        /// The next level up, whose own record the extend reaches next.
        parent: Option<String>,
    },
}

impl From<Extended> for Extension {
    fn from(extended: Extended) -> Extension {
        match extended {
            Extended::NotFound => Extension::NotFound,
            Extended::Ended(state) => Extension::Ended(state),
            Extended::Until { expires_ms, parent } => Extension::Extended { expires_ms, parent },
        }
    }
}

impl Observed for Extension {
    fn effect(&self) -> Effect<'_> {
        Effect::Answered
    }
}

/// A reservation as a reader sees it now.
#[derive(Debug, Clone)]
pub struct ReservationView {
    /// As a reader sees it: a held reservation past its expiry is expired.
    pub state: ReservationState,
    pub reservation: Reservation,
    /// Its records at the parents' levels, nearest first.
    pub parents: Vec<(UserId, Reservation)>,
}

impl DataPlane {
    /// Up to `limit` of the user's open reservations, soonest to expire first.
    pub(crate) async fn open_reservations(
        &self,
        project: &str,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<(String, Reservation)>, GatewayError> {
        Ok(self.store.open_reservations(project, user, limit).await?)
    }

    /// A reservation of `project`, or None.
    pub(crate) async fn reservation(
        &self,
        project: &str,
        id: &ReservationId,
    ) -> Result<Option<ReservationView>, GatewayError> {
        let Some(reservation) = self.store.reservation(project, id.user(), id).await? else {
            return Ok(None);
        };
        let mut parents: Vec<(UserId, Reservation)> = Vec::new();
        walk_up(id.user(), reservation.parent.clone(), async |level| {
            let Some(record) = self.store.reservation(project, level.subject, id).await? else {
                return Ok(None);
            };
            let above = record.parent.clone();
            parents.push((level.subject.clone(), record));
            Ok(above)
        })
        .await?;
        Ok(Some(ReservationView {
            state: reservation.state_at(self.node.clock.now_ms()),
            reservation,
            parents,
        }))
    }

    /// Moves a held reservation's expiry to now + `ttl_ms`, capped at creation + 24 h, at the
    /// user's level and then at each parent's the records name. The answer is the user's
    /// level's; a parent's level that no longer holds (never reserved, or ended) is passed by.
    pub async fn extend(&self, project: &str, id: &ReservationId, ttl_ms: i64) -> Result<Extension, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let ledger = self.node.keeps_ledger(project).await?;
            let extend = async |subject: &UserId| {
                self.node
                    .drive(project, subject, async || {
                        Ok(self
                            .store
                            .extend(project, subject, id, ttl_ms, MAX_LIFETIME_MS, ledger)
                            .await?
                            .map(Extension::from))
                    })
                    .await
            };
            let parent_of = |extension: &Extension| match extension {
                Extension::Extended { parent, .. } => parent.clone(),
                _ => None,
            };
            let answer = extend(id.user()).await?;
            walk_up(id.user(), parent_of(&answer), async |level| {
                Ok(parent_of(&extend(level.subject).await?))
            })
            .await?;
            Ok(answer)
        }
        .await;
        self.node
            .report(Verb::Extend, project, Some(id.user()), started, &answer);
        answer
    }
}
