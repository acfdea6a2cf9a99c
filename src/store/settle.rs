//! Commit and release: end one reservation exactly once, by what its record says,
//! never by the plan as it is now. The plan only lends its labels to the answer.

use serde_json::{Map, Value};

use super::keys::reservation_user;
use super::record::Record;
use super::scripts::{self, Idempotency, Reply, SettleReply, Values};
use super::{Attempts, QuotaStore, StoreError};
use crate::quota::{Counter, Measure, Milli, Plan};

/// How a commit or release went.
#[derive(Debug, Clone)]
pub enum Settlement {
    /// No such reservation in this project (malformed ids included).
    NotFound,
    /// It already ended the other way: "committed" or "released".
    Conflict(String),
    Settled(Settled),
}

#[derive(Debug, Clone)]
pub struct Settled {
    /// "committed", "released" or "expired".
    pub status: String,
    pub late: bool,
    pub counters: Vec<Counter>,
}

/// How to end a reservation.
enum Ending<'a> {
    /// With the actual milli-units per hold, or as reserved.
    Commit(Option<Vec<Milli>>, Option<&'a Idempotency>),
    Release,
}

impl QuotaStore {
    /// Turns a reservation into usage: as reserved, or with the actual quantity and metadata
    /// recomputed by each hold's own measure.
    pub async fn commit(
        &self,
        project: &str,
        reservation_id: &str,
        quantity: Option<Milli>,
        metadata: Option<&Map<String, Value>>,
        idempotency: Option<&Idempotency>,
    ) -> Result<Settlement, StoreError> {
        if quantity.is_none() && metadata.is_none() {
            return self
                .settle(project, reservation_id, Ending::Commit(None, idempotency))
                .await;
        }
        // Holds never change after reserve, so reading them first cannot race the commit.
        let Some(record) = self.reservation(project, reservation_id).await? else {
            return Ok(Settlement::NotFound);
        };
        let mut amounts = Vec::with_capacity(record.holds.len());
        for hold in &record.holds {
            amounts.push(match (hold.measure(), metadata) {
                (Measure::Quantity, _) => quantity.unwrap_or(hold.amount()),
                (measure, Some(metadata)) => measure.amount(Milli::ZERO, metadata).map_err(StoreError::Measure)?,
                (_, None) => hold.amount(),
            });
        }
        self.settle(project, reservation_id, Ending::Commit(Some(amounts), idempotency))
            .await
    }

    /// Gives a reservation's holds back.
    pub async fn release(&self, project: &str, reservation_id: &str) -> Result<Settlement, StoreError> {
        self.settle(project, reservation_id, Ending::Release).await
    }

    async fn settle(&self, project: &str, reservation_id: &str, ending: Ending<'_>) -> Result<Settlement, StoreError> {
        let Some(user) = reservation_user(reservation_id) else {
            return Ok(Settlement::NotFound);
        };
        let keys = &self.keys.user(project, &user);
        let ending = &ending;
        let mut attempts = Attempts::new();
        loop {
            let script = if matches!(ending, Ending::Release) {
                "release"
            } else {
                "commit"
            };
            let reply = self
                .run_script(script, |mut conn| async move {
                    let retention_ms = self.retention_ms;
                    let reply = match ending {
                        Ending::Commit(actual, idempotency) => {
                            let actual = actual.as_deref();
                            scripts::commit(&mut conn, keys, retention_ms, *idempotency, reservation_id, actual).await?
                        }
                        Ending::Release => scripts::release(&mut conn, keys, retention_ms, reservation_id).await?,
                    };
                    self.replicate(&mut conn).await?;
                    Ok(reply)
                })
                .await?;
            return Ok(match reply {
                Reply::More if attempts.after_more() => continue,
                Reply::Stale if attempts.after_stale() => continue,
                Reply::More | Reply::Stale => break,
                Reply::Reused => return Err(StoreError::IdempotencyReused),
                Reply::Done(SettleReply::NotFound) => Settlement::NotFound,
                Reply::Done(SettleReply::Conflict(state)) => Settlement::Conflict(state),
                Reply::Done(SettleReply::Done {
                    status,
                    late,
                    record,
                    values,
                }) => {
                    // Labels come from the current plan when it still has the group.
                    let plan = self.resolve(project, &user, true).await.ok().and_then(|r| r.plan);
                    let counters = record_counters(plan.as_deref(), &record, &values);
                    Settlement::Settled(Settled { status, late, counters })
                }
            });
        }
        Err(attempts.exhausted())
    }
}

fn record_counters(plan: Option<&Plan>, record: &Record, values: &[Values]) -> Vec<Counter> {
    record
        .holds
        .iter()
        .zip(values)
        .map(|(hold, v)| {
            let group = plan.and_then(|p| p.groups.iter().find(|g| g.id == hold.g));
            let in_flight = hold.k == "c";
            Counter {
                group_id: hold.g.clone(),
                label: group.map_or_else(|| hold.g.clone(), |g| g.label.clone()),
                unit: group.map_or(if in_flight { "concurrent" } else { "count" }, |g| g.unit.as_str()),
                mode: if hold.m == "soft" { "soft" } else { "hard" },
                quota: v.quota,
                used: v.used,
                reserved: v.held,
                period_start_ms: hold.period_start_ms(),
                resets_at_ms: hold.period_end_ms(),
            }
        })
        .collect()
}
