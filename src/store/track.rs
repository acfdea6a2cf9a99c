//! Track: count usage that already happened, past any quota, with `track.lua`.

use super::holds::{prepare, EventInput};
use super::scripts::{self, Holds, Idempotency, Reply};
use super::{Attempts, QuotaStore, StoreError};
use crate::quota::Counter;

impl QuotaStore {
    /// Counts the event in every matched group except in-flight limits; never denies, not
    /// even a blocked user's usage, which happened all the same.
    pub async fn track(
        &self,
        project: &str,
        input: &EventInput,
        idempotency: Option<&Idempotency>,
    ) -> Result<Vec<Counter>, StoreError> {
        let keys = &self.keys.user(project, &input.user);
        let mut attempts = Attempts::new();
        loop {
            let resolved = self.resolve(project, &input.user, true).await?;
            let Some(plan) = &resolved.plan else {
                if resolved.cached {
                    self.cache.forget_user(project, &input.user);
                    continue;
                }
                return Ok(Vec::new());
            };
            let prepared = prepare(plan, input, resolved.started_ms, self.clock.now_ms(), false)?;
            let holds = &Holds {
                version: resolved.sub.version,
                holds: &prepared.args,
            };
            let reply = self
                .run_script("track", |mut conn| async move {
                    let reply = scripts::track(&mut conn, keys, self.retention_ms, idempotency, holds).await?;
                    self.replicate(&mut conn).await?;
                    Ok(reply)
                })
                .await?;
            match reply {
                Reply::Done(values) => return Ok(prepared.counters(&values)),
                Reply::More => {
                    if !attempts.after_more() {
                        break;
                    }
                }
                Reply::Stale => {
                    if !attempts.after_stale() {
                        break;
                    }
                    self.refresh_after_stale(project, &input.user).await?
                }
                Reply::Reused => return Err(StoreError::IdempotencyReused),
            }
        }
        Err(attempts.exhausted())
    }
}
