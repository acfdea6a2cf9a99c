//! The delivery worker every node runs: it claims due deliveries of every project with
//! webhooks (claim.lua leases them, so two live nodes never attempt one delivery at once),
//! attempts them, records each outcome (complete.lua: the next retry, or the end), and sweeps
//! the alerts outboxes for what dead nodes left behind.

use std::time::{Duration, Instant};

use super::{Gateway, GatewayError};
use crate::store::{Attempted, Claimed, DeliveryOutcome};
use crate::webhooks::send::{send, Attempt, Message};

/// Deliveries one node attempts at once per project.
const CLAIM_BATCH: usize = 16;
/// Deliveries are kept, and listed, for a week.
const LOG_KEEP: Duration = Duration::from_secs(7 * 86_400);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Gateway {
    /// Runs until the process ends.
    pub async fn deliver_forever(self) {
        let mut swept = Instant::now();
        loop {
            let delivered = self.deliver_due().await;
            if let Err(err) = &delivered {
                tracing::warn!(%err, "webhook deliveries wait for the next round");
            }
            // A node told to move nothing (a test's dead node) does not sweep either.
            let sweeps = !self.webhooks.test_skip_moves && matches!(delivered, Ok(true));
            if sweeps && swept.elapsed() >= self.webhooks.sweep_every() {
                swept = Instant::now();
                match self.sweep_outboxes().await {
                    Ok(0) => {}
                    Ok(moved) => tracing::info!(moved, "alerts left in outboxes were moved"),
                    Err(err) => tracing::warn!(%err, "the outbox sweep stopped early"),
                }
            }
            tokio::time::sleep(self.webhooks.poll_every()).await;
        }
    }

    /// Attempts what is due in every project with an enabled endpoint; answers whether any
    /// project has one (only then is there anything to sweep).
    async fn deliver_due(&self) -> Result<bool, GatewayError> {
        let mut any = false;
        for project in self.store.project_ids().await? {
            if !self.alerting(&project).await? {
                continue;
            }
            any = true;
            let now = self.clock.now_ms();
            let claimed = self
                .store
                .claim(&project, now, ms(self.webhooks.lease()), CLAIM_BATCH, ms(LOG_KEEP))
                .await?;
            let attempts = claimed.into_iter().map(|c| self.attempt(&project, c));
            for result in futures_util::future::join_all(attempts).await {
                result?;
            }
        }
        Ok(any)
    }

    /// One attempt of one claimed delivery, and its outcome recorded.
    async fn attempt(&self, project: &str, claimed: Claimed) -> Result<(), GatewayError> {
        let now = self.clock.now_ms();
        let endpoint = &claimed.endpoint;
        let mut secrets = vec![endpoint.secret.as_str()];
        if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until) {
            if until > now {
                secrets.push(previous);
            }
        }
        let message = Message {
            url: &endpoint.url,
            secrets: &secrets,
            id: &claimed.delivery.event,
            body: &claimed.delivery.body,
            timestamp: now.div_euclid(1000),
        };
        let attempt = send(&message, &self.webhooks).await;
        let attempts = u32::try_from(claimed.delivery.attempts.unwrap_or(0) + 1).unwrap_or(u32::MAX);
        let done = self.clock.now_ms();
        let (outcome, status, error) = match attempt {
            Attempt::Delivered(status) => (DeliveryOutcome::Ok, Some(status), String::new()),
            Attempt::Gone => (DeliveryOutcome::Gone, Some(410), "410 Gone".to_string()),
            Attempt::Failed { status, error } => {
                let next = self.webhooks.retry_after(attempts);
                let outcome = next.map_or(DeliveryOutcome::Fail, |d| DeliveryOutcome::Retry(done + ms(d)));
                (outcome, status, error)
            }
        };
        tracing::info!(delivery = %claimed.id, ?outcome, ?status, "webhook attempt");
        let attempted = Attempted {
            outcome,
            status,
            error: &error,
            at_ms: done,
        };
        self.store
            .complete(project, &claimed.id, &attempted, ms(self.webhooks.failing_limit()))
            .await?;
        Ok(())
    }
}
