//! Approval requests in Redis: the state that decides them lives in the subject's slot (the
//! counter's ":ap" field, lua/library/functions/reserve.lua and lua/scripts/decide_approval.lua); the project keeps a
//! copy to list them (lua/scripts/index_approval.lua), brought up to each event.

use redis::AsyncCommands;

use super::scripts::{self, ApprovalDecided, DecideArgs, Reply};
use super::subscriptions::{encode_override, from_hash};
use super::{DataStore, StoreError};
use crate::quota::{Approval, ApprovalStatus, Override, Subscription, UserId};

/// How a decision went, as the gateway sees it.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Decided now: the event's outbox id (its time is the decision's) and the subscription.
    Done {
        event: String,
        sub: Subscription,
    },
    /// Decided before, as it stands (the gateway answers as for an unknown one).
    Already(#[allow(dead_code)] ApprovalStatus),
    NotFound,
    /// The approval's override would be one more than the subject may keep.
    OverrideLimit,
}

/// How many of one user's requests a list filtered by user reads at once, and how many such
/// reads one page makes at most (then it names where it stopped as its next page).
const USER_BATCH: usize = 200;
const MAX_BATCHES: usize = 50;
/// Ids read past a cursor's millisecond, for requests made in the same one.
const SAME_MS_SLACK: usize = 64;

/// A page of approval requests: oldest first, and where the next page starts.
pub(crate) type ApprovalPage = (Vec<Approval>, Option<(i64, String)>);

impl DataStore {
    /// Brings the project's copy of `a` up to it: a pending request is written once, a decided
    /// one replaces it. Answers whether the copy changed.
    pub(crate) async fn index_approval(&self, project: &str, a: &Approval) -> Result<bool, StoreError> {
        let [hash, all, pending, approved, declined] = self.keys.approvals(project);
        let keys = &[
            hash,
            all,
            pending,
            approved,
            declined,
            self.keys.approvals_of(project, &a.user_id),
        ];
        let json = &serde_json::to_string(a).map_err(|e| StoreError::Protocol(e.to_string().into()))?;
        self.run(|mut conn| async move {
            scripts::index_approval(&mut conn, keys, &a.id, json, a.status.as_str(), a.requested_at_ms).await
        })
        .await
    }

    /// One request as the project's copy has it.
    pub(crate) async fn approval(&self, project: &str, id: &str) -> Result<Option<Approval>, StoreError> {
        let [hash, ..] = self.keys.approvals(project);
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.hget(&hash, id).await?) })
            .await?;
        raw.map(|json| parse(&json)).transpose()
    }

    /// Up to `limit` requests (of one status, or all; of one user, or all), oldest first, after
    /// `after` (the time and id a previous page ended at).
    pub(crate) async fn approvals(
        &self,
        project: &str,
        status: Option<ApprovalStatus>,
        user: Option<&str>,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<ApprovalPage, StoreError> {
        let [hash, all, pending, approved, declined] = self.keys.approvals(project);
        // The project keeps a list per status; a user's list has every status and is read in
        // batches, keeping those of the status asked for, until the page is full.
        let (list, of_status) = match (user, status) {
            (Some(user), status) => (self.keys.approvals_of(project, user), status),
            (None, None) => (all, None),
            (None, Some(ApprovalStatus::Pending)) => (pending, None),
            (None, Some(ApprovalStatus::Approved)) => (approved, None),
            (None, Some(ApprovalStatus::Declined)) => (declined, None),
        };
        let batch = if of_status.is_some() { USER_BATCH } else { limit + 1 };
        let mut found: Vec<Approval> = Vec::new();
        let mut cursor = after;
        for _ in 0..MAX_BATCHES {
            let (ids, ended) = self.approval_ids(&list, cursor.as_ref(), batch).await?;
            if let Some((id, ms)) = ids.last() {
                cursor = Some((*ms, id.clone()));
            }
            let records = self.approval_records(&hash, &ids).await?;
            found.extend(records.into_iter().filter(|a| of_status.is_none_or(|s| a.status == s)));
            if found.len() > limit {
                found.truncate(limit);
                let last = &found[limit - 1];
                let next = (last.requested_at_ms, last.id.clone());
                return Ok((found, Some(next)));
            }
            if ended {
                return Ok((found, None));
            }
        }
        // A page cut short by the bound names where the reading stopped.
        Ok((found, cursor))
    }

    /// Up to `n` ids of `list` after `after`, oldest first, and whether the list ended there.
    async fn approval_ids(
        &self,
        list: &str,
        after: Option<&(i64, String)>,
        n: usize,
    ) -> Result<(Vec<(String, i64)>, bool), StoreError> {
        let from = after.map_or(0, |(ms, _)| *ms);
        // Members of one score come in id order, so those up to the cursor's are skipped here;
        // the slack covers requests made in the same millisecond.
        let want = n + if after.is_some() { SAME_MS_SLACK } else { 0 };
        let ids: Vec<(String, i64)> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("ZRANGEBYSCORE")
                    .arg(list)
                    .arg(from)
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(want)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        let ended = ids.len() < want;
        let ids: Vec<(String, i64)> = ids
            .into_iter()
            .filter(|(id, ms)| match after {
                Some((at, last)) => *ms > *at || (*ms == *at && id.as_str() > last.as_str()),
                None => true,
            })
            .collect();
        let ended = ended && ids.len() <= n;
        Ok((ids.into_iter().take(n).collect(), ended))
    }

    /// The requests of `ids`, in their order (an id without a record is left out).
    async fn approval_records(&self, hash: &str, ids: &[(String, i64)]) -> Result<Vec<Approval>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        let names = &names;
        let raw: Vec<Option<String>> = self
            .run(|mut conn| async move { Ok(redis::cmd("HMGET").arg(hash).arg(names).query_async(&mut conn).await?) })
            .await?;
        raw.iter().flatten().map(|json| parse(json)).collect()
    }

    /// The alerts outbox of `user`'s slot, where their scripts put the events they fire.
    pub(crate) fn outbox_of(&self, project: &str, user: &str) -> String {
        self.keys.user(project, user).outbox().to_string()
    }

    /// How many requests wait for a decision.
    pub(crate) async fn pending_approvals(&self, project: &str) -> Result<u64, StoreError> {
        let [_, _, pending, ..] = self.keys.approvals(project);
        self.run(|mut conn| async move { Ok(conn.zcard(&pending).await?) })
            .await
    }

    /// Decides pending request `a` as its `status` says (approved with the override `o`, or
    /// declined with its reason), in the subject's slot.
    pub(crate) async fn decide_approval(
        &self,
        project: &str,
        user: &UserId,
        a: &Approval,
        o: Option<&Override>,
    ) -> Result<Reply<Decision>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        // A per-value group's request is its value's: that counter's state, that value's
        // override (as `set_value_override` keeps it).
        let field = super::layout::value_field(
            &a.group_id,
            a.value.as_deref(),
            &crate::quota::Window::fixed(a.period_start_ms, a.period_end_ms),
        );
        let override_key = match &a.value {
            Some(v) => crate::quota::value::value_key(&a.group_id, v),
            None => a.group_id.clone(),
        };
        let tag = keys
            .ctr()
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map_or("", |(t, _)| t);
        let args = &DecideArgs {
            counter_field: &field,
            group: &override_key,
            id: &a.id,
            decision: a.status.code(),
            override_value: &o.map(encode_override).unwrap_or_default(),
            tag,
            period_start_ms: a.period_start_ms,
            period_end_ms: a.period_end_ms.map(|ms| ms.to_string()).unwrap_or_default(),
            reason: a.reason.as_deref().unwrap_or(""),
            by: a.decided_by.as_deref().unwrap_or(""),
        };
        let reply = self
            .run(|mut conn| async move { scripts::decide_approval(&mut conn, keys, args).await })
            .await?;
        Ok(reply.map(|decided| match decided {
            ApprovalDecided::Done(event, hash) => Decision::Done {
                event,
                sub: from_hash(user, hash),
            },
            ApprovalDecided::Already(code) => Decision::Already(if code == "a" {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Declined
            }),
            ApprovalDecided::NotFound => Decision::NotFound,
            ApprovalDecided::OverrideLimit => Decision::OverrideLimit,
        }))
    }
}

fn parse(json: &str) -> Result<Approval, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Protocol(format!("approval record: {e}").into()))
}
