//! The caller's body, as the door reads it before a hold: JSON read whole within the node's
//! bound (an upload only as far as its hold needs, `upload.rs`), each chunk within the idle
//! time and at a least pace, and leased from the node's budget in the caller's name
//! (`budget.rs`), so a caller that sends slowly or not at all pins neither memory nor a read
//! for long.

mod fingerprint;
pub(crate) mod form;
mod upload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::budget::{Budget, Lease};
use super::call::caller::Caller;
use crate::http::ApiError;

pub(crate) use self::fingerprint::Fingerprint;
pub(crate) use self::upload::{head, read_upload, too_large, Head, Upload};

/// The caller's body: JSON read whole, or an upload read as far as its hold needs.
pub(crate) enum Body {
    Whole(Bytes),
    Upload(Box<Upload>),
}

impl Body {
    /// What an Idempotency-Key's repeat must match: the whole body, or an upload's fields and
    /// its file's first bytes.
    pub(crate) fn fingerprint(&self) -> &[u8] {
        match self {
            Body::Whole(bytes) => bytes,
            Body::Upload(upload) => &upload.fingerprint,
        }
    }
}

/// Chunks on their way to a provider's request; an `Err` breaks the request off.
pub(crate) type Pipe = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Chunks the provider's request waits for, at most, before the sender waits for it.
const PIPED_CHUNKS: usize = 4;

/// A request body fed as its chunks are sent down the pipe it comes with.
pub(crate) fn piped() -> (Pipe, reqwest::Body) {
    let (tx, rx) = tokio::sync::mpsc::channel(PIPED_CHUNKS);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (tx, reqwest::Body::wrap_stream(stream))
}

/// The least pace a body read before its hold keeps, past its first idle time: a caller that
/// sends a byte each idle time never goes quiet, yet would pin its read for ever.
pub(crate) const MIN_BYTES_PER_SECOND: u64 = 1 << 10;

/// How a body is read before its hold: at most `keep` bytes, each chunk within the node's idle
/// time, all of them by the idle time and a second for each `MIN_BYTES_PER_SECOND` received,
/// its bytes leased from the node's budget in the caller's name (`budget.rs`), so a caller
/// that sends slowly or not at all pins neither memory nor a read for long.
pub(crate) struct BodyReader<'a> {
    pub keep: usize,
    idle: Duration,
    budget: &'a Arc<Budget>,
    caller: &'a Caller,
    started: Instant,
    received: AtomicU64,
}

impl<'a> BodyReader<'a> {
    pub(crate) fn new(keep: usize, idle: Duration, budget: &'a Arc<Budget>, caller: &'a Caller) -> BodyReader<'a> {
        BodyReader {
            keep,
            idle,
            budget,
            caller,
            started: Instant::now(),
            received: AtomicU64::new(0),
        }
    }

    /// The same reader keeping at most `keep` bytes.
    pub(crate) fn keeping(self, keep: usize) -> BodyReader<'a> {
        BodyReader { keep, ..self }
    }

    /// A lease of the node's budget for one read.
    pub(crate) fn lease(&self) -> Lease {
        self.budget.lease(&self.caller.project, self.caller.user.as_str())
    }

    /// The body's next chunk (None at its end), within the idle time and the body's pace.
    pub(crate) async fn next(&self, payload: &mut web::Payload) -> Result<Option<Bytes>, ApiError> {
        let received = self.received.load(Ordering::Relaxed);
        let due =
            self.started + self.idle + Duration::from_millis(received.saturating_mul(1000) / MIN_BYTES_PER_SECOND);
        let left = due.saturating_duration_since(Instant::now());
        match tokio::time::timeout(self.idle.min(left), payload.next()).await {
            Err(_) if left < self.idle => Err(ApiError::BodyTooSlow(MIN_BYTES_PER_SECOND)),
            Err(_) => Err(ApiError::BodyStalled(self.idle.as_secs().max(1))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => {
                self.received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Ok(Some(chunk))
            }
            Ok(Some(Err(_))) => Err(ApiError::invalid("body", "could not be read whole")),
        }
    }
}

/// An uncounted call's body, never read: the gateway counts nothing of it, so any type passes,
/// streamed through as it arrives, at most the node's upload bound (refused before any byte
/// when its declared length is past it). No declared length and no chunked body: none.
pub(crate) fn passing(req: &HttpRequest, payload: web::Payload, limit: u64) -> Result<Body, ApiError> {
    plain(req)?;
    let declared = declared(req, limit)?;
    let chunked = req.headers().contains_key(actix_web::http::header::TRANSFER_ENCODING);
    Ok(match (declared, chunked) {
        (None | Some(0), false) => Body::Whole(Bytes::new()),
        _ => Body::Upload(Box::new(Upload::unread(payload, declared, limit))),
    })
}

/// Reads the caller's body as `reader` says: a body declared as anything but JSON is 415 (the
/// API's rule), one compressed in a way the gateway does not read is 400 naming
/// `Content-Encoding`, and a declared length past the limit is refused before any byte is read.
pub(crate) async fn json(req: &HttpRequest, payload: web::Payload, reader: &BodyReader<'_>) -> Result<Bytes, ApiError> {
    let headers = req.headers();
    if let Some(declared) = headers.get(actix_web::http::header::CONTENT_TYPE) {
        if !crate::http::body::is_json(declared.to_str().unwrap_or("")) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    bytes(req, payload, reader).await
}

/// Reads the caller's body as it came, whatever its type, as `reader` says (a compressed one is
/// refused as `body` says).
pub(crate) async fn bytes(
    req: &HttpRequest,
    mut payload: web::Payload,
    reader: &BodyReader<'_>,
) -> Result<Bytes, ApiError> {
    plain(req)?;
    let limit = reader.keep;
    declared(req, limit as u64)?;
    let mut lease = reader.lease();
    let mut body = BytesMut::new();
    while let Some(chunk) = reader.next(&mut payload).await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit as u64));
        }
        lease.take(chunk.len()).map_err(|_| ApiError::ReadBudgetFull)?;
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The body's length as the caller declared it (`Content-Length`), if it did; a declared length
/// past `limit` is refused before any byte is read.
pub(crate) fn declared(req: &HttpRequest, limit: u64) -> Result<Option<u64>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(too_large(limit)),
        declared => Ok(declared),
    }
}

/// A body compressed in a way the gateway does not read is 400 naming `Content-Encoding`.
pub(crate) fn plain(req: &HttpRequest) -> Result<(), ApiError> {
    let headers = req.headers();
    let encoded = headers
        .get(actix_web::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity");
    match encoded {
        Some(encoding) => Err(ApiError::invalid(
            "Content-Encoding",
            format!("{encoding} is not read by this gateway; send the body uncompressed"),
        )),
        None => Ok(()),
    }
}
