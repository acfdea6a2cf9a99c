//! How often each fallback route of the proxy moved on, and why: one hash per project, a field
//! `<day>|<route>|<reason>` (a UTC day number, the route's `upstream/model` as the operator's
//! upstreams file names it) counting the attempts that gave way. A count of what happened, not
//! quota state: no script keeps it. Bounded: a file declares at most 256 routes, the reasons
//! are a short list, and the hash expires a month after its last count.

use redis::AsyncCommands;

use super::{DataStore, StoreError};

/// A month and a day: the dashboard reads the last 30 days.
const KEPT_MS: i64 = 31 * 86_400_000;

impl DataStore {
    /// Counts one attempt of `route` that gave way on `day` for `reason`.
    pub(crate) async fn count_fallback(
        &self,
        project: &str,
        day: i64,
        route: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let key = self.keys.route_fallbacks(project);
        let field = format!("{day}|{route}|{reason}");
        self.run(|mut conn| async move {
            let _: i64 = conn.hincr(&key, &field, 1).await?;
            let _: () = conn.pexpire(&key, KEPT_MS).await?;
            Ok(())
        })
        .await
    }

    /// The counts from `from_day` on: (day, route, reason, count), in no order.
    pub(crate) async fn route_fallbacks(
        &self,
        project: &str,
        from_day: i64,
    ) -> Result<Vec<(i64, String, String, u64)>, StoreError> {
        let key = self.keys.route_fallbacks(project);
        let raw: Vec<(String, u64)> = self
            .run(|mut conn| async move { Ok(conn.hgetall(&key).await?) })
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|(field, count)| {
                let mut parts = field.splitn(2, '|');
                let day: i64 = parts.next()?.parse().ok()?;
                // (A model may hold a "|"; a reason never does.)
                let (route, reason) = parts.next()?.rsplit_once('|')?;
                (day >= from_day).then(|| (day, route.to_string(), reason.to_string(), count))
            })
            .collect())
    }
}
