//! Reserve and check across a chain of budgets: the user's level first, then
//! each parent's, one script per level, since each level keeps its own hash tag. A reserve
//! stops at the first level that denies and releases the holds it took below (and at a level
//! that fails, unless an Idempotency-Key lets a retry complete it); the event is admitted only
//! when every level admits it. A user without a parent runs exactly one script.

use std::time::Duration;

use super::parents::Level;
use super::reserve::canonical_metadata;
use super::Idempotency;
use super::{Gateway, GatewayError};
use crate::quota::{Counter, Decision, EventInput, Milli, ReservationId, RunLimits, UserId};
use crate::store::{Reply, StoreError};

impl Gateway {
    /// Reserves at every level, bottom-up, under one reservation id; a run's start (`run`,
    /// its limits) keeps its limits at the user's level, which alone counts them. A team that
    /// denies for capacity leased to its members' slices has every slice recalled, and the
    /// call is decided again once (under a new id: the first was released) when they gave
    /// anything back; a denial that stays says to try again within a slice's life.
    pub(super) async fn reserve_levels(
        &self,
        project: &str,
        input: &EventInput,
        id: &ReservationId,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        run: Option<&RunLimits>,
    ) -> Result<Decision, GatewayError> {
        let mut decision = self.reserve_chain(project, input, id, ttl_ms, idempotency, run).await?;
        // (A repeat of an Idempotency-Key, a run's start or a step is answered as decided: a
        // new id would be another reservation than the one its key or run names.)
        let again = idempotency.is_none() && run.is_none() && input.step.is_none();
        for pass in 0..2 {
            let teams = decision.leased_by(input.user.as_str());
            if teams.is_empty() {
                break;
            }
            let gave = Box::pin(self.recall_slices(project, &teams)).await?;
            if gave && again && pass == 0 {
                let id = ReservationId::new(&input.user, &crate::secrets::id_bytes::<16>());
                decision = Box::pin(self.reserve_chain(project, input, &id, ttl_ms, None, None)).await?;
                continue;
            }
            self.leased_back(&mut decision);
            break;
        }
        // When a rolling window has room again is advice: a failure to read it leaves the
        // denial as decided, never an error.
        if !decision.allowed {
            if let Err(err) = self.rolling_back(project, input, &mut decision).await {
                tracing::warn!(%err, "a rolling window's retry-after was not read");
            }
        }
        Ok(decision)
    }

    /// `reserve_levels` but for the slices it ends.
    async fn reserve_chain(
        &self,
        project: &str,
        input: &EventInput,
        id: &ReservationId,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        run: Option<&RunLimits>,
    ) -> Result<Decision, GatewayError> {
        let user = &input.user;
        // What the reservation was for, as every level's record keeps it.
        let metadata = canonical_metadata(&input.metadata)?;
        // On slices of the parents' budgets, in one script at the user's slot (slices.rs). A
        // call with an Idempotency-Key is decided by the walk: its repeat is answered from what
        // the user's level kept, which must be the walk's whatever the parents' headroom is then.
        if run.is_none() && input.step.is_none() && idempotency.is_none() {
            if let Some(decision) = self.reserve_on_slices(project, input, &metadata, id, ttl_ms).await? {
                return Ok(decision);
            }
        }
        let (first, next) = self
            .reserve_level(
                project,
                Level {
                    subject: user,
                    below: &[],
                },
                input,
                &metadata,
                id,
                ttl_ms,
                idempotency,
                None,
                run,
            )
            .await?;
        self.reserve_above(project, input, &metadata, first, next, ttl_ms, idempotency, run)
            .await
    }

    /// The levels above the user's, bottom-up, once the user's level decided `first` (which
    /// names `next`, the level above it): each holds under the user's level's reservation id
    /// and at its instant, and a level that denies releases the holds below it. The event is
    /// admitted only when every level admits it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn reserve_above(
        &self,
        project: &str,
        input: &EventInput,
        metadata: &str,
        first: Decision,
        next: Option<UserId>,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        run: Option<&RunLimits>,
    ) -> Result<Decision, GatewayError> {
        let user = &input.user;
        if !first.allowed || next.is_none() {
            return Ok(first);
        }
        // A call the user's level clamped holds what it was granted at the levels above.
        let shrunk = first.fitted.as_ref().map(|f| crate::quota::fit::shrink(input, f));
        let input = shrunk.as_ref().unwrap_or(input);
        // Every level decides at the user's level's instant: one event, one window everywhere.
        let at = Some(first.decided_at_ms);
        // A repeat of an Idempotency-Key answers the first call's reservation: the parents'
        // levels hold under that id (and repeat their own first answers).
        let id = first
            .granted
            .as_ref()
            .map(|g| g.reservation_id.clone())
            .ok_or_else(|| StoreError::Protocol("a reserve answered no reservation id".into()))?;
        let mut answer = first;
        let mut denied = None;
        let idempotency = idempotency.map(|i| i.under(user.as_str()));
        let run_above = run.map(|_| RunLimits::default());
        self.walk_up(user, next.map(UserId::into_string), async |level| {
            self.between_levels().await;
            let reserved = self
                .reserve_level(
                    project,
                    level,
                    input,
                    metadata,
                    &id,
                    ttl_ms,
                    idempotency.as_ref(),
                    at,
                    run_above.as_ref(),
                )
                .await;
            let (decision, above) = match reserved {
                Ok(reserved) => reserved,
                // A level whose answer was lost (Redis too slow, say) may still have held. With
                // an Idempotency-Key the client's retry replays the levels that answered and
                // completes the others, so the holds below stay for it: released here, the
                // retry would be told of a reservation that no longer holds. Without a key, or
                // after an error a retry cannot mend (the event lacks what the parent's plan
                // measures), the holds below go back now.
                Err(err) => {
                    let lost = err.redis_failed() || matches!(err, GatewayError::Unsettled(_));
                    if idempotency.is_none() || !lost {
                        self.unwind(project, level.below, &id, ttl_ms).await;
                    }
                    return Err(err);
                }
            };
            let decision = decision.of_subject(level.subject.as_str());
            if !decision.allowed {
                self.unwind(project, level.below, &id, ttl_ms).await;
                denied = Some(decision);
                return Ok(None);
            }
            if let (Some(all), Some(this)) = (answer.granted.as_mut(), decision.granted) {
                all.held.extend(this.held);
            }
            // A level above that clamped further grants less.
            if let Some(fitted) = decision.fitted {
                if answer.fitted.is_none_or(|f| fitted.quantity < f.quantity) {
                    answer.fitted = Some(fitted);
                }
            }
            answer.counters.extend(decision.counters);
            Ok(above.map(UserId::into_string))
        })
        .await?;
        Ok(match denied {
            Some(decision) => denied_above(answer, decision),
            None => answer,
        })
    }

    /// Gives back the holds a reserve took at `held` levels when a level above denied or
    /// failed. A release that fails (Redis unreachable just then) is tried again in the
    /// background while its hold lives, so a denied call's hold goes back once Redis answers
    /// rather than deny its user's next calls until it expires; a node killed meanwhile leaves
    /// it to its expiry, `ttl_ms` at most.
    async fn unwind(&self, project: &str, held: &[UserId], id: &ReservationId, ttl_ms: i64) {
        for subject in held {
            if let Err(err) = self.release_level(project, subject, id).await {
                tracing::warn!(%err, "a hold below a denying level is released again in the background");
                self.release_later(project, subject, id, ttl_ms);
            }
        }
    }

    /// Releases `id` at `subject`'s level once Redis answers: tries 0.1 s after the failure,
    /// then twice as long after each (2 s at most), until the hold's life is over.
    fn release_later(&self, project: &str, subject: &UserId, id: &ReservationId, ttl_ms: i64) {
        let (gateway, project, subject, id) = (self.clone(), project.to_string(), subject.clone(), id.clone());
        let until = std::time::Instant::now() + Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            while std::time::Instant::now() + wait < until {
                tokio::time::sleep(wait).await;
                // (The store's call, not release_level: its retry loop's closure is not Send.)
                let ledger = gateway.node.keeps_ledger(&project).await.unwrap_or(true);
                match gateway.node.store.release(&project, &subject, &id, ledger).await {
                    // Expired holds were reclaimed first: asked again.
                    Ok(Reply::More) => continue,
                    Ok(_) => return,
                    Err(_) => wait = (wait * 2).min(Duration::from_secs(2)),
                }
            }
        });
    }

    /// What reserve would answer now at every level: the levels' verdicts together.
    pub(super) async fn check_levels(&self, project: &str, input: &EventInput) -> Result<Decision, GatewayError> {
        let first = Level {
            subject: &input.user,
            below: &[],
        };
        let (mut answer, next) = self.check_level(project, first, input, None).await?;
        let at = Some(answer.decided_at_ms);
        self.walk_up(&input.user, next.map(UserId::into_string), async |level| {
            let (decision, above) = self.check_level(project, level, input, at).await?;
            let decision = decision.of_subject(level.subject.as_str());
            answer.allowed &= decision.allowed;
            for reason in decision.reasons {
                if !answer.reasons.contains(&reason) {
                    answer.reasons.push(reason);
                }
            }
            answer.denied_by.extend(decision.denied_by);
            answer.counters.extend(decision.counters);
            Ok(above.map(UserId::into_string))
        })
        .await?;
        Ok(answer)
    }
}

/// The denial of a reserve whose `denying` level refused after the levels below admitted (as
/// `admitted`): nothing is held anywhere. The lower levels show their counters as they were
/// before this reserve held, computed from what they admitted with, so a repeat of the call,
/// which replays those levels' first answers, answers the same.
fn denied_above(admitted: Decision, denying: Decision) -> Decision {
    let held = admitted.granted.map(|g| g.held).unwrap_or_default();
    let mut counters: Vec<Counter> = admitted.counters;
    for (counter, amount) in counters.iter_mut().zip(held) {
        counter.reserved = Milli(counter.reserved.0.saturating_sub(amount.0));
    }
    counters.extend(denying.counters);
    Decision {
        allowed: false,
        granted: None,
        reasons: denying.reasons,
        denied_by: denying.denied_by,
        counters,
        decided_at_ms: denying.decided_at_ms,
        run: admitted.run,
        fitted: None,
    }
}
