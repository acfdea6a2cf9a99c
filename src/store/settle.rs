//! Commit and release: end one reservation exactly once, by what its record says,
//! never by the plan as it is now. The plan only lends its labels to the answer.

use super::keys::reservation_user;
use super::scripts::{self, Record, Reply, SettleReply, Values};
use super::{QuotaStore, StoreError, MAX_ATTEMPTS};
use crate::quota::{Counter, Milli, Plan};

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

impl QuotaStore {
    /// Turns a reservation into usage, with the actual quantity when given.
    pub async fn commit(
        &self,
        project: &str,
        reservation_id: &str,
        actual: Option<Milli>,
    ) -> Result<Settlement, StoreError> {
        self.settle(project, reservation_id, Some(actual)).await
    }

    /// Gives a reservation's holds back.
    pub async fn release(
        &self,
        project: &str,
        reservation_id: &str,
    ) -> Result<Settlement, StoreError> {
        self.settle(project, reservation_id, None).await
    }

    async fn settle(
        &self,
        project: &str,
        reservation_id: &str,
        commit: Option<Option<Milli>>,
    ) -> Result<Settlement, StoreError> {
        let Some(user) = reservation_user(reservation_id) else {
            return Ok(Settlement::NotFound);
        };
        let keys = self.keys.user(project, &user);
        for _ in 0..MAX_ATTEMPTS {
            let keys = &keys;
            let reply = self
                .run(|mut conn| async move {
                    match commit {
                        Some(actual) => {
                            scripts::commit(
                                &mut conn,
                                keys,
                                self.retention_ms,
                                reservation_id,
                                actual,
                            )
                            .await
                        }
                        None => {
                            scripts::release(&mut conn, keys, self.retention_ms, reservation_id)
                                .await
                        }
                    }
                })
                .await?;
            return Ok(match reply {
                Reply::More | Reply::Stale => continue,
                Reply::Done(SettleReply::NotFound) => Settlement::NotFound,
                Reply::Done(SettleReply::Conflict(state)) => Settlement::Conflict(state),
                Reply::Done(SettleReply::Done {
                    status,
                    late,
                    record,
                    values,
                }) => {
                    // Labels come from the current plan when it still has the group.
                    let plan = self.resolve(project, &user).await.ok().and_then(|r| r.plan);
                    let counters = record_counters(plan.as_ref(), &record, &values);
                    Settlement::Settled(Settled {
                        status,
                        late,
                        counters,
                    })
                }
            });
        }
        Err(StoreError::Unsettled(MAX_ATTEMPTS))
    }
}

fn record_counters(plan: Option<&Plan>, record: &Record, values: &[Values]) -> Vec<Counter> {
    record
        .holds
        .iter()
        .zip(values)
        .map(|(hold, v)| {
            let group = plan.and_then(|p| p.groups.iter().find(|g| g.id == hold.g));
            let period_end: Option<i64> = hold.pe.parse().ok();
            Counter {
                group_id: hold.g.clone(),
                label: group.map_or_else(|| hold.g.clone(), |g| g.label.clone()),
                unit: group.map_or("count", |g| g.unit.as_str()),
                mode: if hold.m == "soft" { "soft" } else { "hard" },
                quota: group.map_or_else(|| Milli(hold.q.parse().unwrap_or(0)), |g| g.quota),
                used: v.used,
                reserved: v.held,
                period_start_ms: period_end.and_then(|_| hold.ps.parse().ok()),
                resets_at_ms: period_end,
            }
        })
        .collect()
}
