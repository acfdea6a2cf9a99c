//! Reserve and check: resolve the user's plan, prepare the matched groups' holds, and let
//! `reserve.lua` decide and hold atomically, or `check.lua` decide without writing.

use std::time::Instant;

use super::outcome::{Effect, Observed, Verb};
use super::resolve::Admitted;
use super::{Gateway, GatewayError};
use crate::quota::decision::Granted;
use crate::quota::hold::prepare;
use crate::quota::{Decision, EventInput, Prepared, ReservationId};
use crate::secrets::random_bytes;
use crate::store::{Idempotency, Reply, ReserveArgs};

impl Observed for Decision {
    fn effect(&self) -> Effect<'_> {
        Effect::Decided(self)
    }
}

impl Gateway {
    /// Holds quota for the event; with an Idempotency-Key, a repeat answers the first answer.
    pub async fn reserve(
        &self,
        project: &str,
        input: &EventInput,
        ttl_ms: i64,
        idempotency: Option<&Idempotency>,
    ) -> Result<Decision, GatewayError> {
        self.decide(Verb::Reserve, project, input, async |admitted, prepared| {
            let id = ReservationId::new(&input.user, &random_bytes::<16>());
            let args = ReserveArgs {
                version: admitted.version,
                reservation_id: id.as_str(),
                ttl_ms,
                event: &input.event,
            };
            let ledger = self.keeps_ledger(project).await?;
            let reply = self
                .store
                .reserve(project, &input.user, idempotency, &args, &prepared.holds, ledger)
                .await?;
            Ok(reply.map(|(granted, verdict, fired)| {
                self.alerts_fired(fired);
                let granted = Granted {
                    reservation_id: granted.reservation_id,
                    expires_at_ms: granted.expires_ms,
                };
                prepared.decision(&verdict, Some(granted), self.clock.now_ms())
            }))
        })
        .await
    }

    /// What reserve would answer now, without writing anything.
    pub async fn check(&self, project: &str, input: &EventInput) -> Result<Decision, GatewayError> {
        self.decide(Verb::Check, project, input, async |admitted, prepared| {
            let reply = self
                .store
                .check(project, &input.user, admitted.version, &prepared.holds)
                .await?;
            Ok(reply.map(|verdict| prepared.decision(&verdict, None, self.clock.now_ms())))
        })
        .await
    }

    /// What reserve and check share: admit the user (a denial that needs no counter asks no
    /// script), prepare the event's holds, let `ask` put them to its script through the retry
    /// driver, and report the outcome.
    async fn decide(
        &self,
        verb: Verb,
        project: &str,
        input: &EventInput,
        ask: impl AsyncFn(&Admitted, &Prepared<'_>) -> Result<Reply<Decision>, GatewayError>,
    ) -> Result<Decision, GatewayError> {
        let started = Instant::now();
        let answer = self
            .drive(project, &input.user, async || {
                let admitted = match self.admitted(project, input).await? {
                    Ok(admitted) => admitted,
                    Err(reason) => return Ok(Reply::Done(Decision::denied(reason, self.clock.now_ms()))),
                };
                let mut prepared = prepare(&admitted.plan, input, admitted.started_ms, self.clock.now_ms(), true)?;
                self.alerts_for(project, &mut prepared).await?;
                ask(&admitted, &prepared).await
            })
            .await;
        self.report(verb, project, Some(&input.user), started, &answer);
        answer
    }
}
