//! A Gemini batch input file: JSONL, a `{"key", "request"}` line per generateContent request,
//! uploaded through the Files API's resumable upload (`resumable.rs`) in chunks that may reach
//! different nodes. Its lines are read as they pass, the line a chunk leaves unended carried in
//! the upload's session to the next, and priced without a model: the batch that names the file
//! names the model. So each line is summed as what no model changes (its input's bound, the
//! maximum output it names) and what the model sets (an input the provider expands, held at
//! the model's bound for it; a candidate naming no maximum, held at the model's own), and the
//! batch's hold is that sum at its model (`held_at`).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::batch_file::{add_named, take};
use crate::http::ApiError;
use crate::proxy::call::upstream::Upstream;
use crate::proxy::call::usage::Usage;
use crate::proxy::call::wire::{Named, MAX_NAMED};
use crate::proxy::call::{tokens, wrong, BodyError, Limits, ModelLimits, Operation};
use crate::proxy::door::Door;
use crate::proxy::multipart::Lines;
use crate::quota::catalog::Catalog;
use crate::quota::{BatchFile, LinesSoFar};

/// Lines counted on the counting thread at once, in bytes (about).
const COUNT_BYTES: usize = 1 << 20;

/// The upload's lines as this chunk reads them: the reader (with the line the last chunk left
/// unended), the lines waiting for their count, and the sum so far.
pub(super) struct FileLines {
    lines: Lines,
    pending: Vec<(u64, Vec<u8>)>,
    pending_bytes: usize,
    so_far: LinesSoFar,
}

impl FileLines {
    /// The lines as the session's last chunk left them, `carry` the line it left unended.
    pub(super) fn resume(so_far: LinesSoFar, carry: Vec<u8>, max_line: usize) -> FileLines {
        FileLines {
            lines: Lines::resume(max_line, carry, so_far.next.max(1)),
            pending: Vec::new(),
            pending_bytes: 0,
            so_far,
        }
    }

    /// What the reading keeps between the chunk's parts: the unended line and the lines waiting.
    pub(super) fn kept(&self) -> usize {
        self.lines.carried() + self.pending_bytes
    }

    /// Reads a part of the chunk; true when enough lines wait to be counted.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> bool {
        let FileLines {
            lines,
            pending,
            pending_bytes,
            so_far,
        } = self;
        if so_far.wrong.is_some() {
            return false;
        }
        lines.feed(bytes, &mut |n, line| take(pending, pending_bytes, n, line));
        if let (Some(n), None) = (lines.too_long, &so_far.wrong) {
            so_far.wrong = Some(format!("line {n} is longer than this gateway reads"));
        }
        *pending_bytes >= COUNT_BYTES
    }

    /// The file ended (its upload finalized): its last line, if it had no line break.
    pub(super) fn finish(&mut self) {
        let FileLines {
            lines,
            pending,
            pending_bytes,
            ..
        } = self;
        lines.finish(&mut |n, line| take(pending, pending_bytes, n, line));
    }

    /// Counts the lines waiting, on the counting thread when they are many.
    pub(super) async fn count(&mut self, door: &Door, project: &str, upstream: &Arc<Upstream>) -> Result<(), ApiError> {
        let lines = std::mem::take(&mut self.pending);
        let bytes = std::mem::take(&mut self.pending_bytes);
        if lines.is_empty() || self.so_far.wrong.is_some() {
            return Ok(());
        }
        let (so_far, upstream) = (std::mem::take(&mut self.so_far), upstream.clone());
        self.so_far = match bytes <= crate::proxy::counting::INLINE_BYTES {
            true => sum(&upstream, so_far, lines),
            false => door
                .counting
                .run(project, move || sum(&upstream, so_far, lines))
                .await
                .map_err(|_| ApiError::CountingBusy)?,
        };
        Ok(())
    }

    /// Why the file is no batch input the gateway can price (its first such line), if it is not.
    pub(super) fn wrong(&self) -> Option<&str> {
        self.so_far.wrong.as_deref()
    }

    /// The lines priced so far.
    pub(super) fn counted(&self) -> u64 {
        self.so_far.lines
    }

    /// The lines as the next chunk takes them up, and the line this one left unended.
    pub(super) fn so_far(&self) -> (LinesSoFar, &[u8]) {
        let (carry, next) = self.lines.carry();
        let so_far = LinesSoFar {
            next,
            ..self.so_far.clone()
        };
        (so_far, carry)
    }

    /// The file's lines, once its upload is final: a batch input the gateway can price, or why
    /// it is not one.
    pub(super) fn batch_file(&self) -> Result<BatchFile, String> {
        let so_far = &self.so_far;
        match (&so_far.wrong, so_far.lines) {
            (Some(why), _) => Err(why.clone()),
            (None, 0) => Err("has no requests".into()),
            (None, lines) => Ok(BatchFile {
                model: String::new(),
                url: GENERATE.into(),
                lines,
                worst: so_far.worst.clone(),
                expanding: so_far.expanding,
                unnamed: so_far.unnamed,
                named: so_far.named.clone(),
            }),
        }
    }
}

/// What every line of a Gemini batch file calls (`BatchFile::url`).
pub(super) const GENERATE: &str = "generateContent";

/// Adds `lines` to the sum, stopping at the first the gateway cannot price.
fn sum(upstream: &Upstream, mut so_far: LinesSoFar, lines: Vec<(u64, Vec<u8>)>) -> LinesSoFar {
    let mut worst = Usage::read(&so_far.worst);
    for (n, line) in lines {
        match one(upstream, &line) {
            Ok(line) if !add_named(&mut so_far.named, line.named.iter().map(|f| f.id.as_str())) => {
                so_far.wrong = Some(format!(
                    "line {n}: names files, responses and caches past the most a batch may name ({MAX_NAMED})"
                ));
                break;
            }
            Ok(line) => {
                so_far.lines += 1;
                worst = worst.plus(&line.fixed);
                so_far.expanding += u64::from(line.expands);
                so_far.unnamed += line.unnamed;
            }
            Err(e) => {
                so_far.wrong = Some(format!("line {n}: {}: {}", e.field, e.detail));
                break;
            }
        }
    }
    so_far.worst = Map::new();
    worst.write(&mut so_far.worst);
    so_far
}

/// One line's worst case, apart from its model.
struct Line {
    /// Its input's bound and the maximum output it names.
    fixed: Usage,
    /// Whether its input has a part the provider expands.
    expands: bool,
    /// Its candidates that name no maximum output.
    unnamed: u64,
    /// What it names that the provider keeps.
    named: Vec<Named>,
}

/// One line: `{"key": "...", "request": {...}}`, read as the generateContent request it is,
/// once with no model's bounds and once with a maximum output of one, which tells the
/// candidates naming none.
fn one(upstream: &Upstream, line: &[u8]) -> Result<Line, BodyError> {
    let wire = upstream.wire;
    let value: Map<String, Value> = serde_json::from_slice(line).map_err(|_| wrong("line", "must be a JSON object"))?;
    if value.get("key").is_some_and(|k| !k.is_string()) {
        return Err(wrong("key", "must be a string"));
    }
    let request = value
        .get("request")
        .and_then(Value::as_object)
        .ok_or_else(|| wrong("request", "must be a generateContent request"))?;
    if request.contains_key("cachedContent") || request.contains_key("cached_content") {
        return Err(wrong(
            "request.cachedContent",
            "is not served in a batch file: send such requests inlined, or one by one",
        ));
    }
    let counter = wire.counter("");
    let at = |default_max| Limits {
        counter,
        default_max,
        fetched: 0,
        stored: 0,
    };
    let within = |e: BodyError| wrong(&format!("request.{}", e.field), &e.detail);
    let none = wire.asked(Operation::Generate, request, &at(0)).map_err(within)?;
    let one = wire.asked(Operation::Generate, request, &at(1)).map_err(within)?;
    let output = |u: &Usage| u.output_tokens.unwrap_or(0);
    Ok(Line {
        fixed: none.worst,
        expands: tokens::bound_object(counter, request).expands,
        unnamed: output(&one.worst).saturating_sub(output(&none.worst)),
        named: wire.named_objects(Operation::Generate, request, upstream),
    })
}

/// A batch of `file`'s lines at `model`: each input the provider expands at the model's bound
/// for them, each candidate naming no maximum at the model's own output limit; held as one
/// generateContent of them all.
pub(super) fn held_at(upstream: &Upstream, catalog: &Catalog, model: &str, file: &BatchFile) -> Usage {
    let known = catalog.find(model).map(|m| ModelLimits {
        output: m.entry.max_output_tokens,
        context: m.entry.context_window,
    });
    at_limits(file, &Limits::of(upstream.wire.counter(model), upstream, known))
}

/// A batch of `file`'s lines at a model's `limits`.
fn at_limits(file: &BatchFile, limits: &Limits) -> Usage {
    let mut worst = Usage::read(&file.worst);
    let input = worst.input_tokens.unwrap_or(0);
    worst.input_tokens = Some(input.saturating_add(file.expanding.saturating_mul(limits.fetched)));
    let output = worst.output_tokens.unwrap_or(0);
    worst.output_tokens = Some(output.saturating_add(file.unnamed.saturating_mul(limits.default_max)));
    worst.held(Operation::Generate)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::proxy::{upstreams, wire};

    /// A file of `lines`, summed as its upload sums them (in two pieces, the first line split).
    fn file(lines: &[Value]) -> BatchFile {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let mut reader = FileLines::resume(LinesSoFar::default(), Vec::new(), 1 << 20);
        let (a, b) = text.as_bytes().split_at(7);
        reader.feed(a);
        let (so_far, carry) = reader.so_far();
        let mut reader = FileLines::resume(so_far, carry.to_vec(), 1 << 20);
        reader.feed(b);
        reader.finish();
        let pending = std::mem::take(&mut reader.pending);
        reader.so_far = sum(&upstreams::of_kind("gemini"), reader.so_far.clone(), pending);
        reader.batch_file().unwrap()
    }

    fn asked(request: &Value, limits: &Limits) -> Usage {
        let gemini = wire::of(crate::proxy::call::upstream::Kind::Gemini);
        gemini
            .asked(Operation::Generate, request.as_object().unwrap(), limits)
            .unwrap()
            .worst
    }

    /// Summed without a model, then held at one, a file is what its lines are at that model
    /// one by one: exactly, but for an input the provider expands, held at the model's bound
    /// for it on top of its own (never less than the line's `max`).
    #[test]
    fn a_files_lines_at_a_model_are_held_as_each_line_at_it() {
        let text = |t: &str| json!({"contents": [{"role": "user", "parts": [{"text": t}]}]});
        let mut named = text("Say hello to the gateway");
        named["generationConfig"] = json!({"maxOutputTokens": 10, "candidateCount": 2});
        let unnamed = text("Tell a story");
        let mut three = text("Three of them");
        three["generationConfig"] = json!({"candidateCount": 3});
        let fetched = json!({"contents": [{"parts": [{"fileData": {"fileUri": "https://example.com/a.pdf"}}]}]});
        let limits = Limits {
            counter: tokens::Counter::Bytes,
            default_max: 8_192,
            fetched: 100_000,
            stored: 0,
        };
        let plain = [named, unnamed, three];
        let lines: Vec<Value> = plain.iter().map(|r| json!({"key": "k", "request": r})).collect();
        let each = plain
            .iter()
            .fold(Usage::default(), |sum, r| sum.plus(&asked(r, &limits)));
        assert_eq!(at_limits(&file(&lines), &limits), each.held(Operation::Generate));
        let with_file = file(&[json!({"request": fetched})]);
        assert_eq!(with_file.expanding, 1);
        let held = at_limits(&with_file, &limits).input_tokens.unwrap();
        let alone = asked(&fetched, &limits).input_tokens.unwrap();
        assert!(held >= alone && held <= alone + limits.fetched, "{held} {alone}");
    }

    #[test]
    fn a_line_that_is_not_a_request_or_names_a_cache_is_refused() {
        let gemini = upstreams::of_kind("gemini");
        let field = |line: &str| one(&gemini, line.as_bytes()).err().unwrap().field;
        assert_eq!(field("[1]"), "line");
        assert_eq!(field(r#"{"key": 1, "request": {}}"#), "key");
        assert_eq!(field(r#"{"key": "a"}"#), "request");
        assert_eq!(
            field(r#"{"request": {"contents": [], "cachedContent": "cachedContents/x"}}"#),
            "request.cachedContent"
        );
        assert_eq!(
            field(r#"{"request": {"contents": [], "generationConfig": {"maxOutputTokens": 0}}}"#),
            "request.generationConfig.maxOutputTokens"
        );
    }
}
