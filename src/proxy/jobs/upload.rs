//! A file uploaded through the door (OpenAI's `POST v1/files`), streamed to the provider as it
//! arrives and never whole in memory. A batch input file (`purpose` `batch`) is read line by
//! line as it passes: each line's worst case computed as for the single call it asks for (on a
//! counting thread, a megabyte of lines at a time), summed, and kept with the file's id for the
//! batch that will name it. The upload's last chunk waits for the verdict: a file with a line
//! the gateway cannot price never reaches the provider whole (its request is broken off), and
//! the caller is told the line. Every file is recorded as its uploader's, for its reads.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::proxy::body::{self, Head};
use crate::proxy::call::context::Ctx;
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::{wrong, BodyError, Operation};
use crate::proxy::multipart::{Form, Lines, MultipartError, Part};

use super::shapes;
use super::shapes::MAX_OBJECT_BYTES;
use super::submit::line_call;
use super::JobCall;
use crate::http::ApiError;
use crate::proxy::answer::{self, Fault};
use crate::proxy::door::Door;
use crate::proxy::{forward, multipart, provider, wire};
use crate::quota::catalog::Catalog;
use crate::quota::{job_key, BatchFile, FileRecord};

/// Lines handed to a counting thread at once, in bytes (about).
const COUNT_BYTES: usize = 1 << 20;
/// Chunks of the upload waiting for the provider.
const CHANNEL_CHUNKS: usize = 4;

/// What a batch file's lines came to so far.
#[derive(Debug, Default, Clone)]
struct Summed {
    model: Option<String>,
    url: Option<String>,
    lines: u64,
    worst: Usage,
    /// The first line the gateway cannot price: its number and why.
    wrong: Option<(u64, String)>,
}

/// The chunks of an upload on their way to the provider's request.
type Chunks = mpsc::Sender<Result<Bytes, io::Error>>;
/// The provider's request, sent as its chunks come.
type Sent = tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>;

/// Streams an upload to the provider, pricing a batch file's lines on the way, and records the
/// file it names as its uploader's.
pub(super) async fn upload(at: JobCall<'_>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let limit = door.max_upload_bytes;
    let Head { boundary, declared } = body::head(req, limit)?;
    let (tx, sending) = send(req, ctx, declared)?;
    let passing = Passing {
        tx,
        reader: Reader::new(&boundary, door.max_body_bytes),
        counting: Counting {
            door,
            project: &ctx.caller.project,
            upstream: ctx.target.upstream.clone(),
            catalog: door.gateway.node().catalog().clone(),
        },
        limit,
        idle: ctx.upstream().timeouts.idle,
    };
    let reader = passing.stream(payload).await?;
    let response = match tokio::time::timeout(ctx.upstream().timeouts.first_byte, sending).await {
        Ok(Ok(Ok(response))) => response,
        _ => {
            let message = format!("the provider ({}) gave no answer to the upload", ctx.upstream().name);
            let fault = Fault::new("upstream_unreachable", &message);
            return Ok(answer::error(ctx.wire(), StatusCode::BAD_GATEWAY, fault));
        }
    };
    if !response.status().is_success() {
        return Ok(door.pass(ctx, response));
    }
    record(at, &reader, response).await
}

/// Starts the provider's request, its body the chunks sent down the channel it returns.
fn send(req: &HttpRequest, ctx: &Ctx, declared: Option<u64>) -> Result<(Chunks, Sent), ApiError> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(CHANNEL_CHUNKS);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut builder = forward::request(req, ctx)
        .map_err(|_| ApiError::invalid("method", "is not one the provider takes"))?
        .body(reqwest::Body::wrap_stream(stream));
    if let Some(length) = declared {
        builder = builder.header(reqwest::header::CONTENT_LENGTH, length);
    }
    Ok((tx, tokio::spawn(builder.send())))
}

/// An upload on its way: the channel to the provider's request, the form as it passes, what
/// counting a batch file's lines needs, the most the node forwards, and how long a chunk of
/// the caller's may take.
struct Passing<'a> {
    tx: Chunks,
    reader: Reader,
    counting: Counting<'a>,
    limit: u64,
    idle: Duration,
}

/// How the caller's upload went through: read to its end (its last chunk held back for the
/// verdict), or the provider answered before its end (a refusal: its answer is the caller's).
enum Passed {
    Read(Option<Bytes>),
    ProviderLeft,
}

impl Passing<'_> {
    /// Sends the upload through, its last chunk once the whole is found fit; the reader back,
    /// with what it read, and the provider's request ended.
    async fn stream(mut self, mut payload: web::Payload) -> Result<Reader, ApiError> {
        if let Passed::Read(last) = self.pass(&mut payload).await? {
            self.conclude(last).await?;
        }
        Ok(self.reader)
    }

    /// Passes the caller's chunks on, one behind, reading the form and counting a batch file's
    /// lines as they go.
    async fn pass(&mut self, payload: &mut web::Payload) -> Result<Passed, ApiError> {
        let (mut held, mut total) = (None::<Bytes>, 0u64);
        loop {
            let chunk = match tokio::time::timeout(self.idle, payload.next()).await {
                Ok(None) => return Ok(Passed::Read(held)),
                Ok(Some(Ok(chunk))) => chunk,
                Ok(Some(Err(_))) | Err(_) => {
                    let err = ApiError::invalid("body", "the upload broke off before its end; nothing was uploaded");
                    return self.break_off("the caller's upload broke off", err).await;
                }
            };
            total += chunk.len() as u64;
            if total > self.limit {
                return self.break_off("too large", body::too_large(self.limit)).await;
            }
            if let Err(err) = self.reader.feed(&chunk) {
                return self
                    .break_off("not a form", ApiError::invalid(err.field, err.detail))
                    .await;
            }
            if self.reader.pending_bytes >= COUNT_BYTES {
                if let Err(err) = self.counting.count(&mut self.reader).await {
                    return self.break_off("refused", err).await;
                }
            }
            if let Some(before) = held.replace(chunk) {
                if self.tx.send(Ok(before)).await.is_err() {
                    return Ok(Passed::ProviderLeft);
                }
            }
        }
    }

    /// The upload read to its end: its `last` chunk goes once the form is whole and a batch
    /// file's every line priced, else the provider's request is broken off.
    async fn conclude(&mut self, last: Option<Bytes>) -> Result<(), ApiError> {
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
        if let Some(last) = last {
            let _ = self.tx.send(Ok(last)).await;
        }
        Ok(())
    }

    /// Breaks off the provider's request (`why`, its error) and refuses the caller with `err`.
    async fn break_off<T>(&self, why: &str, err: ApiError) -> Result<T, ApiError> {
        let _ = self.tx.send(Err(io::Error::other(why.to_string()))).await;
        Err(err)
    }
}

/// The provider's answer to an upload it took, passed on, and the file it names recorded as
/// its uploader's (a batch file's with its lines' sum), for its reads.
async fn record(at: JobCall<'_>, reader: &Reader, response: reqwest::Response) -> Result<HttpResponse, ApiError> {
    let JobCall { door, ctx, .. } = at;
    let mut reply = provider::head(&response);
    let Ok(body) = provider::within(response, ctx.upstream().timeouts.idle, MAX_OBJECT_BYTES).await else {
        return Ok(reply.finish());
    };
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| shapes::id(&v).map(str::to_string));
    if let Some(id) = id {
        let record = FileRecord {
            user: ctx.caller.user.as_str().to_string(),
            purpose: reader.purpose.clone().unwrap_or_default(),
            batch: reader.batch_file(),
            job: None,
        };
        door.gateway
            .data()
            .jobs()
            .put_job_file(&ctx.caller.project, &job_key(&ctx.upstream().name, &id), &record)
            .await?;
    }
    Ok(reply.body(body))
}

/// The form as it passes, a batch file's lines waiting for their count, and the sum so far.
struct Reader {
    form: Form,
    lines: Lines,
    purpose: Option<String>,
    file_ended: bool,
    pending: Vec<(u64, Vec<u8>)>,
    pending_bytes: usize,
    summed: Summed,
}

impl Reader {
    fn new(boundary: &[u8], max_line: usize) -> Reader {
        Reader {
            form: Form::new(boundary),
            lines: Lines::new(max_line),
            purpose: None,
            file_ended: false,
            pending: Vec::new(),
            pending_bytes: 0,
            summed: Summed::default(),
        }
    }

    /// Whether its lines are read: unless the form said it is some other purpose's file, or a
    /// line already could not be priced.
    fn reading(purpose: &Option<String>, summed: &Summed) -> bool {
        purpose.as_deref().is_none_or(|p| p == "batch") && summed.wrong.is_none()
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), MultipartError> {
        let Reader {
            form,
            lines,
            purpose,
            file_ended,
            pending,
            pending_bytes,
            summed,
        } = self;
        let mut take = |n: u64, line: &[u8]| {
            if !line.iter().all(u8::is_ascii_whitespace) {
                *pending_bytes += line.len();
                pending.push((n, line.to_vec()));
            }
        };
        form.feed(chunk, &mut |part| match part {
            Part::Field(name, value) if name == "purpose" => *purpose = Some(value),
            Part::File(name, bytes) if name == multipart::FILE && Reader::reading(purpose, summed) => {
                lines.feed(bytes, &mut take)
            }
            Part::FileEnd(name) if name == multipart::FILE => {
                lines.finish(&mut take);
                *file_ended = true;
            }
            _ => {}
        })?;
        if let (Some(line), None) = (lines.too_long, &summed.wrong) {
            summed.wrong = Some((line, "is longer than this gateway reads".into()));
        }
        Ok(())
    }

    /// Whether the upload may go to the provider whole: a batch file needs every line priced.
    fn verdict(&self) -> Result<(), ApiError> {
        if self.purpose.as_deref() != Some("batch") {
            return Ok(());
        }
        if !self.file_ended {
            return Err(ApiError::invalid(
                "file",
                "is required: the batch's lines, as a part named file",
            ));
        }
        match (&self.summed.wrong, self.summed.lines) {
            (Some((line, why)), _) => Err(ApiError::invalid(format!("file line {line}"), why.clone())),
            (None, 0) => Err(ApiError::invalid("file", "has no requests")),
            _ => Ok(()),
        }
    }

    fn batch_file(&self) -> Option<BatchFile> {
        if self.purpose.as_deref() != Some("batch") || self.summed.wrong.is_some() {
            return None;
        }
        let mut worst = Map::new();
        self.summed.worst.write(&mut worst);
        Some(BatchFile {
            model: self.summed.model.clone()?,
            url: self.summed.url.clone()?,
            lines: self.summed.lines,
            worst,
        })
    }
}

/// What counting a batch file's lines needs.
struct Counting<'a> {
    door: &'a Door,
    project: &'a str,
    upstream: Arc<Upstream>,
    catalog: Arc<Catalog>,
}

impl Counting<'_> {
    /// Counts the lines waiting, on a counting thread, into the sum.
    async fn count(&self, reader: &mut Reader) -> Result<(), ApiError> {
        if reader.pending.is_empty() || reader.summed.wrong.is_some() {
            reader.pending.clear();
            reader.pending_bytes = 0;
            return Ok(());
        }
        let lines = std::mem::take(&mut reader.pending);
        reader.pending_bytes = 0;
        let summed = reader.summed.clone();
        let (upstream, catalog) = (self.upstream.clone(), self.catalog.clone());
        reader.summed = self
            .door
            .counting
            .run(self.project, move || sum(&upstream, &catalog, summed, lines))
            .await
            .map_err(|_| ApiError::CountingBusy)?;
        Ok(())
    }
}

/// Adds `lines` to `summed`, stopping at the first the gateway cannot price.
fn sum(upstream: &Arc<Upstream>, catalog: &Catalog, mut summed: Summed, lines: Vec<(u64, Vec<u8>)>) -> Summed {
    for (n, line) in lines {
        match one(upstream, catalog, &summed, &line) {
            Ok((model, url, worst)) => {
                summed.model.get_or_insert(model);
                summed.url.get_or_insert(url);
                summed.lines += 1;
                summed.worst = summed.worst.plus(&worst);
            }
            Err(e) => {
                summed.wrong = Some((n, format!("{}: {}", e.field, e.detail)));
                break;
            }
        }
    }
    summed
}

/// One line of a batch file: `{"custom_id", "method": "POST", "url", "body"}`, its model, its
/// path and its worst case. Every line calls one path with one model (a batch is priced at one).
fn one(
    upstream: &Arc<Upstream>,
    catalog: &Catalog,
    so_far: &Summed,
    line: &[u8],
) -> Result<(String, String, Usage), BodyError> {
    let value: Map<String, Value> = serde_json::from_slice(line).map_err(|_| wrong("line", "must be a JSON object"))?;
    if !value.get("custom_id").is_some_and(Value::is_string) {
        return Err(wrong("custom_id", "must be a string"));
    }
    if value.get("method").and_then(Value::as_str) != Some("POST") {
        return Err(wrong("method", "must be POST"));
    }
    let url = value
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| wrong("url", "must be the path the line calls"))?;
    let route = wire::route(upstream.wire, &[], "POST", url.trim_start_matches('/'))
        .filter(|r| {
            matches!(
                r.operation,
                Operation::Chat | Operation::Responses | Operation::Embeddings
            )
        })
        .ok_or_else(|| wrong("url", "must be /v1/chat/completions, /v1/responses or /v1/embeddings"))?;
    if so_far.url.as_deref().is_some_and(|u| u != url) {
        return Err(wrong("url", "must be the path every line of the file calls"));
    }
    let body = value
        .get("body")
        .and_then(Value::as_object)
        .ok_or_else(|| wrong("body", "must be the call's JSON body"))?;
    let call = line_call(upstream, catalog, route, body).map_err(|e| wrong(&format!("body.{}", e.field), &e.detail))?;
    if let Some(model) = so_far.model.as_deref().filter(|m| *m != call.model) {
        return Err(wrong(
            "body.model",
            &format!("must be {model}, as every line of the file: a batch is priced at one model"),
        ));
    }
    Ok((
        call.model.clone(),
        url.to_string(),
        call.worst.zeros(Operation::Batches),
    ))
}
