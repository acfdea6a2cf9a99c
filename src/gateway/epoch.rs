//! The cache policy for configuration: plans, project settings and keys are trusted from the
//! node's cache until the config epoch moves; every change bumps the epoch, and every node
//! polls it, so a change reaches all nodes within `EPOCH_POLL` plus a round trip.

use std::sync::Arc;
use std::time::Duration;

use super::node::Node;
use super::GatewayError;
use crate::metrics::{CacheKind, Fixed};
use crate::quota::Plan;
use crate::quota::{KeyRecord, ProjectSettings};

/// How often a node looks at the config epoch; settings reach every node within this plus a round trip.
pub const EPOCH_POLL: Duration = Duration::from_millis(250);
/// How long a node that cannot read the epoch goes on deciding from the config it holds. A
/// stalled or failing-over shard that keeps the epoch then stops none of the other shards'
/// users, and a change made meanwhile (whose own move of the epoch waits on that shard) is
/// seen at the first read that succeeds, or once this has passed.
pub(crate) const EPOCH_UNREAD_GRACE: Duration = Duration::from_secs(10);
/// How often the node's clock is measured against Redis `TIME` again, in epoch polls.
const CLOCK_SYNC_EVERY: u32 = 20;

impl Node {
    fn cache_lookup(&self, cache: CacheKind, hit: bool) {
        self.metrics.bump(if hit {
            Fixed::CacheHit(cache)
        } else {
            Fixed::CacheMiss(cache)
        });
    }

    /// A plan, from the node's cache while the config epoch stands.
    pub(crate) async fn plan(&self, project: &str, id: &str) -> Result<Option<Arc<Plan>>, GatewayError> {
        if let Some(plan) = self.cache.plan(project, id) {
            self.cache_lookup(CacheKind::Plan, true);
            return Ok(Some(plan));
        }
        self.cache_lookup(CacheKind::Plan, false);
        let plan = self.store.load_plan(project, id).await?.map(Arc::new);
        if let Some(plan) = &plan {
            self.cache.put_plan(project, plan.clone());
        }
        Ok(plan)
    }

    /// A project's settings, from the node's cache while the config epoch stands.
    pub(crate) async fn project_settings(&self, project: &str) -> Result<Option<ProjectSettings>, GatewayError> {
        if let Some(settings) = self.cache.settings(project) {
            self.cache_lookup(CacheKind::Settings, true);
            return Ok(settings);
        }
        self.cache_lookup(CacheKind::Settings, false);
        let settings = self.store.load_settings(project).await?;
        self.cache.put_settings(project, settings.clone());
        Ok(settings)
    }

    /// Whether the project writes its usage changes to the ledger (unknown projects do).
    pub(super) async fn keeps_ledger(&self, project: &str) -> Result<bool, GatewayError> {
        if let Some(on) = self.cache.keeps_ledger(project) {
            self.cache_lookup(CacheKind::Settings, true);
            return Ok(on);
        }
        Ok(self.project_settings(project).await?.is_none_or(|s| s.ledger))
    }

    /// The key with this digest, from the node's cache while the config epoch stands.
    /// Unknown digests are not cached, so guessing keys cannot fill a node's memory.
    pub(super) async fn find_key(&self, digest_hex: &str) -> Result<Option<Arc<KeyRecord>>, GatewayError> {
        if let Some(record) = self.cache.key(digest_hex) {
            self.cache_lookup(CacheKind::Key, true);
            return Ok(Some(record));
        }
        self.cache_lookup(CacheKind::Key, false);
        let record = self.store.load_key(digest_hex).await?.map(Arc::new);
        if let Some(record) = &record {
            self.cache.put_key(digest_hex, record.clone());
        }
        Ok(record)
    }

    /// Tells every node that plans, settings or keys changed, and forgets them here at once.
    pub(super) async fn bump_epoch(&self) -> Result<(), GatewayError> {
        self.cache.clear_config();
        Ok(self.store.bump_epoch().await?)
    }

    /// Clears cached config when the epoch moved. A node that cannot read it keeps its config
    /// for `EPOCH_UNREAD_GRACE`, then clears it, and clears it at the first read that succeeds
    /// after, so it never serves config older than Redis once Redis is back.
    pub(crate) async fn poll_epoch(&self) {
        let clear = match self.store.epoch().await {
            Ok(epoch) => self.cache.epoch_moved(epoch.unwrap_or(0)),
            Err(_) => self.cache.epoch_unread() >= EPOCH_UNREAD_GRACE,
        };
        if clear {
            self.cache.clear_config();
        }
    }

    /// Polls the epoch and keeps the clock in step with Redis, until the process ends.
    pub(crate) async fn refresh_forever(self) {
        let mut ticks: u32 = 0;
        loop {
            tokio::time::sleep(EPOCH_POLL).await;
            self.poll_epoch().await;
            ticks = ticks.wrapping_add(1);
            if ticks.is_multiple_of(CLOCK_SYNC_EVERY) {
                if let Err(err) = self.sync_clock().await {
                    tracing::debug!(%err, "clock sync skipped");
                }
            }
        }
    }
}
