//! The outbox sweep: alerts and leases' notes that a node left in a slot's outbox when it died
//! between its script and moving them are moved by whichever node takes the sweep's turn.

use futures_util::StreamExt;

use super::Workers;
use crate::gateway::GatewayError;
use crate::store::slots::SLOTS;
use crate::store::Outboxed;

/// Outboxes read at once by the sweeper (a read of several counts each).
const SWEEP_PARALLEL: usize = 64;
/// Entries one sweep takes from one outbox; the next sweep takes more.
const SWEEP_BATCH: usize = 100;

impl Workers {
    /// Moves every event that has waited in an outbox longer than the grace period: what nodes
    /// that died right after their scripts left. One node sweeps per interval (the others find
    /// the turn taken). Answers how many it moved.
    pub(super) async fn sweep_outboxes(&self) -> Result<usize, GatewayError> {
        let turn = u64::try_from(self.webhooks.sweep_every().as_millis()).unwrap_or(u64::MAX);
        if !self.store.take_sweep_turn(turn).await? {
            return Ok(0);
        }
        let before =
            self.data.node.clock.now_ms() - i64::try_from(self.webhooks.sweep_grace().as_millis()).unwrap_or(0);
        // Several outboxes a read, as many at once as make SWEEP_PARALLEL outboxes.
        let per_read = self.store.outboxes_per_read();
        let found: Vec<Result<Outboxed, _>> = futures_util::stream::iter((0..SLOTS).step_by(per_read))
            .map(|first| {
                self.store
                    .outbox_stale(first..(first + per_read).min(SLOTS), before, SWEEP_BATCH)
            })
            .buffer_unordered(SWEEP_PARALLEL.div_ceil(per_read))
            .collect()
            .await;
        let (mut entries, mut notes) = (Vec::new(), Vec::new());
        for batch in found {
            let batch = batch?;
            entries.extend(batch.alerts);
            notes.extend(batch.leases);
        }
        let moved = entries.len() + notes.len();
        // The leases' notes first: ending an intent or a slice writes statements, settled now.
        self.data.leases().settle_notes(notes).await?;
        if !entries.is_empty() {
            self.data.alerts().move_alerts(entries).await?;
        }
        Ok(moved)
    }
}
