//! A project's activity for the dashboard's overview, from the users' daily rollups: reserves
//! admitted and denied per day, and the users who used the most of each group. Every user of
//! the index is read, a page at a time, up to `SAMPLE` (far above a support team's project
//! of thousands), so the overview stays bounded on a huge one and says when it stopped.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use super::{Gateway, GatewayError};
use crate::quota::UserFilter;
use crate::quota::UserId;

/// Users read for the overview at most.
pub const SAMPLE: usize = 50_000;
/// Users read per page of the index.
const PAGE: usize = 1_000;

/// Per UTC day: reserves admitted (per user, the count of the group that admitted the most, so
/// a reserve held in several groups counts once) and denials (summed over the groups that
/// denied); and per group, the users by what they used of it over the range, most first
/// (never a sum across groups, which may count in different units).
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub days: BTreeMap<i64, (i64, i64)>,
    /// Group id -> its ten heaviest users and what they used of it.
    pub top: BTreeMap<String, Vec<(String, f64)>>,
    /// How many users were read (at most `SAMPLE`).
    pub users: usize,
}

impl Gateway {
    pub async fn activity(&self, project: &str, from_day: i64, to_day: i64) -> Result<Activity, GatewayError> {
        let mut activity = Activity::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .users(project, after.as_deref(), PAGE, &UserFilter::default())
                .await?;
            let users: Vec<UserId> = page
                .data
                .iter()
                .filter_map(|u| UserId::parse(&u.user_id).ok())
                .collect();
            activity.users += page.data.len();
            self.add_activity(project, &users, from_day, to_day, &mut activity)
                .await?;
            after = page.next_after;
            if after.is_none() || activity.users >= SAMPLE {
                break;
            }
        }
        for top in activity.top.values_mut() {
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            top.truncate(10);
        }
        Ok(activity)
    }

    async fn add_activity(
        &self,
        project: &str,
        users: &[UserId],
        from_day: i64,
        to_day: i64,
        activity: &mut Activity,
    ) -> Result<(), GatewayError> {
        let read: Vec<_> = futures_util::stream::iter(users.iter())
            .map(|user| async move { (user, self.store.rollups(project, user, from_day, to_day).await) })
            .buffer_unordered(32)
            .collect()
            .await;
        for (user, rollups) in read {
            let mut used: BTreeMap<String, i64> = BTreeMap::new();
            let mut per_day: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
            for ((day, group), a) in rollups? {
                *used.entry(group).or_default() += a.used_milli;
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
            for (group, milli) in used.into_iter().filter(|(_, m)| *m > 0) {
                let top = activity.top.entry(group).or_default();
                top.push((user.to_string(), milli as f64 / 1000.0));
                // Kept short as it grows: only the heaviest ten are shown.
                if top.len() > 64 {
                    top.sort_by(|a, b| b.1.total_cmp(&a.1));
                    top.truncate(10);
                }
            }
        }
        Ok(())
    }
}
