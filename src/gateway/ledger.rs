//! Reading the usage ledger: one user's entries, or every user's (through the users index, in
//! time order per user), a page at a time.

use super::{Gateway, GatewayError};
use crate::quota::UserFilter;
use crate::quota::{day_of, UsageDay, UsageEvent, UserId};

/// Where a reading of the ledger stands: the user, and the last entry of theirs already read
/// (None: none yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCursor {
    pub user: UserId,
    pub after: Option<String>,
}

/// A page of ledger entries, and where the next page starts.
#[derive(Debug, Clone)]
pub struct UsageEventPage {
    pub data: Vec<UsageEvent>,
    pub next: Option<LedgerCursor>,
}

impl Gateway {
    /// Up to `limit` entries in [`from_ms`, `to_ms`): of `only` when given, else of every user
    /// in the users index by id, each user's in time order; from `cursor` when given.
    pub async fn usage_events(
        &self,
        project: &str,
        only: Option<&UserId>,
        from_ms: i64,
        to_ms: i64,
        cursor: Option<LedgerCursor>,
        limit: usize,
    ) -> Result<UsageEventPage, GatewayError> {
        let mut data = Vec::with_capacity(limit);
        let mut at = match (cursor, only) {
            (Some(cursor), _) => Some(cursor),
            (None, Some(user)) => Some(LedgerCursor {
                user: user.clone(),
                after: None,
            }),
            (None, None) => self.next_user(project, None).await?,
        };
        while let Some(cursor) = at.take() {
            let want = limit - data.len();
            let entries = self
                .store
                .ledger(project, &cursor.user, cursor.after.as_deref(), from_ms, to_ms, want)
                .await?;
            let full = entries.len() == want;
            let last = entries.last().map(|e| e.position.clone());
            data.extend(entries);
            if full {
                // The page is full; the next starts after its last entry, of this user.
                let next = LedgerCursor {
                    user: cursor.user,
                    after: last,
                };
                return Ok(UsageEventPage { data, next: Some(next) });
            }
            if only.is_some() {
                break;
            }
            at = self.next_user(project, Some(&cursor.user)).await?;
        }
        Ok(UsageEventPage { data, next: None })
    }

    /// The newest `count` entries of `user`'s ledger, newest first (a user's page shows them).
    pub async fn recent_usage_events(
        &self,
        project: &str,
        user: &UserId,
        count: usize,
    ) -> Result<Vec<UsageEvent>, GatewayError> {
        Ok(self.store.ledger_newest(project, user, count).await?)
    }

    /// Whether a usage change of `user` goes to the ledger. When it does, the user is first
    /// made sure of in the project's users index, so project-wide reads and exports find users
    /// on the default plan too; before the script, so a crash between the two can leave an
    /// indexed user without entries, never an entry nobody finds. One round trip per user and
    /// node, then remembered.
    pub(super) async fn ledger_for(&self, project: &str, user: &UserId) -> Result<bool, GatewayError> {
        let on = self.keeps_ledger(project).await?;
        if on && !self.cache.indexed(project, user.as_str()) {
            self.store.index_user_once(project, user).await?;
            self.cache.put_indexed(project, user.as_str());
        }
        Ok(on)
    }

    /// The user's rollups for every UTC day from `from_day` to `to_day` (both included), a
    /// day with no activity included with no groups.
    pub async fn daily_usage(
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
    pub fn today(&self) -> i64 {
        day_of(self.clock.now_ms())
    }

    /// The first user of the index after `after`, or the first of all.
    async fn next_user(&self, project: &str, after: Option<&UserId>) -> Result<Option<LedgerCursor>, GatewayError> {
        let page = self
            .store
            .users(project, after.map(UserId::as_str), 1, &UserFilter::default())
            .await?;
        Ok(page
            .data
            .into_iter()
            .find_map(|entry| UserId::parse(&entry.user_id).ok())
            .map(|user| LedgerCursor { user, after: None }))
    }
}
