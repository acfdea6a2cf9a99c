//! The delivery worker every node runs: it claims due deliveries of every project with
//! webhooks (claim.lua leases them, so two live nodes never attempt one delivery at once),
//! attempts each in a task of its own, records each outcome (complete.lua: the next retry, or
//! the end), and sweeps the alerts outboxes for what dead nodes left behind. A claim round never
//! waits for an attempt, so one project's slow receiver never delays another project's
//! deliveries; attempts in flight are bounded per project and per node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Workers;
use crate::gateway::GatewayError;
use crate::store::{Attempted, Claimed, DeliveryOutcome};
use crate::webhooks::send::{send, Attempt, Message};

/// Deliveries one node attempts at once for one project: a project whose receivers stall holds
/// at most this many of the node's attempts.
const PROJECT_IN_FLIGHT: usize = 16;
/// Deliveries one node attempts at once, all projects together.
const NODE_IN_FLIGHT: usize = 128;
/// Deliveries are kept, and listed, for a week.
const LOG_KEEP: Duration = Duration::from_secs(7 * 86_400);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The attempts this node has in flight: a permit per attempt from the node's pool and from
/// its project's. Only the claim loop takes permits; a finished attempt's task returns them.
struct InFlight {
    node: Arc<Semaphore>,
    projects: HashMap<String, Arc<Semaphore>>,
}

impl InFlight {
    fn new() -> InFlight {
        InFlight {
            node: Arc::new(Semaphore::new(NODE_IN_FLIGHT)),
            projects: HashMap::new(),
        }
    }

    /// As many pairs of permits as `project` may start attempts now.
    fn room(&mut self, project: &str) -> Vec<[OwnedSemaphorePermit; 2]> {
        let own = self
            .projects
            .entry(project.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(PROJECT_IN_FLIGHT)))
            .clone();
        (0..PROJECT_IN_FLIGHT)
            .map_while(|_| {
                let mine = own.clone().try_acquire_owned().ok()?;
                Some([mine, self.node.clone().try_acquire_owned().ok()?])
            })
            .collect()
    }

    /// Forgets projects with nothing in flight that are no longer delivered to.
    fn keep_only(&mut self, delivering: &[String]) {
        self.projects
            .retain(|p, s| s.available_permits() < PROJECT_IN_FLIGHT || delivering.contains(p));
    }
}

impl Workers {
    /// Runs until the process ends.
    pub(crate) async fn deliver_forever(self) {
        let mut swept = Instant::now();
        let mut in_flight = InFlight::new();
        loop {
            let delivered = self.deliver_due(&mut in_flight).await;
            if let Err(err) = &delivered {
                tracing::warn!(%err, "webhook deliveries wait for the next round");
            }
            // A node told to move nothing (a test's dead node) does not sweep either.
            // Leases' notes wait there too, endpoints or not (slices.rs).
            let sweeps = !self.webhooks.skip_moves() && (matches!(delivered, Ok(true)) || self.data.leases.enabled);
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

    /// Starts what is due in every project with an enabled endpoint, as far as the project's
    /// and the node's room allow, without waiting for any attempt; answers whether any project
    /// has an endpoint (only then is there anything to sweep). One project's failure to claim
    /// is logged and does not keep the others waiting.
    async fn deliver_due(&self, in_flight: &mut InFlight) -> Result<bool, GatewayError> {
        let mut delivering = Vec::new();
        for project in self.store.project_ids().await? {
            if !self.data.alerts().alerting(&project).await? {
                continue;
            }
            delivering.push(project.clone());
            let room = in_flight.room(&project);
            if room.is_empty() {
                continue;
            }
            let now = self.data.node.clock.now_ms();
            let lease = ms(self.webhooks.lease());
            let claimed = match self.store.claim(&project, now, lease, room.len(), ms(LOG_KEEP)).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(%err, project, "this project's deliveries wait for the next round");
                    continue;
                }
            };
            // The attempt's deadline is set now, right after the claim, and the lease outlasts
            // it by a margin (`WebhookSettings::lease`): no attempt outlives its lease.
            let deadline = tokio::time::Instant::now() + self.webhooks.timeout;
            for (claimed, permits) in claimed.into_iter().zip(room) {
                let gateway = self.clone();
                let project = project.clone();
                tokio::spawn(async move {
                    let id = claimed.id.clone();
                    if let Err(err) = gateway.attempt(&project, claimed, deadline).await {
                        tracing::warn!(%err, project, delivery = %id, "an attempt's outcome was not recorded; it is retried after its lease");
                    }
                    drop(permits);
                });
            }
        }
        in_flight.keep_only(&delivering);
        Ok(!delivering.is_empty())
    }

    /// One attempt of one claimed delivery, and its outcome recorded.
    async fn attempt(
        &self,
        project: &str,
        claimed: Claimed,
        deadline: tokio::time::Instant,
    ) -> Result<(), GatewayError> {
        let now = self.data.node.clock.now_ms();
        let endpoint = &claimed.endpoint;
        let secrets = endpoint.signing_secrets(now);
        let message = Message {
            url: &endpoint.url,
            secrets: &secrets,
            id: &claimed.delivery.event,
            body: &claimed.delivery.body,
            timestamp: now.div_euclid(1000),
        };
        let attempt = send(&message, &self.webhooks, deadline).await;
        let attempts = u32::try_from(claimed.delivery.attempts.unwrap_or(0) + 1).unwrap_or(u32::MAX);
        let done = self.data.node.clock.now_ms();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_gets_its_own_room_within_the_nodes() {
        let mut in_flight = InFlight::new();
        let first = in_flight.room("a");
        assert_eq!(first.len(), PROJECT_IN_FLIGHT);
        assert!(
            in_flight.room("a").is_empty(),
            "a project's attempts in flight are bounded"
        );
        assert_eq!(
            in_flight.room("b").len(),
            PROJECT_IN_FLIGHT,
            "another project is not held up"
        );
        drop(first);
        assert_eq!(
            in_flight.room("a").len(),
            PROJECT_IN_FLIGHT,
            "finished attempts give their room back"
        );
        let mut all = Vec::new();
        for i in 0..NODE_IN_FLIGHT {
            all.extend(in_flight.room(&format!("p{i}")));
        }
        assert_eq!(
            all.len(),
            NODE_IN_FLIGHT,
            "the node's attempts in flight are bounded too"
        );
        assert!(in_flight.room("late").is_empty());
    }
}
