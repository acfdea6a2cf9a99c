//! The project's index of ledger activity by day: which UTC days had entries
//! (`qg:{p}:ledger_days`) and which users had entries on each (`qg:{p}:ledger_users:<day>`),
//! so a project-wide reading of the ledger visits only users with entries in its range. The
//! node writes it before the script that appends the entry (an indexed user without an entry
//! can be left by a crash; an entry nobody finds cannot), and it lapses with the ledger.

use redis::AsyncCommands;

use super::{AccountsStore, DataStore, StoreError};
use crate::quota::{UserId, DAY_MS};

impl DataStore {
    /// Notes `user` in the project's users index and in the ledger index of each of `days`
    /// (one round trip); each day's set lapses when the ledger no longer keeps that day.
    pub(crate) async fn index_ledger_user(&self, project: &str, user: &UserId, days: &[i64]) -> Result<(), StoreError> {
        let (users, day_index) = (self.keys.users(project), self.keys.ledger_days(project));
        let newest = days.iter().copied().max().unwrap_or_default();
        let oldest_kept = newest.saturating_sub(self.ledger_retention_ms / DAY_MS + 1);
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(&users)
            .arg("NX")
            .arg(0)
            .arg(user.as_str())
            .ignore();
        for &day in days {
            let key = self.keys.ledger_day_users(project, day);
            let lapses_ms = (day + 1)
                .saturating_mul(DAY_MS)
                .saturating_add(self.ledger_retention_ms);
            pipe.cmd("ZADD").arg(&key).arg(0).arg(user.as_str()).ignore();
            pipe.cmd("PEXPIREAT").arg(&key).arg(lapses_ms).ignore();
            pipe.cmd("ZADD").arg(&day_index).arg(day).arg(day).ignore();
        }
        // Days the ledger no longer keeps leave the list of days.
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&day_index)
            .arg("-inf")
            .arg(format!("({oldest_kept}"))
            .ignore();
        self.run(|mut conn| async move { Ok(pipe.query_async::<()>(&mut conn).await?) })
            .await
    }

    /// The first day of the index from `from_day` to `to_day` (both included) after `after`
    /// (exclusive), if any.
    pub(crate) async fn next_ledger_day(
        &self,
        project: &str,
        from_day: i64,
        to_day: i64,
        after: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        let key = self.keys.ledger_days(project);
        let low = match after {
            Some(day) => format!("({day}"),
            None => from_day.to_string(),
        };
        let days: Vec<i64> = self
            .run(|mut conn| async move { Ok(conn.zrangebyscore_limit(&key, low, to_day, 0, 1).await?) })
            .await?;
        Ok(days.first().copied())
    }

    /// The first user with entries on `day` after `after` (exclusive) in id order, if any.
    pub(crate) async fn next_ledger_user(
        &self,
        project: &str,
        day: i64,
        after: Option<&UserId>,
    ) -> Result<Option<UserId>, StoreError> {
        let key = self.keys.ledger_day_users(project, day);
        let low = match after {
            Some(user) => format!("({}", user.as_str()),
            None => "-".to_string(),
        };
        let users: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.zrangebylex_limit(&key, low, "+", 0, 1).await?) })
            .await?;
        Ok(users.into_iter().next().and_then(|u| UserId::parse(&u).ok()))
    }
}

impl AccountsStore {
    /// The instant from which the ledger index is complete: `fresh` when this call stored it
    /// (a deployment's first node), else the one stored before.
    pub(crate) async fn ledger_index_since(&self, fresh_ms: i64) -> Result<i64, StoreError> {
        let key = self.keys.ledger_index_since();
        self.run(|mut conn| async move {
            let _: bool = conn.set_nx(&key, fresh_ms).await?;
            let stored: Option<i64> = conn.get(&key).await?;
            stored.ok_or_else(|| StoreError::Protocol("the ledger index's start vanished".into()))
        })
        .await
    }
}
