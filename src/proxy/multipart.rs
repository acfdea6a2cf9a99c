//! A `multipart/form-data` body read as it streams (`Form`), keeping nothing behind it: text
//! fields whole, a file's bytes handed on as they pass, and a file's lines split as they come
//! (`Lines`). Everything a client sizes is bounded: a part's headers, a text field's value, the
//! number of parts, a line. So a form of any size passes a node in a few chunks' worth of memory,
//! and every form the proxy reads is read by the same rules.

/// A part's headers, at most.
pub(crate) const MAX_HEADER_BYTES: usize = 8 << 10;
/// A text field's value, at most.
pub(crate) const MAX_FIELD_BYTES: usize = 64 << 10;
/// Parts, at most.
pub(crate) const MAX_PARTS: usize = 64;
/// The name of the part that carries the audio.
pub(crate) const FILE: &str = "file";

/// The boundary a `Content-Type` of `multipart/form-data` names (RFC 2046: 1 to 70 bytes).
pub(crate) fn boundary(content_type: &str) -> Option<Vec<u8>> {
    let (kind, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let value = params_of(params).find(|(k, _)| k.eq_ignore_ascii_case("boundary"))?.1;
    (1..=70).contains(&value.len()).then(|| value.into_bytes())
}

/// `key=value` parameters after a header's value, a quoted value unquoted (`\"` kept as `"`).
fn params_of(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let (key, after) = rest.split_once('=').unwrap_or((rest, ""));
        let key = key.trim().to_string();
        let (value, left) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next().map(|(_, c)| c)),
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[end..])
            }
            None => {
                let (value, left) = after.split_once(';').unwrap_or((after, ""));
                (value.trim().to_string(), left)
            }
        };
        rest = left;
        if !key.is_empty() {
            return Some((key, value));
        }
    })
}

/// What is wrong with a body: the part (or `body`) it is about, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MultipartError {
    pub field: String,
    pub detail: String,
}

impl MultipartError {
    fn body(detail: impl Into<String>) -> MultipartError {
        MultipartError {
            field: "body".into(),
            detail: detail.into(),
        }
    }

    fn part(name: &str, detail: impl Into<String>) -> MultipartError {
        MultipartError {
            field: name.to_string(),
            detail: detail.into(),
        }
    }
}

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

/// A `multipart/form-data` body read as it streams, keeping only what a chunk leaves unfinished:
/// text fields whole (bounded), a file's bytes handed on as they pass (never kept). The one
/// reader of every form the proxy reads (an audio upload, a batch file, a video), so every form
/// is read by one rule: a part named twice is refused, since a provider's parser keeps the last
/// of a repeated name where the gateway would have held the first (a name ending in `[]` is an
/// array, which repeats by design), as is a part whose headers name it two ways (`part`), and
/// once sealed (the call is held), a part the hold was priced from may no longer come.
pub(crate) struct Form {
    /// `\r\n--<boundary>`: what ends a part.
    delimiter: Vec<u8>,
    state: State,
    /// The bytes not yet handed on: at most a part's headers, a field, or a delimiter's length.
    carry: Vec<u8>,
    /// The names of the parts read so far, in order.
    names: Vec<String>,
    /// Once the call is held: the names the hold was priced from, which may not come after it.
    sealed: Option<&'static [&'static str]>,
}

impl Form {
    pub(crate) fn new(boundary: &[u8]) -> Form {
        Form {
            delimiter: [b"\r\n--", boundary].concat(),
            state: State::Preamble,
            carry: Vec::new(),
            names: Vec::new(),
            sealed: None,
        }
    }

    /// Whether the closing delimiter was read.
    pub(crate) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The bytes fed and not yet handed on (at most a part's headers, a field or a delimiter).
    pub(crate) fn pending(&self) -> usize {
        self.carry.len()
    }

    /// Whether a part named so was read (or begun).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The call is held from what was read: from now on a part named in `priced` is refused (it
    /// would change what the hold was priced from), as is one begun before and ending after
    /// (its value was not read whole), and any part named twice.
    pub(crate) fn seal(&mut self, priced: &'static [&'static str]) {
        self.sealed = Some(priced);
    }

    /// Whether the form is sealed and `name` is one its hold was priced from.
    fn priced(&self, name: &str) -> bool {
        self.sealed.is_some_and(|priced| priced.contains(&name))
    }

    /// A part's name, checked against those read before it.
    fn named(&mut self, name: String) -> Result<String, MultipartError> {
        if !name.ends_with("[]") && self.has(&name) {
            return Err(MultipartError::part(
                &name,
                "is given twice in the form; send each field and file once",
            ));
        }
        if self.priced(&name) {
            return Err(after_hold(&name));
        }
        if self.names.len() >= MAX_PARTS {
            return Err(MultipartError::body(format!("has more than {MAX_PARTS} parts")));
        }
        self.names.push(name.clone());
        Ok(name)
    }

    /// Reads `chunk`, handing `out` each field, file bytes and file end it completes: one step
    /// of the form's state after another, until one waits for bytes yet to come.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut dyn FnMut(Part<'_>)) -> Result<(), MultipartError> {
        if self.done() {
            return Ok(());
        }
        self.carry.extend_from_slice(chunk);
        let body = std::mem::take(&mut self.carry);
        let mut read = Cursor { body: &body, at: 0 };
        let result = loop {
            let next = match &self.state {
                State::Preamble => self.open(&mut read),
                State::Delimited => follow_delimiter(&mut read),
                State::Headers => self.read_headers(&mut read),
                State::Field(name) => self.read_field(name, &mut read, out),
                State::File(name) => self.pass_file(name, &mut read, out),
                State::Done => Ok(None),
            };
            match next {
                Ok(Some(state)) => self.state = state,
                Ok(None) => break Ok(()),
                Err(err) => break Err(err),
            }
        };
        let at = read.at;
        self.carry = body;
        self.carry.drain(..at.min(self.carry.len()));
        result
    }

    /// Finds the first delimiter (which may open the body without its line break), past the
    /// preamble.
    fn open(&self, read: &mut Cursor<'_>) -> Step {
        let body = read.body;
        let opening = &self.delimiter[2..];
        if body.len() < opening.len() {
            return Ok(None);
        }
        if body.starts_with(opening) {
            read.at = opening.len();
        } else {
            match find(body, &self.delimiter, 0) {
                Some(i) => read.at = i + self.delimiter.len(),
                None if body.len() > MAX_HEADER_BYTES => {
                    return Err(MultipartError::body("has no part within its first bytes (no boundary)"))
                }
                None => return Ok(None),
            }
        }
        Ok(Some(State::Delimited))
    }

    /// Reads a part's headers: its name (checked against those before it) and whether it is a
    /// file.
    fn read_headers(&mut self, read: &mut Cursor<'_>) -> Step {
        let (body, at) = (read.body, read.at);
        let too_long = || MultipartError::body(format!("has a part whose headers pass {MAX_HEADER_BYTES} bytes"));
        let Some(end) = find(body, b"\r\n\r\n", at) else {
            if body.len() - at > MAX_HEADER_BYTES {
                return Err(too_long());
            }
            return Ok(None);
        };
        if end - at > MAX_HEADER_BYTES {
            return Err(too_long());
        }
        let headers = String::from_utf8_lossy(&body[at..end]);
        let (name, file) = part(&headers)?;
        let name = self.named(name)?;
        read.at = end + 4;
        Ok(Some(if file { State::File(name) } else { State::Field(name) }))
    }

    /// Reads a text field's value whole, once its delimiter came, and hands it on.
    fn read_field(&self, name: &str, read: &mut Cursor<'_>, out: &mut dyn FnMut(Part<'_>)) -> Step {
        let (body, at) = (read.body, read.at);
        let too_long = || MultipartError::body(format!("has a field {name} longer than {MAX_FIELD_BYTES} bytes"));
        let Some(end) = find(body, &self.delimiter, at) else {
            if body.len() - at > MAX_FIELD_BYTES {
                return Err(too_long());
            }
            return Ok(None);
        };
        if end - at > MAX_FIELD_BYTES {
            return Err(too_long());
        }
        // A priced field begun before the seal and ended after it: its value was not priced.
        if self.priced(name) {
            return Err(after_hold(name));
        }
        let Ok(value) = std::str::from_utf8(&body[at..end]) else {
            return Err(MultipartError::part(name, "is not UTF-8 text"));
        };
        out(Part::Field(name.to_string(), value.to_string()));
        read.at = end + self.delimiter.len();
        Ok(Some(State::Delimited))
    }

    /// Hands on a file's bytes as far as they are surely the file's, and its end once its
    /// delimiter came.
    fn pass_file(&self, name: &str, read: &mut Cursor<'_>, out: &mut dyn FnMut(Part<'_>)) -> Step {
        let (body, at) = (read.body, read.at);
        let Some(end) = find(body, &self.delimiter, at) else {
            // The delimiter may straddle the next chunk: keep its length less one.
            let safe = body.len().saturating_sub(self.delimiter.len() - 1);
            if safe > at {
                out(Part::File(name, &body[at..safe]));
                read.at = safe;
            }
            return Ok(None);
        };
        if end > at {
            out(Part::File(name, &body[at..end]));
        }
        out(Part::FileEnd(name));
        read.at = end + self.delimiter.len();
        Ok(Some(State::Delimited))
    }
}

/// A part the hold was priced from, come (or ended) once the call was held.
fn after_hold(name: &str) -> MultipartError {
    MultipartError::part(
        name,
        "comes after the file, once the call was held; send it before the file",
    )
}

/// The bytes a feed reads (what the last chunk left, then the chunk) and how far it read them.
struct Cursor<'b> {
    body: &'b [u8],
    at: usize,
}

/// What a step of the form's reading came to: the state it moved to, or None when it waits for
/// more bytes.
type Step = Result<Option<State>, MultipartError>;

/// After a delimiter: the closing `--` (the form is done, nothing after it read), or the line
/// break that opens a part's headers.
fn follow_delimiter(read: &mut Cursor<'_>) -> Step {
    match read.body.get(read.at..read.at + 2) {
        None => Ok(None),
        Some(b"--") => {
            read.at = read.body.len();
            Ok(Some(State::Done))
        }
        Some(b"\r\n") => {
            read.at += 2;
            Ok(Some(State::Headers))
        }
        Some(_) => Err(MultipartError::body(
            "has a boundary followed by neither a line break nor --",
        )),
    }
}

/// A part's name as its form-data `Content-Disposition` says it, and whether that names a
/// filename (the part is a file). A part with two such headers, or one naming it twice (`name`
/// or `name*` again), is refused naming it: Python's form parsers (a provider's) read the last
/// header and the last parameter, where a reader could take the first.
pub(crate) fn part(headers: &str) -> Result<(String, bool), MultipartError> {
    let dispositions: Vec<&str> = headers
        .split("\r\n")
        .filter_map(|line| {
            let (header, value) = line.split_once(':')?;
            header
                .trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })
        .collect();
    let unnamed = || MultipartError::body("has a part without a form-data Content-Disposition naming it");
    let (names, file) = match dispositions.as_slice() {
        [] => return Err(unnamed()),
        [one] => disposition(one),
        [first, ..] => {
            let name = disposition(first).0.into_iter().next().map(|(_, name)| name);
            return Err(MultipartError::part(
                name.as_deref().unwrap_or("body"),
                "has more than one Content-Disposition header; send one for each part",
            ));
        }
    };
    match names.as_slice() {
        [(key, name)] if key == "name" => Ok((name.clone(), file)),
        [] | [_] => Err(unnamed()),
        [(_, first), ..] => {
            let all: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
            Err(MultipartError::part(
                first,
                format!(
                    "is named more than once in its Content-Disposition ({}); give each part one name",
                    all.join(", ")
                ),
            ))
        }
    }
}

/// A form-data `Content-Disposition`'s name parameters (`name` or `name*`, with their values, in
/// order) and whether it names a filename; no names for another disposition.
fn disposition(value: &str) -> (Vec<(String, String)>, bool) {
    let Some((kind, params)) = value.split_once(';') else {
        return (Vec::new(), false);
    };
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return (Vec::new(), false);
    }
    let (mut names, mut file) = (Vec::new(), false);
    for (k, v) in params_of(params) {
        match k.to_ascii_lowercase().as_str() {
            key @ ("name" | "name*") => names.push((key.to_string(), v)),
            "filename" | "filename*" => file = true,
            _ => {}
        }
    }
    (names, file)
}

/// Where `needle` begins in `haystack` at or after `from`.
pub(crate) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    while let Some(i) = haystack.get(at..)?.iter().position(|b| *b == first) {
        let i = at + i;
        match haystack.get(i..i + needle.len()) {
            Some(candidate) if candidate == needle => return Some(i),
            Some(_) => at = i + 1,
            None => return None,
        }
    }
    None
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

    /// Lines read on from where another reader left them: `carry`, the line it left unended,
    /// numbered `next` (a resumable upload's chunks, each its own request).
    pub(crate) fn resume(max: usize, carry: Vec<u8>, next: u64) -> Lines {
        Lines {
            carry,
            next,
            ..Lines::new(max)
        }
    }

    /// The line not yet ended and its number, for another reader to go on from.
    pub(crate) fn carry(&self) -> (&[u8], u64) {
        (&self.carry, self.next)
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

    /// The bytes of the line not yet ended, kept until its line break.
    pub(crate) fn carried(&self) -> usize {
        self.carry.len()
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
mod tests;
