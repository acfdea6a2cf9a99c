//! A project's webhook endpoints and their deliveries in Redis (the project's slot): endpoints
//! in a hash, changed only by scripts (create_endpoint, rotate_secret, set_enabled, and
//! complete for their health) so no change is lost to another made at once; deliveries in a
//! hash with a due set and a log, changed only by the scripts enqueue, claim, complete and
//! redeliver, so two nodes never deliver one attempt twice.

use redis::AsyncCommands;

use super::scripts::Idempotency;
use super::{AccountsStore, Store, StoreError, WorkersStore};
use crate::quota::{DeliveryRecord, EndpointRecord};

use super::contract::{CLAIM, COMPLETE, CREATE_ENDPOINT, ENQUEUE, REDELIVER, ROTATE_SECRET, SET_ENABLED};

/// What create_endpoint.lua did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndpointMade {
    Made,
    /// The Idempotency-Key made this endpoint before.
    Repeat(String),
    /// The Idempotency-Key came before with another body.
    Reused,
    /// The project has this many endpoints, the most it may have.
    Full(u64),
}

/// What rotate_secret.lua did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretRotated {
    Done,
    Missing,
    /// As many replaced secrets sign as may; the soonest stops at this ms.
    Limit(i64),
}

/// What redeliver.lua did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redelivered {
    Due,
    NoDelivery,
    NoEndpoint,
    Disabled,
}

/// The first two values of a script's reply of strings.
fn head(reply: &[String], script: &str) -> Result<(String, Option<String>), StoreError> {
    let first = reply
        .first()
        .cloned()
        .ok_or_else(|| StoreError::Protocol(format!("{script} answered nothing").into()))?;
    Ok((first, reply.get(1).cloned()))
}

/// A delivery this node claimed, with its endpoint as it stood.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: String,
    pub delivery: DeliveryRecord,
    pub endpoint: EndpointRecord,
}

/// How an attempt ended, for complete.lua.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryOutcome {
    Ok,
    /// Failed; the next attempt is due at this ms.
    Retry(i64),
    /// Failed with no attempt left.
    Fail,
    /// 410 Gone.
    Gone,
}

/// One attempt as complete.lua records it.
#[derive(Debug, Clone)]
pub(crate) struct Attempted<'a> {
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub error: &'a str,
    pub at_ms: i64,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Protocol(format!("{what}: {e}").into())
}

impl AccountsStore {
    /// Makes an endpoint unless the project has `cap` already; with an Idempotency-Key, only the
    /// first call with that key makes one, and the key is kept for the retention window.
    pub(crate) async fn create_endpoint(
        &self,
        project: &str,
        id: &str,
        record: &EndpointRecord,
        cap: usize,
        idempotency: Option<&Idempotency>,
    ) -> Result<EndpointMade, StoreError> {
        let [endpoints, ..] = &self.keys.webhooks(project);
        let entry = &self
            .keys
            .webhook_idempotency(project, idempotency.map_or("", |i| i.field.as_str()));
        let json = serde_json::to_string(record).map_err(|e| corrupt("endpoint", e))?;
        let digest = idempotency.map_or("", |i| i.body_digest.as_str());
        let keep_ms = self.retention_ms;
        let reply: Vec<String> = self
            .run(|mut conn| async move {
                Ok(CREATE_ENDPOINT
                    .script()
                    .key(endpoints)
                    .key(entry)
                    .arg(id)
                    .arg(&json)
                    .arg(cap)
                    .arg(digest)
                    .arg(keep_ms)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        let made = match head(&reply, "create_endpoint.lua")? {
            (s, Some(_)) if s == "made" => EndpointMade::Made,
            (s, Some(id)) if s == "repeat" => EndpointMade::Repeat(id),
            (s, None) if s == "reused" => EndpointMade::Reused,
            (s, Some(count)) if s == "full" => EndpointMade::Full(count.parse().map_err(|e| corrupt("count", e))?),
            (s, _) => return Err(StoreError::Protocol(format!("create_endpoint.lua answered {s}").into())),
        };
        if made == EndpointMade::Made {
            // Nodes decide alerts only for projects with endpoints: they must learn of it.
            self.bump_epoch().await?;
        }
        Ok(made)
    }

    /// Gives an endpoint `secret`; the one it replaces signs too for `overlap_ms`, and at most
    /// `max_retired` replaced secrets sign at once.
    pub(crate) async fn rotate_secret(
        &self,
        project: &str,
        id: &str,
        secret: &str,
        now_ms: i64,
        overlap_ms: i64,
        max_retired: usize,
    ) -> Result<SecretRotated, StoreError> {
        let [endpoints, ..] = &self.keys.webhooks(project);
        let reply: Vec<String> = self
            .run(|mut conn| async move {
                Ok(ROTATE_SECRET
                    .script()
                    .key(endpoints)
                    .arg(id)
                    .arg(secret)
                    .arg(now_ms)
                    .arg(overlap_ms)
                    .arg(max_retired)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        match head(&reply, "rotate_secret.lua")? {
            (s, None) if s == "ok" => Ok(SecretRotated::Done),
            (s, None) if s == "missing" => Ok(SecretRotated::Missing),
            (s, Some(at)) if s == "limit" => Ok(SecretRotated::Limit(at.parse().map_err(|e| corrupt("time", e))?)),
            (s, _) => Err(StoreError::Protocol(format!("rotate_secret.lua answered {s}").into())),
        }
    }

    /// Enables or disables an endpoint (disabling ends its pending deliveries); None when there
    /// is no such endpoint, else whether it changed.
    pub(crate) async fn set_endpoint_enabled(
        &self,
        project: &str,
        id: &str,
        enabled: bool,
        reason: &str,
    ) -> Result<Option<bool>, StoreError> {
        let keys = &self.keys.webhooks(project);
        let answer: String = self
            .run(|mut conn| async move {
                Ok(SET_ENABLED
                    .script()
                    .key(&keys[..3])
                    .arg(id)
                    .arg(if enabled { "1" } else { "0" })
                    .arg(reason)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        let changed = match answer.as_str() {
            "changed" => Some(true),
            "unchanged" => Some(false),
            "missing" => None,
            other => return Err(StoreError::Protocol(format!("set_enabled.lua answered {other}").into())),
        };
        if changed == Some(true) {
            // Whether a project has an enabled endpoint decides whether its alerts are decided.
            self.bump_epoch().await?;
        }
        Ok(changed)
    }

    pub(crate) async fn delete_endpoint(&self, project: &str, id: &str) -> Result<bool, StoreError> {
        let [endpoints, ..] = &self.keys.webhooks(project);
        let removed: i64 = self
            .run(|mut conn| async move { Ok(conn.hdel(endpoints, id).await?) })
            .await?;
        if removed > 0 {
            self.bump_epoch().await?;
        }
        Ok(removed > 0)
    }

    /// Makes a delivery due now, when its endpoint is enabled.
    pub(crate) async fn redeliver(
        &self,
        project: &str,
        delivery: &str,
        now_ms: i64,
    ) -> Result<Redelivered, StoreError> {
        let keys = &self.keys.webhooks(project);
        let answer: String = self
            .run(|mut conn| async move {
                Ok(REDELIVER
                    .script()
                    .key(&keys[..3])
                    .arg(delivery)
                    .arg(now_ms)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        match answer.as_str() {
            "ok" => Ok(Redelivered::Due),
            "no_delivery" => Ok(Redelivered::NoDelivery),
            "no_endpoint" => Ok(Redelivered::NoEndpoint),
            "disabled" => Ok(Redelivered::Disabled),
            other => Err(StoreError::Protocol(format!("redeliver.lua answered {other}").into())),
        }
    }

    /// The newest deliveries of one endpoint, at most `limit`, from the last 1,000 of the project.
    pub(crate) async fn deliveries(
        &self,
        project: &str,
        endpoint: &str,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRecord)>, StoreError> {
        let [_, deliveries, due_key, log] = &self.keys.webhooks(project);
        let ids: Vec<String> = self
            .run(|mut conn| async move { Ok(conn.zrevrange(log, 0, 999).await?) })
            .await?;
        let prefix = format!("{endpoint}.");
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|id| id.starts_with(&prefix))
            .take(limit)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids_ref = &ids;
        let raw: Vec<Option<String>> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("HMGET")
                    .arg(deliveries)
                    .arg(ids_ref)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        // When each is due next: a delivery is in the due set while an attempt is scheduled.
        let due: Vec<Option<f64>> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("ZMSCORE")
                    .arg(due_key)
                    .arg(ids_ref)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        ids.into_iter()
            .zip(raw)
            .zip(due)
            .filter_map(|((id, json), due)| json.map(|j| (id, j, due)))
            .map(|(id, json, due)| {
                let mut record: DeliveryRecord = serde_json::from_str(&json).map_err(|e| corrupt("delivery", e))?;
                record.next_attempt_ms = due.map(|ms| ms as i64);
                Ok((id, record))
            })
            .collect()
    }
}

impl Store {
    pub(crate) async fn endpoints(&self, project: &str) -> Result<Vec<(String, EndpointRecord)>, StoreError> {
        let [endpoints, ..] = &self.keys.webhooks(project);
        let raw: Vec<(String, String)> = self
            .run(|mut conn| async move { Ok(conn.hgetall(endpoints).await?) })
            .await?;
        let mut list = raw
            .into_iter()
            .map(|(id, json)| Ok((id, serde_json::from_str(&json).map_err(|e| corrupt("endpoint", e))?)))
            .collect::<Result<Vec<(String, EndpointRecord)>, StoreError>>()?;
        list.sort_by_key(|(_, e)| e.created_at);
        Ok(list)
    }

    /// One delivery of the event per endpoint that wants it (or only to `only`); the ids of the
    /// deliveries made (none for an event enqueued before).
    pub(crate) async fn enqueue(
        &self,
        project: &str,
        event_id: &str,
        kind: &str,
        body: &str,
        now_ms: i64,
        only: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let keys = &self.keys.webhooks(project);
        self.run(|mut conn| async move {
            Ok(ENQUEUE
                .script()
                .key(&keys[..])
                .arg(event_id)
                .arg(kind)
                .arg(body)
                .arg(now_ms)
                .arg(only.unwrap_or(""))
                .invoke_async(&mut conn)
                .await?)
        })
        .await
    }
}

impl WorkersStore {
    /// Up to `count` due deliveries, this node's for `lease_ms`.
    pub(crate) async fn claim(
        &self,
        project: &str,
        now_ms: i64,
        lease_ms: i64,
        count: usize,
        keep_ms: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let keys = &self.keys.webhooks(project);
        let raw: Vec<(String, String, String)> = self
            .run(|mut conn| async move {
                Ok(CLAIM
                    .script()
                    .key(&keys[..])
                    .arg(now_ms)
                    .arg(lease_ms)
                    .arg(count)
                    .arg(keep_ms)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        raw.into_iter()
            .map(|(id, delivery, endpoint)| {
                Ok(Claimed {
                    id,
                    delivery: serde_json::from_str(&delivery).map_err(|e| corrupt("delivery", e))?,
                    endpoint: serde_json::from_str(&endpoint).map_err(|e| corrupt("endpoint", e))?,
                })
            })
            .collect()
    }

    /// Records an attempt's outcome.
    pub(crate) async fn complete(
        &self,
        project: &str,
        delivery: &str,
        attempt: &Attempted<'_>,
        failing_limit_ms: i64,
    ) -> Result<(), StoreError> {
        let keys = &self.keys.webhooks(project);
        let (kind, next) = match attempt.outcome {
            DeliveryOutcome::Ok => ("ok", 0),
            DeliveryOutcome::Retry(at) => ("retry", at),
            DeliveryOutcome::Fail => ("fail", 0),
            DeliveryOutcome::Gone => ("gone", 0),
        };
        self.run(|mut conn| async move {
            let _: String = COMPLETE
                .script()
                .key(&keys[..3])
                .arg(delivery)
                .arg(kind)
                .arg(attempt.status.map(|s| s.to_string()).unwrap_or_default())
                .arg(attempt.error)
                .arg(attempt.at_ms)
                .arg(next)
                .arg(failing_limit_ms)
                .invoke_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}
