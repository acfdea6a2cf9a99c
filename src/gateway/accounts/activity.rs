//! A project's activity for the dashboard's overview, from the users' daily rollups: reserves
//! admitted and denied per day, and the users who used the most of each group, over every
//! user of the index whatever their number. Reading every user's rollups costs in proportion
//! to the project, so a page never does it: the activity is computed in the background by one
//! node at a time (a lease), kept in Redis, and read by every view, which says when it was
//! computed; a view that finds it older than `FRESH_MS` (or of another day) starts the next
//! computation and shows the last one meanwhile.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::Accounts;
use crate::gateway::GatewayError;
use crate::quota::UserFilter;
use crate::quota::UserId;
use crate::secrets::random_bytes;

/// Users read per page of the index.
const PAGE: usize = 1_000;
/// How old an overview's activity may be before a view starts the next computation.
const FRESH_MS: i64 = 5 * 60_000;
/// How long a view waits for a computation when there is no activity to show yet.
const FIRST_WAIT: Duration = Duration::from_secs(5);
/// The lease of the node computing, renewed after each page of the index: a node that dies
/// mid-way leaves it for at most this long; a count that failed keeps it until it lapses, so
/// views do not start a count a second.
const LEASE_MS: u64 = 60_000;
/// How long the activity is kept.
const KEEP: Duration = Duration::from_secs(2 * 86_400);

/// Per UTC day: reserves admitted (per user, the count of the group that admitted the most, so
/// a reserve held in several groups counts once) and denials (summed over the groups that
/// denied); and per group, the users by what they used of it over the range, most first
/// (never a sum across groups, which may count in different units).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Activity {
    pub days: BTreeMap<i64, (i64, i64)>,
    /// Group id -> its ten heaviest users and what they used of it.
    pub top: BTreeMap<String, Vec<(String, f64)>>,
    /// How many users were read: every user of the index.
    pub users: usize,
    /// The days it covers, and when it was computed.
    pub from_day: i64,
    pub to_day: i64,
    pub as_of_ms: i64,
}

/// What a view of the overview shows: the latest activity computed, if any, and whether a
/// newer one is being computed.
#[derive(Debug, Clone)]
pub struct Overview {
    pub activity: Option<Activity>,
    pub computing: bool,
}

impl Accounts<'_> {
    /// The overview's activity over the last `days` days: the latest computed, and a new
    /// computation started when it is missing, of another day, older than `FRESH_MS`, or
    /// `fresh` is asked for (unless one is under way). Without any, it waits up to
    /// `FIRST_WAIT` for the first. A lease Redis could not give shows the last count.
    pub(crate) async fn overview(&self, project: &str, days: i64, fresh: bool) -> Result<Overview, GatewayError> {
        let kept: Option<Activity> = match self.store.overview(project).await? {
            Some(text) => serde_json::from_str(&text).ok(),
            None => None,
        };
        let (today, now) = (self.data.today(), self.data.node.now_ms());
        let current = kept
            .as_ref()
            .is_some_and(|a| a.to_day == today && now - a.as_of_ms < FRESH_MS);
        if current && !fresh {
            return Ok(Overview {
                activity: kept,
                computing: false,
            });
        }
        let token = hex::encode(random_bytes::<16>());
        match self.store.lock_overview(project, &token, LEASE_MS).await {
            Ok(true) => {}
            // Another node is counting.
            Ok(false) => {
                return Ok(Overview {
                    activity: kept,
                    computing: true,
                })
            }
            Err(err) if kept.is_some() => {
                tracing::warn!(%err, project, "the overview's lease could not be taken");
                return Ok(Overview {
                    activity: kept,
                    computing: false,
                });
            }
            Err(err) => return Err(err.into()),
        }
        // The computation outlives this view: it holds a copy of the workers (and so of the
        // data plane under them) and views the accounts through it.
        let (workers, store, owned) = (self.workers.clone(), self.store.clone(), project.to_string());
        let computing = tokio::spawn(async move {
            let gateway = Accounts::new(&workers.data, &workers, &store);
            let computed = gateway.compute_activity(&owned, today - (days - 1), today).await;
            match &computed {
                Ok(activity) => {
                    if let Ok(text) = serde_json::to_string(activity) {
                        let kept = gateway.store.put_overview(&owned, text, KEEP).await;
                        if let Err(err) = kept {
                            tracing::warn!(%err, project = owned, "the overview could not be kept");
                        }
                    }
                    let _ = gateway.store.unlock_overview(&owned, &token).await;
                }
                // The lease stays until it lapses: the next count waits that long.
                Err(err) => tracing::warn!(%err, project = owned, "the overview could not be counted"),
            }
            computed
        });
        if kept.is_some() {
            return Ok(Overview {
                activity: kept,
                computing: true,
            });
        }
        match tokio::time::timeout(FIRST_WAIT, computing).await {
            Ok(Ok(computed)) => Ok(Overview {
                activity: Some(computed?),
                computing: false,
            }),
            // Still computing (or the task ended without an answer): the page says so.
            _ => Ok(Overview {
                activity: None,
                computing: true,
            }),
        }
    }

    /// The activity of every user of the index over [`from_day`, `to_day`], a page of the
    /// index at a time.
    async fn compute_activity(&self, project: &str, from_day: i64, to_day: i64) -> Result<Activity, GatewayError> {
        let mut activity = Activity {
            from_day,
            to_day,
            ..Activity::default()
        };
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
            self.store.renew_overview(project, LEASE_MS).await?;
            after = page.next_after;
            if after.is_none() {
                break;
            }
        }
        for top in activity.top.values_mut() {
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            top.truncate(10);
        }
        activity.as_of_ms = self.data.node.now_ms();
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
        // Owned ids: a closure over borrowed ones is not `Send` for every lifetime, which the
        // background computation's task needs.
        let read: Vec<_> = futures_util::stream::iter(users.iter().cloned())
            .map(|user| async move {
                let rollups = self.store.rollups(project, &user, from_day, to_day).await;
                (user, rollups)
            })
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
