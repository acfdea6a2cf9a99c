//! The users index of a project: who has a subscription state, on which plan, with which status.
//! Pages are ordered by user id and continue after the last id seen, so users added or changed
//! meanwhile never shift a page.

use redis::AsyncCommands;

use super::{AccountsStore, DataStore, Store, StoreError, WorkersStore};
use crate::quota::{Status, UserEntry, UserFilter, UserPage};

/// At most this many index entries are read to fill one filtered page.
const MAX_SCAN: usize = 5_000;

impl AccountsStore {
    /// Whether the project has any state of `user`: an entry in the users index (a
    /// subscription state, or a usage change with the ledger kept), a subscription, or counters
    /// (usage, holds or credits, also with the ledger off).
    pub(crate) async fn user_listed(&self, project: &str, user: &str) -> Result<bool, StoreError> {
        let key = self.keys.users(project);
        let score: Option<f64> = self
            .run(|mut conn| async move { Ok(conn.zscore(&key, user).await?) })
            .await?;
        if score.is_some() {
            return Ok(true);
        }
        let keys = self.keys.user(project, user);
        let (sub, ctr) = (keys.sub(), keys.ctr());
        // Two keys of one hash tag: one slot, one call.
        let found: i64 = self
            .run(|mut conn| async move { Ok(redis::cmd("EXISTS").arg(sub).arg(ctr).query_async(&mut conn).await?) })
            .await?;
        Ok(found > 0)
    }
}

impl Store {
    /// Up to `limit` users after `after` that pass `filter`.
    pub(crate) async fn users(
        &self,
        project: &str,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<UserPage, StoreError> {
        let info_key = &self.keys.user_info(project);
        // A parent's members are read from the members index, everyone else from the users index.
        let (source, (scope, end)) = match &filter.parent_id {
            Some(parent) => (self.keys.members(project), members_range(parent)),
            None => (self.keys.users(project), (String::new(), "+".to_string())),
        };
        let (source, scope, end) = (&source, &scope, &end);
        let batch = limit.max(100);
        let mut data = Vec::with_capacity(limit);
        let mut last = after.map(str::to_string);
        let mut scanned = 0;
        loop {
            let from = match (&last, &filter.prefix) {
                (Some(id), _) => format!("({scope}{id}"),
                // Ids sort by bytes, so those with the prefix start at the prefix itself.
                (None, Some(prefix)) => format!("[{scope}{prefix}"),
                (None, None) if scope.is_empty() => "-".to_string(),
                (None, None) => format!("[{scope}"),
            };
            let entries: Vec<String> = self
                .run(|mut conn| async move { Ok(conn.zrangebylex_limit(source, &from, end, 0, batch as isize).await?) })
                .await?;
            let ids: Vec<String> = entries
                .into_iter()
                .map(|e| e.strip_prefix(scope.as_str()).map(str::to_string).unwrap_or(e))
                .collect();
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
                let Some(entry) = passing(id, info.as_deref(), filter) else {
                    continue;
                };
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

/// The users index's entry of `id` (its info, else the default plan's), when it passes
/// `filter`'s text, plan, status and parent.
fn passing(id: &str, info: Option<&str>, filter: &UserFilter) -> Option<UserEntry> {
    if filter
        .contains
        .as_ref()
        .is_some_and(|c| !id.to_lowercase().contains(c.as_str()))
    {
        return None;
    }
    let entry = match info {
        Some(info) => parse_info(id, info)?,
        // Indexed by a usage change, never subscribed: on the default plan.
        None => UserEntry {
            user_id: id.to_string(),
            plan_id: None,
            status: Status::Active,
            parent_id: None,
        },
    };
    let other_plan = filter
        .plan_id
        .as_ref()
        .is_some_and(|p| entry.plan_id.as_ref() != Some(p));
    let other_status = filter.status.is_some_and(|s| s != entry.status);
    let other_parent = filter.parent_id.is_some() && entry.parent_id != filter.parent_id;
    (!other_plan && !other_status && !other_parent).then_some(entry)
}

/// The most teams a plan edit looks at for slices to end.
const MAX_TEAMS_READ: usize = 10_000;

impl WorkersStore {
    /// The parents (teams) of the project whose subscription is on `plan`, read from the
    /// members index one parent a round trip (the index is in parent order, so each read
    /// jumps past the last parent's members) and the users index's copy of each subscription.
    /// At most 10,000 parents are read.
    pub(crate) async fn teams_on_plan(&self, project: &str, plan: &str) -> Result<Vec<String>, StoreError> {
        let (key, info_key) = (&self.keys.members(project), &self.keys.user_info(project));
        let mut teams = Vec::new();
        let mut from = "-".to_string();
        for _ in 0..MAX_TEAMS_READ {
            let start = &from;
            let first: Vec<String> = self
                .run(|mut conn| async move { Ok(conn.zrangebylex_limit(key, start, "+", 0, 1).await?) })
                .await?;
            let Some(parent) = first
                .first()
                .and_then(|e| e.split_once('\0'))
                .map(|(p, _)| p.to_string())
            else {
                break;
            };
            from = members_range(&parent).1;
            let parent_ref = &parent;
            let info: Option<String> = self
                .run(|mut conn| async move { Ok(conn.hget(info_key, parent_ref).await?) })
                .await?;
            let on_plan = info
                .as_deref()
                .and_then(|i| parse_info(&parent, i))
                .is_some_and(|entry| entry.plan_id.as_deref() == Some(plan));
            if on_plan {
                teams.push(parent);
            }
        }
        Ok(teams)
    }
}

impl AccountsStore {
    /// How many users are on each plan (the users index's counts).
    pub(crate) async fn plan_member_counts(&self, project: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let key = self.keys.plan_users(project);
        self.run(|mut conn| async move { Ok(conn.hgetall(&key).await?) }).await
    }
}

impl DataStore {
    /// How many levels of members hang under `parent`: 0 without members, 1 when none of its
    /// members has members, else 2 (chains are at most three levels, so no more is looked for).
    pub(crate) async fn levels_below(&self, project: &str, parent: &str) -> Result<usize, StoreError> {
        let key = &self.keys.members(project);
        let scope = |id: &str| {
            let (prefix, end) = members_range(id);
            (format!("[{prefix}"), end)
        };
        let mut from = scope(parent).0;
        let mut levels = 0;
        loop {
            let (start, end) = (&from, &scope(parent).1);
            let entries: Vec<String> = self
                .run(|mut conn| async move { Ok(conn.zrangebylex_limit(key, start, end, 0, 500).await?) })
                .await?;
            let Some(last) = entries.last() else {
                return Ok(levels);
            };
            levels = 1;
            from = format!("({last}");
            let members: Vec<&str> = entries
                .iter()
                .filter_map(|e| e.split_once('\0').map(|(_, m)| m))
                .collect();
            let members = &members;
            let nested: Vec<Vec<String>> = self
                .run(|mut conn| async move {
                    let mut pipe = redis::pipe();
                    for m in members {
                        let (start, end) = scope(m);
                        pipe.cmd("ZRANGEBYLEX")
                            .arg(key)
                            .arg(start)
                            .arg(end)
                            .arg("LIMIT")
                            .arg(0)
                            .arg(1);
                    }
                    Ok(pipe.query_async(&mut conn).await?)
                })
                .await?;
            if nested.iter().any(|n| !n.is_empty()) {
                return Ok(2);
            }
        }
    }
}

/// A parent's entries in the members index ("<parent>\0<member>"): their common prefix, and
/// the exclusive end of their range ("<parent>\x01"; ids hold no control characters, so one
/// parent's members sort together).
fn members_range(parent: &str) -> (String, String) {
    (format!("{parent}\0"), format!("({parent}\x01"))
}

/// "<ver>|<status>|<plan>|<parent>" as index_user.lua writes it (entries written before
/// parents existed end after the plan).
fn parse_info(user: &str, info: &str) -> Option<UserEntry> {
    let mut parts = info.splitn(4, '|');
    let _version = parts.next()?;
    let status = if parts.next()? == "blocked" {
        Status::Blocked
    } else {
        Status::Active
    };
    let plan = parts.next()?;
    let parent = parts.next().unwrap_or_default();
    Some(UserEntry {
        user_id: user.to_string(),
        plan_id: Some(plan.to_string()).filter(|p| !p.is_empty()),
        status,
        parent_id: Some(parent.to_string()).filter(|p| !p.is_empty()),
    })
}
