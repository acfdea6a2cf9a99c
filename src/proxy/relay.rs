//! A streamed answer, relayed event by event as it arrives while its usage is read on the way.
//! An event that can say nothing of usage (a delta) is not parsed as it passes: its output
//! counts only for a stream the caller left before the usage, so it is kept unread, a few
//! kilobytes at most, and counted when that happens.
//! One task per stream reads the upstream and hands each event to the caller's response
//! through a small channel; when the caller leaves, the task keeps reading to the usage (a
//! drain: bounded per node, per project and per user, and in time) so the commit is what the
//! provider billed. A stream left with no drain free is charged its input and the output
//! streamed so far. Whatever ends the stream, the task settles it once.

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::answer;
use super::call::context::Ctx;
use super::call::hold::Hold;
use super::call::outcome::{Answered, StreamEnd, Streamed};
use super::call::tokens::{self, Counter};
use super::call::usage::Usage;
use super::call::wire::Wire;
use super::call::Call;
use super::door::Door;
use super::drains::{Drain, Drains};
use super::provider::{answered_by, event_stream, head, reserved, streamed};
use super::sse::{Framer, Piece};

/// Events waiting for a slow caller: the rest waits in the upstream's socket.
const CHANNEL_EVENTS: usize = 8;

/// The text of events left unread (deltas: `Wire::reads_event_at_once`) a stream keeps before
/// it counts their output: most streams report their usage first, and are never counted.
const UNREAD_BYTES: usize = 16 << 10;

/// What the relay needs beside the upstream's answer.
struct Relay {
    pub hold: Hold,
    pub wire: &'static dyn Wire,
    /// Drop OpenAI chat's usage chunk: the caller did not ask for it, the gateway did.
    pub drop_usage_chunk: bool,
    pub idle: Duration,
    pub drains: Drains,
    pub answered: Answered,
    /// Whose stream it is, for the drains' shares.
    pub user: String,
    /// How the model's output is counted, for a stream left before its usage.
    pub counter: Counter,
    /// How the stream is framed.
    pub framing: Framing,
}

/// How an answer streams, if it does: server-sent events, one JSON array of events (Gemini's
/// without `alt=sse`), or AWS event stream messages (Bedrock's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Events,
    JsonArray,
    EventStream,
}

impl Door {
    /// How the answer streams, if it does; None for a whole one (`read.rs` takes those).
    pub(crate) fn framing(&self, ctx: &Ctx, call: &Call, response: &reqwest::Response) -> Option<Framing> {
        if streamed(response) {
            Some(Framing::Events)
        } else if event_stream(response) {
            Some(Framing::EventStream)
        } else if call.stream && ctx.wire().streams_json_arrays() {
            Some(Framing::JsonArray)
        } else {
            None
        }
    }

    /// The caller's answer to a streamed call: the provider's head, the call's reservation,
    /// and the stream relayed as it comes (its hold settled when it ends).
    pub(crate) fn relay(
        &self,
        ctx: &Ctx,
        call: &Call,
        hold: Hold,
        response: reqwest::Response,
    ) -> actix_web::HttpResponse {
        let framing = self.framing(ctx, call, &response);
        let mut reply = head(&response);
        reserved(&mut reply, &hold);
        let relay = Relay {
            answered: answered_by(ctx.wire(), &response),
            hold,
            wire: ctx.wire(),
            drop_usage_chunk: ctx.wire().hides_gateway_usage(call),
            idle: ctx.upstream().timeouts.idle,
            drains: self.drains.clone(),
            user: ctx.caller.user.to_string(),
            counter: call.counter,
            framing: framing.unwrap_or(Framing::Events),
        };
        reply.streaming(start(relay, response.bytes_stream()))
    }
}

/// Starts relaying `upstream`; answers the body to give the caller.
fn start(
    relay: Relay,
    upstream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin + 'static,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let (tx, rx) = mpsc::channel(CHANNEL_EVENTS);
    actix_web::rt::spawn(run(relay, upstream, tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// What a relay has read so far of its stream.
struct Reading {
    framer: Framer,
    /// The usage the stream reported, the output streamed so far, and whether its last event
    /// came (`Streamed`, settled at its end).
    streamed: Streamed,
    /// Set once the caller has gone: the drain, which knows when it must stop.
    drain: Option<Drain>,
    gone: bool,
    /// Events not read yet (their JSON text), and their length together: their output is
    /// counted past `UNREAD_BYTES` and when the caller left before the usage.
    unread: Vec<String>,
    unread_bytes: usize,
    /// An object the last event said the provider keeps (`Wire::kept`), to record as the
    /// caller's before that event is passed on.
    kept: Option<String>,
}

async fn run(
    mut relay: Relay,
    mut upstream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
) {
    let _alive = relay.hold.keep_alive();
    let mut at = Reading {
        framer: match relay.framing {
            Framing::JsonArray => Framer::json_array(),
            Framing::EventStream => Framer::event_stream(),
            Framing::Events => Framer::default(),
        },
        streamed: Streamed {
            end: StreamEnd::Done,
            seen: Usage::default(),
            streamed: 0,
            stopped: false,
        },
        drain: None,
        gone: false,
        unread: Vec::new(),
        unread_bytes: 0,
        kept: None,
    };
    let end = loop {
        if let Some(Drain { until, .. }) = &at.drain {
            if Instant::now() >= *until {
                relay.drain_count("timed_out");
                break StreamEnd::Abandoned;
            }
        }
        let wait = match &at.drain {
            Some(Drain { until, .. }) => relay.idle.min(until.saturating_duration_since(Instant::now())),
            None => relay.idle,
        };
        let next = tokio::select! {
            next = tokio::time::timeout(wait, upstream.next()) => next,
            () = tx.closed(), if !at.gone => {
                at.gone = true;
                match relay.start_drain() {
                    Some(permit) => { at.drain = Some(permit); continue; }
                    None => break StreamEnd::Abandoned,
                }
            }
        };
        let chunk = match next {
            // The drain's time ran out (the loop's top ends it), or the upstream went quiet.
            Err(_) if at.drain.as_ref().is_some_and(|d| Instant::now() >= d.until) => continue,
            Err(_) => break StreamEnd::Broken("idle"),
            Ok(None) => break StreamEnd::Done,
            Ok(Some(Err(_))) => break StreamEnd::Broken("stream_broken"),
            Ok(Some(Ok(chunk))) => chunk,
        };
        if let Err(end) = relay.pass(&mut at, &chunk, &tx).await {
            break end;
        }
    };
    relay.end(&mut at, end, &tx).await;
    if end == StreamEnd::Abandoned {
        relay.count_unread(&mut at);
    }
    drop(tx);
    drop(upstream);
    // The caller's last bytes first: the connection writes them when it next runs, and this
    // task would otherwise send the commit ahead of them (a call that runs as its own task
    // wakes its connection behind this one), which one connection's latency read as +0.1 ms.
    tokio::task::yield_now().await;
    at.streamed.end = end;
    let Relay {
        hold, answered, wire, ..
    } = relay;
    // Boxed: settling's future is most of this task's, and a task's future is copied whole as
    // it is spawned and ended; boxed, only streams that reach their end pay for it, once.
    Box::pin(hold.settle_stream(wire, at.streamed, answered)).await;
    drop(at.drain);
}

impl Relay {
    /// Reads a chunk's events, relaying each to the caller while it is there; Err when the
    /// caller left and no drain could be had.
    async fn pass(
        &mut self,
        at: &mut Reading,
        chunk: &Bytes,
        tx: &mpsc::Sender<Result<Bytes, io::Error>>,
    ) -> Result<(), StreamEnd> {
        let operation = self.hold.operation;
        for piece in at.framer.push(chunk) {
            let bytes = match piece {
                Piece::Unread(bytes) => bytes,
                Piece::Event(event) => {
                    if !self.wire.reads_event_at_once(operation, &event.data) {
                        at.unread_bytes += event.data.len();
                        at.unread.push(event.data);
                        if at.unread_bytes > UNREAD_BYTES {
                            self.count_unread(at);
                        }
                    } else if self.read(at, event.kind.as_deref(), &event.data) && self.drop_usage_chunk {
                        continue;
                    }
                    if let Some(id) = at.kept.take() {
                        // The caller's before the event naming it reaches the caller.
                        let hold = &self.hold;
                        let jobs = hold.gateway.data().jobs();
                        jobs.keep_owned(&hold.project, &hold.upstream, &id, &self.user).await;
                    }
                    event.raw
                }
            };
            // A caller that takes no event within the idle timeout (it stopped reading, and
            // the socket's buffers are full) is cut, and its stream drained as if it had left:
            // it keeps neither the hold nor the upstream's connection as long as it likes.
            let sent = match at.gone {
                true => true,
                false => matches!(tokio::time::timeout(self.idle, tx.send(Ok(bytes))).await, Ok(Ok(()))),
            };
            if !sent {
                at.gone = true;
                match self.start_drain() {
                    Some(permit) => at.drain = Some(permit),
                    None => return Err(StreamEnd::Abandoned),
                }
            }
        }
        Ok(())
    }

    /// Reads one event as it comes: the usage it reports, the answer it names, the output it
    /// streamed. True when it is the gateway's own usage chunk.
    fn read(&mut self, at: &mut Reading, kind: Option<&str>, data: &str) -> bool {
        let operation = self.hold.operation;
        let data = serde_json::from_str(data).unwrap_or(serde_json::Value::Null);
        let said = self.wire.usage_of_event(operation, kind, &data, &mut at.streamed.seen);
        self.answered.identify(self.wire.answer_id(&data));
        at.kept = at.kept.take().or_else(|| self.wire.kept(operation, &data));
        self.count_streamed(at, &data);
        // A running total (Anthropic's) is final at the stream's last event only.
        at.streamed.stopped = at.streamed.stopped || said.last;
        said.gateway_only
    }

    /// Counts the output of the events left unread.
    fn count_unread(&self, at: &mut Reading) {
        for data in std::mem::take(&mut at.unread) {
            let data = serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
            self.count_streamed(at, &data);
        }
        at.unread_bytes = 0;
    }

    fn count_streamed(&self, at: &mut Reading, data: &serde_json::Value) {
        let streamed = &mut at.streamed.streamed;
        self.wire.streamed_text(self.hold.operation, data, &mut |text| {
            *streamed = streamed.saturating_add(tokens::count(self.counter, text));
        });
    }

    /// The caller's stream's end: the rest of a whole one, or after a broken one (counted) an error
    /// event in the provider's own in-stream shape (the SDKs raise on it), after every event
    /// before it: a failed body would make the server drop what it had not yet written.
    async fn end(&self, at: &mut Reading, end: StreamEnd, tx: &mpsc::Sender<Result<Bytes, io::Error>>) {
        match end {
            StreamEnd::Done => {
                if let Some(rest) = at.framer.rest().filter(|_| !at.gone) {
                    let _ = tokio::time::timeout(self.idle, tx.send(Ok(rest))).await;
                }
                if at.drain.is_some() {
                    self.drain_count("completed");
                }
            }
            StreamEnd::Broken(kind) => {
                self.hold.upstream_error(kind);
                if at.gone {
                    return;
                }
                let error = match self.framing {
                    Framing::JsonArray => answer::array_error(self.wire, kind, at.framer.began()),
                    _ => answer::stream_error(self.wire, self.hold.operation, kind),
                };
                let _ = tokio::time::timeout(self.idle, tx.send(Ok(error))).await;
            }
            StreamEnd::Abandoned => {}
        }
    }
    /// A drain to keep reading after the caller left, if the node, the project and the user
    /// each have one free.
    fn start_drain(&self) -> Option<Drain> {
        match self.drains.take(&self.hold.project, &self.user) {
            Some(drain) => {
                self.drain_count("started");
                Some(drain)
            }
            None => {
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
