//! A streamed answer, relayed event by event as it arrives while its usage is read on the way.
//! One task per stream reads the upstream and hands each event to the caller's response
//! through a small channel; when the caller leaves, the task keeps reading to the usage (a
//! drain: bounded per node and in time) so the commit is what the provider billed. Whatever
//! ends the stream, the task settles it once.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::answer;
use super::settle::{Answered, Hold};
use super::sse::{Framer, Piece};
use super::upstreams::Kind;
use super::usage::{self, Usage};

/// Events waiting for a slow caller: the rest waits in the upstream's socket.
const CHANNEL_EVENTS: usize = 8;

/// How a node drains streams its callers left.
#[derive(Clone)]
pub struct Drains {
    pub permits: Arc<Semaphore>,
    pub longest: Duration,
}

/// What the relay needs beside the upstream's answer.
pub struct Relay {
    pub hold: Hold,
    pub kind: Kind,
    /// Drop OpenAI chat's usage chunk: the caller did not ask for it, the gateway did.
    pub drop_usage_chunk: bool,
    pub idle: Duration,
    pub drains: Drains,
    pub answered: Answered,
}

/// How the upstream's stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Done,
    /// It broke, or went quiet past the idle timeout, before its end.
    Broken(&'static str),
    /// The caller left and no drain could be had, or the drain ran out of time.
    Abandoned,
}

/// Starts relaying `upstream`; answers the body to give the caller.
pub fn start(
    relay: Relay,
    upstream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin + 'static,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let (tx, rx) = mpsc::channel(CHANNEL_EVENTS);
    actix_web::rt::spawn(run(relay, upstream, tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

async fn run(
    relay: Relay,
    mut upstream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
) {
    let _alive = relay.hold.keep_alive();
    let operation = relay.hold.operation;
    let mut framer = Framer::default();
    let mut seen = Usage::default();
    // Set once the caller has gone: the drain's permit and when it must stop.
    let mut drain: Option<(OwnedSemaphorePermit, Instant)> = None;
    let mut gone = false;
    // Anthropic's usage is a running total until `message_stop`.
    let mut stopped = false;
    let end = 'read: loop {
        if let Some((_, until)) = &drain {
            if Instant::now() >= *until {
                relay.drain_count("timed_out");
                break End::Abandoned;
            }
        }
        let wait = match &drain {
            Some((_, until)) => relay.idle.min(until.saturating_duration_since(Instant::now())),
            None => relay.idle,
        };
        let next = tokio::select! {
            next = tokio::time::timeout(wait, upstream.next()) => next,
            () = tx.closed(), if !gone => {
                gone = true;
                match relay.start_drain() {
                    Some(permit) => { drain = Some(permit); continue; }
                    None => break End::Abandoned,
                }
            }
        };
        let chunk = match next {
            // The drain's time ran out (the loop's top ends it), or the upstream went quiet.
            Err(_) if drain.as_ref().is_some_and(|(_, until)| Instant::now() >= *until) => continue,
            Err(_) => break End::Broken("idle"),
            Ok(None) => break End::Done,
            Ok(Some(Err(_))) => break End::Broken("stream_broken"),
            Ok(Some(Ok(chunk))) => chunk,
        };
        for piece in framer.push(&chunk) {
            let bytes = match piece {
                Piece::Unread(bytes) => bytes,
                Piece::Event(event) => {
                    let data = serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null);
                    let usage_chunk = usage::of_event(operation, event.kind.as_deref(), &data, &mut seen);
                    stopped = stopped || data.get("type").and_then(serde_json::Value::as_str) == Some("message_stop");
                    if usage_chunk && relay.drop_usage_chunk {
                        continue;
                    }
                    event.raw
                }
            };
            if !gone && tx.send(Ok(bytes)).await.is_err() {
                gone = true;
                match relay.start_drain() {
                    Some(permit) => drain = Some(permit),
                    None => break 'read End::Abandoned,
                }
            }
        }
    };
    match end {
        End::Done => {
            if let Some(rest) = framer.rest() {
                let _ = tx.send(Ok(rest)).await;
            }
            if drain.is_some() {
                relay.drain_count("completed");
            }
        }
        End::Broken(kind) => {
            relay.hold.upstream_error(kind);
            // The caller's stream ends in an error event, in the provider's own in-stream shape
            // (the SDKs raise on it), after every event before it: a failed body would make the
            // server drop what it had not yet written.
            if !gone {
                let _ = tx.send(Ok(answer::stream_error(relay.kind, operation, kind))).await;
            }
        }
        End::Abandoned => {}
    }
    drop(tx);
    drop(upstream);
    // A running total that never reached its end is not what the provider billed: the output
    // is then charged at its hold.
    let complete = match operation {
        super::call::Operation::Messages => stopped,
        _ => end == End::Done || seen.reported(),
    };
    if !complete {
        seen.output_tokens = None;
        seen.reasoning_tokens = None;
    }
    let Relay { hold, answered, .. } = relay;
    hold.commit(seen, answered).await;
    drop(drain);
}

impl Relay {
    /// A permit to keep reading after the caller left, if the node has one free.
    fn start_drain(&self) -> Option<(OwnedSemaphorePermit, Instant)> {
        match self.drains.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                self.drain_count("started");
                Some((permit, Instant::now() + self.drains.longest))
            }
            Err(_) => {
                self.drain_count("refused");
                None
            }
        }
    }

    fn drain_count(&self, result: &str) {
        self.hold.metrics.count(
            "qg_proxy_drains_total",
            &[("upstream", &self.hold.upstream), ("result", result)],
        );
    }
}
