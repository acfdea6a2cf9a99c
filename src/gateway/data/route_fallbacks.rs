//! How often each fallback route of the proxy moved on, and why, project-wide: counted as an
//! attempt gives way, read by the dashboard.

use std::collections::BTreeMap;

use super::DataPlane;
use crate::gateway::GatewayError;

const DAY_MS: i64 = 86_400_000;

/// One route's attempts that gave way for one reason, over the days read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFallbacks {
    /// `upstream/model`, as the upstreams file names the route.
    pub route: String,
    pub reason: String,
    pub count: u64,
}

impl DataPlane {
    /// Counts an attempt of `route` that gave way for `reason`, today.
    pub(crate) async fn fell_back(&self, project: &str, route: &str, reason: &str) -> Result<(), GatewayError> {
        let day = self.node.now_ms().div_euclid(DAY_MS);
        Ok(self.store.count_fallback(project, day, route, reason).await?)
    }

    /// Each route's attempts that gave way over the last `days` days (today included), by
    /// reason: most first.
    pub(crate) async fn route_fallbacks(&self, project: &str, days: i64) -> Result<Vec<RouteFallbacks>, GatewayError> {
        let today = self.node.now_ms().div_euclid(DAY_MS);
        let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (_, route, reason, count) in self.store.route_fallbacks(project, today - days + 1).await? {
            *sums.entry((route, reason)).or_default() += count;
        }
        let mut list: Vec<RouteFallbacks> = sums
            .into_iter()
            .map(|((route, reason), count)| RouteFallbacks { route, reason, count })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.route.cmp(&b.route)));
        Ok(list)
    }
}
