//! Reading one reservation, and extending a held one with `extend.lua`.

use std::time::Instant;

use super::outcome::{Effect, Observed, Verb};
use super::{Gateway, GatewayError};
use crate::quota::{Reservation, ReservationId, ReservationState, UserId};

/// A reservation lives at most this long after its creation, however often it is extended.
pub const MAX_LIFETIME_MS: i64 = 24 * 3_600_000;

/// How an extend went: as `extend.lua` answered it.
pub use crate::store::Extended as Extension;

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
}

impl Gateway {
    /// Up to `limit` of the user's open reservations, soonest to expire first.
    pub async fn open_reservations(
        &self,
        project: &str,
        user: &UserId,
        limit: usize,
    ) -> Result<Vec<(String, Reservation)>, GatewayError> {
        Ok(self.store.open_reservations(project, user, limit).await?)
    }

    /// A reservation of `project`, or None.
    pub async fn reservation(
        &self,
        project: &str,
        id: &ReservationId,
    ) -> Result<Option<ReservationView>, GatewayError> {
        let reservation = self.store.reservation(project, id).await?;
        let now_ms = self.clock.now_ms();
        Ok(reservation.map(|reservation| ReservationView {
            state: reservation.state_at(now_ms),
            reservation,
        }))
    }

    /// Moves a held reservation's expiry to now + `ttl_ms`, capped at creation + 24 h.
    pub async fn extend(&self, project: &str, id: &ReservationId, ttl_ms: i64) -> Result<Extension, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let ledger = self.keeps_ledger(project).await?;
            self.drive(project, id.user(), async || {
                Ok(self.store.extend(project, id, ttl_ms, MAX_LIFETIME_MS, ledger).await?)
            })
            .await
        }
        .await;
        self.report(Verb::Extend, project, Some(id.user()), started, &answer);
        answer
    }
}
