//! A multipart upload (an audio file to transcribe) streamed through, never whole in memory:
//! the second phase reads only what the hold needs (the text fields before the file, and the
//! file's first bytes for its container's header), and after the hold the gateway forwards
//! those bytes and then the rest as it arrives, through a small channel, so a slow provider
//! slows the caller's upload rather than filling the node.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};

use super::duration;
use super::multipart::{self, Reader};
use crate::http::ApiError;

/// What the hold assumes of audio whose duration no header states: the fewest bytes a second
/// of any audio a provider decodes takes (Opus at its lowest bitrate, 6 kbit/s), so its size
/// over this is at least its length.
pub(crate) const BYTES_PER_SECOND: u64 = 750;
/// Chunks of the upload waiting for the provider: the rest waits in the caller's socket.
const CHANNEL_CHUNKS: usize = 4;

/// What the gateway knows of an upload's audio before the provider sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audio {
    /// The duration its container's header states, in whole seconds rounded up.
    pub seconds: Option<u64>,
    /// Its length at most by its size (`BYTES_PER_SECOND`), in whole seconds rounded up.
    pub bound_seconds: u64,
}

impl Audio {
    /// The seconds a hold takes: the header's, else the bound.
    pub(crate) fn held_seconds(&self) -> u64 {
        self.seconds.unwrap_or(self.bound_seconds)
    }
}

/// An upload read as far as its hold needs.
pub(crate) struct Upload {
    /// The bytes read so far: forwarded first.
    pub head: Bytes,
    /// The text fields read before the hold (`stream` as true or false).
    pub fields: Map<String, Value>,
    pub audio: Audio,
    /// What an Idempotency-Key's repeat must match: the fields and a digest of the file's first
    /// bytes, as JSON (a client's retry draws a new boundary; its parts are the same).
    pub fingerprint: Vec<u8>,
    /// The rest of the body, unread; None when it was read whole.
    rest: Option<web::Payload>,
    /// The body's length as the caller declared it.
    declared: Option<u64>,
    limit: u64,
}

impl Upload {
    /// A body forwarded unread (an uncounted call's, whatever its type): nothing read before
    /// it goes, each chunk of the caller's passed on as it arrives, at most `limit` bytes.
    pub(crate) fn unread(payload: web::Payload, declared: Option<u64>, limit: u64) -> Upload {
        Upload {
            head: Bytes::new(),
            fields: Map::new(),
            audio: Audio {
                seconds: None,
                bound_seconds: 0,
            },
            fingerprint: Vec::new(),
            rest: Some(payload),
            declared,
            limit,
        }
    }

    /// A form read whole, forwarded as it came: its repeat matched by `fingerprint`.
    pub(crate) fn whole(body: Bytes, fingerprint: Vec<u8>) -> Upload {
        let length = body.len() as u64;
        Upload {
            head: body,
            fields: Map::new(),
            audio: Audio {
                seconds: None,
                bound_seconds: 0,
            },
            fingerprint,
            rest: None,
            declared: Some(length),
            limit: length,
        }
    }
}

/// What an upload's head says: its multipart boundary and its declared length.
pub(crate) struct Form {
    pub boundary: Vec<u8>,
    pub declared: Option<u64>,
}

/// An upload's head, checked: a multipart form (else 400 naming `Content-Type`), sent
/// uncompressed, declaring no more than `limit` bytes (else refused before any byte is read).
pub(crate) fn form(req: &HttpRequest, limit: u64) -> Result<Form, ApiError> {
    let headers = req.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multipart::boundary(content_type)
        .ok_or_else(|| ApiError::invalid("Content-Type", "must be multipart/form-data with a boundary"))?;
    super::understand::plain(req)?;
    let declared = super::understand::declared(req, limit)?;
    Ok(Form { boundary, declared })
}

/// An upload past what the node forwards.
pub(crate) fn too_large(limit: u64) -> ApiError {
    ApiError::invalid("body", format!("is larger than this gateway forwards ({limit} bytes)"))
}

/// Reads an upload as far as its hold needs: the fields before the `file` part and the file's
/// first bytes (`duration::head_bytes`), keeping at most `keep` bytes (the node's bound on a
/// body it reads) and forwarding at most `limit`.
pub(crate) async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    keep: usize,
    limit: u64,
) -> Result<Upload, ApiError> {
    let Form { boundary, declared } = form(req, limit)?;
    let mut reader = Reader::new(&boundary);
    let mut head = BytesMut::new();
    let mut rest = Some(payload);
    while !ready(&reader, &head) {
        let Some(next) = rest.as_mut().map(|p| p.next()) else {
            break;
        };
        match next.await {
            None => rest = None,
            Some(Err(_)) => return Err(ApiError::invalid("body", "could not be read")),
            Some(Ok(chunk)) => {
                if head.len() + chunk.len() > keep {
                    let message = format!(
                        "has more than {keep} bytes before the file's first bytes and the model: send the \
                         fields (model first) before the file, as the official SDKs do"
                    );
                    return Err(ApiError::invalid("body", message));
                }
                head.extend_from_slice(&chunk);
                reader.read(&head).map_err(|e| ApiError::invalid("body", e.0))?;
            }
        }
    }
    if rest.is_none() && !reader.done() {
        return Err(ApiError::invalid("body", "ended before its closing boundary"));
    }
    // After the file's bytes comes at least the closing delimiter with the line break every
    // client ends it with, `\r\n--<boundary>--\r\n`.
    let after_file = boundary.len() as u64 + 8;
    finish(reader, head.freeze(), rest, (declared, after_file), limit)
}

/// Whether the hold has what it needs: the model, and the file's head (or its end).
fn ready(reader: &Reader, head: &[u8]) -> bool {
    let model = reader.fields.iter().any(|(name, _)| name == "model");
    let file = reader.file.as_ref().is_some_and(|file| {
        let read = head.len().saturating_sub(file.start);
        file.end.is_some() || (read >= 10 && read >= duration::head_bytes(&head[file.start..]))
    });
    reader.done() || (model && file)
}

/// The upload as the hold takes it, from the body's declared length (if any) and the bytes at
/// least after its file (the closing delimiter).
fn finish(
    reader: Reader,
    head: Bytes,
    rest: Option<web::Payload>,
    (declared, after_file): (Option<u64>, u64),
    limit: u64,
) -> Result<Upload, ApiError> {
    let file = reader
        .file
        .clone()
        .ok_or_else(|| ApiError::invalid("file", "is required: the audio, as a part named file"))?;
    let mut fields = Map::new();
    for (name, value) in reader.fields {
        let value = match (name.as_str(), value.as_str()) {
            ("stream", "true") => Value::Bool(true),
            ("stream", "false") => Value::Bool(false),
            _ => Value::String(value),
        };
        if fields.insert(name.clone(), value).is_some() && matches!(name.as_str(), "model" | "stream") {
            return Err(ApiError::invalid(name, "must be given once"));
        }
    }
    // The file's length: exact when its end was read, else at most what the body declared
    // (or may carry) after its start and before the closing delimiter.
    let size = match file.end {
        Some(end) => (end - file.start) as u64,
        None => declared
            .map_or(limit, |d| d.saturating_sub(after_file))
            .saturating_sub(file.start as u64),
    };
    let bytes = &head[file.start..file.end.unwrap_or(head.len())];
    let audio = Audio {
        seconds: duration::read(bytes, Some(size)).map(|ms| ms.div_ceil(1000)),
        bound_seconds: size.div_ceil(BYTES_PER_SECOND),
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
    let fingerprint = serde_json::json!({"fields": fields, "file": digest})
        .to_string()
        .into_bytes();
    Ok(Upload {
        head,
        fields,
        audio,
        fingerprint,
        rest,
        declared,
        limit,
    })
}

/// An upload's body as it goes upstream, and how its sending went.
pub(crate) struct Sending {
    pub body: reqwest::Body,
    /// The body's length, when the caller declared it: the provider gets the same.
    pub length: Option<u64>,
    /// True once the caller's last byte went into the channel (or the caller's upload broke).
    pub sent: watch::Receiver<bool>,
    /// Set when the caller's upload broke off, or passed the limit: the provider got no whole
    /// request.
    pub broke: Arc<AtomicBool>,
}

impl Upload {
    /// The body to forward: the bytes read, then the rest as it arrives, each chunk of the
    /// caller's within `idle`.
    pub(crate) fn sending(self, idle: Duration) -> Sending {
        let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(CHANNEL_CHUNKS);
        let (sent_tx, sent) = watch::channel(false);
        let broke = Arc::new(AtomicBool::new(false));
        let flag = broke.clone();
        let (head, rest, limit) = (self.head, self.rest, self.limit);
        actix_web::rt::spawn(async move {
            let mut total = head.len() as u64;
            if tx.send(Ok(head)).await.is_err() {
                return;
            }
            let Some(mut rest) = rest else {
                let _ = sent_tx.send(true);
                return;
            };
            let failure = loop {
                match tokio::time::timeout(idle, rest.next()).await {
                    Ok(None) => break None,
                    Ok(Some(Ok(chunk))) => {
                        total += chunk.len() as u64;
                        if total > limit {
                            break Some(format!("the upload passed {limit} bytes"));
                        }
                        if tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(Err(_))) | Err(_) => break Some("the caller's upload broke off".to_string()),
                }
            };
            if let Some(failure) = failure {
                flag.store(true, Ordering::SeqCst);
                let _ = tx.send(Err(io::Error::other(failure))).await;
            }
            let _ = sent_tx.send(true);
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
        Sending {
            body: reqwest::Body::wrap_stream(stream),
            length: self.declared,
            sent,
            broke,
        }
    }
}
