//! A user's lists of what the door made for them (the jobs of each kind, the files), so the
//! providers' `.list()` can be answered with the caller's own and nobody else's: a sorted set
//! per user, upstream and kind in the user's slot (`listed:<upstream>:<what>`), the provider's
//! ids scored by when they were listed, at most `MAX_LISTED` (the oldest go first, in the same
//! step as an add: `index_listed.lua`). The records the ids name stay where they are
//! (`store/jobs.rs`, the project's slot); an id whose record has expired is skipped and taken
//! out by the reader.

use redis::AsyncCommands;

use super::contract::INDEX_LISTED;
use super::{corrupt, JobStore, StoreError};
use crate::quota::{Cursor, FileRecord, JobRecord, ListPage, Listed};

/// The most ids a user's list of one kind keeps: past it the oldest go.
pub(crate) const MAX_LISTED: usize = 10_000;
/// How far a page looks past its cursor's rank, for ids listed or dropped between the rank's
/// reading and the page's: a list changes by a few ids at a time.
const SLACK: usize = 16;

/// One user's list.
pub(crate) struct ListOf<'a> {
    pub project: &'a str,
    pub user: &'a str,
    pub upstream: &'a str,
    pub what: Listed,
}

impl JobStore {
    fn listed_key(&self, list: &ListOf<'_>) -> String {
        self.keys
            .listed(list.project, list.user, list.upstream, list.what.as_str())
    }

    /// Lists `id` at the head of `list`, which lives at least `keep_ms` more.
    pub(crate) async fn list_object(&self, list: &ListOf<'_>, id: &str, keep_ms: i64) -> Result<(), StoreError> {
        let key = self.listed_key(list);
        let _: i64 = self
            .run(|mut conn| async move {
                Ok(INDEX_LISTED
                    .script()
                    .key(&key)
                    .arg(id)
                    .arg(MAX_LISTED)
                    .arg(keep_ms.max(1))
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(())
    }

    /// Takes ids out of `list` (deleted, or gone at the provider).
    pub(crate) async fn unlist(&self, list: &ListOf<'_>, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let key = self.listed_key(list);
        self.run(|mut conn| async move { Ok(conn.zrem(&key, ids).await?) })
            .await
    }

    /// A page of at most `limit` ids of `list` from `cursor`, newest first (oldest first with
    /// `oldest_first`). An id the cursor names that the list does not hold gives an empty page.
    pub(crate) async fn listed_page(
        &self,
        list: &ListOf<'_>,
        oldest_first: bool,
        cursor: &Cursor,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let key = self.listed_key(list);
        let anchor = match cursor {
            Cursor::Start => {
                let ids = self.ranks(&key, oldest_first, 0, limit).await?;
                return Ok(cut(ids, limit));
            }
            Cursor::After(id) | Cursor::Before(id) => id,
        };
        // The anchor's rank, then the ids around it, twice at most: the list may have moved
        // between the two reads, by more than the slack only under a burst of adds.
        for _ in 0..2 {
            let rank: Option<usize> = {
                let key = &key;
                self.run(|mut conn| async move {
                    Ok(match oldest_first {
                        true => conn.zrank(key, anchor).await?,
                        false => conn.zrevrank(key, anchor).await?,
                    })
                })
                .await?
            };
            let Some(rank) = rank else {
                return Ok(ListPage::default());
            };
            let from = rank.saturating_sub(SLACK + if matches!(cursor, Cursor::Before(_)) { limit } else { 0 });
            let ids = self
                .ranks(&key, oldest_first, from, rank + limit + SLACK - from)
                .await?;
            let Some(at) = ids.iter().position(|id| id == anchor) else {
                continue;
            };
            return Ok(match cursor {
                Cursor::Before(_) => {
                    let first = at.saturating_sub(limit);
                    ListPage {
                        more: from + first > 0,
                        ids: ids[first..at].to_vec(),
                    }
                }
                _ => cut(ids[at + 1..].to_vec(), limit),
            });
        }
        Ok(ListPage::default())
    }

    /// The ids at ranks `from` to `from + count` (one more than `count`, to tell whether more follow).
    async fn ranks(&self, key: &str, oldest_first: bool, from: usize, count: usize) -> Result<Vec<String>, StoreError> {
        let (start, stop) = (from as isize, (from + count) as isize);
        self.run(|mut conn| async move {
            Ok(match oldest_first {
                true => conn.zrange(key, start, stop).await?,
                false => conn.zrevrange(key, start, stop).await?,
            })
        })
        .await
    }

    /// The records of jobs by their keys (`<upstream>/<id>`), None where one has expired.
    pub(crate) async fn jobs_of(&self, project: &str, keys: &[String]) -> Result<Vec<Option<JobRecord>>, StoreError> {
        let raw = self.records(project, "job", keys).await?;
        raw.into_iter()
            .map(|r| {
                r.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("job", e)))
                    .transpose()
            })
            .collect()
    }

    /// The records of files by their keys, None where one has expired.
    pub(crate) async fn job_files_of(
        &self,
        project: &str,
        keys: &[String],
    ) -> Result<Vec<Option<FileRecord>>, StoreError> {
        let raw = self.records(project, "jobfile", keys).await?;
        raw.into_iter()
            .map(|r| {
                r.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("file", e)))
                    .transpose()
            })
            .collect()
    }

    async fn records(&self, project: &str, what: &str, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<String> = keys
            .iter()
            .map(|k| self.keys.jobs(project, &format!("{what}:{k}")))
            .collect();
        self.run(|mut conn| async move { Ok(redis::cmd("MGET").arg(&records).query_async(&mut conn).await?) })
            .await
    }
}

/// `ids` (one more than `limit` when more follow) as a page of `limit`.
fn cut(mut ids: Vec<String>, limit: usize) -> ListPage {
    let more = ids.len() > limit;
    ids.truncate(limit);
    ListPage { ids, more }
}
