//! Gemini's Files API upload: a resumable upload, as Google's clients make it. Its start
//! (`POST upload/v1beta/files`, `X-Goog-Upload-Command: start`, the file's metadata) is a
//! caller's call with the gateway's key: forwarded, it answers the URL of the provider's session
//! (`x-goog-upload-url`), which the gateway keeps in a session of its own and answers with its
//! own URL in its place (`upload/v1beta/files?upload_id=<project>.<session>`), the provider's
//! never shown. The clients send the file's chunks (`upload`, `upload, finalize`) to that URL
//! with no key: it is their credential, as the provider's is (`identify.rs` finds the caller
//! in the session). Each chunk passes on to the provider's URL as it arrives, one at a time per
//! session, at the offset the session is at. A JSONL file is a batch's input: its lines are
//! priced as they pass (`gemini_file.rs`), the line a chunk leaves unended kept in the session
//! for the next; a line the gateway cannot price breaks off its chunk before its last bytes, so
//! the provider never has the file whole, and the caller is told the line. The finalized file
//! is recorded as its uploader's (with its lines' sum, for a batch that names it).

use std::io;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::Value;

use super::gemini_file::FileLines;
use super::shapes::MAX_OBJECT_BYTES;
use super::JobCall;
use crate::http::ApiError;
use crate::proxy::answer::{self, Fault};
use crate::proxy::body::{self, BodyReader};
use crate::proxy::budget::Lease;
use crate::proxy::call::context::Ctx;
use crate::proxy::call::upstream::SendError;
use crate::proxy::{headers, provider};
use crate::quota::{job_key, FileRecord, LinesSoFar, UploadSession};
use crate::secrets::id_bytes;

/// A session lives this long after its start or its last chunk.
const SESSION_MS: u64 = 24 * 3_600_000;
/// One chunk passes within this long, else another may take the session's lease.
const CHUNK_LEASE_MS: u64 = 10 * 60_000;
/// A start's body (the file's metadata), at most.
const MAX_START_BYTES: usize = 64 << 10;
/// A start, or a chunk of the session the query names.
pub(super) async fn serve(at: JobCall<'_>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    match headers::query_value(at.req.query_string(), "upload_id") {
        None => start(at, payload).await,
        Some(named) => {
            let (_, id) = named
                .rsplit_once('.')
                .ok_or_else(|| ApiError::invalid("upload_id", "is not an upload's"))?;
            chunk(at, payload, id).await
        }
    }
}

/// Starts an upload at the provider and a session for it at the gateway.
async fn start(at: JobCall<'_>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    if command(req) != "start" {
        return Err(ApiError::invalid(
            "X-Goog-Upload-Command",
            "must be start, or the chunk must go to the URL its start answered",
        ));
    }
    let reader = door.reader(&ctx.caller).keeping(MAX_START_BYTES);
    let asked = body::bytes(req, payload, &reader).await?;
    let jsonl = is_jsonl(req, &asked);
    let response = match door.forward(req, ctx, body::Body::Whole(asked)).await {
        Ok(response) => response,
        Err(failure) => return Ok(failure.answer(ctx)),
    };
    let theirs = response
        .headers()
        .get("x-goog-upload-url")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(url) = theirs.filter(|_| response.status().is_success()) else {
        return Ok(door.pass(ctx, response));
    };
    if !same_origin(&url, &ctx.upstream().base_url) {
        let fault = Fault::new(
            "upstream_error",
            "the provider named an upload URL elsewhere than itself",
        );
        return Ok(answer::error(ctx.wire(), StatusCode::BAD_GATEWAY, fault));
    }
    let id = hex::encode(id_bytes::<16>());
    let session = UploadSession {
        user: ctx.caller.user.as_str().to_string(),
        key_id: ctx.caller.key_id.clone(),
        upstream: ctx.upstream().name.clone(),
        url,
        offset: 0,
        lines: jsonl.then(|| LinesSoFar {
            next: 1,
            ..LinesSoFar::default()
        }),
    };
    let jobs = door.gateway.data().jobs();
    jobs.put_upload_session(&ctx.caller.project, &id, (&session, &[]), SESSION_MS)
        .await?;
    let mut reply = provider::head(&response);
    reply.insert_header(("x-goog-upload-url", own_url(req, ctx, &id)));
    let body = provider::within(response, ctx.upstream().timeouts.idle, MAX_OBJECT_BYTES)
        .await
        .unwrap_or_default();
    Ok(reply.body(body))
}

/// Passes one chunk of session `id` on, one at a time per session.
async fn chunk(at: JobCall<'_>, payload: web::Payload, id: &str) -> Result<HttpResponse, ApiError> {
    let JobCall { door, ctx, .. } = at;
    let (jobs, project) = (door.gateway.data().jobs(), &ctx.caller.project);
    let token = hex::encode(id_bytes::<8>());
    if !jobs.lease_upload_chunk(project, id, &token, CHUNK_LEASE_MS).await? {
        return Err(ApiError::invalid(
            "upload_id",
            "has another chunk passing: send its chunks one after another",
        ));
    }
    let passed = match jobs.upload_session(project, id).await? {
        Some(session) if session.upstream == ctx.upstream().name => pass(at, payload, (id, session)).await,
        _ => Err(ApiError::invalid(
            "upload_id",
            "names no upload in flight on this upstream",
        )),
    };
    if let Err(err) = jobs.unlease_upload_chunk(project, id, &token).await {
        tracing::warn!(%err, "proxy: an upload chunk's lease stays to its end");
    }
    passed
}

/// A chunk at the session's offset, streamed to the provider's session; the session moved on
/// (or, finalized, the file recorded and the session ended) when the provider took it.
async fn pass(
    at: JobCall<'_>,
    payload: web::Payload,
    (id, session): (&str, UploadSession),
) -> Result<HttpResponse, ApiError> {
    let JobCall { door, req, ctx } = at;
    let said = command(req);
    let finalize = said.split(',').any(|c| c == "finalize");
    if !said.split(',').all(|c| c == "upload" || c == "finalize") || said.is_empty() {
        return Err(ApiError::invalid(
            "X-Goog-Upload-Command",
            "must be upload, finalize, or both",
        ));
    }
    let offset = header(req, "x-goog-upload-offset").and_then(|o| o.parse::<u64>().ok());
    if offset != Some(session.offset) {
        let detail = format!("must be {}, the bytes of the file this upload has", session.offset);
        return Err(ApiError::invalid("X-Goog-Upload-Offset", detail));
    }
    let limit = door.max_upload_bytes.saturating_sub(session.offset);
    let declared = body::declared(req, limit)?;
    let (tx, sending) = send(req, ctx, (&session.url, declared));
    let reading = door.reader(&ctx.caller);
    let lines = match session.lines.clone() {
        Some(so_far) => {
            let carry = door.gateway.data().jobs().upload_carry(&ctx.caller.project, id).await?;
            Some(FileLines::resume(so_far, carry, door.max_body_bytes))
        }
        None => None,
    };
    let mut chunk = Chunk {
        at,
        tx,
        lease: reading.lease(),
        reading,
        lines,
        limit,
        sent: 0,
    };
    chunk.stream(payload, finalize).await?;
    let response = match tokio::time::timeout(ctx.upstream().timeouts.first_byte, sending).await {
        Ok(Ok(Ok(response))) => response,
        _ => {
            let message = format!("the provider ({}) gave no answer to the chunk", ctx.upstream().name);
            let fault = Fault::new("upstream_unreachable", &message);
            return Ok(answer::error(ctx.wire(), StatusCode::BAD_GATEWAY, fault));
        }
    };
    if !response.status().is_success() {
        return Ok(door.pass(ctx, response));
    }
    let (lines, carry) = match chunk.lines.as_ref().map(FileLines::so_far) {
        Some((lines, carry)) => (Some(lines), carry),
        None => (None, &[][..]),
    };
    let moved = UploadSession {
        offset: session.offset + chunk.sent,
        lines,
        ..session
    };
    match finalize {
        true => made(at, (id, &moved), chunk.lines.as_ref(), response).await,
        false => {
            let jobs = door.gateway.data().jobs();
            jobs.put_upload_session(&ctx.caller.project, id, (&moved, carry), SESSION_MS)
                .await?;
            Ok(provider::head(&response).finish())
        }
    }
}

/// The finalized upload's answer, its file recorded as the uploader's (a JSONL file with its
/// lines' sum), and its session ended.
async fn made(
    at: JobCall<'_>,
    (id, session): (&str, &UploadSession),
    lines: Option<&FileLines>,
    response: reqwest::Response,
) -> Result<HttpResponse, ApiError> {
    let JobCall { door, ctx, .. } = at;
    let mut reply = provider::head(&response);
    let Ok(body) = provider::within(response, ctx.upstream().timeouts.idle, MAX_OBJECT_BYTES).await else {
        return Ok(reply.finish());
    };
    let jobs = door.gateway.data().jobs();
    let name = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        let name = v.pointer("/file/name")?.as_str()?;
        super::shapes::file_id(name).map(str::to_string)
    });
    if let Some(file) = name {
        let record = FileRecord {
            user: session.user.clone(),
            purpose: String::new(),
            batch: lines.and_then(|l| l.batch_file().ok()),
            job: None,
        };
        let key = job_key(&ctx.upstream().name, &file);
        jobs.put_job_file(&ctx.caller.project, &key, &record).await?;
    }
    if let Err(err) = jobs.drop_upload_session(&ctx.caller.project, id).await {
        tracing::warn!(%err, "proxy: a finalized upload's session stays to its end");
    }
    Ok(reply.body(body))
}

/// The pieces of a chunk on their way to the provider's request.
type Pieces = body::Pipe;
/// The provider's request, sent as the pieces come.
type Sent = tokio::task::JoinHandle<Result<reqwest::Response, SendError>>;

/// A chunk on its way: its call, the channel to the provider's request, how the caller's bytes
/// are read and the lease of what the reading keeps, a JSONL file's lines, the most the file
/// may still grow by, and what was sent.
struct Chunk<'a> {
    at: JobCall<'a>,
    tx: Pieces,
    reading: BodyReader<'a>,
    lease: Lease,
    lines: Option<FileLines>,
    limit: u64,
    sent: u64,
}

impl Chunk<'_> {
    /// Passes the caller's bytes on, one piece behind, reading a JSONL file's lines as they go;
    /// the last piece once every line the chunk completes (all, when it finalizes) is priced.
    async fn stream(&mut self, mut payload: web::Payload, finalize: bool) -> Result<(), ApiError> {
        let mut held: Option<Bytes> = None;
        loop {
            let piece = match self.reading.next(&mut payload).await {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(err) => return self.break_off("the caller's chunk broke off", err).await,
            };
            self.sent += piece.len() as u64;
            if self.sent > self.limit {
                return self.break_off("too large", body::too_large(self.limit)).await;
            }
            self.read(&piece, false).await?;
            if let Some(before) = held.replace(piece) {
                if self.tx.send(Ok(before)).await.is_err() {
                    // The provider answered before the chunk's end: its answer is the caller's.
                    return Ok(());
                }
            }
        }
        self.read(&[], finalize).await?;
        if let Some(last) = held {
            let _ = self.tx.send(Ok(last)).await;
        }
        Ok(())
    }

    /// Reads a piece into the file's lines (the file's end where `ended`), counting them when
    /// enough wait or at the chunk's end; what the reading keeps leased first.
    async fn read(&mut self, piece: &[u8], ended: bool) -> Result<(), ApiError> {
        let Some(lines) = self.lines.as_mut() else {
            return Ok(());
        };
        if self.lease.keep(lines.kept() + piece.len()).is_err() {
            return self
                .break_off("the node's read budget is full", ApiError::ReadBudgetFull)
                .await;
        }
        let many = lines.feed(piece);
        if ended {
            lines.finish();
        }
        if many || piece.is_empty() {
            let JobCall { door, ctx, .. } = self.at;
            lines.count(door, &ctx.caller.project, &ctx.target.upstream).await?;
        }
        if let Some(why) = lines.wrong() {
            let err = ApiError::invalid("file", why.to_string());
            return self.break_off("refused", err).await;
        }
        if ended && lines.counted() == 0 {
            let err = ApiError::invalid(
                "file",
                "has no requests: a JSONL file is a batch's requests, a line each",
            );
            return self.break_off("refused", err).await;
        }
        let _ = self.lease.keep(lines.kept());
        Ok(())
    }

    /// Breaks off the provider's request (`why`) and refuses the caller with `err`.
    async fn break_off<T>(&self, why: &str, err: ApiError) -> Result<T, ApiError> {
        let _ = self.tx.send(Err(io::Error::other(why.to_string()))).await;
        Err(err)
    }
}

/// Starts the provider's request to its session's `url`, with the chunk's upload headers, its
/// body the pieces sent down the channel it returns.
fn send(req: &HttpRequest, ctx: &Ctx, (url, declared): (&str, Option<u64>)) -> (Pieces, Sent) {
    let (tx, body) = body::piped();
    let upstream = ctx.target.upstream.clone();
    let mut builder = upstream.client.post(url);
    for (name, value) in req.headers() {
        if name.as_str().starts_with("x-goog-upload-") {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    if let Some(length) = declared {
        builder = builder.header(reqwest::header::CONTENT_LENGTH, length);
    }
    let builder = builder.body(body);
    (tx, tokio::spawn(async move { upstream.send(builder).await }))
}

/// The upload command a request says, lowercase without spaces (`upload,finalize`).
fn command(req: &HttpRequest) -> String {
    header(req, "x-goog-upload-command")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace(' ', "")
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether the file started is JSONL (a batch's input), as its start declares its type: in
/// `X-Goog-Upload-Header-Content-Type`, else the metadata's `file.mimeType`.
fn is_jsonl(req: &HttpRequest, asked: &[u8]) -> bool {
    let from_body = || {
        let value = serde_json::from_slice::<Value>(asked).ok()?;
        let file = value.get("file")?;
        let mime = file.get("mimeType").or_else(|| file.get("mime_type"))?;
        mime.as_str().map(str::to_string)
    };
    let mime = header(req, "x-goog-upload-header-content-type")
        .map(str::to_string)
        .or_else(from_body)
        .unwrap_or_default();
    let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "jsonl" | "application/jsonl" | "application/x-jsonl" | "application/x-ndjson" | "application/jsonlines"
    )
}

/// Whether the provider's session `url` is on the upstream's own scheme, host and port.
fn same_origin(url: &str, base: &str) -> bool {
    let origin = |u: &str| reqwest::Url::parse(u).ok().map(|u| u.origin());
    origin(url).is_some_and(|o| Some(o) == origin(base))
}

/// The session's URL at the gateway, where the client sends its chunks.
fn own_url(req: &HttpRequest, ctx: &Ctx, id: &str) -> String {
    let info = req.connection_info();
    format!(
        "{}://{}/proxy/{}/upload/v1beta/files?upload_id={}.{id}&upload_protocol=resumable",
        info.scheme(),
        info.host(),
        ctx.upstream().name,
        ctx.caller.project
    )
}
