//! Track: count usage that already happened, past any quota, with `track.lua`.

use std::time::Instant;

use super::outcome::{Effect, Observed, Verb};
use super::resolve::Freshness;
use super::{Gateway, GatewayError};
use crate::quota::hold::prepare;
use crate::quota::{Counter, EventInput};
use crate::store::{Idempotency, LedgerEntry, Reply};

/// The counters a track changed.
pub struct Tracked(pub Vec<Counter>);

impl Observed for Tracked {
    fn effect(&self) -> Effect<'_> {
        Effect::Counted(&self.0)
    }
}

impl Gateway {
    /// Counts the event in every matched group except in-flight limits; never denies, not
    /// even a blocked user's usage, which happened all the same.
    pub async fn track(
        &self,
        project: &str,
        input: &EventInput,
        idempotency: Option<&Idempotency>,
    ) -> Result<Vec<Counter>, GatewayError> {
        let started = Instant::now();
        let on = self.ledger_for(project, &input.user).await?;
        let entry = &LedgerEntry {
            event: &input.event,
            metadata: metadata_json(on, &input.metadata),
            quantity: Some(input.quantity),
        };
        let answer = self
            .drive(project, &input.user, async || {
                let mut resolved = self.resolve(project, &input.user, Freshness::Cached).await?;
                if resolved.plan.is_none() && resolved.cached {
                    // "No plan" from the cache is confirmed with a fresh read: no script sees it.
                    resolved = self.resolve(project, &input.user, Freshness::Fresh).await?;
                }
                let Some(plan) = &resolved.plan else {
                    return Ok(Reply::Done(Tracked(Vec::new())));
                };
                let mut prepared = prepare(plan, input, resolved.started_ms, self.clock.now_ms(), false)?;
                self.alerts_for(project, &mut prepared).await?;
                let reply = self
                    .store
                    .track(
                        project,
                        &input.user,
                        idempotency,
                        resolved.sub.version,
                        &prepared.holds,
                        entry,
                        on,
                    )
                    .await?;
                Ok(reply.map(|(amounts, fired)| {
                    self.alerts_fired(fired);
                    Tracked(prepared.counters(&amounts))
                }))
            })
            .await;
        self.report(Verb::Track, project, Some(&input.user), started, &answer);
        answer.map(|tracked| tracked.0)
    }
}

/// Event metadata as the ledger keeps it: JSON, or "" when there is none or no ledger.
pub(super) fn metadata_json(on: bool, metadata: &serde_json::Map<String, serde_json::Value>) -> String {
    if !on || metadata.is_empty() {
        return String::new();
    }
    serde_json::to_string(metadata).unwrap_or_default()
}
