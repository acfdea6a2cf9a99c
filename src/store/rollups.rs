//! The daily rollups in Redis: one hash per user (`qg:{p:u}:daily`), fields
//! `<day>|<group>|<stat>` kept by the scripts that change usage, holds and reservations
//! (prelude.lua says which stat is which), pruned with the ledger.

use std::collections::BTreeMap;

use redis::AsyncCommands;

use super::{Store, StoreError};
use crate::quota::{DayActivity, UserId};

impl Store {
    /// The user's rollups of the UTC days from `from_day` to `to_day` (both included), by day
    /// and group. One read of a hash the retention bounds (days x groups x 5 fields).
    pub async fn rollups(
        &self,
        project: &str,
        user: &UserId,
        from_day: i64,
        to_day: i64,
    ) -> Result<BTreeMap<(i64, String), DayActivity>, StoreError> {
        let key = self.keys.user(project, user.as_str()).daily;
        let raw: Vec<(String, i64)> = self
            .run(|mut conn| async move { Ok(conn.hgetall(&key).await?) })
            .await?;
        let mut days = BTreeMap::new();
        for (field, value) in raw {
            let bad = || StoreError::Protocol(format!("rollup field {field}"));
            let (day, rest) = field.split_once('|').ok_or_else(bad)?;
            let (group, stat) = rest.rsplit_once('|').ok_or_else(bad)?;
            let day: i64 = day.parse().map_err(|_| bad())?;
            if !(from_day..=to_day).contains(&day) {
                continue;
            }
            let activity: &mut DayActivity = days.entry((day, group.to_string())).or_default();
            let slot = match stat {
                "u" => &mut activity.used_milli,
                "a" => &mut activity.admitted,
                "d" => &mut activity.denied,
                "r" => &mut activity.releases,
                "x" => &mut activity.expiries,
                _ => return Err(bad()),
            };
            *slot = value;
        }
        Ok(days)
    }
}
