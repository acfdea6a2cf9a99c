//! Reserve and check: resolve the user's plan, prepare the matched groups' holds, and let
//! `reserve.lua` decide and hold atomically, or `check.lua` decide without writing. A user with
//! parents is decided level by level, bottom-up, one script per level (`levels.rs`).

use std::sync::Arc;
use std::time::Instant;

use super::parents::Level;
use super::resolve::Admitted;
use super::DataPlane;
use super::Idempotency;
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::decision::Granted;
use crate::quota::hold::prepare;
use crate::quota::{Decision, EventInput, Prepared, ReservationId, RunLimits, UserId, Verdict};
use crate::secrets::id_bytes;
use crate::store::{Decided, FallbackArgs, Fired, Held, Reply, ReserveArgs, Reserved, StoreError};

impl Observed for Decision {
    fn effect(&self) -> Effect<'_> {
        Effect::Decided(self)
    }
}

/// One level's decision, and the level above it that its checked subscription names.
pub(super) type LevelDecision = (Decision, Option<UserId>);

impl DataPlane {
    /// Holds quota for the event at the user's level and every parent's; with an
    /// Idempotency-Key, a repeat answers the first answer.
    pub async fn reserve(
        &self,
        project: &str,
        input: &EventInput,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<Decision, GatewayError> {
        self.reserve_keeping(project, input, ttl_ms, idempotency, false).await
    }

    /// As `reserve`, for a caller that commits the hold itself (a proxied call): its grant
    /// keeps the record the reserve wrote (`Granted::record`) where that is provably the one
    /// Redis keeps, and the commit given it reads none.
    pub async fn reserve_to_commit(
        &self,
        project: &str,
        input: &EventInput,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<Decision, GatewayError> {
        self.reserve_keeping(project, input, ttl_ms, idempotency, true).await
    }

    async fn reserve_keeping(
        &self,
        project: &str,
        input: &EventInput,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        keep: bool,
    ) -> Result<Decision, GatewayError> {
        let started = Instant::now();
        let id = ReservationId::new(&input.user, &id_bytes::<16>());
        let answer = self
            .parents()
            .reserve_levels(project, input, &id, ttl_ms, idempotency, None, keep)
            .await;
        self.node
            .report(Verb::Reserve, project, Some(&input.user), started, &answer);
        answer
    }

    /// Holds quota at one level under reservation `id`, deciding at `at` (None: the clock's
    /// reading at each attempt); the record keeps the event's `metadata` (canonical JSON, made
    /// once per request) for its commit's ledger entry, and a run's start its `run` limits;
    /// `keep`: the decision keeps the record, where the user's level's is provably the one
    /// Redis keeps (`Granted::record`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn reserve_level(
        &self,
        project: &str,
        level: Level<'_>,
        input: &EventInput,
        metadata: &str,
        id: &ReservationId,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        at: Option<i64>,
        (run, keep): (Option<&RunLimits>, bool),
    ) -> Result<LevelDecision, GatewayError> {
        self.decide(project, level, input, at, async |admitted, prepared, parent, at| {
            // An attempt after the first of an original action is capped at the user's level,
            // by its matched groups' maxFallbackSpend (and its run's, which the script knows).
            let fallback = input
                .fallback
                .as_ref()
                .filter(|_| level.subject == &input.user)
                .map(|f| FallbackArgs {
                    chain: &f.chain,
                    caps: prepared
                        .groups
                        .iter()
                        .filter_map(|g| g.max_fallback_spend.map(|cap| (g.id.as_str(), cap)))
                        .collect(),
                });
            let args = ReserveArgs {
                version: admitted.version,
                reservation_id: id.as_str(),
                ttl_ms,
                event: &input.event,
                quantity: input.quantity,
                metadata,
                parent: parent.map_or("", UserId::as_str),
                at,
                step: input.step.as_ref(),
                run,
                fallback: fallback.as_ref(),
                // Only the user's own level's: a commit ends the levels above by their records.
                keep: keep && level.subject == &input.user,
            };
            let ledger = self.node.keeps_ledger(project).await?;
            let reply = self
                .store
                .reserve(
                    project,
                    level.subject,
                    idempotency.map(Idempotency::stored),
                    &args,
                    &prepared.holds,
                    ledger,
                )
                .await?;
            let (held, verdict, fired) = match reply.done() {
                Ok(Reserved::Decided(held, verdict, fired)) => (held, verdict, fired),
                Ok(Reserved::Short(..)) => {
                    return Err(StoreError::Protocol("a reserve on no slice answered short".into()).into())
                }
                Err(other) => return Ok(other),
            };
            let decision = self
                .reserved(
                    project,
                    level.subject,
                    input,
                    admitted,
                    prepared,
                    held,
                    verdict,
                    fired,
                    at,
                )
                .await?;
            Ok(Reply::Done(decision))
        })
        .await
    }

    /// The decision of a reserve that answered (`held`, `verdict`, `fired`) at one level: its
    /// alerts on their way, and a repeat of an Idempotency-Key answered in the windows its first
    /// call held in (the levels above hold at that instant too); a step's answer says what its
    /// run has left.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn reserved(
        &self,
        project: &str,
        subject: &UserId,
        input: &EventInput,
        admitted: &Admitted,
        prepared: &Prepared<'_>,
        held: Held,
        verdict: Verdict,
        fired: Fired,
        at: Decided,
    ) -> Result<Decision, GatewayError> {
        // The denial that opened an approval request answers once the project's list has
        // it, so the approvalId it names can be read and decided at once.
        // Boxed, as is every path a plain admit does not take: a future holds room for its
        // largest await, and the whole decision's future is copied into a box per request
        // (BENCHMARKS.md, "Smaller futures and fewer allocations").
        if verdict.pending.iter().any(|p| *p) {
            Box::pin(self.alerts().alerts_moved(fired)).await;
        } else {
            self.alerts().alerts_fired(fired);
        }
        let reservation_id = ReservationId::answered(held.reservation_id, &input.user)
            .ok_or_else(|| StoreError::Protocol("reserve answered a malformed reservation id".into()))?;
        // The record keeps the event's metadata as its canonical JSON (`canonical_metadata`),
        // which reads back as the map it was written from: numbers keep their text.
        let record = held.record.map(|mut record| {
            record.metadata = (!input.metadata.is_empty()).then(|| input.metadata.clone());
            Arc::new(*record)
        });
        let granted = Granted {
            reservation_id,
            expires_at_ms: held.expires_ms,
            held: Vec::new(),
            repeat: held.repeat.is_some(),
            record,
        };
        let with_run = |prepared: &Prepared<'_>, mut decision: Decision| {
            if let (Some(answer), Some(step)) = (&verdict.step, &input.step) {
                decision.run = Some(prepared.run_progress(answer, step.run_id.as_str()));
            }
            decision
        };
        Ok(match held.repeat.flatten().filter(|first| *first != at.at_ms) {
            Some(first_ms) => {
                let (plan, started_ms, overrides) = (&admitted.plan, admitted.started_ms, &admitted.overrides);
                let price = self.node.event_price(project, plan, input).await?;
                let mut first = prepare(plan, input, price.as_ref(), started_ms, first_ms, overrides, true)?;
                first.name_approvals(project, subject.as_str());
                let mut decision = with_run(&first, first.decision(&verdict, Some(granted), first_ms));
                decision.fitted = first.fitted(input, &verdict);
                decision
            }
            None => {
                let mut decision = with_run(prepared, prepared.decision(&verdict, Some(granted), at.at_ms));
                decision.fitted = prepared.fitted(input, &verdict);
                decision
            }
        })
    }

    /// What reserve would answer now, at every level, without writing anything.
    pub async fn check(&self, project: &str, input: &EventInput) -> Result<Decision, GatewayError> {
        let started = Instant::now();
        let answer = self.parents().check_levels(project, input).await;
        self.node
            .report(Verb::Check, project, Some(&input.user), started, &answer);
        answer
    }

    /// What reserve would answer at one level, without writing anything, deciding at `at`
    /// (None: the clock's reading at each attempt).
    pub(super) async fn check_level(
        &self,
        project: &str,
        level: Level<'_>,
        input: &EventInput,
        at: Option<i64>,
    ) -> Result<LevelDecision, GatewayError> {
        self.decide(project, level, input, at, async |admitted, prepared, _, at| {
            let ledger = self.node.keeps_ledger(project).await?;
            let reply = self
                .store
                .check(project, level.subject, admitted.version, &prepared.holds, ledger, at)
                .await?;
            Ok(reply.map(|verdict| {
                let mut decision = prepared.decision(&verdict, None, at.at_ms);
                decision.fitted = prepared.fitted(input, &verdict);
                decision
            }))
        })
        .await
    }

    /// What reserve and check share at one level: admit the subject (a denial that needs no
    /// counter asks no script), prepare the event's holds for the decision instant, let `ask`
    /// put them to its script through the retry driver with the level above (as the
    /// subscription `ask` checks names it) and the instant, and answer with that level. The
    /// instant is `at` (a parent's level decides at its member's), else the clock's reading at
    /// each attempt: a stale answer re-measures the clock before the next.
    async fn decide(
        &self,
        project: &str,
        level: Level<'_>,
        input: &EventInput,
        at: Option<i64>,
        ask: impl AsyncFn(&Admitted, &Prepared<'_>, Option<&UserId>, Decided) -> Result<Reply<Decision>, GatewayError>,
    ) -> Result<LevelDecision, GatewayError> {
        self.node
            .drive(project, level.subject, async || {
                let at = self.decided(at);
                let admitted = match self.admitted(project, level.subject, input).await? {
                    Ok(admitted) => admitted,
                    Err(reason) => return Ok(Reply::Done((Decision::denied(reason, at.at_ms), None))),
                };
                let parent = level.above(admitted.parent.as_deref());
                let prepared = match self
                    .prepared(project, level.subject, &admitted, input, at.at_ms)
                    .await?
                {
                    Ok(prepared) => prepared,
                    Err(denied) => return Ok(Reply::Done((denied, None))),
                };
                Ok(ask(&admitted, &prepared, parent.as_ref(), at)
                    .await?
                    .map(|decision| (decision, parent)))
            })
            .await
    }

    /// The event's holds at `subject`'s level, decided by its `admitted` plan at `at_ms`, with
    /// alerts only where the project has an endpoint and approval requests named; or the
    /// denial that needs no counter: a priced group with no price for the call's model.
    pub(super) async fn prepared<'a>(
        &self,
        project: &str,
        subject: &UserId,
        admitted: &'a Admitted,
        input: &EventInput,
        at_ms: i64,
    ) -> Result<Result<Prepared<'a>, Decision>, GatewayError> {
        let (plan, started_ms, overrides) = (&admitted.plan, admitted.started_ms, &admitted.overrides);
        let price = self.node.event_price(project, plan, input).await?;
        let mut prepared = prepare(plan, input, price.as_ref(), started_ms, at_ms, overrides, true)?;
        if let (Some(group), Some(price)) = (prepared.unpriced, &price) {
            return Ok(Err(Decision::unpriced(group, &price.model, at_ms)));
        }
        self.alerts().alerts_for(project, &mut prepared).await?;
        prepared.name_approvals(project, subject.as_str());
        Ok(Ok(prepared))
    }
}

/// Event metadata as canonical JSON (keys sorted, numbers as written), "" for none.
pub(super) fn canonical_metadata(
    metadata: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, GatewayError> {
    if metadata.is_empty() {
        return Ok(String::new());
    }
    serde_json::to_string(metadata).map_err(GatewayError::encode("event metadata"))
}

impl DataPlane {
    /// A level's decision instant: `below`'s, the instant a level below decided at in this
    /// request, else this node's reading of its clock now.
    pub(super) fn decided(&self, below: Option<i64>) -> Decided {
        match below {
            Some(at_ms) => Decided { at_ms, below: true },
            None => Decided {
                at_ms: self.node.clock.now_ms(),
                below: false,
            },
        }
    }
}
