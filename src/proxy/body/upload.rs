//! A multipart upload (an audio file to transcribe) streamed through, never whole in memory:
//! the second phase reads only what the hold needs (the text fields before the file, and the
//! file's first bytes for its container's header), and after the hold the gateway forwards
//! those bytes and then the rest as it arrives, through a small channel, so a slow provider
//! slows the caller's upload rather than filling the node.

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::BodyReader;
use crate::http::ApiError;
use crate::proxy::call::outcome::Cut;
use crate::proxy::call::Audio;
use crate::proxy::duration;
use crate::proxy::multipart::{self, Form, Part};
/// The fields an audio's hold is priced from (with the file), and the only ones it is handed:
/// `model` and `stream` name the call, a `prompt`'s tokens are held. None may come once it is
/// held, so a field the hold reads is one the form is sealed against: one list, no drift.
const PRICED: &[&str] = &["model", "stream", "prompt"];

/// An upload read as far as its hold needs.
pub(crate) struct Upload {
    /// The bytes read so far: forwarded first.
    pub head: Bytes,
    /// The text fields read before the hold that price it (`PRICED`; `stream` as true or false).
    pub fields: Map<String, Value>,
    pub audio: Audio,
    /// What an Idempotency-Key's repeat must match: the fields and a digest of the file's first
    /// bytes, as JSON (a client's retry draws a new boundary; its parts are the same).
    pub fingerprint: Vec<u8>,
    /// The form as read so far, which reads on through the rest as it goes upstream (None: the
    /// body goes unread, an uncounted call's).
    form: Option<Form>,
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
                held_seconds: 0,
                seconds: None,
            },
            fingerprint: Vec::new(),
            form: None,
            rest: Some(payload),
            declared,
            limit,
        }
    }

    /// The upload with the fields it is priced from (a form read whole: its text fields, and its
    /// file parts' counts by name).
    pub(crate) fn with_fields(mut self, fields: Map<String, Value>) -> Upload {
        self.fields = fields;
        self
    }

    /// A form read whole, forwarded as it came: its repeat matched by `fingerprint`.
    pub(crate) fn whole(body: Bytes, fingerprint: Vec<u8>) -> Upload {
        let length = body.len() as u64;
        Upload {
            head: body,
            fields: Map::new(),
            audio: Audio {
                held_seconds: 0,
                seconds: None,
            },
            fingerprint,
            form: None,
            rest: None,
            declared: Some(length),
            limit: length,
        }
    }
}

/// What an upload's head says: its multipart boundary and its declared length.
pub(crate) struct Head {
    pub boundary: Vec<u8>,
    pub declared: Option<u64>,
}

/// An upload's head, checked: a multipart form (else 400 naming `Content-Type`), sent
/// uncompressed, declaring no more than `limit` bytes (else refused before any byte is read).
pub(crate) fn head(req: &HttpRequest, limit: u64) -> Result<Head, ApiError> {
    let headers = req.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multipart::boundary(content_type)
        .ok_or_else(|| ApiError::invalid("Content-Type", "must be multipart/form-data with a boundary"))?;
    super::plain(req)?;
    let declared = super::declared(req, limit)?;
    Ok(Head { boundary, declared })
}

/// An upload past what the node forwards.
pub(crate) fn too_large(limit: u64) -> ApiError {
    ApiError::invalid("body", format!("is larger than this gateway forwards ({limit} bytes)"))
}

/// The form of an upload as far as it was read: its fields, and its file's first bytes and
/// length so far.
struct Reading {
    form: Form,
    fields: Vec<(String, String)>,
    /// The file's first bytes, as many as its container's header needs.
    file_head: Vec<u8>,
    /// The file's bytes read so far.
    file_len: u64,
    file_begun: bool,
    file_ended: bool,
    /// The body's bytes read so far.
    fed: u64,
}

impl Reading {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        let Reading {
            form,
            fields,
            file_head,
            file_len,
            file_begun,
            file_ended,
            ..
        } = self;
        form.feed(chunk, &mut |part| match part {
            Part::Field(name, value) => fields.push((name, value)),
            Part::File(multipart::FILE, bytes) => {
                *file_begun = true;
                *file_len += bytes.len() as u64;
                let want = duration::MAX_HEAD_BYTES
                    .saturating_sub(file_head.len())
                    .min(bytes.len());
                file_head.extend_from_slice(&bytes[..want]);
            }
            Part::FileEnd(multipart::FILE) => *file_ended = true,
            Part::File(..) | Part::FileEnd(_) => {}
        })
        .map_err(|e| ApiError::invalid(e.field, e.detail))?;
        self.fed += chunk.len() as u64;
        if !self.file_begun && self.form.has(multipart::FILE) {
            self.file_begun = true;
        }
        Ok(())
    }

    /// Whether the hold has what it needs: the model, and the file's head when the body's
    /// length is declared (its size then bounds the file's), else the file's end (its size is
    /// known only once read); or the whole form.
    fn ready(&self, declared: bool) -> bool {
        let model = self.fields.iter().any(|(name, _)| name == "model");
        let head = self.file_head.len() >= 10 && self.file_head.len() >= duration::head_bytes(&self.file_head);
        let file = self.file_ended || (declared && self.file_begun && head);
        self.form.done() || (model && file)
    }
}

/// Reads an upload as far as its hold needs (`Reading::ready`), keeping at most `keep` bytes
/// (the node's bound on a body it reads), leased from the node's budget, each chunk within
/// `idle`, and forwarding at most `limit`.
pub(crate) async fn read_upload(
    req: &HttpRequest,
    payload: web::Payload,
    reader: &BodyReader<'_>,
    limit: u64,
) -> Result<Upload, ApiError> {
    let Head { boundary, declared } = head(req, limit)?;
    let mut reading = Reading {
        form: Form::new(&boundary),
        fields: Vec::new(),
        file_head: Vec::new(),
        file_len: 0,
        file_begun: false,
        file_ended: false,
        fed: 0,
    };
    let mut lease = reader.lease();
    let mut head = BytesMut::new();
    let mut rest = Some(payload);
    while !reading.ready(declared.is_some()) {
        let Some(payload) = rest.as_mut() else {
            break;
        };
        match reader.next(payload).await? {
            None => rest = None,
            Some(chunk) => {
                if head.len() + chunk.len() > reader.keep {
                    let keep = reader.keep;
                    let message = match declared {
                        Some(_) => format!(
                            "has more than {keep} bytes before the file's first bytes and the model: send the \
                             fields (model first) before the file, as the official SDKs do"
                        ),
                        None => format!(
                            "has more than {keep} bytes and no Content-Length: the gateway reads a file of \
                             unknown length to its end before holding it; send its length, or a smaller file"
                        ),
                    };
                    return Err(ApiError::invalid("body", message));
                }
                lease.take(chunk.len()).map_err(|_| ApiError::ReadBudgetFull)?;
                head.extend_from_slice(&chunk);
                reading.feed(&chunk)?;
            }
        }
    }
    if rest.is_none() && !reading.form.done() {
        return Err(ApiError::invalid("body", "ended before its closing boundary"));
    }
    // After the file's bytes comes at least the closing delimiter with the line break every
    // client ends it with, `\r\n--<boundary>--\r\n`.
    let after_file = boundary.len() as u64 + 8;
    let bounds = Bounds {
        declared,
        after_file,
        limit,
    };
    finish(reading, head.freeze(), rest, bounds)
}

/// What bounds an upload's file whose end was not read: the body's declared length (if any),
/// the bytes at least after the file (the closing delimiter), and the most the node forwards.
struct Bounds {
    declared: Option<u64>,
    after_file: u64,
    limit: u64,
}

/// The upload as the hold takes it, its file's size bounded by `bounds` until its end is read.
fn finish(mut reading: Reading, head: Bytes, rest: Option<web::Payload>, bounds: Bounds) -> Result<Upload, ApiError> {
    let Bounds {
        declared,
        after_file,
        limit,
    } = bounds;
    if !reading.file_begun {
        return Err(ApiError::invalid(
            "file",
            "is required: the audio, as a part named file",
        ));
    }
    let mut fields = Map::new();
    for (name, value) in std::mem::take(&mut reading.fields) {
        let value = match (name.as_str(), value.as_str()) {
            ("stream", "true") => Value::Bool(true),
            ("stream", "false") => Value::Bool(false),
            _ => Value::String(value),
        };
        fields.insert(name, value);
    }
    // The file's length: exact when its end was read, else at most what the body declared
    // after the bytes before the file and before the closing delimiter.
    let size = match reading.file_ended {
        true => reading.file_len,
        false => {
            let before = reading.fed - reading.form.pending() as u64 - reading.file_len;
            declared
                .map_or(limit, |d| d.saturating_sub(after_file))
                .saturating_sub(before)
        }
    };
    let (ms, exact) = duration::longest(&reading.file_head, size);
    let seconds = ms.div_ceil(1000);
    let audio = Audio {
        held_seconds: seconds,
        seconds: (exact && reading.file_ended).then_some(seconds),
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&reading.file_head));
    let fingerprint = serde_json::json!({"fields": fields, "file": digest})
        .to_string()
        .into_bytes();
    fields.retain(|name, _| PRICED.contains(&name.as_str()));
    // What follows is forwarded as it is read: nothing the hold was priced from may come.
    reading.form.seal(PRICED);
    Ok(Upload {
        head,
        fields,
        audio,
        fingerprint,
        form: Some(reading.form),
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
    /// Set, saying why, when the caller's upload broke off, passed the limit or carried a part
    /// the hold did not see: the provider got no whole request.
    pub broke: Arc<OnceLock<Cut>>,
}

impl Upload {
    /// The body to forward: the bytes read, then the rest as it arrives, each chunk of the
    /// caller's within `idle`.
    pub(crate) fn sending(self, idle: Duration) -> Sending {
        let (tx, body) = super::piped();
        let (sent_tx, sent) = watch::channel(false);
        let broke = Arc::new(OnceLock::new());
        let flag = broke.clone();
        let (head, rest, limit, mut form) = (self.head, self.rest, self.limit, self.form);
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
                    Ok(None) if form.as_ref().is_some_and(|f| !f.done()) => {
                        break Some(Cut::because("the upload ended before its closing boundary"))
                    }
                    Ok(None) => break None,
                    Ok(Some(Ok(chunk))) => {
                        total += chunk.len() as u64;
                        if total > limit {
                            break Some(Cut::because(format!("the upload passed {limit} bytes")));
                        }
                        // Every byte forwarded is read by the form first: a part the hold did
                        // not see may not reach the provider.
                        if let Some(Err(err)) = form.as_mut().map(|f| f.feed(&chunk, &mut |_| {})) {
                            break Some(Cut {
                                why: format!("the form's part {} {}", err.field, err.detail),
                                part: Some(err.field),
                            });
                        }
                        if tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(Err(_))) | Err(_) => break Some(Cut::because("the caller's upload broke off")),
                }
            };
            if let Some(failure) = failure {
                let _ = tx.send(Err(io::Error::other(failure.why.clone()))).await;
                let _ = flag.set(failure);
            }
            let _ = sent_tx.send(true);
        });
        Sending {
            body,
            length: self.declared,
            sent,
            broke,
        }
    }
}
