//! The node every plane stands on: the store, the configuration cache (`epoch.rs`), the clock,
//! the metrics, the outcome subscribers, the secrets learnt at start and the model catalog, with
//! what every plane does with them: read the clock, recognise a caller, read a cached plan or
//! price, write an audit entry, report an outcome, drive a script call (`retry.rs`). It holds no
//! plane's own state.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use super::audit::{Action, Actor, Change};
use super::cache::Cache;
use super::outcome::{Observed, Outcome, Outcomes, Subscriber, Verb};
use super::retry::Refresh;
use super::{Clock, GatewayError};
use crate::metrics::traces::Traces;
use crate::metrics::{Fixed, Metrics};
use crate::quota::catalog::Catalog;
use crate::quota::{ChangeEntry, KeyRecord, UserId};
use crate::secrets::{self, digest, digests_equal};
use crate::store::{Reply, Store, StoreConfig, StoreError};

/// Secrets the node learns once it reaches Redis.
#[derive(Default)]
pub(super) struct NodeSecrets {
    /// SHA-256 of the root token (the token itself is never kept).
    pub(super) root_digest: OnceLock<[u8; 32]>,
    /// The deployment's secret for signing user tokens.
    pub(super) signing_key: OnceLock<Vec<u8>>,
}

/// What the planes of one node share; cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct Node {
    pub(super) store: Store,
    pub(super) cache: Arc<Cache>,
    pub(super) clock: Clock,
    pub(super) metrics: Arc<Metrics>,
    pub(super) outcomes: Arc<Outcomes>,
    pub(super) secrets: Arc<NodeSecrets>,
    /// The model catalog it prices by (`prices.rs`).
    pub(super) catalog: Arc<Catalog>,
    /// Its tracer, when traces are on (`metrics::traces`).
    pub(super) traces: Option<Arc<Traces>>,
}

impl Node {
    /// Builds the store; connections are made on first use, so a node can start before Redis.
    /// The node's metrics are the first outcome subscriber.
    pub(super) fn new(config: &StoreConfig) -> Result<Node, StoreError> {
        let metrics = Arc::new(Metrics::default());
        let store = Store::new(config, metrics.clone())?;
        let outcomes = Outcomes::default();
        outcomes.subscribe(metrics.clone());
        Ok(Node {
            store,
            cache: Arc::default(),
            clock: Clock::with_skew(config.clock_skew_ms),
            metrics,
            outcomes: Arc::new(outcomes),
            secrets: Arc::default(),
            catalog: Arc::new(Catalog::built_in()),
            traces: None,
        })
    }

    /// What the server lacks of the commands every decision needs (scripting, functions),
    /// named; empty when it has them all.
    pub(crate) async fn server_lacks(&self) -> Result<Vec<String>, GatewayError> {
        Ok(self.store.missing_capabilities().await?)
    }

    /// Redis time as this node estimates it.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Adds a subscriber to every outcome from now on.
    pub fn add_subscriber(&self, subscriber: Arc<dyn Subscriber>) {
        self.outcomes.subscribe(subscriber);
    }

    /// The node's tracer, when traces are on.
    pub(crate) fn traces(&self) -> Option<&Arc<Traces>> {
        self.traces.as_ref()
    }

    /// The node's metrics, rendered by `GET /metrics` and counted by the HTTP middleware.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The node's clock, for tests that pretend it is wrong.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Redis readiness: `Ok(Ok(()))` when ready, `Ok(Err(reason))` when Redis answers but must
    /// not be used, `Err` when it does not answer.
    pub(crate) async fn readiness(&self) -> Result<Result<(), String>, GatewayError> {
        Ok(self.store.readiness().await?)
    }

    /// Brings the node's clock in step with Redis `TIME`.
    pub async fn sync_clock(&self) -> Result<(), GatewayError> {
        let before = self.clock.machine_ms();
        let redis_ms = self.store.time_ms().await?;
        let after = self.clock.machine_ms();
        self.clock.set_redis_ms(redis_ms, before, after);
        Ok(())
    }

    /// `retry::drive` with this node as the refresher; a plain function returning the
    /// driver's future, so a verb's call costs no more than calling `drive` itself.
    pub(super) fn drive<'a, T: 'a>(
        &'a self,
        project: &'a str,
        user: &'a UserId,
        attempt: impl AsyncFnMut() -> Result<Reply<T>, GatewayError> + 'a,
    ) -> impl Future<Output = Result<T, GatewayError>> + 'a {
        super::retry::drive(self, project, user, attempt)
    }

    /// The record of a presented API key, or None for an unknown or revoked one.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Option<Arc<KeyRecord>>, GatewayError> {
        let token_digest = secrets::HexDigest::of(token);
        let token_digest = token_digest.as_str();
        let Some(record) = self.find_key(token_digest).await? else {
            return Ok(None);
        };
        // The lookup already matched the digest; the record's own copy is checked again in
        // constant time so a corrupted or crafted record can never grant access.
        let matches = secrets::bytes_equal(record.digest_hex.as_bytes(), token_digest.as_bytes());
        // A key past its expiry is no key: 401 on every route, as an unknown or revoked one.
        let expired = record.expires_at_ms.is_some_and(|at| at <= self.clock.now_ms());
        Ok((matches && !expired).then_some(record))
    }

    /// Whether `token` is the root token. Before the node has reached Redis only a configured
    /// root token is known: a token that could be a generated one is answered "starting"
    /// (503), any other is not the root token (401), without waiting for Redis.
    pub(crate) fn is_root(&self, token: &str) -> Result<bool, GatewayError> {
        match self.secrets.root_digest.get() {
            Some(root) => Ok(digests_equal(&digest(token), root)),
            None if token.starts_with(secrets::ROOT_PREFIX) => Err(GatewayError::Starting),
            None => Ok(false),
        }
    }

    /// Whether `digest_hex` is the root token's digest.
    pub(super) fn root_digest_is(&self, digest_hex: &str) -> bool {
        let given = hex::decode(digest_hex).ok().and_then(|d| <[u8; 32]>::try_from(d).ok());
        match (self.secrets.root_digest.get(), given) {
            (Some(root), Some(given)) => digests_equal(root, &given),
            _ => false,
        }
    }

    /// Knows a configured root token from the start, before Redis is reached; warns when it
    /// is short, since it opens every project.
    pub(crate) fn set_root_token(&self, token: &str) {
        let chars = token.chars().count();
        if chars < secrets::MIN_ROOT_TOKEN_CHARS {
            tracing::warn!(
                chars,
                "the configured root token (QG_ROOT_TOKEN) is shorter than {} characters; it opens \
                 every project: use a long random one, or leave it unset to have one generated",
                secrets::MIN_ROOT_TOKEN_CHARS
            );
        }
        let _ = self.secrets.root_digest.set(digest(token));
    }

    /// Whether the node has reached Redis and learnt its secrets.
    pub(crate) fn started(&self) -> bool {
        self.secrets.root_digest.get().is_some() && self.secrets.signing_key.get().is_some()
    }

    /// Records one change of `project` made by `by` in the audit log (`audit.rs`).
    pub(super) async fn record(&self, project: &str, by: &Actor, change: Change<'_>) {
        let action = change.action.as_str();
        let mut detail = change.detail;
        if let (Some(reason), serde_json::Value::Object(fields)) = (&by.reason, &mut detail) {
            fields
                .entry("reason")
                .or_insert_with(|| serde_json::Value::String(reason.clone()));
        }
        let entry = ChangeEntry {
            actor_id: by.id.clone(),
            actor_label: by.label.clone(),
            action: action.to_string(),
            target: change.target.to_string(),
            user: change.user.map(UserId::to_string),
            detail: detail.to_string(),
            ..ChangeEntry::default()
        };
        if let Err(err) = self.store.append_change(project, &entry).await {
            let target = change.target;
            tracing::warn!(%err, project, action, target, "a change could not be written to the audit log");
        }
    }

    /// Records a change of `user`'s subscription, targeted at the user.
    pub(super) async fn record_user_change(
        &self,
        project: &str,
        by: &Actor,
        action: Action,
        user: &UserId,
        detail: serde_json::Value,
    ) {
        let change = Change {
            action,
            target: user.as_str(),
            user: Some(user),
            detail,
        };
        self.record(project, by, change).await;
    }
}

impl Node {
    /// Hands the outcome of one call, started at `started`, to every subscriber.
    pub(super) fn report<T: Observed>(
        &self,
        verb: Verb,
        project: &str,
        user: Option<&UserId>,
        started: std::time::Instant,
        answer: &T,
    ) {
        self.outcomes.publish(&Outcome {
            verb,
            project,
            user,
            effect: answer.effect(),
            took: started.elapsed(),
        });
    }
}

impl Refresh for Node {
    /// Counts the stale answer, forgets the user's subscription and measures the clock again.
    async fn refresh(&self, project: &str, user: &UserId) -> Result<(), GatewayError> {
        self.metrics.bump(Fixed::StaleAnswers);
        self.cache.forget_user(project, user.as_str());
        self.sync_clock().await
    }
}
