//! A file uploaded through the door (OpenAI's `POST v1/files`), streamed to the provider as it
//! arrives and never whole in memory. A batch input file (`purpose` `batch`) is read line by
//! line as it passes and its lines priced (`batch_file.rs`). The upload is read as every body
//! the gateway reads before it answers (`BodyReader`): each chunk within the node's idle time
//! (else 408), and what the reading keeps between chunks (a line not yet ended) leased from the
//! node's read budget in the caller's name (else 503, retry shortly), so stalled uploads of one
//! long line pin no more than a user's share of the node. The upload's last chunk waits for the
//! verdict: a file with a line the gateway cannot price never reaches the provider whole (its
//! request is broken off), and the caller is told the line; nor does a repeat of an
//! Idempotency-Key, answered the file its first upload made (`upload_key.rs`). Every file is
//! recorded as its uploader's, for its reads.

use std::io;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::Value;

use super::batch_file::{Counting, Reader, COUNT_BYTES};
use super::shapes;
use super::shapes::MAX_OBJECT_BYTES;
use super::upload_key::{self, Claim, Claimed};
use super::JobCall;
use crate::http::ApiError;
use crate::proxy::answer::{self, Fault};
use crate::proxy::body::{self, BodyReader, Head};
use crate::proxy::budget::Lease;
use crate::proxy::call::context::Ctx;
use crate::proxy::{forward, provider};
use crate::quota::{job_key, FileRecord};

/// The chunks of an upload on their way to the provider's request.
type Chunks = body::Pipe;
/// The provider's request, sent as its chunks come.
type Sent = tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>;

/// Streams an upload to the provider, pricing a batch file's lines on the way, and records the
/// file it names as its uploader's.
pub(super) async fn upload(at: JobCall<'_>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let limit = door.max_upload_bytes;
    let Head { boundary, declared } = body::head(req, limit)?;
    let keyed = upload_key::check(req)?;
    let (tx, sending) = send(req, ctx, declared)?;
    let reading = door.reader(&ctx.caller);
    let passing = Passing {
        at,
        tx,
        reader: Reader::new(&boundary, door.max_body_bytes, keyed),
        lease: reading.lease(),
        reading,
        counting: Counting {
            door,
            project: &ctx.caller.project,
            upstream: ctx.target.upstream.clone(),
            catalog: door.gateway.node().catalog().clone(),
        },
        limit,
    };
    let (reader, claim) = match passing.stream(payload).await? {
        Streamed::Sent(reader, claim) => (reader, claim),
        Streamed::Repeat(claimed) => return Ok(upload_key::repeated(ctx, claimed).await),
    };
    let response = match tokio::time::timeout(ctx.upstream().timeouts.first_byte, sending).await {
        Ok(Ok(Ok(response))) if response.status().is_success() => response,
        answered => {
            if let Some(claim) = claim {
                claim.unmade(at).await;
            }
            if let Ok(Ok(Ok(refused))) = answered {
                return Ok(door.pass(ctx, refused));
            }
            let message = format!("the provider ({}) gave no answer to the upload", ctx.upstream().name);
            let fault = Fault::new("upstream_unreachable", &message);
            return Ok(answer::error(ctx.wire(), StatusCode::BAD_GATEWAY, fault));
        }
    };
    record(at, &reader, response, claim).await
}

/// Starts the provider's request, its body the chunks sent down the channel it returns.
fn send(req: &HttpRequest, ctx: &Ctx, declared: Option<u64>) -> Result<(Chunks, Sent), ApiError> {
    let (tx, body) = body::piped();
    let mut builder = forward::request(req, ctx)
        .map_err(|_| ApiError::invalid("method", "is not one the provider takes"))?
        .body(body);
    if let Some(length) = declared {
        builder = builder.header(reqwest::header::CONTENT_LENGTH, length);
    }
    Ok((tx, tokio::spawn(builder.send())))
}

/// An upload on its way: its call, the channel to the provider's request, the form as it
/// passes, how the caller's chunks are read and the lease of what the reading keeps, what
/// counting a batch file's lines needs, and the most the node forwards.
struct Passing<'a> {
    at: JobCall<'a>,
    tx: Chunks,
    reader: Reader,
    reading: BodyReader<'a>,
    lease: Lease,
    counting: Counting<'a>,
    limit: u64,
}

/// How the caller's upload went through: read to its end (its last chunk held back for the
/// verdict), or the provider answered before its end (a refusal: its answer is the caller's).
enum Passed {
    Read(Option<Bytes>),
    ProviderLeft,
}

/// What the upload came to: sent to the provider whole (with its key's claim, if it has a
/// key), or a repeat of its Idempotency-Key, broken off.
enum Streamed {
    Sent(Box<Reader>, Option<Claim>),
    Repeat(Claimed),
}

impl Passing<'_> {
    /// Sends the upload through, its last chunk once the whole is found fit and its key
    /// claimed; the reader back, with what it read, and the provider's request ended.
    async fn stream(mut self, mut payload: web::Payload) -> Result<Streamed, ApiError> {
        let claim = match self.pass(&mut payload).await? {
            Passed::Read(last) => match self.conclude(last).await? {
                Claimed::First(claim) => Some(claim),
                Claimed::Unkeyed => None,
                repeat => return Ok(Streamed::Repeat(repeat)),
            },
            Passed::ProviderLeft => None,
        };
        Ok(Streamed::Sent(Box::new(self.reader), claim))
    }

    /// Passes the caller's chunks on, one behind, reading the form and counting a batch file's
    /// lines as they go.
    async fn pass(&mut self, payload: &mut web::Payload) -> Result<Passed, ApiError> {
        let (mut held, mut total) = (None::<Bytes>, 0u64);
        loop {
            let chunk = match self.reading.next(payload).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(Passed::Read(held)),
                Err(stalled @ (ApiError::BodyStalled(_) | ApiError::BodyTooSlow(_))) => {
                    return self.break_off("stalled", stalled).await
                }
                Err(_) => {
                    let err = ApiError::invalid("body", "the upload broke off before its end; nothing was uploaded");
                    return self.break_off("the caller's upload broke off", err).await;
                }
            };
            total += chunk.len() as u64;
            if total > self.limit {
                return self.break_off("too large", body::too_large(self.limit)).await;
            }
            self.read(&chunk).await?;
            if let Some(before) = held.replace(chunk) {
                if self.tx.send(Ok(before)).await.is_err() {
                    return Ok(Passed::ProviderLeft);
                }
            }
        }
    }

    /// Reads one chunk into the form and a batch file's lines, counting them a megabyte at a
    /// time. What the reading may keep after it is leased before it is read: it keeps no more
    /// than it kept and the chunk.
    async fn read(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if self.lease.keep(self.reader.kept() + chunk.len()).is_err() {
            return self
                .break_off("the node's read budget is full", ApiError::ReadBudgetFull)
                .await;
        }
        if let Err(err) = self.reader.feed(chunk) {
            return self
                .break_off("not a form", ApiError::invalid(err.field, err.detail))
                .await;
        }
        if self.reader.pending_bytes >= COUNT_BYTES {
            if let Err(err) = self.counting.count(&mut self.reader).await {
                return self.break_off("refused", err).await;
            }
        }
        // Keeping less never passes the budget: what the reading gave back is free.
        let _ = self.lease.keep(self.reader.kept());
        Ok(())
    }

    /// The upload read to its end: its `last` chunk goes once the form is whole, a batch
    /// file's every line priced and its key claimed, else the provider's request is broken
    /// off (a repeat of its key answered without it).
    async fn conclude(&mut self, last: Option<Bytes>) -> Result<Claimed, ApiError> {
        let verdict = match self.reader.form.done() {
            false => Err(ApiError::invalid("body", "ended before its closing boundary")),
            true => self
                .counting
                .count(&mut self.reader)
                .await
                .and_then(|()| self.reader.verdict()),
        };
        if let Err(err) = verdict {
            return self.break_off("refused", err).await;
        }
        let claimed = match &self.reader.print {
            Some(print) => upload_key::claim(self.at, &print.finish()).await,
            None => Ok(Claimed::Unkeyed),
        };
        match claimed {
            Err(err) => return self.break_off("refused", err).await,
            Ok(claimed @ (Claimed::Made(_) | Claimed::InFlight)) => {
                self.cut("a repeat of its Idempotency-Key").await;
                return Ok(claimed);
            }
            Ok(_) => {}
        }
        if let Some(last) = last {
            let _ = self.tx.send(Ok(last)).await;
        }
        claimed
    }

    /// Breaks off the provider's request (`why`, its error) and refuses the caller with `err`.
    async fn break_off<T>(&self, why: &str, err: ApiError) -> Result<T, ApiError> {
        self.cut(why).await;
        Err(err)
    }

    /// Breaks off the provider's request, saying why: the provider never has it whole.
    async fn cut(&self, why: &str) {
        let _ = self.tx.send(Err(io::Error::other(why.to_string()))).await;
    }
}

/// The provider's answer to an upload it took, passed on, and the file it names recorded as
/// its uploader's (a batch file's with its lines' sum), for its reads, and as what its
/// Idempotency-Key answers.
async fn record(
    at: JobCall<'_>,
    reader: &Reader,
    response: reqwest::Response,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let JobCall { door, ctx, .. } = at;
    let mut reply = provider::head(&response);
    let Ok(body) = provider::within(response, ctx.upstream().timeouts.idle, MAX_OBJECT_BYTES).await else {
        if let Some(claim) = claim {
            claim.unmade(at).await;
        }
        return Ok(reply.finish());
    };
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| shapes::id(&v).map(str::to_string));
    let Some(id) = id else {
        if let Some(claim) = claim {
            claim.unmade(at).await;
        }
        return Ok(reply.body(body));
    };
    let record = FileRecord {
        user: ctx.caller.user.as_str().to_string(),
        purpose: reader.purpose.clone().unwrap_or_default(),
        batch: reader.batch_file(),
        job: None,
    };
    let key = job_key(&ctx.upstream().name, &id);
    let recorded = door
        .gateway
        .data()
        .jobs()
        .put_job_file(&ctx.caller.project, &key, &record)
        .await;
    match (recorded, claim) {
        (Err(err), Some(claim)) => {
            claim.unmade(at).await;
            return Err(err.into());
        }
        (Err(err), None) => return Err(err.into()),
        (Ok(()), Some(claim)) => claim.made(at, &id).await,
        (Ok(()), None) => {}
    }
    Ok(reply.body(body))
}
