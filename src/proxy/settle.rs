//! Ending a proxied call's hold: commit what the provider reported (every count in the
//! metadata, beside its status, request id and the call's duration), or the hold itself marked
//! `estimated` when it reported nothing, or release when the provider never took the call.
//! While the call runs, its hold is kept alive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::call::Operation;
use super::usage::Usage;
use crate::gateway::{Gateway, Settlement};
use crate::metrics::Metrics;
use crate::quota::{Milli, ReservationId};

/// A hold's time to live unless configured; a call that runs longer extends it every half of it.
pub const HOLD_TTL_MS: i64 = 120_000;
/// A commit the backend did not answer is tried this many times, then left to the hold's expiry.
const COMMIT_ATTEMPTS: u32 = 3;

/// One call's hold, and what its commit needs.
#[derive(Clone)]
pub struct Hold {
    pub gateway: Gateway,
    pub metrics: Arc<Metrics>,
    pub project: String,
    pub id: ReservationId,
    pub key_id: String,
    pub upstream: String,
    pub operation: Operation,
    pub ttl_ms: i64,
    /// The worst case held.
    pub worst: Usage,
    pub started: Instant,
}

/// What the provider said, for the record.
pub struct Answered {
    /// None: it gave no answer (a timeout, a broken connection).
    pub status: Option<u16>,
    pub request_id: Option<String>,
}

impl Hold {
    /// Commits `reported` (counts it left out are 0 when it reported its bill, the hold's
    /// when it did not, and then the entry says `estimated`).
    pub async fn commit(&self, reported: Usage, answered: Answered) {
        let estimated = !reported.reported();
        let counts = if estimated {
            reported.or(&self.worst)
        } else {
            reported.zeros()
        };
        let mut metadata = Map::new();
        counts.write(&mut metadata);
        metadata.insert(
            "usage".into(),
            Value::from(if estimated { "estimated" } else { "reported" }),
        );
        if let Some(status) = answered.status {
            metadata.insert("provider_status".into(), Value::from(status));
        }
        if let Some(id) = answered.request_id.filter(|id| id.len() <= 256) {
            metadata.insert("provider_request_id".into(), Value::from(id));
        }
        metadata.insert(
            "duration_ms".into(),
            Value::from(self.started.elapsed().as_millis() as u64),
        );
        let quantity = Milli::from_units(counts.quantity(self.operation));
        for attempt in 1..=COMMIT_ATTEMPTS {
            let answer = self
                .gateway
                .commit(
                    &self.project,
                    &self.id,
                    Some(quantity),
                    Some(&metadata),
                    None,
                    None,
                    &self.key_id,
                )
                .await;
            match answer {
                Ok(Settlement::Settled(_)) => {
                    self.count(if estimated { "estimated" } else { "committed" });
                    return;
                }
                Ok(other) => {
                    // Expired and taken back, or ended by someone else: nothing more to do.
                    tracing::warn!(
                        reservation = self.id.as_str(),
                        ?other,
                        "proxy: the call's hold had ended before its commit"
                    );
                    self.count("lost");
                    return;
                }
                Err(err) if attempt < COMMIT_ATTEMPTS => {
                    tracing::warn!(%err, attempt, "proxy: commit failed; retrying");
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                }
                Err(err) => {
                    tracing::error!(%err, reservation = self.id.as_str(), "proxy: commit failed; the hold will expire");
                    self.count("lost");
                }
            }
        }
    }

    /// Gives the hold back: the provider never took the call.
    pub async fn release(&self) {
        match self.gateway.release(&self.project, &self.id).await {
            Ok(_) => self.count("released"),
            Err(err) => {
                tracing::warn!(%err, reservation = self.id.as_str(), "proxy: release failed; the hold will expire");
                self.count("lost");
            }
        }
    }

    fn count(&self, outcome: &str) {
        count_call(&self.metrics, &self.upstream, self.operation, outcome);
    }

    /// Counts a failure of the upstream on this call.
    pub fn upstream_error(&self, kind: &str) {
        self.metrics.count(
            "qg_proxy_upstream_errors_total",
            &[("upstream", &self.upstream), ("kind", kind)],
        );
    }

    /// Extends the hold every half of its time to live, until dropped (the call's end aborts it).
    pub fn keep_alive(&self) -> KeepAlive {
        let hold = self.clone();
        let task = actix_web::rt::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis((hold.ttl_ms / 2) as u64)).await;
                if let Err(err) = hold.gateway.extend(&hold.project, &hold.id, hold.ttl_ms).await {
                    tracing::warn!(%err, reservation = hold.id.as_str(), "proxy: could not extend a running call's hold");
                }
            }
        });
        KeepAlive(task)
    }
}

/// Counts one proxied call's outcome (denied before any hold, or how its hold ended).
pub fn count_call(metrics: &Metrics, upstream: &str, operation: Operation, outcome: &str) {
    metrics.count(
        "qg_proxy_calls_total",
        &[
            ("upstream", upstream),
            ("operation", operation.as_str()),
            ("outcome", outcome),
        ],
    );
}

/// Stops extending a hold when dropped.
pub struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
