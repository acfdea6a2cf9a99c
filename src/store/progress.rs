//! When Redis last answered this node, and the wait of one call bounded by it: a Redis that
//! answers nothing for the command timeout is down or stalled (a 503 at once), while a call
//! queued behind the node's own calls to a Redis that keeps answering them waits its turn, up
//! to a longer bound. Never a clock of Redis's: only what this process saw and when.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

// Tokio's clock, which a test can pause and step, for every instant here.
use tokio::time::Instant;

/// How many command timeouts a call may wait in all while Redis keeps answering (5 s at the
/// default 250 ms): past it the node is too far behind to answer in any useful time.
pub(crate) const QUEUE_TIMEOUTS: u32 = 20;

/// The last instant a reply of Redis reached the node, in microseconds after `base`.
pub(crate) struct Progress {
    base: Instant,
    last_us: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            base: Instant::now(),
            last_us: AtomicU64::new(0),
        }
    }

    /// Redis answered (a reply read, an error reply included): it is alive now.
    pub(crate) fn answered(&self) {
        let us = u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_us.fetch_max(us, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_micros(self.last_us.load(Ordering::Relaxed))
    }

    /// Waits for `call`: None when Redis answered nothing for `quiet` since the call began (or
    /// since its last answer, whichever is later), or once `longest` has passed whatever it
    /// answered.
    pub(crate) async fn bound<F: Future>(&self, quiet: Duration, longest: Duration, call: F) -> Option<F::Output> {
        let started = Instant::now();
        let end = started + longest;
        let mut call = std::pin::pin!(call);
        loop {
            let until = (self.last().max(started) + quiet).min(end);
            if let Ok(out) = tokio::time::timeout_at(until, call.as_mut()).await {
                return Some(out);
            }
            // A reply that arrived in the same turn of the event loop as the timer is progress
            // too: the reader (on this thread) reads it before this call decides.
            tokio::task::yield_now().await;
            if let Poll::Ready(out) = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
                return Some(out);
            }
            let now = Instant::now();
            if now >= end || now >= self.last().max(started) + quiet {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With progress every 20 ms, a call of 150 ms outlives a 50 ms quiet bound; with none, it
    /// is cut at that bound; and the longest bound cuts it whatever the progress.
    #[tokio::test(start_paused = true)]
    async fn a_call_waits_while_others_are_answered_and_is_cut_when_none_are() {
        let progress = std::sync::Arc::new(Progress::new());
        let slow = || tokio::time::sleep(Duration::from_millis(150));
        let (quiet, longest) = (Duration::from_millis(50), Duration::from_millis(1_000));
        // Redis answering someone every 20 ms, for 200 ms.
        let ticking = || {
            let progress = progress.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    progress.answered();
                }
            })
        };
        let ticks = ticking();
        assert!(progress.bound(quiet, longest, slow()).await.is_some());
        ticks.await.unwrap();
        assert!(progress.bound(quiet, longest, slow()).await.is_none());
        let ticks = ticking();
        assert!(progress
            .bound(quiet, Duration::from_millis(100), slow())
            .await
            .is_none());
        ticks.await.unwrap();
    }
}
