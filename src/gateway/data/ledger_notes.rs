//! A member's commit on a slice writes its team's ledger entry as a note in the member's slot
//! outbox (docs/decisions/0060-leased-slices.md), which the node moves to the team's slot
//! (docs/decisions/0130-ledger-notes-moved-in-batches.md). Moved one by one, each commit cost
//! three round trips more (its notes read, appended, removed): a member's reserve and commit
//! took 5.1 against 2.1 without a team. So the node gathers what such commits fire for
//! `BATCH_WAIT` and moves it together: every note of one team in one script, the notes read
//! and removed in one pipeline on one server (one per outbox on a Cluster).

use std::mem;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{DataPlane, Leases};
use crate::gateway::GatewayError;
use crate::quota::{Reservation, UserId};
use crate::store::{Fired, LeaseNote, LeaseNoteKind, Reply, StoreError};

/// How long the node gathers what commits on slices fired before moving it: the most a team's
/// ledger entry of such a commit waits beyond its answer, with a node alive.
const BATCH_WAIT: Duration = Duration::from_millis(50);
/// Outbox entries a node keeps waiting at most; past that, what commits fire is left to the
/// sweeper (it stays in the outboxes until moved), so a stalled Redis cannot grow a node.
const MOST_WAITING: usize = 16_384;
/// Notes of one team appended in one script: a batch of any size runs as scripts of at most
/// this many, so none holds Redis long.
const NOTES_PER_SCRIPT: usize = 64;

/// What commits on slices fired, waiting to be moved, and whether a task is on its way to.
#[derive(Default)]
pub(super) struct NoteBatches(Mutex<Waiting>);

#[derive(Default)]
struct Waiting {
    fired: Vec<Fired>,
    entries: usize,
    moving: bool,
}

impl NoteBatches {
    /// Adds `fired` to the batch; whether a task must be started to move it.
    fn add(&self, fired: Fired) -> bool {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if w.entries + fired.ids.len() > MOST_WAITING {
            tracing::debug!("a commit's notes are left to the sweeper: the batch is full");
            return false;
        }
        w.entries += fired.ids.len();
        w.fired.push(fired);
        !mem::replace(&mut w.moving, true)
    }

    /// The batch gathered so far; None (and no task moving) when there is none.
    fn take(&self) -> Option<Vec<Fired>> {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if w.fired.is_empty() {
            w.moving = false;
            return None;
        }
        w.entries = 0;
        Some(mem::take(&mut w.fired))
    }
}

impl DataPlane {
    /// Moves what a script that ended or judged `reservation` fired: with the next batch when
    /// it held on a member's slices (so its team's notes keep the order they were written in:
    /// an outcome said later takes back what the commit's note counted), else at once.
    pub(super) fn moved_after(&self, reservation: &Reservation, fired: Fired) {
        if reservation.holds.iter().any(|h| h.ancestor.is_some()) {
            self.leases().move_soon(fired);
        } else {
            self.alerts().alerts_fired(fired);
        }
    }
}

impl Leases<'_> {
    /// Moves what a commit or release on a member's slices fired (its team's ledger notes, a
    /// closed lease's statements, alerts) with the others of the next batch.
    pub(super) fn move_soon(&self, fired: Fired) {
        if fired.ids.is_empty() || self.skip_moves() || !self.note_batches.add(fired) {
            return;
        }
        let gateway = DataPlane::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BATCH_WAIT).await;
                let Some(batch) = gateway.note_batches.take() else {
                    return;
                };
                if let Err(err) = gateway.leases().move_batch(&batch).await {
                    tracing::warn!(%err, "a batch of notes stays in the outboxes for the sweeper");
                }
            }
        });
    }

    /// Moves a batch: its entries read together, then settled as the sweeper settles them.
    async fn move_batch(&self, batch: &[Fired]) -> Result<(), GatewayError> {
        let entries = self.store.outboxes_entries(batch).await?;
        self.settle_notes(entries.leases).await?;
        if !entries.alerts.is_empty() {
            self.alerts().move_alerts(entries.alerts).await?;
        }
        Ok(())
    }

    /// Appends the ledger notes among `notes` at their ancestors, naming their members: every
    /// note of one ancestor in one script (NOTES_PER_SCRIPT at most), each once however often
    /// it is moved; then removes them from their outboxes together. What fails is left there.
    pub(super) async fn move_ledger_notes(&self, notes: &[LeaseNote]) -> Result<(), GatewayError> {
        let mut by: Vec<(&str, &str, Vec<&LeaseNote>)> = Vec::new();
        for note in notes.iter().filter(|n| matches!(n.kind, LeaseNoteKind::Ledger(_))) {
            match by
                .iter_mut()
                .find(|(p, a, _)| (*p, *a) == (note.project.as_str(), note.ancestor.as_str()))
            {
                Some((_, _, theirs)) => theirs.push(note),
                None => by.push((&note.project, &note.ancestor, vec![note])),
            }
        }
        let mut done: Vec<Fired> = Vec::new();
        let mut moved = Ok(());
        for (project, ancestor, theirs) in &by {
            for part in theirs.chunks(NOTES_PER_SCRIPT) {
                moved = self.append_notes(project, ancestor, part).await;
                if moved.is_err() {
                    break;
                }
                done.extend(part.iter().map(|n| Fired {
                    outbox: n.outbox.clone(),
                    ids: vec![n.position.clone()],
                }));
            }
        }
        // What was appended goes from the outboxes even when a later script failed.
        self.store.outboxes_done(&done).await?;
        moved
    }

    /// Appends `notes`, all of `ancestor`'s, in one script.
    async fn append_notes(&self, project: &str, ancestor: &str, notes: &[&LeaseNote]) -> Result<(), GatewayError> {
        let mut entries = Vec::with_capacity(notes.len());
        for note in notes {
            let LeaseNoteKind::Ledger(entry) = &note.kind else {
                continue;
            };
            let mut fields: Vec<String> =
                serde_json::from_str(entry).map_err(|e| StoreError::Protocol(format!("a ledger note: {e}").into()))?;
            fields.extend(["member".to_string(), note.member.clone()]);
            let entry = serde_json::to_string(&fields).map_err(GatewayError::encode("a ledger note"))?;
            entries.push((format!("{}:{}", note.outbox, note.position), entry));
        }
        let id = UserId::parse(ancestor)
            .map_err(|e| StoreError::Protocol(format!("a ledger note's ancestor: {e}").into()))?;
        let ledger = self.ledger_for(project, &id).await?;
        let at: Vec<(&str, &str)> = entries.iter().map(|(at, e)| (at.as_str(), e.as_str())).collect();
        match self.store.append_ledger(project, ancestor, &at, ledger).await? {
            Reply::Done(_) => Ok(()),
            _ => Err(StoreError::Protocol("append_ledger answered other than ok".into()).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(n: usize) -> Fired {
        Fired {
            outbox: "o".into(),
            ids: (0..n).map(|i| format!("{i}-0")).collect(),
        }
    }

    #[test]
    fn one_task_moves_the_batches_until_it_finds_none_and_the_next_call_starts_another() {
        let b = NoteBatches::default();
        assert!(b.add(fired(1)));
        assert!(!b.add(fired(2)));
        assert_eq!(b.take().map(|f| f.len()), Some(2));
        // Added while the task moves: it takes it next.
        assert!(!b.add(fired(1)));
        assert_eq!(b.take().map(|f| f.len()), Some(1));
        assert!(b.take().is_none());
        assert!(b.add(fired(1)));
    }

    #[test]
    fn a_full_batch_leaves_what_comes_next_to_the_sweeper() {
        let b = NoteBatches::default();
        assert!(b.add(fired(MOST_WAITING)));
        assert!(!b.add(fired(1)));
        assert_eq!(b.take().map(|f| f.len()), Some(1));
        // Taken, it has room again.
        assert!(!b.add(fired(1)));
        assert_eq!(b.take().map(|f| f.len()), Some(1));
    }
}
