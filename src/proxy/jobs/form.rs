//! A `multipart/form-data` body read as it streams, keeping only what a chunk leaves unfinished:
//! text fields whole (bounded), a file's bytes handed on as they pass (never kept), and lines of
//! a file split as they come (`Lines`, bounded per line). So a batch file of any size passes a
//! node in a few chunks' worth of memory. (`multipart.rs` reads a body the node keeps whole,
//! as far as an audio's header; this one keeps nothing behind it.)

use super::super::multipart::{find, part, MultipartError, MAX_FIELD_BYTES, MAX_HEADER_BYTES, MAX_PARTS};

/// What a chunk of the body held.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    /// A text field, whole.
    Field(String, String),
    /// Bytes of a file part (named `name`), in order.
    File(&'a str, &'a [u8]),
    /// The file part named so ended.
    FileEnd(&'a str),
}

enum State {
    Preamble,
    Delimited,
    Headers,
    Field(String),
    File(String),
    Done,
}

/// The form as it streams.
pub(crate) struct Form {
    /// `\r\n--<boundary>`: what ends a part.
    delimiter: Vec<u8>,
    state: State,
    /// The bytes not yet handed on: at most a part's headers, a field, or a delimiter's length.
    carry: Vec<u8>,
    parts: usize,
}

impl Form {
    pub(crate) fn new(boundary: &[u8]) -> Form {
        Form {
            delimiter: [b"\r\n--", boundary].concat(),
            state: State::Preamble,
            carry: Vec::new(),
            parts: 0,
        }
    }

    /// Whether the closing delimiter was read.
    pub(crate) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Reads `chunk`, handing `out` each field, file bytes and file end it completes.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut dyn FnMut(Part<'_>)) -> Result<(), MultipartError> {
        let fail = |m: String| Err(MultipartError(m));
        if self.done() {
            return Ok(());
        }
        self.carry.extend_from_slice(chunk);
        let mut at = 0;
        let body = std::mem::take(&mut self.carry);
        let result = loop {
            match &self.state {
                State::Preamble => {
                    let opening = &self.delimiter[2..];
                    if body.len() < opening.len() {
                        break Ok(());
                    }
                    if body.starts_with(opening) {
                        at = opening.len();
                    } else {
                        match find(&body, &self.delimiter, 0) {
                            Some(i) => at = i + self.delimiter.len(),
                            None if body.len() > MAX_HEADER_BYTES => {
                                break fail("has no part within its first bytes (no boundary)".into())
                            }
                            None => break Ok(()),
                        }
                    }
                    self.state = State::Delimited;
                }
                State::Delimited => match body.get(at..at + 2) {
                    None => break Ok(()),
                    Some(b"--") => {
                        self.state = State::Done;
                        at = body.len();
                        break Ok(());
                    }
                    Some(b"\r\n") => {
                        at += 2;
                        self.state = State::Headers;
                    }
                    Some(_) => break fail("has a boundary followed by neither a line break nor --".into()),
                },
                State::Headers => {
                    let Some(end) = find(&body, b"\r\n\r\n", at) else {
                        if body.len() - at > MAX_HEADER_BYTES {
                            break fail(format!("has a part whose headers pass {MAX_HEADER_BYTES} bytes"));
                        }
                        break Ok(());
                    };
                    self.parts += 1;
                    if self.parts > MAX_PARTS {
                        break fail(format!("has more than {MAX_PARTS} parts"));
                    }
                    let headers = String::from_utf8_lossy(&body[at..end]);
                    let Some((name, file)) = part(&headers) else {
                        break fail("has a part without a form-data Content-Disposition naming it".into());
                    };
                    at = end + 4;
                    self.state = if file { State::File(name) } else { State::Field(name) };
                }
                State::Field(name) => {
                    let Some(end) = find(&body, &self.delimiter, at) else {
                        if body.len() - at > MAX_FIELD_BYTES {
                            break fail(format!("has a field {name} longer than {MAX_FIELD_BYTES} bytes"));
                        }
                        break Ok(());
                    };
                    if end - at > MAX_FIELD_BYTES {
                        break fail(format!("has a field {name} longer than {MAX_FIELD_BYTES} bytes"));
                    }
                    let value = String::from_utf8_lossy(&body[at..end]).into_owned();
                    out(Part::Field(name.clone(), value));
                    at = end + self.delimiter.len();
                    self.state = State::Delimited;
                }
                State::File(name) => match find(&body, &self.delimiter, at) {
                    Some(end) => {
                        if end > at {
                            out(Part::File(name, &body[at..end]));
                        }
                        out(Part::FileEnd(name));
                        at = end + self.delimiter.len();
                        self.state = State::Delimited;
                    }
                    None => {
                        // The delimiter may straddle the next chunk: keep its length less one.
                        let safe = body.len().saturating_sub(self.delimiter.len() - 1);
                        if safe > at {
                            out(Part::File(name, &body[at..safe]));
                            at = safe;
                        }
                        break Ok(());
                    }
                },
                State::Done => break Ok(()),
            }
        };
        self.carry = body;
        self.carry.drain(..at.min(self.carry.len()));
        result
    }
}

/// A file's lines as its bytes pass, each at most `max` bytes: a line is handed on once its
/// line break (or the file's end) is read. Lines are numbered from 1.
pub(crate) struct Lines {
    carry: Vec<u8>,
    max: usize,
    /// The number the next line takes.
    next: u64,
    /// A line passed `max`: its number. Nothing more is handed on.
    pub too_long: Option<u64>,
}

impl Lines {
    pub(crate) fn new(max: usize) -> Lines {
        Lines {
            carry: Vec::new(),
            max,
            next: 1,
            too_long: None,
        }
    }

    /// Reads `bytes` of the file, handing `out` each line (its number and its bytes, without
    /// its line break) it completes.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], out: &mut dyn FnMut(u64, &[u8])) {
        while self.too_long.is_none() {
            let Some(i) = bytes.iter().position(|b| *b == b'\n') else {
                self.carry.extend_from_slice(bytes);
                if self.carry.len() > self.max {
                    self.too_long = Some(self.next);
                    self.carry = Vec::new();
                }
                return;
            };
            let line = match self.carry.is_empty() {
                true => &bytes[..i],
                false => {
                    self.carry.extend_from_slice(&bytes[..i]);
                    &self.carry[..]
                }
            };
            if line.len() > self.max {
                self.too_long = Some(self.next);
                return;
            }
            out(self.next, line.strip_suffix(b"\r").unwrap_or(line));
            self.next += 1;
            self.carry.clear();
            bytes = &bytes[i + 1..];
        }
    }

    /// The file ended: its last line, if it had no line break.
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(u64, &[u8])) {
        if self.too_long.is_none() && !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            out(self.next, line.strip_suffix(b"\r").unwrap_or(&line));
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Vec<u8> {
        b"--b0\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--b0\r\n\
          Content-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n\
          {\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\r\n--b0--\r\n"
            .to_vec()
    }

    /// What a body read gives: its fields, its file's lines, and whether it ended.
    type Read = (Vec<(String, String)>, Vec<(u64, String)>, bool);

    /// The fields and each file's lines a body read in chunks of `size` bytes gives.
    fn read(body: &[u8], size: usize) -> Read {
        let mut form = Form::new(b"b0");
        let mut lines = Lines::new(64);
        let (mut fields, mut seen) = (Vec::new(), Vec::new());
        for chunk in body.chunks(size) {
            form.feed(chunk, &mut |part| match part {
                Part::Field(n, v) => fields.push((n, v)),
                Part::File(_, bytes) => {
                    lines.feed(bytes, &mut |n, l| seen.push((n, String::from_utf8_lossy(l).into())))
                }
                Part::FileEnd(_) => lines.finish(&mut |n, l| seen.push((n, String::from_utf8_lossy(l).into()))),
            })
            .unwrap();
        }
        (fields, seen, form.done())
    }

    #[test]
    fn fields_and_lines_come_out_the_same_however_the_body_is_cut() {
        let whole = read(&body(), usize::MAX);
        assert_eq!(whole.0, vec![("purpose".to_string(), "batch".to_string())]);
        assert_eq!(
            whole.1,
            vec![
                (1, "{\"a\":1}".to_string()),
                (2, "{\"b\":2}".to_string()),
                (3, String::new()),
                (4, "{\"c\":3}".to_string())
            ]
        );
        assert!(whole.2);
        for size in 1..40 {
            assert_eq!(read(&body(), size), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_line_past_its_bound_is_named_and_nothing_after_it_is_handed_on() {
        let mut lines = Lines::new(4);
        let mut seen = Vec::new();
        lines.feed(b"abc\nabcdef", &mut |n, l| seen.push((n, l.to_vec())));
        lines.feed(b"gh\nok\n", &mut |n, l| seen.push((n, l.to_vec())));
        assert_eq!(seen, vec![(1, b"abc".to_vec())]);
        assert_eq!(lines.too_long, Some(2));
    }

    #[test]
    fn a_form_keeps_at_most_a_delimiter_of_a_file_it_passes() {
        let mut form = Form::new(b"b0");
        let head = b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n";
        let mut passed = 0;
        form.feed(head, &mut |_| {}).unwrap();
        for _ in 0..100 {
            form.feed(&[b'x'; 10_000], &mut |part| {
                if let Part::File(_, b) = part {
                    passed += b.len()
                }
            })
            .unwrap();
            assert!(form.carry.len() < 10, "kept {}", form.carry.len());
        }
        assert!(passed > 999_000);
        let bad = Form::new(b"b0").feed(b"--b0\r\nX-Nothing: 1\r\n\r\n", &mut |_| {});
        assert!(bad.is_err());
    }
}
