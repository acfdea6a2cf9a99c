//! Reserve of alternatives: of up to eight events in the order an app prefers them (Model A,
//! then Model B), the first that every matched group of every level admits is held. At the
//! user's level one script weighs them in turn and holds the first that fits
//! (`DataStore::reserve_first`), so no other call changes the picture between the denial of one and
//! the hold of the next. A user with parents then reserves the chosen one at each level above,
//! as a reserve of it would (`levels.rs`); when a level above denies it, its holds go back and
//! the alternatives after it are weighed again from the user's level: one script per level, in
//! order, exact at the user's level.

use std::time::Instant;

use super::parents::Level;
use super::reserve::canonical_metadata;
use super::resolve::Admitted;
use super::{DataPlane, Idempotency};
use crate::gateway::outcome::{Effect, Observed, Verb};
use crate::gateway::GatewayError;
use crate::quota::{Decision, EventInput, FirstFit, Prepared, ReservationId, UserId};
use crate::secrets::id_bytes;
use crate::store::{asked_text, Alternative, Asked, Decided, Reply, ReserveArgs, StoreError, Weighed};

impl Observed for FirstFit {
    fn effect(&self) -> Effect<'_> {
        Effect::Decided(&self.decision)
    }
}

/// What one script at the user's level decided of the alternatives from one on: the chosen
/// one's decision (the last weighed one's when none was chosen) and the level above it, and
/// each alternative denied before it.
struct AtUser {
    decision: Decision,
    chosen: Option<usize>,
    passed: Vec<(usize, Decision)>,
    next: Option<UserId>,
}

/// One alternative of a script's call: its index as asked, and the plan it is decided by.
type Weighing<'a> = (usize, &'a Admitted);

impl DataPlane {
    /// Holds the first of `alternatives` (one user's events, in the order preferred; at most
    /// `MAX_ALTERNATIVES`) that every level admits, under one reservation; with an
    /// Idempotency-Key, a repeat answers the first answer.
    pub async fn reserve_first(
        &self,
        project: &str,
        alternatives: &[EventInput],
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<FirstFit, GatewayError> {
        let started = Instant::now();
        let user = alternatives
            .first()
            .map(|a| a.user.clone())
            .ok_or_else(|| GatewayError::Store(StoreError::Protocol("a reserve of no alternative".into())))?;
        let answer = self.first_levels(project, alternatives, ttl_ms, idempotency).await;
        self.node.report(Verb::Reserve, project, Some(&user), started, &answer);
        answer
    }

    /// The alternatives from the first on, weighed at the user's level and the chosen one
    /// reserved above it; a level above that denies it sends the weighing on from the next.
    /// Each weighing from alternative `from` on holds under a new reservation id, and with an
    /// Idempotency-Key under that key for `from` (`attempt_key`), so a repeat of the call
    /// replays every step of its first.
    async fn first_levels(
        &self,
        project: &str,
        alternatives: &[EventInput],
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<FirstFit, GatewayError> {
        let metadata: Vec<String> = alternatives
            .iter()
            .map(|a| canonical_metadata(&a.metadata))
            .collect::<Result<_, _>>()?;
        let mut passed: Vec<(usize, Decision)> = Vec::new();
        let mut from = 0;
        while from < alternatives.len() {
            let key = idempotency.map(|i| attempt_key(i, from));
            let id = ReservationId::new(&alternatives[from].user, &id_bytes::<16>());
            let at_user = self
                .first_at_user(
                    project,
                    alternatives,
                    &metadata,
                    from,
                    &passed,
                    &id,
                    ttl_ms,
                    key.as_ref(),
                )
                .await?;
            passed.extend(at_user.passed);
            let Some(chosen) = at_user.chosen else {
                break;
            };
            let input = &alternatives[chosen];
            let mut decision = self
                .parents()
                .reserve_above(
                    project,
                    input,
                    &metadata[chosen],
                    at_user.decision,
                    at_user.next,
                    ttl_ms,
                    key.as_ref(),
                    None,
                )
                .await?;
            if decision.allowed {
                return Ok(FirstFit::held(decision, chosen, passed));
            }
            // Capacity a team leased to its members' slices comes back for the calls after
            // this one, as a plain reserve's denial has it recalled; this call goes on with
            // the next alternative.
            let teams = decision.leased_by(input.user.as_str());
            if !teams.is_empty() {
                Box::pin(self.leases().recall_slices(project, &teams)).await?;
                self.leases().leased_back(&mut decision);
            }
            passed.push((chosen, decision));
            from = chosen + 1;
        }
        // When a rolling window has room again is advice: a failure to read it leaves the
        // denial as decided, never an error.
        for (i, denial) in &mut passed {
            if let Err(err) = self.rolling_back(project, &alternatives[*i], denial).await {
                tracing::warn!(%err, "a rolling window's retry-after was not read");
            }
        }
        Ok(FirstFit::denied(passed))
    }

    /// One script at the user's level over the alternatives from `from` on, under reservation
    /// `id`: those denied without a counter (a blocked user, an unmatched event, a model a
    /// priced group has no price for) are not asked; the records name every alternative and
    /// the denials known so far (`known`, of an earlier weighing, and those).
    #[allow(clippy::too_many_arguments)]
    async fn first_at_user(
        &self,
        project: &str,
        alternatives: &[EventInput],
        metadata: &[String],
        from: usize,
        known: &[(usize, Decision)],
        id: &ReservationId,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<AtUser, GatewayError> {
        let user = &alternatives[from].user;
        let level = Level {
            subject: user,
            below: &[],
        };
        self.node
            .drive(project, user, async || {
                let at = self.decided(None);
                let (mut denied, admitted) = self
                    .admitted_from(project, user, &alternatives[from..], from, at.at_ms)
                    .await?;
                // Every alternative is decided by one subscription's version, which the script
                // checks: one read on either side of a change is read again.
                if admitted.windows(2).any(|w| w[0].1.version != w[1].1.version) {
                    return Ok(Reply::Stale);
                }
                let mut weighing: Vec<(Weighing<'_>, Prepared<'_>)> = Vec::new();
                for (i, a) in &admitted {
                    match self.prepared(project, user, a, &alternatives[*i], at.at_ms).await? {
                        Ok(prepared) => weighing.push(((*i, a), prepared)),
                        Err(denial) => denied.push((*i, denial)),
                    }
                }
                denied.sort_by_key(|(i, _)| *i);
                let Some(((_, first), _)) = weighing.first() else {
                    // Nothing to weigh: every alternative from `from` on was denied before any
                    // counter.
                    return Ok(Reply::Done(nothing_weighed(denied, at.at_ms)));
                };
                let parent = level.above(first.parent.as_deref());
                let asked = asked_text(&asked(alternatives, metadata, known, &denied));
                let calls: Vec<Alternative<'_>> = weighing
                    .iter()
                    .map(|((i, _), prepared)| Alternative {
                        event: &alternatives[*i].event,
                        quantity: alternatives[*i].quantity,
                        metadata: &metadata[*i],
                        index: *i,
                        holds: &prepared.holds,
                    })
                    .collect();
                let shared = &alternatives[weighing[0].0 .0];
                let args = first_args(shared, first.version, id, ttl_ms, parent.as_ref(), at);
                let ledger = self.node.keeps_ledger(project).await?;
                let reply = self
                    .store
                    .reserve_first(
                        project,
                        user,
                        idempotency.map(Idempotency::stored),
                        &args,
                        &calls,
                        &asked,
                        ledger,
                    )
                    .await?;
                let weighed = match reply.done() {
                    Ok(weighed) => weighed,
                    Err(other) => return Ok(other),
                };
                let decided = self
                    .weighed(project, user, alternatives, &weighing, weighed, at)
                    .await?;
                Ok(Reply::Done(at_user(decided, denied, parent)))
            })
            .await
    }

    /// `alternatives` (the first at index `from`) admitted by the user's subscription, or
    /// denied before any counter, in order.
    async fn admitted_from(
        &self,
        project: &str,
        user: &UserId,
        alternatives: &[EventInput],
        from: usize,
        at_ms: i64,
    ) -> Result<(Vec<(usize, Decision)>, Vec<(usize, Admitted)>), GatewayError> {
        let mut denied: Vec<(usize, Decision)> = Vec::new();
        let mut admitted: Vec<(usize, Admitted)> = Vec::new();
        for (i, input) in alternatives.iter().enumerate() {
            match self.admitted(project, user, input).await? {
                Ok(a) => admitted.push((from + i, a)),
                Err(reason) => denied.push((from + i, Decision::denied(reason, at_ms))),
            }
        }
        Ok((denied, admitted))
    }

    /// Each weighed alternative's decision, in order, as a reserve of it alone would have
    /// answered (`reserve.rs`'s `reserved`): the last is the one the script decided on. The
    /// alerts the call fired are moved once, at once when a denial names an approval request.
    async fn weighed(
        &self,
        project: &str,
        user: &UserId,
        alternatives: &[EventInput],
        weighing: &[(Weighing<'_>, Prepared<'_>)],
        weighed: Weighed,
        at: crate::store::Decided,
    ) -> Result<Vec<(usize, Decision)>, GatewayError> {
        let Weighed { held, verdicts, fired } = weighed;
        if verdicts.iter().any(|v| v.pending.iter().any(|p| *p)) {
            Box::pin(self.alerts().alerts_moved(fired)).await;
        } else {
            self.alerts().alerts_fired(fired);
        }
        let mut decided = Vec::with_capacity(verdicts.len());
        for (((i, admitted), prepared), verdict) in weighing.iter().zip(verdicts) {
            let input = &alternatives[*i];
            let decision = self
                .reserved(
                    project,
                    user,
                    input,
                    admitted,
                    prepared,
                    held.clone(),
                    verdict,
                    Default::default(),
                    at,
                )
                .await?;
            decided.push((*i, decision));
        }
        Ok(decided)
    }
}

/// The user's level's decision from each weighed alternative's (`decided`, in order: the last
/// the one the script decided on) and those denied before any counter.
fn at_user(mut decided: Vec<(usize, Decision)>, mut denied: Vec<(usize, Decision)>, next: Option<UserId>) -> AtUser {
    let (last, decision) = decided.pop().unwrap_or_else(|| (0, at_denial(0)));
    let chosen = decision.allowed.then_some(last);
    denied.extend(decided);
    if chosen.is_none() {
        denied.push((last, decision.clone()));
    } else {
        // Denied before any counter after the chosen one: never reached.
        denied.retain(|(i, _)| *i < last);
    }
    denied.sort_by_key(|(i, _)| *i);
    AtUser {
        decision,
        chosen,
        passed: denied,
        next: chosen.and(next),
    }
}

/// A denial with nothing to say, for a weighing that weighed nothing.
fn at_denial(at_ms: i64) -> Decision {
    Decision::denied(crate::quota::Reason::LimitReached, at_ms)
}

/// Every alternative as the records of a call name it: what it asks, and the denials known
/// before the script weighs (`known`, of earlier weighings; `denied`, before any counter).
fn asked<'a>(
    alternatives: &'a [EventInput],
    metadata: &'a [String],
    known: &[(usize, Decision)],
    denied: &[(usize, Decision)],
) -> Vec<Asked<'a>> {
    alternatives
        .iter()
        .enumerate()
        .map(|(i, a)| Asked {
            event: &a.event,
            quantity: a.quantity,
            metadata: &metadata[i],
            denied: known
                .iter()
                .chain(denied)
                .filter(|(k, _)| *k == i)
                .flat_map(|(_, d)| denials(d))
                .collect(),
        })
        .collect()
}

/// A denial's groups and reasons, as a record names them ("" for a denial of no group).
fn denials(d: &Decision) -> Vec<(String, &'static str)> {
    if d.denied_by.is_empty() {
        return d.reasons.iter().map(|r| (String::new(), r.code())).collect();
    }
    d.denied_by
        .iter()
        .map(|x| (x.group.clone().unwrap_or_default(), x.reason.code()))
        .collect()
}

/// The Idempotency-Key of the weighing from alternative `from` on: the call's own for the
/// first, a key of its own for each later one (a level above denied the one before), so a
/// repeat of the call replays each.
fn attempt_key(key: &Idempotency, from: usize) -> Idempotency {
    if from == 0 {
        return key.clone();
    }
    let stored = key.stored();
    Idempotency::new(format!("{}#{from}", stored.field), stored.body_digest.clone())
}

/// The user's answer when nothing was left to weigh: the last denial (every alternative from
/// the first asked on was denied before any counter).
fn nothing_weighed(denied: Vec<(usize, Decision)>, at_ms: i64) -> AtUser {
    let decision = denied
        .last()
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| at_denial(at_ms));
    AtUser {
        decision,
        chosen: None,
        passed: denied,
        next: None,
    }
}

/// The reserve's arguments of one call weighing alternatives: `shared`, the first weighed,
/// stands for their event, quantity and step; each alternative's own go with its holds.
fn first_args<'a>(
    shared: &'a EventInput,
    version: u64,
    id: &'a ReservationId,
    ttl_ms: i64,
    parent: Option<&'a UserId>,
    at: Decided,
) -> ReserveArgs<'a> {
    ReserveArgs {
        version,
        reservation_id: id.as_str(),
        ttl_ms,
        event: &shared.event,
        quantity: shared.quantity,
        metadata: "",
        parent: parent.map_or("", UserId::as_str),
        at,
        step: shared.step.as_ref(),
        run: None,
        fallback: None,
        keep: false,
    }
}
