//! Commit and release: end one reservation exactly once, by what its record says, never by the
//! plan as it is now. The plan only lends its labels to the answer.

use std::time::Instant;

use serde_json::{Map, Value};

use super::outcome::{Effect, Observed, Verb};
use super::resolve::Freshness;
use super::track::metadata_json;
use super::{Gateway, GatewayError};
use crate::quota::{Counter, Measure, Milli, Reservation, ReservationId, ReservationState};
use crate::store::{Idempotency, LedgerEntry, SettleReply};

/// How a commit or release went.
#[derive(Debug, Clone)]
pub enum Settlement {
    /// No such reservation in this project.
    NotFound,
    /// It already ended the other way.
    Conflict(ReservationState),
    Settled(Settled),
}

#[derive(Debug, Clone)]
pub struct Settled {
    /// Committed, released, or expired (a release after expiry).
    pub status: ReservationState,
    pub late: bool,
    pub counters: Vec<Counter>,
}

impl Observed for Settlement {
    fn effect(&self) -> Effect<'_> {
        match self {
            Settlement::Settled(s) => Effect::Settled {
                state: s.status,
                late: s.late,
                counters: &s.counters,
            },
            Settlement::NotFound | Settlement::Conflict(_) => Effect::Answered,
        }
    }
}

impl Gateway {
    /// Turns a reservation into usage: as reserved, or with the actual quantity and metadata
    /// recomputed by each hold's own measure.
    pub async fn commit(
        &self,
        project: &str,
        id: &ReservationId,
        quantity: Option<Milli>,
        metadata: Option<&Map<String, Value>>,
        idempotency: Option<&Idempotency>,
    ) -> Result<Settlement, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let actual = match (quantity, metadata) {
                (None, None) => None,
                _ => match self.store.reservation(project, id).await? {
                    Some(reservation) => Some(actual_amounts(&reservation, quantity, metadata)?),
                    None => return Ok(Settlement::NotFound),
                },
            };
            let on = self.ledger_for(project, id.user()).await?;
            let entry = &LedgerEntry {
                event: "",
                metadata: metadata.map(|m| metadata_json(on, m)).unwrap_or_default(),
                quantity,
            };
            let reply = self
                .drive(project, id.user(), async || {
                    Ok(self
                        .store
                        .commit(project, id, idempotency, actual.as_deref(), entry, on)
                        .await?)
                })
                .await?;
            self.settlement(project, id, reply).await
        }
        .await;
        self.report(Verb::Commit, project, Some(id.user()), started, &answer);
        answer
    }

    /// Gives a reservation's holds back.
    pub async fn release(&self, project: &str, id: &ReservationId) -> Result<Settlement, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let ledger = self.keeps_ledger(project).await?;
            let reply = self
                .drive(project, id.user(), async || {
                    Ok(self.store.release(project, id, ledger).await?)
                })
                .await?;
            self.settlement(project, id, reply).await
        }
        .await;
        self.report(Verb::Release, project, Some(id.user()), started, &answer);
        answer
    }

    async fn settlement(
        &self,
        project: &str,
        id: &ReservationId,
        reply: SettleReply,
    ) -> Result<Settlement, GatewayError> {
        Ok(match reply {
            SettleReply::NotFound => Settlement::NotFound,
            SettleReply::Conflict(state) => Settlement::Conflict(state),
            SettleReply::Done(mut done) => {
                self.alerts_fired(std::mem::take(&mut done.fired));
                // Labels come from the current plan when it still has the group.
                let plan = self
                    .resolve(project, id.user(), Freshness::Cached)
                    .await
                    .ok()
                    .and_then(|r| r.plan);
                let counters = done.reservation.counters(plan.as_deref(), &done.amounts);
                Settlement::Settled(Settled {
                    status: done.state,
                    late: done.late,
                    counters,
                })
            }
        })
    }
}

/// The amount each hold commits: the actual quantity for holds that count it, a measure
/// recomputed from the actual metadata, or as reserved for a hold the commit says nothing of.
/// Holds never change after reserve, so reading them before the commit cannot race it.
fn actual_amounts(
    reservation: &Reservation,
    quantity: Option<Milli>,
    metadata: Option<&Map<String, Value>>,
) -> Result<Vec<Milli>, GatewayError> {
    let mut amounts = Vec::with_capacity(reservation.holds.len());
    for hold in &reservation.holds {
        amounts.push(match (&hold.measure, metadata) {
            (Measure::Quantity, _) => quantity.unwrap_or(hold.amount),
            (measure, Some(metadata)) => measure.amount(Milli::ZERO, metadata)?,
            (_, None) => hold.amount,
        });
    }
    Ok(amounts)
}
