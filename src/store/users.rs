//! The users index of a project: who has a subscription state, on which plan, with which status.
//! Pages are ordered by user id and continue after the last id seen, so users added or changed
//! meanwhile never shift a page.

use redis::AsyncCommands;

use super::{Store, StoreError};
use crate::quota::{Status, UserId};

/// At most this many index entries are read to fill one filtered page.
const MAX_SCAN: usize = 5_000;

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub plan_id: Option<String>,
    pub status: Option<Status>,
    /// Only ids that start with this.
    pub prefix: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserEntry {
    pub user_id: String,
    pub plan_id: Option<String>,
    pub status: Status,
}

#[derive(Debug, Clone)]
pub struct UserPage {
    pub data: Vec<UserEntry>,
    /// The last user id looked at, when more may follow.
    pub next_after: Option<String>,
}

impl Store {
    /// Up to `limit` users after `after` that pass `filter`.
    pub async fn users(
        &self,
        project: &str,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<UserPage, StoreError> {
        let (users_key, info_key) = (&self.keys.users(project), &self.keys.user_info(project));
        let batch = limit.max(100);
        let mut data = Vec::with_capacity(limit);
        let mut last = after.map(str::to_string);
        let mut scanned = 0;
        loop {
            let from = match (&last, &filter.prefix) {
                (Some(id), _) => format!("({id}"),
                // Ids sort by bytes, so those with the prefix start at the prefix itself.
                (None, Some(prefix)) => format!("[{prefix}"),
                (None, None) => "-".to_string(),
            };
            let ids: Vec<String> =
                self.run(|mut conn| async move {
                    Ok(conn.zrangebylex_limit(users_key, &from, "+", 0, batch as isize).await?)
                })
                .await?;
            if ids.is_empty() {
                return Ok(UserPage { data, next_after: None });
            }
            let ids_ref = &ids;
            let infos: Vec<Option<String>> = self
                .run(|mut conn| async move {
                    Ok(redis::cmd("HMGET")
                        .arg(info_key)
                        .arg(ids_ref)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            for (id, info) in ids.iter().zip(infos) {
                if filter.prefix.as_ref().is_some_and(|p| !id.starts_with(p.as_str())) {
                    // Past the last id with the prefix: nothing further can match.
                    return Ok(UserPage { data, next_after: None });
                }
                last = Some(id.clone());
                scanned += 1;
                let entry = match info.as_deref() {
                    Some(info) => match parse_info(id, info) {
                        Some(entry) => entry,
                        None => continue,
                    },
                    // Indexed by a usage change, never subscribed: on the default plan.
                    None => UserEntry {
                        user_id: id.clone(),
                        plan_id: None,
                        status: Status::Active,
                    },
                };
                if filter
                    .plan_id
                    .as_ref()
                    .is_some_and(|p| entry.plan_id.as_ref() != Some(p))
                {
                    continue;
                }
                if filter.status.is_some_and(|s| s != entry.status) {
                    continue;
                }
                data.push(entry);
                if data.len() == limit {
                    return Ok(UserPage { data, next_after: last });
                }
            }
            if ids.len() < batch {
                return Ok(UserPage { data, next_after: None });
            }
            if scanned >= MAX_SCAN {
                // A sparse filter: answer what was found and let the cursor go on from here.
                return Ok(UserPage { data, next_after: last });
            }
        }
    }
}

impl Store {
    /// How many users are on each plan (the users index's counts).
    pub async fn plan_member_counts(&self, project: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let key = self.keys.plan_users(project);
        self.run(|mut conn| async move { Ok(conn.hgetall(&key).await?) }).await
    }

    /// Adds the user to the project's users index unless it is there. Users on the default
    /// plan have no subscription to index them; their first usage change does.
    pub async fn index_user_once(&self, project: &str, user: &UserId) -> Result<(), StoreError> {
        let key = self.keys.users(project);
        self.run(|mut conn| async move {
            let _: i64 = redis::cmd("ZADD")
                .arg(&key)
                .arg("NX")
                .arg(0)
                .arg(user.as_str())
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}

/// "<ver>|<status>|<plan>" as index_user.lua writes it.
fn parse_info(user: &str, info: &str) -> Option<UserEntry> {
    let mut parts = info.splitn(3, '|');
    let _version = parts.next()?;
    let status = if parts.next()? == "blocked" {
        Status::Blocked
    } else {
        Status::Active
    };
    let plan = parts.next()?;
    Some(UserEntry {
        user_id: user.to_string(),
        plan_id: Some(plan.to_string()).filter(|p| !p.is_empty()),
        status,
    })
}
