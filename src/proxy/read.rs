//! The fifth phase for an answer that is not a stream of events (`relay.rs` takes those): its
//! head passed on, its body read whole within a bound, and its usage settled: an error of the
//! provider releases the hold (a 502 or a 504 commits it `estimated`), a whole answer commits
//! what it reports. An answer that is not JSON (speech's audio, a transcript as plain text) has
//! no usage to read: it is passed on as it arrives, and committed `estimated` at its end, at
//! what was measured of it (speech's audio by its length, `delivered.rs`), else its hold.

use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use super::answer;
use super::call::{Call, Operation};
use super::context::Ctx;
use super::delivered::Delivered;
use super::fallback::{self, Ended};
use super::retry;
use super::settle::{Answered, Hold, KeepAlive};
use super::usage::Usage;
use super::wire::Wire;
use crate::http::AppState;

/// A non-streamed answer read whole for its usage is at most this big.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// The answer's header naming the call's reservation: the caller says later what its output
/// came to with `POST /v1/reservations/{id}/outcome` (the commit follows the answer).
pub(crate) const RESERVATION: &str = "x-quota-reservation";

/// An uncounted call's answer, passed on as it arrives, whatever its size: there is nothing
/// to read in it. One that breaks off or goes quiet ends the caller's answer as broken, never
/// as a whole one.
pub(crate) fn uncounted(ctx: &Ctx, response: reqwest::Response) -> HttpResponse {
    head(&response).streaming(passed(response, ctx.upstream().timeouts.idle, Settling::nothing()))
}

/// The provider refused the call: its error answer, read whole before any byte of it reaches
/// the caller, so a routed call may still give way to its next target (`fallback.rs`).
pub(crate) struct Refusal {
    pub status: StatusCode,
    /// The answer as the caller gets it, but its body.
    reply: HttpResponseBuilder,
    answered: Answered,
    body: Bytes,
}

/// Reads the provider's refusal of the call.
pub(crate) async fn refused(ctx: &Ctx, response: reqwest::Response) -> Refusal {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let answered = answered_by(ctx, &response);
    let reply = head(&response);
    let body = whole(response, ctx.upstream().timeouts.idle).await.unwrap_or_default();
    Refusal {
        status,
        reply,
        answered,
        body,
    }
}

impl Refusal {
    /// How the attempt ended, as the rules of `fallback.rs` read it.
    pub(crate) fn ended(&self, ctx: &Ctx) -> Ended<'static> {
        let said = serde_json::from_slice::<Value>(&self.body).unwrap_or(Value::Null);
        Ended::Refused {
            status: self.status.as_u16(),
            context: ctx.wire().context_too_long(self.status.as_u16(), &said),
        }
    }

    /// Settles the hold: released, or for a 502 or a 504 (the provider may have taken the call)
    /// committed `estimated`. `ends`: the call ends with this answer (no target follows), so a
    /// run's action may close on it (`retry.rs`). Answers the caller's answer.
    pub(crate) async fn settle(self, state: &AppState, ctx: &Ctx, hold: Hold, ends: bool) -> HttpResponse {
        let Refusal {
            status,
            mut reply,
            answered,
            body,
        } = self;
        hold.upstream_error(if status.is_server_error() {
            "status_5xx"
        } else {
            "status_4xx"
        });
        match fallback::keeps_hold(status.as_u16()) {
            true => hold.commit(Usage::default(), answered).await,
            false => hold.release().await,
        }
        if ends {
            retry::after_error(state, &ctx.caller, status, &body).await;
        }
        reply.body(body)
    }
}

/// A whole answer: read, then its reported usage committed (the hold's, `estimated`, when it
/// broke off).
pub(crate) async fn answered(
    ctx: &Ctx,
    call: &Call,
    hold: Hold,
    alive: KeepAlive,
    response: reqwest::Response,
) -> HttpResponse {
    let mut answered = answered_by(ctx, &response);
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
        hold.upstream_error("stream_broken");
        hold.commit(Usage::default(), answered).await;
        let message = "the provider's answer broke off; the call was charged its hold";
        return answer::error(ctx.wire(), StatusCode::BAD_GATEWAY, "upstream_broken", message, None);
    };
    let reported = serde_json::from_slice::<Value>(&body).map(|v| {
        answered.identify(ctx.wire().answer_id(&v));
        ctx.wire().usage_of_answer(call.operation, &v)
    });
    hold.commit(reported.unwrap_or_default(), answered).await;
    reply.body(body)
}

/// What the provider said of the call, for the record: its status and its request id.
pub(crate) fn answered_by(ctx: &Ctx, response: &reqwest::Response) -> Answered {
    let id = response.headers().get(ctx.wire().request_id_header());
    Answered {
        status: Some(response.status().as_u16()),
        request_id: id.and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

/// Whether the answer is JSON (or says nothing of its type, as some compatible servers do).
fn json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json") || v.contains("+json"))
}

/// A hold committed at its answer's end, however it ends (the caller gone included: the
/// provider made the whole answer), at what was delivered when the answer was measured whole.
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
        let Some((mut hold, answered, alive)) = self.ending.take() else {
            return;
        };
        drop(alive);
        if let Some((ms, wire)) = self
            .delivered
            .as_ref()
            .and_then(|(d, w)| d.audio_ms().map(|ms| (ms, w)))
        {
            // Never past what was held.
            let mut audio = wire.delivered_audio(hold.operation, ms);
            let most = |count: Option<u64>| count.map(|c| c.min(hold.worst.output_tokens.unwrap_or(c)));
            audio.output_tokens = most(audio.output_tokens);
            audio.audio_output_tokens = most(audio.audio_output_tokens);
            hold.measured.update(audio);
        }
        actix_web::rt::spawn(async move { hold.commit(Usage::default(), answered).await });
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

/// Whether the answer is a stream of server-sent events.
pub(crate) fn streamed(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// The answer's status and headers for the caller, without those that describe the
/// connection or a body the gateway sends differently.
pub(crate) fn head(response: &reqwest::Response) -> HttpResponseBuilder {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut reply = HttpResponse::build(status);
    for (name, value) in response.headers() {
        let skip = matches!(
            name.as_str(),
            "content-length" | "connection" | "keep-alive" | "transfer-encoding" | "set-cookie"
        ) || name.as_str().starts_with("access-control-");
        if skip {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            reply.append_header((name, value));
        }
    }
    // The provider's `x-request-id` reaches the caller as it came (the SDKs' `_request_id`,
    // which the provider's support asks for); the gateway's own is then `X-Quota-Request-Id`.
    // `X-Upstream-Request-Id` repeats it for callers that read it there.
    if let Some(id) = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
        reply.insert_header(("x-upstream-request-id", id.to_string()));
    }
    reply
}

/// Names the call's reservation on the answer.
pub(crate) fn reserved(reply: &mut HttpResponseBuilder, hold: &Hold) {
    reply.insert_header((RESERVATION, hold.id.as_str().to_string()));
}

/// A whole answer, at most `MAX_ANSWER_BYTES`, each read within `idle`.
async fn whole(response: reqwest::Response, idle: Duration) -> Result<Bytes, ()> {
    within(response, idle, MAX_ANSWER_BYTES).await
}

/// An answer's body read whole, each read within `idle`, at most `limit` bytes.
pub(crate) async fn within(response: reqwest::Response, idle: Duration, limit: usize) -> Result<Bytes, ()> {
    let mut stream = response.bytes_stream();
    let mut body = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(None) => return Ok(body.freeze()),
            Ok(Some(Ok(chunk))) if body.len() + chunk.len() <= limit => body.extend_from_slice(&chunk),
            _ => return Err(()),
        }
    }
}
