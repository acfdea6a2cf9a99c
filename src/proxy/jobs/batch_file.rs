//! A batch input file's lines as its upload passes (`upload.rs`): the form read part by part,
//! each line of its file handed on once its line break is read and its worst case computed as
//! for the single call it asks for (on a counting thread, a megabyte of lines at a time), summed,
//! and kept with the file's id for the batch that will name it. What the reading keeps between
//! chunks (an unterminated line, lines waiting for their count, a part's head) is what its
//! upload leases from the node's read budget (`kept`), and every part feeds the upload's
//! fingerprint, for a repeat of its Idempotency-Key.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::submit::line_call;
use crate::http::ApiError;
use crate::proxy::body::Fingerprint;
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::wire::{Named, MAX_NAMED};
use crate::proxy::call::{wrong, BodyError, Operation};
use crate::proxy::door::Door;
use crate::proxy::multipart::{self, Form, Lines, MultipartError, Part};
use crate::proxy::wire;
use crate::quota::catalog::Catalog;
use crate::quota::BatchFile;

/// Lines handed to a counting thread at once, in bytes (about).
pub(super) const COUNT_BYTES: usize = 1 << 20;

/// What a batch file's lines came to so far.
#[derive(Debug, Default, Clone)]
pub(super) struct Summed {
    model: Option<String>,
    url: Option<String>,
    lines: u64,
    worst: Usage,
    /// What the lines name that the provider keeps, each once.
    named: Vec<String>,
    /// The first line the gateway cannot price: its number and why.
    wrong: Option<(u64, String)>,
}

/// The form as it passes, a batch file's lines waiting for their count, and the sum so far.
pub(super) struct Reader {
    pub form: Form,
    lines: Lines,
    pub purpose: Option<String>,
    file_ended: bool,
    pending: Vec<(u64, Vec<u8>)>,
    pub pending_bytes: usize,
    summed: Summed,
    /// The form's fingerprint, when its upload has an Idempotency-Key.
    pub print: Option<Fingerprint>,
}

impl Reader {
    pub(super) fn new(boundary: &[u8], max_line: usize, fingerprinted: bool) -> Reader {
        Reader {
            form: Form::new(boundary),
            lines: Lines::new(max_line),
            purpose: None,
            file_ended: false,
            pending: Vec::new(),
            pending_bytes: 0,
            summed: Summed::default(),
            print: fingerprinted.then(Fingerprint::default),
        }
    }

    /// The bytes the reading keeps between chunks: the file's line not yet ended, the lines
    /// waiting for their count, and what the form has not handed on.
    pub(super) fn kept(&self) -> usize {
        self.lines.carried() + self.pending_bytes + self.form.pending()
    }

    /// Whether its lines are read: unless the form said it is some other purpose's file, or a
    /// line already could not be priced.
    fn reading(purpose: &Option<String>, summed: &Summed) -> bool {
        purpose.as_deref().is_none_or(|p| p == "batch") && summed.wrong.is_none()
    }

    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<(), MultipartError> {
        let Reader {
            form,
            lines,
            purpose,
            file_ended,
            pending,
            pending_bytes,
            summed,
            print,
        } = self;
        let mut take = |n: u64, line: &[u8]| take(pending, pending_bytes, n, line);
        form.feed(chunk, &mut |part| {
            if let Some(print) = print {
                print.part(&part);
            }
            match part {
                Part::Field(name, value) if name == "purpose" => *purpose = Some(value),
                Part::File(name, bytes) if name == multipart::FILE && Reader::reading(purpose, summed) => {
                    lines.feed(bytes, &mut take)
                }
                Part::FileEnd(name) if name == multipart::FILE => {
                    lines.finish(&mut take);
                    *file_ended = true;
                }
                _ => {}
            }
        })?;
        if let (Some(line), None) = (lines.too_long, &summed.wrong) {
            summed.wrong = Some((line, "is longer than this gateway reads".into()));
        }
        Ok(())
    }

    /// Whether the upload may go to the provider whole: a batch file needs every line priced.
    pub(super) fn verdict(&self) -> Result<(), ApiError> {
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

    pub(super) fn batch_file(&self) -> Option<BatchFile> {
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
            expanding: 0,
            unnamed: 0,
            named: self.summed.named.clone(),
        })
    }
}

/// Adds what a line names that the provider keeps to its batch's (`BatchFile::named`, each
/// once); false when they would pass the most one batch may name (a Gemini file's too).
pub(super) fn add_named<'a>(batch: &mut Vec<String>, named: impl IntoIterator<Item = &'a str>) -> bool {
    for id in named {
        if !batch.iter().any(|f| f == id) {
            if batch.len() == MAX_NAMED {
                return false;
            }
            batch.push(id.to_string());
        }
    }
    true
}

/// A line, unless blank, waits for its count (a Gemini file's too, `gemini_file.rs`).
pub(super) fn take(pending: &mut Vec<(u64, Vec<u8>)>, pending_bytes: &mut usize, n: u64, line: &[u8]) {
    if !line.iter().all(u8::is_ascii_whitespace) {
        *pending_bytes += line.len();
        pending.push((n, line.to_vec()));
    }
}

/// What counting a batch file's lines needs.
pub(super) struct Counting<'a> {
    pub door: &'a Door,
    pub project: &'a str,
    pub upstream: Arc<Upstream>,
    pub catalog: Arc<Catalog>,
}

impl Counting<'_> {
    /// Counts the lines waiting, on a counting thread, into the sum.
    pub(super) async fn count(&self, reader: &mut Reader) -> Result<(), ApiError> {
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
            Ok((_, _, _, named)) if !add_named(&mut summed.named, named.iter().map(|f| f.id.as_str())) => {
                summed.wrong = Some((
                    n,
                    format!("names files, responses and caches past the most a batch may name ({MAX_NAMED})"),
                ));
                break;
            }
            Ok((model, url, worst, _)) => {
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
/// path, its worst case and what it names that the provider keeps. Every line calls one path with one model (a
/// batch is priced at one).
fn one(
    upstream: &Arc<Upstream>,
    catalog: &Catalog,
    so_far: &Summed,
    line: &[u8],
) -> Result<(String, String, Usage, Vec<Named>), BodyError> {
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
    let route = wire::route(
        upstream.wire,
        &[],
        "POST",
        &upstream.wire.own_path(url.trim_start_matches('/')),
    )
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
        call.named,
    ))
}
