//! The fifth phase for an answer that is not a stream of events (`relay.rs` takes those): its
//! head passed on, its body read whole within a bound, and its usage settled: an error of the
//! provider releases the hold (a 502 or a 504 commits it `estimated`), a whole answer commits
//! what it reports. An answer that is not JSON (speech's audio, a transcript as plain text) has
//! no usage to read: it is passed on as it arrives, and settled `estimated` at its end, at
//! what was measured of it (speech's audio by its length, `delivered.rs`), else its hold.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::StreamExt;

use super::call::context::Ctx;
use super::call::hold::{Hold, KeepAlive};
use super::call::outcome::{Answered, Refusal};
use super::call::wire::Wire;
use super::call::{Call, Operation};
use super::delivered::Delivered;
use super::door::Door;
use super::provider::{self, answered_by, head, json, reserved, whole};
use super::reported::reported;

/// How long the provider's count of a call's input may take, and the most its answer may be.
const COUNT_WAIT: Duration = Duration::from_secs(10);
const COUNT_BYTES: usize = 64 << 10;

impl Door {
    /// An uncounted call's answer, passed on as it arrives, whatever its size: there is nothing
    /// to read in it. One that breaks off or goes quiet ends the caller's answer as broken,
    /// never as a whole one.
    pub(crate) fn pass(&self, ctx: &Ctx, response: reqwest::Response) -> HttpResponse {
        head(&response).streaming(passed(response, ctx.upstream().timeouts.idle, Settling::nothing()))
    }

    /// Reads the provider's refusal of the call, whole, before any byte of it reaches the
    /// caller.
    pub(crate) async fn refusal(&self, ctx: &Ctx, response: reqwest::Response) -> Refusal {
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let answered = answered_by(ctx.wire(), &response);
        let reply = head(&response);
        let body = whole(response, ctx.upstream().timeouts.idle).await.unwrap_or_default();
        Refusal {
            status,
            reply,
            answered,
            body,
        }
    }

    /// A whole answer: read, then its reported usage committed (one that broke off is settled
    /// as such). `held`: the call's hold, and what keeps it alive until the answer's end.
    pub(crate) async fn read(
        &self,
        ctx: &Ctx,
        call: &Call,
        (hold, alive): (Hold, KeepAlive),
        response: reqwest::Response,
    ) -> HttpResponse {
        let mut answered = answered_by(ctx.wire(), &response);
        let mut reply = head(&response);
        reserved(&mut reply, &hold);
        if !json(&response) {
            let delivered = (call.operation == Operation::Speech).then(|| {
                let kind = response.headers().get(reqwest::header::CONTENT_TYPE);
                (Delivered::new(kind.and_then(|v| v.to_str().ok())), ctx.wire())
            });
            let settling = Settling {
                ending: Some((hold, answered, alive)),
                delivered,
            };
            return reply.streaming(passed(response, ctx.upstream().timeouts.idle, settling));
        }
        let body = whole(response, ctx.upstream().timeouts.idle).await;
        drop(alive);
        let Ok(body) = body else {
            // Boxed, as a call's other rare ends (mod.rs): its future would size every call's.
            return Box::pin(self.settle_broken(ctx, hold, answered)).await;
        };
        let mut kept = None;
        let reported = reported(&body).map(|v| {
            answered.identify(ctx.wire().answer_id(&v));
            kept = ctx.wire().kept(call.operation, &v);
            ctx.wire().usage_of_answer(call.operation, &v)
        });
        if let Some(id) = kept {
            // The caller's before the caller reads its id: its next call may name it.
            let (data, caller) = (self.gateway.data(), &ctx.caller);
            data.jobs()
                .keep_owned(&caller.project, &ctx.upstream().name, &id, caller.user.as_str())
                .await;
        }
        let mut usage = reported.unwrap_or_default();
        if let (None, Some(count)) = (usage.input_tokens, &call.count_after) {
            usage.input_tokens = self.count(ctx, count).await;
            usage.output_tokens = usage.input_tokens.map(|_| 0);
        }
        hold.commit(usage, answered).await;
        reply.body(body)
    }

    /// The input tokens the provider counts for a call whose answer reported none
    /// (`Call::count_after`); None when it does not say in time (the hold is then committed).
    async fn count(&self, ctx: &Ctx, (path, sent): &(String, Bytes)) -> Option<u64> {
        let upstream = ctx.upstream();
        let times = (upstream.timeouts.first_byte.min(COUNT_WAIT), COUNT_WAIT);
        match provider::posted(upstream, (path, sent.clone()), times, COUNT_BYTES).await {
            Ok(answer) => ctx.wire().counted_tokens(&answer),
            Err(why) => {
                tracing::warn!(upstream = upstream.name, %why, "proxy: the provider did not count the call's input");
                None
            }
        }
    }
}

/// A hold settled at its answer's end (`Hold::settle_passed`), however it ends (the caller
/// gone included: the provider made the whole answer), at what was delivered when the answer
/// was measured whole.
struct Settling {
    ending: Option<(Hold, Answered, KeepAlive)>,
    /// Speech's audio as it passes, and the format that counts it.
    delivered: Option<(Delivered, &'static dyn Wire)>,
}

impl Settling {
    /// Nothing to settle: an uncounted call's answer.
    fn nothing() -> Settling {
        Settling {
            ending: None,
            delivered: None,
        }
    }

    fn saw(&mut self, chunk: &[u8]) {
        if let Some((delivered, _)) = &mut self.delivered {
            delivered.saw(chunk);
        }
    }

    fn ended(&mut self) {
        if let Some((delivered, _)) = &mut self.delivered {
            delivered.ended();
        }
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        let Some((hold, answered, alive)) = self.ending.take() else {
            return;
        };
        drop(alive);
        let audio = self
            .delivered
            .as_ref()
            .and_then(|(d, w)| d.audio_ms().map(|ms| (ms, *w)));
        hold.settle_passed(answered, audio);
    }
}

/// An answer's bytes as they arrive, each within `idle`; `settling` dropped at its end.
fn passed(
    response: reqwest::Response,
    idle: Duration,
    settling: Settling,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let stream = Box::pin(response.bytes_stream());
    futures_util::stream::unfold((stream, Some(settling)), move |(mut stream, mut settling)| async move {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                if let Some(settling) = settling.as_mut() {
                    settling.saw(&chunk);
                }
                Ok(chunk)
            }
            Ok(None) => {
                if let Some(mut settling) = settling.take() {
                    settling.ended();
                }
                return None;
            }
            Ok(Some(Err(err))) => Err(std::io::Error::other(err)),
            Err(_) => Err(std::io::Error::other("the provider's answer went quiet")),
        };
        if next.is_err() {
            drop(settling.take());
        }
        Some((next, (stream, settling)))
    })
}
