//! Reading the usage ledger: one user's entries, or every user's with entries in a range
//! (through the project's ledger index, day by day), a page at a time.

use super::DataPlane;
use crate::gateway::GatewayError;
use crate::quota::UserFilter;
use crate::quota::{day_of, UsageDay, UsageEvent, UserId, DAY_MS};

/// Where a reading of the ledger stands: the stage (a UTC day of the project's ledger index, or
/// None for one user's whole range or for the entries older than the index), the user, and
/// the last entry of theirs already read there (None: none yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCursor {
    pub day: Option<i64>,
    pub user: UserId,
    pub after: Option<String>,
}

/// A page of ledger entries, and where the next page starts.
#[derive(Debug, Clone)]
pub struct UsageEventPage {
    pub data: Vec<UsageEvent>,
    pub next: Option<LedgerCursor>,
}

/// What a reading of the ledger covers: one user's (a parent's by `member`) or every user's,
/// in [`from_ms`, `to_ms`).
#[derive(Debug, Clone, Copy)]
pub struct LedgerQuery<'a> {
    pub user: Option<&'a UserId>,
    pub member: Option<&'a UserId>,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// How near a day's boundary a ledger write also indexes the neighbouring day: the node's
/// clock and Redis time (which stamps the entry) differ by far less.
const DAY_MARGIN_MS: i64 = 60_000;

impl DataPlane {
    /// Up to `limit` entries of `query`: of its user when given, each in time order (with a
    /// member, only those of that member's events, in a parent's ledger);
    /// else of every user with entries in the range, found through the project's ledger index
    /// day by day (each day's users by id, each user's entries of that day in time order),
    /// after the entries older than the index, found through the users index by id. From
    /// `cursor` when given. A page reads at most `limit` users' entries, so its cost is bounded
    /// by its limit whatever the project's size: a page can hold fewer entries than `limit`
    /// and still have a next one.
    pub async fn usage_events(
        &self,
        project: &str,
        query: &LedgerQuery<'_>,
        cursor: Option<LedgerCursor>,
        limit: usize,
    ) -> Result<UsageEventPage, GatewayError> {
        let LedgerQuery {
            user: only,
            member,
            from_ms,
            to_ms,
        } = *query;
        let since = self.ledger_index_since();
        let mut data = Vec::with_capacity(limit);
        let mut at = match (cursor, only) {
            (Some(cursor), _) => Some(cursor),
            (None, Some(user)) => Some(LedgerCursor {
                day: None,
                user: user.clone(),
                after: None,
            }),
            (None, None) if from_ms < since => match self.next_indexed_user(project, None).await? {
                Some(first) => Some(first),
                None => self.next_day_user(project, from_ms, to_ms, None, None).await?,
            },
            (None, None) => self.next_day_user(project, from_ms, to_ms, None, None).await?,
        };
        let mut visits = 0;
        while let Some(cursor) = at.take() {
            if visits == limit {
                return Ok(UsageEventPage {
                    data,
                    next: Some(cursor),
                });
            }
            visits += 1;
            // The stage's part of the range: a day's, or what is older than the index.
            let (low, high) = match (cursor.day, only) {
                (_, Some(_)) => (from_ms, to_ms),
                (Some(day), None) => (
                    from_ms.max(day.saturating_mul(DAY_MS)),
                    to_ms.min(day.saturating_add(1).saturating_mul(DAY_MS)),
                ),
                (None, None) => (from_ms, to_ms.min(since)),
            };
            let want = limit - data.len();
            let entries = self
                .store
                .ledger(project, &cursor.user, cursor.after.as_deref(), low, high, want)
                .await?;
            let full = entries.len() == want;
            let last = entries.last().map(|e| e.position.clone());
            // A member filter keeps the entries of that member's events: a page read in full
            // may then hold fewer, and still names the next.
            data.extend(entries.into_iter().filter(|e| match member {
                Some(m) => e.member.as_deref() == Some(m.as_str()),
                None => true,
            }));
            if full {
                // The page is full; the next starts after its last entry, of this user.
                let next = LedgerCursor { after: last, ..cursor };
                return Ok(UsageEventPage { data, next: Some(next) });
            }
            at = match (cursor.day, only) {
                (_, Some(_)) => None,
                (Some(day), None) => {
                    self.next_day_user(project, from_ms, to_ms, Some(day), Some(&cursor.user))
                        .await?
                }
                (None, None) => match self.next_indexed_user(project, Some(&cursor.user)).await? {
                    Some(next) => Some(next),
                    None => self.next_day_user(project, from_ms, to_ms, None, None).await?,
                },
            };
        }
        Ok(UsageEventPage { data, next: None })
    }

    /// The newest `count` entries of `user`'s ledger, newest first (a user's page shows them);
    /// with `before` (an entry's position), those older than it.
    pub(crate) async fn recent_usage_events(
        &self,
        project: &str,
        user: &UserId,
        before: Option<&str>,
        count: usize,
    ) -> Result<Vec<UsageEvent>, GatewayError> {
        Ok(self.store.ledger_newest(project, user, before, count).await?)
    }

    /// Whether a usage change of `user` goes to the ledger. When it does, the user is first
    /// made sure of in the project's users index (so project-wide reads find users on the
    /// default plan too) and in the ledger index of today (and of the neighbouring day near a
    /// boundary, since Redis time stamps the entry); before the script, so a crash between the
    /// two can leave an indexed user without entries, never an entry nobody finds. One round
    /// trip per user, day and node, then remembered.
    pub(super) async fn ledger_for(&self, project: &str, user: &UserId) -> Result<bool, GatewayError> {
        let on = self.node.keeps_ledger(project).await?;
        if !on {
            return Ok(false);
        }
        let now = self.node.clock.now_ms();
        let (first, last) = (day_of(now - DAY_MARGIN_MS), day_of(now + DAY_MARGIN_MS));
        if self.node.cache.indexed_until(project, user.as_str()) < Some(last) {
            let days: Vec<i64> = (first..=last).collect();
            self.store.index_ledger_user(project, user, &days).await?;
            self.node.cache.put_indexed(project, user.as_str(), last);
        }
        Ok(true)
    }

    /// The user's rollups for every UTC day from `from_day` to `to_day` (both included), a
    /// day with no activity included with no groups.
    pub(crate) async fn daily_usage(
        &self,
        project: &str,
        user: &UserId,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<UsageDay>, GatewayError> {
        let mut rollups = self
            .store
            .rollups(project, user, from_day, to_day)
            .await?
            .into_iter()
            .peekable();
        let mut days = Vec::new();
        for day in from_day..=to_day {
            let mut groups = Vec::new();
            while let Some(((_, group), activity)) = rollups.next_if(|((d, _), _)| *d == day) {
                groups.push((group, activity));
            }
            days.push(UsageDay { day, groups });
        }
        Ok(days)
    }

    /// Today's UTC day by this node's view of Redis time.
    pub(crate) fn today(&self) -> i64 {
        day_of(self.node.clock.now_ms())
    }

    /// The instant from which every ledger entry is in the project's ledger index (learnt at
    /// the node's start; 0 for a deployment that kept the index from its first start).
    fn ledger_index_since(&self) -> i64 {
        self.ledger_since.get().copied().unwrap_or(0)
    }

    /// The first user of the users index after `after`, or the first of all, to read the
    /// entries older than the ledger index.
    async fn next_indexed_user(
        &self,
        project: &str,
        after: Option<&UserId>,
    ) -> Result<Option<LedgerCursor>, GatewayError> {
        let page = self
            .store
            .users(project, after.map(UserId::as_str), 1, &UserFilter::default())
            .await?;
        Ok(page
            .data
            .into_iter()
            .find_map(|entry| UserId::parse(&entry.user_id).ok())
            .map(|user| LedgerCursor {
                day: None,
                user,
                after: None,
            }))
    }

    /// The next user of the ledger index within [`from_ms`, `to_ms`) after `user` of `day`
    /// (both None: from the start of the indexed part of the range): the next user of that
    /// day, else the first of the next day with entries. A day whose users' set lapsed is
    /// passed over.
    async fn next_day_user(
        &self,
        project: &str,
        from_ms: i64,
        to_ms: i64,
        day: Option<i64>,
        user: Option<&UserId>,
    ) -> Result<Option<LedgerCursor>, GatewayError> {
        if let (Some(day), Some(user)) = (day, user) {
            if let Some(next) = self.store.next_ledger_user(project, day, Some(user)).await? {
                return Ok(Some(LedgerCursor {
                    day: Some(day),
                    user: next,
                    after: None,
                }));
            }
        }
        let (first_day, last_day) = (day_of(from_ms.max(self.ledger_index_since())), day_of(to_ms - 1));
        let mut after = day;
        while let Some(next_day) = self.store.next_ledger_day(project, first_day, last_day, after).await? {
            if let Some(first) = self.store.next_ledger_user(project, next_day, None).await? {
                return Ok(Some(LedgerCursor {
                    day: Some(next_day),
                    user: first,
                    after: None,
                }));
            }
            after = Some(next_day);
        }
        Ok(None)
    }
}
