//! Entries of several slot outboxes read, and removed once moved, together: the leases' notes
//! a node moves in batches (docs/decisions/0130-ledger-notes-moved-in-batches.md). One
//! pipeline, one round trip, on one server; on a Cluster a pipeline keeps to one slot, so one
//! per outbox there.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use super::outbox::RawEntry;
use super::{DataStore, Fired, Outboxed, StoreError};

/// Commands in one pipeline: a batch of any size is read and removed in pipelines of at most
/// this many, so no one reply grows with it.
const PER_PIPELINE: usize = 256;
/// Outboxes read or emptied at once on a Cluster.
const CLUSTER_PARALLEL: usize = 16;

/// One outbox's answers and the places in a batch they answer.
type Placed = (Vec<usize>, Vec<Vec<RawEntry>>);

/// `fired`'s ids by outbox, each outbox once. (Owned: a stream of futures over borrowed
/// pairs is not `Send` for every lifetime a spawned task asks.)
fn by_outbox(fired: &[Fired]) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in fired {
        by.entry(f.outbox.clone()).or_default().extend(f.ids.iter().cloned());
    }
    by
}

impl DataStore {
    /// The entries `fired` names, of any outboxes, that are still there, in the order it
    /// names them (the order their scripts answered: a team's ledger keeps it).
    pub(crate) async fn outboxes_entries(&self, fired: &[Fired]) -> Result<Outboxed, StoreError> {
        let all: Vec<(&str, &str)> = fired
            .iter()
            .flat_map(|f| f.ids.iter().map(move |id| (f.outbox.as_str(), id.as_str())))
            .collect();
        let raw = match self.backend.is_cluster() {
            true => self.raw_by_outbox(&all).await?,
            false => {
                let mut raw = Vec::with_capacity(all.len());
                for part in all.chunks(PER_PIPELINE) {
                    let read: Vec<Vec<RawEntry>> = self
                        .run(|mut conn| async move {
                            let mut pipe = redis::pipe();
                            for (outbox, id) in part {
                                pipe.cmd("XRANGE").arg(*outbox).arg(*id).arg(*id);
                            }
                            Ok(pipe.query_async(&mut conn).await?)
                        })
                        .await?;
                    raw.extend(read);
                }
                raw
            }
        };
        let mut found = Outboxed::default();
        for ((outbox, _), entries) in all.iter().zip(raw) {
            for e in entries {
                found.push(outbox, e)?;
            }
        }
        Ok(found)
    }

    /// `all`'s entries read one outbox a call (a Cluster's pipeline keeps to one slot), each
    /// answer in `all`'s place.
    async fn raw_by_outbox(&self, all: &[(&str, &str)]) -> Result<Vec<Vec<RawEntry>>, StoreError> {
        let mut by: BTreeMap<String, (Vec<usize>, Vec<String>)> = BTreeMap::new();
        for (at, (outbox, id)) in all.iter().enumerate() {
            let (places, ids) = by.entry((*outbox).to_string()).or_default();
            places.push(at);
            ids.push((*id).to_string());
        }
        let read: Vec<Result<Placed, StoreError>> = futures_util::stream::iter(by)
            .map(|(outbox, (places, ids))| async move { Ok((places, self.raw_entries(&outbox, &ids).await?)) })
            .buffer_unordered(CLUSTER_PARALLEL)
            .collect()
            .await;
        let mut raw: Vec<Vec<RawEntry>> = vec![Vec::new(); all.len()];
        for r in read {
            let (places, entries) = r?;
            for (at, e) in places.into_iter().zip(entries) {
                raw[at] = e;
            }
        }
        Ok(raw)
    }

    /// Removes moved entries (`done`: each an outbox and ids in it) from their outboxes.
    pub(crate) async fn outboxes_done(&self, done: &[Fired]) -> Result<(), StoreError> {
        let by = by_outbox(done);
        if self.backend.is_cluster() {
            let removed: Vec<Result<(), StoreError>> = futures_util::stream::iter(by)
                .map(|(outbox, ids)| async move { self.outbox_done(&outbox, &ids).await })
                .buffer_unordered(CLUSTER_PARALLEL)
                .collect()
                .await;
            return removed.into_iter().collect();
        }
        let all: Vec<(String, Vec<String>)> = by.into_iter().filter(|(_, ids)| !ids.is_empty()).collect();
        for part in all.chunks(PER_PIPELINE) {
            self.run(|mut conn| async move {
                let mut pipe = redis::pipe();
                for (outbox, ids) in part {
                    pipe.cmd("XDEL").arg(outbox).arg(ids).ignore();
                }
                let _: () = pipe.query_async(&mut conn).await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}
