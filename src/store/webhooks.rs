//! A project's webhook endpoints and their deliveries in Redis (the project's slot): endpoints
//! in a hash, deliveries in a hash with a due set and a log, changed only by the scripts
//! enqueue, claim, complete and redeliver, so two nodes never deliver one attempt twice.

use redis::AsyncCommands;

use super::{Store, StoreError};
use crate::quota::{DeliveryRecord, EndpointRecord};

use super::scripts::{CLAIM, COMPLETE, ENQUEUE, REDELIVER};

/// A delivery this node claimed, with its endpoint as it stood.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub delivery: DeliveryRecord,
    pub endpoint: EndpointRecord,
}

/// How an attempt ended, for complete.lua.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
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
pub struct Attempted<'a> {
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub error: &'a str,
    pub at_ms: i64,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Protocol(format!("{what}: {e}"))
}

impl Store {
    pub async fn put_endpoint(&self, project: &str, id: &str, record: &EndpointRecord) -> Result<(), StoreError> {
        let [endpoints, ..] = &self.keys.webhooks(project);
        let json = serde_json::to_string(record).map_err(|e| corrupt("endpoint", e))?;
        self.run(|mut conn| async move {
            let _: i64 = conn.hset(endpoints, id, &json).await?;
            Ok(())
        })
        .await?;
        // Nodes decide alerts only for projects with endpoints: they must learn of it.
        self.bump_epoch().await
    }

    pub async fn endpoints(&self, project: &str) -> Result<Vec<(String, EndpointRecord)>, StoreError> {
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

    pub async fn delete_endpoint(&self, project: &str, id: &str) -> Result<bool, StoreError> {
        let [endpoints, ..] = &self.keys.webhooks(project);
        let removed: i64 = self
            .run(|mut conn| async move { Ok(conn.hdel(endpoints, id).await?) })
            .await?;
        if removed > 0 {
            self.bump_epoch().await?;
        }
        Ok(removed > 0)
    }

    /// One delivery of the event per endpoint that wants it (or only to `only`); the ids of the
    /// deliveries made (none for an event enqueued before).
    pub async fn enqueue(
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

    /// Up to `count` due deliveries, this node's for `lease_ms`.
    pub async fn claim(
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
    pub async fn complete(
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

    /// Makes a delivery due now; false when there is none.
    pub async fn redeliver(&self, project: &str, delivery: &str, now_ms: i64) -> Result<bool, StoreError> {
        let keys = &self.keys.webhooks(project);
        let found: i64 = self
            .run(|mut conn| async move {
                Ok(REDELIVER
                    .key(&keys[..3])
                    .arg(delivery)
                    .arg(now_ms)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(found == 1)
    }

    /// The newest deliveries of one endpoint, at most `limit`, from the last 1,000 of the project.
    pub async fn deliveries(
        &self,
        project: &str,
        endpoint: &str,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRecord)>, StoreError> {
        let [_, deliveries, _, log] = &self.keys.webhooks(project);
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
        ids.into_iter()
            .zip(raw)
            .filter_map(|(id, json)| json.map(|j| (id, j)))
            .map(|(id, json)| Ok((id, serde_json::from_str(&json).map_err(|e| corrupt("delivery", e))?)))
            .collect()
    }
}
