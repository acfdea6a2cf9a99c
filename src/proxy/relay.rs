//! A streamed answer, relayed event by event as it arrives while its usage is read on the way.
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
use super::call::outcome::Answered;
use super::call::tokens::{self, Counter};
use super::call::usage::Usage;
use super::call::wire::{Final, Wire};
use super::call::Call;
use super::door::Door;
use super::drains::{Drain, Drains};
use super::provider::{answered_by, head, reserved, streamed};
use super::sse::{Framer, Piece};

/// Events waiting for a slow caller: the rest waits in the upstream's socket.
const CHANNEL_EVENTS: usize = 8;

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
    /// The stream is one JSON array (Gemini's without `alt=sse`), not server-sent events.
    pub json_array: bool,
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

/// How an answer streams, if it does: server-sent events, or (Gemini's without `alt=sse`) one
/// JSON array of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Events,
    JsonArray,
}

impl Door {
    /// How the answer streams, if it does; None for a whole one (`read.rs` takes those).
    pub(crate) fn framing(&self, ctx: &Ctx, call: &Call, response: &reqwest::Response) -> Option<Framing> {
        if streamed(response) {
            Some(Framing::Events)
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
            json_array: framing == Some(Framing::JsonArray),
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

async fn run(
    mut relay: Relay,
    mut upstream: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
) {
    let _alive = relay.hold.keep_alive();
    let operation = relay.hold.operation;
    let mut framer = match relay.json_array {
        true => Framer::json_array(),
        false => Framer::default(),
    };
    let mut seen = Usage::default();
    // Set once the caller has gone: the drain, which knows when it must stop.
    let mut drain: Option<Drain> = None;
    // The output streamed so far, in tokens, for a stream left before its usage.
    let mut streamed: u64 = 0;
    let mut gone = false;
    // A running total (Anthropic's) is final at the stream's last event only.
    let mut stopped = false;
    let end = 'read: loop {
        if let Some(Drain { until, .. }) = &drain {
            if Instant::now() >= *until {
                relay.drain_count("timed_out");
                break End::Abandoned;
            }
        }
        let wait = match &drain {
            Some(Drain { until, .. }) => relay.idle.min(until.saturating_duration_since(Instant::now())),
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
            Err(_) if drain.as_ref().is_some_and(|d| Instant::now() >= d.until) => continue,
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
                    let said = relay
                        .wire
                        .usage_of_event(operation, event.kind.as_deref(), &data, &mut seen);
                    relay.answered.identify(relay.wire.answer_id(&data));
                    relay.wire.streamed_text(operation, &data, &mut |text| {
                        streamed = streamed.saturating_add(tokens::count(relay.counter, text));
                    });
                    stopped = stopped || said.last;
                    if said.gateway_only && relay.drop_usage_chunk {
                        continue;
                    }
                    event.raw
                }
            };
            // A caller that takes no event within the idle timeout (it stopped reading, and
            // the socket's buffers are full) is cut, and its stream drained as if it had left:
            // it keeps neither the hold nor the upstream's connection as long as it likes.
            let sent = match gone {
                true => true,
                false => matches!(tokio::time::timeout(relay.idle, tx.send(Ok(bytes))).await, Ok(Ok(()))),
            };
            if !sent {
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
            if let Some(rest) = framer.rest().filter(|_| !gone) {
                let _ = tokio::time::timeout(relay.idle, tx.send(Ok(rest))).await;
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
                let error = match relay.json_array {
                    true => answer::array_error(relay.wire, kind, framer.began()),
                    false => answer::stream_error(relay.wire, operation, kind),
                };
                let _ = tokio::time::timeout(relay.idle, tx.send(Ok(error))).await;
            }
        }
        End::Abandoned => {}
    }
    drop(tx);
    drop(upstream);
    // A running total that never reached its end is not what the provider billed: the output
    // is then charged at its hold.
    let complete = match relay.wire.final_usage(operation) {
        Final::LastEvent => stopped,
        Final::End => end == End::Done,
        Final::AnyReport => end == End::Done || seen.reported(),
    };
    if !complete {
        // A stream the caller left with no drain to read it to its usage is charged the output
        // streamed so far (the input at its hold, unless the provider reported it already); a
        // stream the provider broke off, the output at its hold.
        // (A running total the provider sent so far, Anthropic's, counts when it is more.)
        let left = end == End::Abandoned;
        seen.output_tokens = left.then(|| streamed.max(seen.output_tokens.unwrap_or(0)));
        seen.reasoning_tokens = left.then(|| seen.reasoning_tokens.unwrap_or(0));
    }
    let Relay { hold, answered, .. } = relay;
    hold.commit(seen, answered).await;
    drop(drain);
}

impl Relay {
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
