//! Reserve and check: resolve the user's plan, compute the matched groups' windows, and let
//! `reserve.lua` decide and hold atomically, or `check.lua` decide without writing.

use super::holds::{prepare, EventInput};
use super::keys::reservation_id;
use super::scripts::{self, Holds, Reply};
use super::{QuotaStore, StoreError, MAX_ATTEMPTS};
use crate::quota::decision::Granted;
use crate::quota::Decision;
use crate::secrets::random_bytes;

impl QuotaStore {
    pub async fn reserve(
        &self,
        project: &str,
        input: &EventInput,
        ttl_ms: i64,
    ) -> Result<Decision, StoreError> {
        let keys = self.keys.user(project, &input.user);
        for _ in 0..MAX_ATTEMPTS {
            let resolved = self.resolve(project, &input.user, true).await?;
            let plan = match resolved.admit(input) {
                Ok(plan) => plan,
                Err(_) if resolved.cached => {
                    self.cache.forget_user(project, &input.user);
                    continue;
                }
                Err(reason) => return Ok(Decision::denied(reason)),
            };
            let prepared = prepare(plan, input, resolved.started_ms, self.clock.now_ms(), true)?;
            let holds = Holds {
                version: resolved.state.version,
                holds: &prepared.args,
            };
            let id = reservation_id(&input.user, &random_bytes::<16>());
            let (keys, holds, id_ref) = (&keys, &holds, id.as_str());
            let reply = self
                .run(|mut conn| async move {
                    scripts::reserve(
                        &mut conn,
                        keys,
                        holds,
                        self.retention_ms,
                        id_ref,
                        ttl_ms,
                        &input.event,
                    )
                    .await
                })
                .await?;
            match reply {
                Reply::Done(decided) => {
                    let granted = Granted {
                        reservation_id: id,
                        expires_at_ms: decided.expires_ms,
                    };
                    return Ok(prepared.decision(&decided, Some(granted)));
                }
                Reply::More => continue,
                Reply::Stale => self.refresh_after_stale(project, &input.user).await?,
            }
        }
        Err(StoreError::Unsettled(MAX_ATTEMPTS))
    }

    /// What reserve would answer now, without writing anything.
    pub async fn check(&self, project: &str, input: &EventInput) -> Result<Decision, StoreError> {
        let keys = self.keys.user(project, &input.user);
        for _ in 0..MAX_ATTEMPTS {
            let resolved = self.resolve(project, &input.user, true).await?;
            let plan = match resolved.admit(input) {
                Ok(plan) => plan,
                Err(_) if resolved.cached => {
                    self.cache.forget_user(project, &input.user);
                    continue;
                }
                Err(reason) => return Ok(Decision::denied(reason)),
            };
            let prepared = prepare(plan, input, resolved.started_ms, self.clock.now_ms(), true)?;
            let holds = Holds {
                version: resolved.state.version,
                holds: &prepared.args,
            };
            let (keys, holds) = (&keys, &holds);
            let reply = self
                .run(|mut conn| async move { scripts::check(&mut conn, keys, holds).await })
                .await?;
            match reply {
                Reply::Done(decided) => return Ok(prepared.decision(&decided, None)),
                Reply::More => continue,
                Reply::Stale => self.refresh_after_stale(project, &input.user).await?,
            }
        }
        Err(StoreError::Unsettled(MAX_ATTEMPTS))
    }
}
