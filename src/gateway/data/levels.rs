//! Reserve and check across a chain of budgets: the user's level first, then
//! each parent's, one script per level, since each level keeps its own hash tag. A reserve
//! stops at the first level that denies and releases the holds it took below (and at a level
//! that fails, unless an Idempotency-Key lets a retry complete it); the event is admitted only
//! when every level admits it. A user without a parent runs exactly one script.

use std::time::Duration;

use super::chain::{self, Levels};
use super::parents::{walk_up, Level};
use super::reserve::canonical_metadata;
use super::{DataPlane, Idempotency, Parents};
use crate::gateway::GatewayError;
use crate::quota::{Decision, EventInput, ReservationId, RunLimits, UserId};
use crate::store::Reply;

impl Parents<'_> {
    /// Reserves at every level, bottom-up, under one reservation id; a run's start (`run`,
    /// its limits) keeps its limits at the user's level, which alone counts them. A team that
    /// denies for capacity leased to its members' slices has every slice recalled, and the
    /// call is decided again once (under a new id: the first was released) when they gave
    /// anything back; a denial that stays says to try again within a slice's life. `keep`: the
    /// decision keeps the record its reserve wrote, where that is provably the one Redis keeps.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn reserve_levels(
        &self,
        project: &str,
        input: &EventInput,
        id: &ReservationId,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        run: Option<&RunLimits>,
        keep: bool,
    ) -> Result<Decision, GatewayError> {
        let mut decision = self
            .reserve_chain(project, input, id, ttl_ms, idempotency, run, keep)
            .await?;
        // (A repeat of an Idempotency-Key, a run's start or a step is answered as decided: a
        // new id would be another reservation than the one its key or run names.)
        let again = idempotency.is_none() && run.is_none() && input.step.is_none();
        for pass in 0..2 {
            let teams = decision.leased_by(input.user.as_str());
            if teams.is_empty() {
                break;
            }
            let gave = Box::pin(self.leases().recall_slices(project, &teams)).await?;
            if gave && again && pass == 0 {
                let id = ReservationId::new(&input.user, &crate::secrets::id_bytes::<16>());
                decision = Box::pin(self.reserve_chain(project, input, &id, ttl_ms, None, None, keep)).await?;
                continue;
            }
            self.leases().leased_back(&mut decision);
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
    #[allow(clippy::too_many_arguments)]
    async fn reserve_chain(
        &self,
        project: &str,
        input: &EventInput,
        id: &ReservationId,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
        run: Option<&RunLimits>,
        keep: bool,
    ) -> Result<Decision, GatewayError> {
        let user = &input.user;
        // What the reservation was for, as every level's record keeps it.
        let metadata = canonical_metadata(&input.metadata)?;
        // On slices of the parents' budgets, in one script at the user's slot (slices.rs). A
        // call with an Idempotency-Key is decided by the walk: its repeat is answered from what
        // the user's level kept, which must be the walk's whatever the parents' headroom is then.
        if run.is_none() && input.step.is_none() && input.fallback.is_none() && idempotency.is_none() {
            if let Some(decision) = self
                .leases()
                .reserve_on_slices(project, input, &metadata, id, ttl_ms)
                .await?
            {
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
                (run, keep),
            )
            .await?;
        self.reserve_above(project, input, &metadata, first, next, ttl_ms, idempotency, run)
            .await
    }

    /// The levels above the user's, bottom-up, once the user's level decided `first` (which
    /// names `next`, the level above it): each holds under the user's level's reservation id
    /// and at its instant, and a level that denies releases the holds below it (`chain.rs`).
    /// The event is admitted only when every level admits it.
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
        let Some(next) = next.filter(|_| first.allowed) else {
            return Ok(first);
        };
        // A call the user's level clamped holds what it was granted at the levels above.
        let shrunk = first.fitted.as_ref().map(|f| crate::quota::fit::shrink(input, f));
        let levels = LevelsOf {
            plane: *self,
            project,
            input: shrunk.as_ref().unwrap_or(input),
            metadata,
            ttl_ms,
            idempotency: idempotency.map(|i| i.under(user.as_str())),
            run: run.map(|_| RunLimits::default()),
        };
        // Boxed: a walk up a team's levels is a large future, and unboxed it would size every
        // reserve's, a user's without a team included.
        Box::pin(chain::above(&levels, user, first, next, idempotency.is_some())).await
    }

    /// Releases `id` at `subject`'s level once Redis answers: tries 0.1 s after the failure,
    /// then twice as long after each (2 s at most), until the hold's life is over.
    fn release_later(&self, project: &str, subject: &UserId, id: &ReservationId, ttl_ms: i64) {
        let (gateway, project, subject, id) =
            (DataPlane::clone(self), project.to_string(), subject.clone(), id.clone());
        let until = std::time::Instant::now() + Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            while std::time::Instant::now() + wait < until {
                tokio::time::sleep(wait).await;
                // (The store's call, not release_level: its retry loop's closure is not Send.)
                let ledger = gateway.node.keeps_ledger(&project).await.unwrap_or(true);
                match gateway.store.release(&project, &subject, &id, ledger, "").await {
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
        walk_up(&input.user, next.map(UserId::into_string), async |level| {
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

/// The levels of one reserve as the walk (`chain.rs`) asks for them: its project, event and
/// hold's life fixed; levels above the user's hold with no run of their own.
struct LevelsOf<'a> {
    plane: Parents<'a>,
    project: &'a str,
    input: &'a EventInput,
    metadata: &'a str,
    ttl_ms: i64,
    /// The call's Idempotency-Key as the levels above keep it.
    idempotency: Option<Idempotency>,
    run: Option<RunLimits>,
}

impl Levels for LevelsOf<'_> {
    async fn reserve(
        &self,
        level: Level<'_>,
        id: &ReservationId,
        at_ms: i64,
    ) -> Result<(Decision, Option<UserId>), GatewayError> {
        self.plane
            .reserve_level(
                self.project,
                level,
                self.input,
                self.metadata,
                id,
                self.ttl_ms,
                self.idempotency.as_ref(),
                Some(at_ms),
                (self.run.as_ref(), false),
            )
            .await
    }

    async fn release(&self, subject: &UserId, id: &ReservationId) -> Result<(), GatewayError> {
        self.plane.release_level(self.project, subject, id, "").await.map(drop)
    }

    fn release_later(&self, subject: &UserId, id: &ReservationId) {
        self.plane.release_later(self.project, subject, id, self.ttl_ms);
    }

    async fn between(&self) {
        self.plane.between_levels().await;
    }
}
