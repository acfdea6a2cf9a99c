//! Usage: every group of the user's plan in its current window, read without writing.

use super::keys::counter_field;
use super::scripts;
use super::{Attempts, QuotaStore, StoreError};
use crate::quota::{Counter, Status, Window};

#[derive(Debug, Clone)]
pub struct Usage {
    /// The plan the user is metered by (their own or the default plan), if any.
    pub plan_id: Option<String>,
    pub status: Status,
    /// The plan's default period.
    pub period: Option<Window>,
    pub counters: Vec<Counter>,
}

impl QuotaStore {
    pub async fn usage(&self, project: &str, user: &str) -> Result<Usage, StoreError> {
        let keys = &self.keys.user(project, user);
        let mut attempts = Attempts::new();
        loop {
            let resolved = self.resolve(project, user, false).await?;
            let status = resolved.sub.status;
            let Some(plan) = resolved.plan else {
                return Ok(Usage {
                    plan_id: None,
                    status,
                    period: None,
                    counters: Vec::new(),
                });
            };
            let now_ms = self.clock.now_ms();
            let windows: Vec<Window> = plan
                .groups
                .iter()
                .map(|g| g.window(now_ms, resolved.started_ms))
                .collect();
            let fields = &plan
                .groups
                .iter()
                .zip(&windows)
                .map(|(g, w)| (counter_field(&g.id, w), g.quota))
                .collect::<Vec<_>>();
            let (redis_ms, values) = self
                .run_script("usage", |mut conn| async move {
                    scripts::usage(&mut conn, keys, fields).await
                })
                .await?;
            // A window computed from a clock out of step with Redis would show the wrong period.
            let inside = |w: &Window| w.start_ms <= redis_ms && w.end_ms.is_none_or(|end| redis_ms < end);
            if !windows.iter().all(inside) {
                if !attempts.after_stale() {
                    break;
                }
                self.sync_clock().await?;
                continue;
            }
            let counters = plan
                .groups
                .iter()
                .zip(&windows)
                .zip(&values)
                .map(|((g, w), v)| Counter::of(g, *w, v))
                .collect();
            return Ok(Usage {
                plan_id: Some(plan.id.clone()),
                status,
                period: Some(plan.period.window(now_ms, resolved.started_ms)),
                counters,
            });
        }
        Err(attempts.exhausted())
    }
}
