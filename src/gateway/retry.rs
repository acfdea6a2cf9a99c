//! The one retry driver: every script call goes through it, so every verb treats a script's
//! "stale", "more to reclaim" and "reused" answers the same way.

use std::time::Duration;

use super::{Gateway, GatewayError};
use crate::metrics::Fixed;
use crate::quota::UserId;
use crate::secrets::id_bytes;
use crate::store::Reply;

/// How many times an operation re-reads state after a "stale" answer before giving up.
const MAX_STALE: usize = 8;
/// How many "more to reclaim" answers one operation follows; each returns expired holds, so
/// only a user with a vast backlog of expired reservations comes near it.
const MAX_RECLAIM_ROUNDS: usize = 4096;

impl Gateway {
    /// Runs `attempt` until it is done:
    /// - `Done` is the answer;
    /// - `More` (expired holds remain to reclaim) calls again at once: each call reclaims some;
    /// - `Stale` (the subscription version or a period did not match Redis) forgets the
    ///   user's cached subscription, measures the clock again, and calls again; from the
    ///   second stale answer on it also waits a random while that doubles each time (up to
    ///   10 ms, then 20, 40, ...), so writers racing on one user's subscription fall out of step;
    /// - `Reused` (an Idempotency-Key with another body) and `Overflow` (a counter would pass
    ///   what it counts exactly) are the caller's errors.
    ///
    /// Each attempt resolves whatever it depends on afresh.
    pub(super) async fn drive<T>(
        &self,
        project: &str,
        user: &UserId,
        mut attempt: impl AsyncFnMut() -> Result<Reply<T>, GatewayError>,
    ) -> Result<T, GatewayError> {
        let (mut stale, mut more) = (0, 0);
        loop {
            match attempt().await? {
                Reply::Done(answer) => return Ok(answer),
                Reply::Reused => return Err(GatewayError::IdempotencyReused),
                Reply::Overflow(group) => return Err(GatewayError::CounterLimit(group)),
                Reply::More => {
                    more += 1;
                    if more >= MAX_RECLAIM_ROUNDS {
                        break;
                    }
                }
                Reply::Stale => {
                    stale += 1;
                    if stale >= MAX_STALE {
                        break;
                    }
                    self.refresh_after_stale(project, user).await?;
                    if stale >= 2 {
                        let ceiling_ms = 10u64 << (stale - 2);
                        let random = u64::from(u16::from_le_bytes(id_bytes::<2>()));
                        tokio::time::sleep(Duration::from_millis(1 + random % ceiling_ms)).await;
                    }
                }
            }
        }
        Err(GatewayError::Unsettled(stale + more))
    }

    /// After a "stale" answer: forget the user's subscription and measure the clock again.
    async fn refresh_after_stale(&self, project: &str, user: &UserId) -> Result<(), GatewayError> {
        self.metrics.bump(Fixed::StaleAnswers);
        self.cache.forget_user(project, user.as_str());
        self.sync_clock().await
    }
}
