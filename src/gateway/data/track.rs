//! Track: count usage that already happened, past any quota, with `track.lua`.

use std::time::Instant;

use super::parents::{walk_up, Level};
use crate::gateway::outcome::{Effect, Observed, Verb};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::reserve::canonical_metadata;
use super::resolve::Freshness;
use super::DataPlane;
use super::Idempotency;
use crate::gateway::GatewayError;
use crate::quota::hold::prepare;
use crate::quota::{Counter, EventInput, RunProgress, UserId};
use crate::secrets::id_bytes;
use crate::store::{LedgerEntry, Reply};

/// The counters a track changed, and a step's run as the step left it.
pub struct Tracked {
    pub counters: Vec<Counter>,
    pub run: Option<RunProgress>,
}

impl Observed for Tracked {
    fn effect(&self) -> Effect<'_> {
        Effect::Counted(&self.counters)
    }
}

impl DataPlane {
    /// Counts the event in every matched group except in-flight limits, at the user's level
    /// and every parent's; never denies, not even a blocked user's usage, which happened all
    /// the same.
    pub async fn track(
        &self,
        project: &str,
        input: &EventInput,
        outcome: Option<&str>,
        idempotency: Option<&Idempotency>,
        key_id: &str,
    ) -> Result<Tracked, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let user = &input.user;
            let first = Level {
                subject: user,
                below: &[],
            };
            // The entry's reference, the same at every level so a parent's entry has the
            // member's id: the Idempotency-Key's, else one made for this call.
            let reference = match idempotency {
                Some(i) => i.stored().field.clone(),
                // 72 random bits: never the same twice among one user's tracks, and short, since
                // every entry keeps it.
                None => format!("track:~{}", URL_SAFE_NO_PAD.encode(id_bytes::<9>())),
            };
            let who = Who {
                key_id,
                member: "",
                reference: &reference,
                outcome,
            };
            let (mut tracked, next, at) = self.track_level(project, first, input, idempotency, &who, None).await?;
            if next.is_none() {
                return Ok(tracked);
            }
            // Every level counts at the user's level's instant: one event, one window everywhere.
            let at = Some(at);
            let idempotency = idempotency.map(|i| i.under(user.as_str()));
            let who = Who {
                member: user.as_str(),
                ..who
            };
            walk_up(user, next.map(UserId::into_string), async |level| {
                let (counted, above, _) = self
                    .track_level(project, level, input, idempotency.as_ref(), &who, at)
                    .await?;
                let subject = level.subject.as_str();
                tracked
                    .counters
                    .extend(counted.counters.into_iter().map(|c| c.of_subject(subject)));
                Ok(above.map(UserId::into_string))
            })
            .await?;
            Ok(tracked)
        }
        .await;
        self.node
            .report(Verb::Track, project, Some(&input.user), started, &answer);
        answer
    }

    /// Counts the event at one level at instant `at` (None: the clock's reading at each
    /// attempt); answers the counters, the level above (as the checked subscription names it)
    /// and the instant it counted at.
    async fn track_level(
        &self,
        project: &str,
        level: Level<'_>,
        input: &EventInput,
        idempotency: Option<&Idempotency>,
        who: &Who<'_>,
        at: Option<i64>,
    ) -> Result<(Tracked, Option<UserId>, i64), GatewayError> {
        let subject = level.subject;
        let on = self.ledger_for(project, subject).await?;
        let entry = &who.track_entry(input, on)?;
        self.node
            .drive(project, subject, async || {
                let decided = self.decided(at);
                let at_ms = decided.at_ms;
                let mut resolved = self.resolve(project, subject, Freshness::Cached).await?;
                if resolved.plan.is_none() && resolved.cached {
                    // "No plan" from the cache is confirmed with a fresh read: no script sees it.
                    resolved = self.resolve(project, subject, Freshness::Fresh).await?;
                }
                let parent = level.above(resolved.sub.parent_id.as_deref());
                let Some(plan) = &resolved.plan else {
                    let none = Tracked {
                        counters: Vec::new(),
                        run: None,
                    };
                    return Ok(Reply::Done((none, parent, at_ms)));
                };
                let (started_ms, overrides) = (resolved.started_ms, &resolved.sub.overrides);
                let price = self.node.event_price(project, plan, input).await?;
                let mut prepared = prepare(plan, input, price.as_ref(), started_ms, at_ms, overrides, false)?;
                // Usage that happened is never counted as free: a track of a model a priced group
                // has no price for is refused whole, and says which.
                if let (Some(group), Some(price)) = (prepared.unpriced, &price) {
                    return Err(GatewayError::UnpricedModel {
                        group: group.to_string(),
                        model: price.model.clone(),
                    });
                }
                let first_call =
                    |first_ms| prepare(plan, input, price.as_ref(), started_ms, first_ms, overrides, false);
                self.alerts().alerts_for(project, &mut prepared).await?;
                let reply = self
                    .store
                    .track(
                        project,
                        subject,
                        idempotency.map(Idempotency::stored),
                        resolved.sub.version,
                        &prepared.holds,
                        entry,
                        on,
                        decided,
                    )
                    .await?;
                let done = match reply.done() {
                    Ok(done) => done,
                    Err(other) => return Ok(other),
                };
                self.alerts().alerts_fired(done.fired);
                // A repeat answers in the windows its first call counted in, and the levels above
                // count at that instant too.
                let (prepared, at_ms) = match done.first_at_ms.filter(|first| *first != at_ms) {
                    Some(first_ms) => (first_call(first_ms)?, first_ms),
                    None => (prepared, at_ms),
                };
                let run = match (&done.step, &input.step) {
                    (Some(answer), Some(step)) => Some(prepared.run_progress(answer, step.run_id.as_str())),
                    _ => None,
                };
                let tracked = Tracked {
                    counters: prepared.counters(&done.amounts),
                    run,
                };
                Ok(Reply::Done((tracked, parent, at_ms)))
            })
            .await
    }
}

/// Who a ledger entry names: the key that made the call, the member at a parent's level ("" at
/// the member's own), and the entry's reference, the same at every level.
#[derive(Clone, Copy)]
pub(super) struct Who<'a> {
    pub key_id: &'a str,
    pub member: &'a str,
    pub reference: &'a str,
    /// What the call's output came to, when it says: the same at every level.
    pub outcome: Option<&'a str>,
}

impl<'a> Who<'a> {
    /// The ledger entry of a track of `input` at one level (its metadata kept when `on`).
    fn track_entry(&self, input: &'a EventInput, on: bool) -> Result<LedgerEntry<'a>, GatewayError> {
        Ok(LedgerEntry {
            event: &input.event,
            metadata: metadata_json(on, &input.metadata)?,
            quantity: Some(input.quantity),
            key_id: self.key_id,
            member: self.member,
            reference: self.reference,
            late_below: None,
            step: input.step.as_ref(),
            outcome: self.outcome,
        })
    }
}

/// Event metadata as the ledger keeps it: canonical JSON, or "" when there is none or no
/// ledger. Metadata that cannot be written is an error, never an entry without it.
pub(super) fn metadata_json(
    on: bool,
    metadata: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, GatewayError> {
    if !on {
        return Ok(String::new());
    }
    canonical_metadata(metadata)
}
