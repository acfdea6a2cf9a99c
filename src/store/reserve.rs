//! Reserve and check: resolve the user's plan, compute the matched groups' windows, and let
//! `reserve.lua` decide and hold atomically, or `check.lua` decide without writing.

use super::holds::{prepare, EventInput};
use super::keys::reservation_id;
use super::scripts::{self, Holds, Idempotency, Reply};
use super::{Attempts, QuotaStore, StoreError};
use crate::quota::decision::Granted;
use crate::quota::Decision;
use crate::secrets::random_bytes;

impl QuotaStore {
    /// Holds quota for the event; with an Idempotency-Key, a repeat answers the first answer.
    pub async fn reserve(
        &self,
        project: &str,
        input: &EventInput,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<Decision, StoreError> {
        let keys = &self.keys.user(project, &input.user);
        let mut attempts = Attempts::new();
        loop {
            let resolved = match self.admitted(project, input).await? {
                Ok(resolved) => resolved,
                Err(reason) => return Ok(Decision::denied(reason)),
            };
            let plan = resolved
                .plan
                .as_deref()
                .ok_or_else(|| StoreError::Protocol("admitted without a plan".into()))?;
            let prepared = prepare(plan, input, resolved.started_ms, self.clock.now_ms(), true)?;
            let holds = &Holds {
                version: resolved.sub.version,
                holds: &prepared.args,
            };
            let id = &reservation_id(&input.user, &random_bytes::<16>());
            let reply = self
                .run_script("reserve", |mut conn| async move {
                    let retention_ms = self.retention_ms;
                    let reply = scripts::reserve(
                        &mut conn,
                        keys,
                        retention_ms,
                        idempotency,
                        holds,
                        id,
                        ttl_ms,
                        &input.event,
                    )
                    .await?;
                    self.replicate(&mut conn).await?;
                    Ok(reply)
                })
                .await?;
            match reply {
                Reply::Done(decided) => {
                    let granted = Granted {
                        reservation_id: decided.reservation_id.clone(),
                        expires_at_ms: decided.expires_ms,
                    };
                    return Ok(prepared.decision(&decided, Some(granted)));
                }
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

    /// What reserve would answer now, without writing anything.
    pub async fn check(&self, project: &str, input: &EventInput) -> Result<Decision, StoreError> {
        let keys = &self.keys.user(project, &input.user);
        let mut attempts = Attempts::new();
        loop {
            let resolved = match self.admitted(project, input).await? {
                Ok(resolved) => resolved,
                Err(reason) => return Ok(Decision::denied(reason)),
            };
            let plan = resolved
                .plan
                .as_deref()
                .ok_or_else(|| StoreError::Protocol("admitted without a plan".into()))?;
            let prepared = prepare(plan, input, resolved.started_ms, self.clock.now_ms(), true)?;
            let holds = &Holds {
                version: resolved.sub.version,
                holds: &prepared.args,
            };
            let reply = self
                .run(|mut conn| async move { scripts::check(&mut conn, keys, holds).await })
                .await?;
            match reply {
                Reply::Done(decided) => return Ok(prepared.decision(&decided, None)),
                Reply::More | Reply::Reused => {
                    if !attempts.after_stale() {
                        break;
                    }
                }
                Reply::Stale => {
                    if !attempts.after_stale() {
                        break;
                    }
                    self.refresh_after_stale(project, &input.user).await?
                }
            }
        }
        Err(attempts.exhausted())
    }
}
