//! A project's activity for the dashboard's overview, from the users' daily rollups: reserves
//! admitted and denied per day, and the users who used the most. Read from the first users of
//! the index only (`SAMPLE`), so the overview stays quick on a large project.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use super::{Gateway, GatewayError};
use crate::quota::UserFilter;
use crate::quota::UserId;

/// Users read for the overview at most.
pub const SAMPLE: usize = 1_000;

/// Per UTC day: reserves admitted (per user, the count of the group that admitted the most, so
/// a reserve held in several groups counts once) and denials (summed over the groups that
/// denied); and the users by units used over the range, most first.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub days: BTreeMap<i64, (i64, i64)>,
    pub top: Vec<(String, f64)>,
    /// How many users were read (at most `SAMPLE`).
    pub users: usize,
}

impl Gateway {
    pub async fn activity(&self, project: &str, from_day: i64, to_day: i64) -> Result<Activity, GatewayError> {
        let page = self.store.users(project, None, SAMPLE, &UserFilter::default()).await?;
        let users: Vec<UserId> = page
            .data
            .iter()
            .filter_map(|u| UserId::parse(&u.user_id).ok())
            .collect();
        let read: Vec<_> = futures_util::stream::iter(users.iter())
            .map(|user| async move { (user, self.store.rollups(project, user, from_day, to_day).await) })
            .buffer_unordered(32)
            .collect()
            .await;
        let mut activity = Activity {
            users: users.len(),
            ..Activity::default()
        };
        for (user, rollups) in read {
            let mut used = 0.0;
            let mut per_day: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
            for ((day, _), a) in rollups? {
                used += a.used_milli as f64 / 1000.0;
                // Every group of an admitted reserve counts it: take the most any group saw.
                let entry = per_day.entry(day).or_default();
                entry.0 = entry.0.max(a.admitted);
                entry.1 += a.denied;
            }
            for (day, (admitted, denied)) in per_day {
                let total = activity.days.entry(day).or_default();
                total.0 += admitted;
                total.1 += denied;
            }
            if used > 0.0 {
                activity.top.push((user.to_string(), used));
            }
        }
        activity.top.sort_by(|a, b| b.1.total_cmp(&a.1));
        activity.top.truncate(10);
        Ok(activity)
    }
}
