//! Adjustments: an operator's correction of one counter in its current period, never below
//! zero, each kept in the user's audit trail (`qg:{p:u}:audit`, newest first).

use redis::AsyncCommands;
use serde::Deserialize;

use super::keys::counter_field;
use super::scripts::{self, HoldArg, Reply};
use super::{Attempts, QuotaStore, StoreError};
use crate::quota::{Counter, Milli};

/// Audit entries kept per user.
pub const AUDIT_LEN: usize = 1000;

#[derive(Debug, Clone)]
pub enum Adjusted {
    Done {
        counter: Counter,
        applied_milli: i64,
    },
    /// The user is on no plan, so there is no counter to adjust.
    NoPlan,
    /// The user's plan (named) has no such group.
    UnknownGroup(String),
}

/// One adjustment as the audit trail keeps it (every number a string, as adjust.lua writes it).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at: String,
    pub group_id: String,
    pub period_start: String,
    pub requested: String,
    pub applied: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}

impl QuotaStore {
    /// Adds `amount_milli` (negative to refund) to the group's current period.
    pub async fn adjust(
        &self,
        project: &str,
        user: &str,
        group_id: &str,
        amount_milli: i64,
        reason: &str,
    ) -> Result<Adjusted, StoreError> {
        let keys = &self.keys.user(project, user);
        let mut attempts = Attempts::new();
        loop {
            let resolved = self.resolve(project, user, false).await?;
            let Some(plan) = &resolved.plan else {
                return Ok(Adjusted::NoPlan);
            };
            let Some(group) = plan.groups.iter().find(|g| g.id == group_id) else {
                return Ok(Adjusted::UnknownGroup(plan.id.clone()));
            };
            let window = group.window(self.clock.now_ms(), resolved.started_ms);
            let hold = &HoldArg {
                group: &group.id,
                field: counter_field(&group.id, &window),
                start_ms: window.start_ms,
                end_ms: window.end_ms,
                amount: Milli::ZERO,
                quota: group.quota,
                mode: group.mode,
                concurrent: false,
                measure: String::new(),
            };
            let version = resolved.sub.version;
            let reply = self
                .run_script("adjust", |mut conn| async move {
                    let reply = scripts::adjust(
                        &mut conn,
                        keys,
                        self.retention_ms,
                        version,
                        hold,
                        amount_milli,
                        reason,
                        AUDIT_LEN,
                    )
                    .await?;
                    self.replicate(&mut conn).await?;
                    Ok(reply)
                })
                .await?;
            match reply {
                Reply::Done((applied_milli, values)) => {
                    let counter = Counter::of(group, window, &values);
                    return Ok(Adjusted::Done { counter, applied_milli });
                }
                Reply::More if attempts.after_more() => continue,
                Reply::More | Reply::Reused => break,
                Reply::Stale if attempts.after_stale() => self.refresh_after_stale(project, user).await?,
                Reply::Stale => break,
            }
        }
        Err(attempts.exhausted())
    }

    /// The user's audit trail, newest first.
    pub async fn adjustments(&self, project: &str, user: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let key = self.keys.user(project, user).audit;
        let raw: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.lrange(&key, 0, -1).await?) })
            .await?;
        raw.iter()
            .map(|json| serde_json::from_str(json).map_err(|e| StoreError::Protocol(format!("audit entry: {e}"))))
            .collect()
    }
}
