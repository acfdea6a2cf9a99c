//! A `multipart/form-data` body read as it arrives, over the bytes read so far (which the
//! caller keeps, to forward): each text field's value, and where the `file` part's bytes begin
//! (and end, if they did). Everything a client sizes is bounded: a part's headers, a text
//! field's value, the number of parts; the file's bytes are only located, never copied.

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

/// What is wrong with a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MultipartError(pub String);

/// Where the `file` part's bytes are in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilePart {
    pub start: usize,
    /// None while its end has not been read.
    pub end: Option<usize>,
}

enum State {
    /// Before the first delimiter.
    Preamble,
    /// After a delimiter: `--` ends the body, a line break begins a part.
    Delimited,
    Headers,
    Body {
        name: String,
        start: usize,
    },
    /// After the closing delimiter.
    Done,
}

/// Reads a body's parts as its bytes come.
pub(crate) struct Reader {
    /// `\r\n--<boundary>`: what ends a part.
    delimiter: Vec<u8>,
    state: State,
    /// Where reading goes on in the body.
    at: usize,
    parts: usize,
    /// The text fields, in order.
    pub fields: Vec<(String, String)>,
    pub file: Option<FilePart>,
}

impl Reader {
    pub(crate) fn new(boundary: &[u8]) -> Reader {
        Reader {
            delimiter: [b"\r\n--", boundary].concat(),
            state: State::Preamble,
            at: 0,
            parts: 0,
            fields: Vec::new(),
            file: None,
        }
    }

    /// Whether the closing delimiter was read.
    pub(crate) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Reads on in `body`, every byte of the body so far (the bytes read before among them).
    pub(crate) fn read(&mut self, body: &[u8]) -> Result<(), MultipartError> {
        let fail = |m: String| Err(MultipartError(m));
        loop {
            match &self.state {
                State::Preamble => {
                    // The first delimiter may open the body without its line break.
                    let opening = &self.delimiter[2..];
                    if body.len() < opening.len() {
                        return Ok(());
                    }
                    if body.starts_with(opening) {
                        self.at = opening.len();
                    } else {
                        match find(body, &self.delimiter, 0) {
                            Some(i) => self.at = i + self.delimiter.len(),
                            None if body.len() > MAX_HEADER_BYTES => {
                                return fail("has no part within its first bytes (no boundary)".into())
                            }
                            None => return Ok(()),
                        }
                    }
                    self.state = State::Delimited;
                }
                State::Delimited => {
                    let Some(next) = body.get(self.at..self.at + 2) else {
                        return Ok(());
                    };
                    match next {
                        b"--" => self.state = State::Done,
                        b"\r\n" => {
                            self.at += 2;
                            self.state = State::Headers;
                        }
                        _ => return fail("has a boundary followed by neither a line break nor --".into()),
                    }
                }
                State::Headers => {
                    let Some(end) = find(body, b"\r\n\r\n", self.at).or_else(|| {
                        // A part with no headers at all.
                        body.get(self.at..self.at + 2)
                            .filter(|b| b == b"\r\n")
                            .map(|_| self.at - 2)
                    }) else {
                        if body.len() - self.at > MAX_HEADER_BYTES {
                            return fail(format!("has a part whose headers pass {MAX_HEADER_BYTES} bytes"));
                        }
                        return Ok(());
                    };
                    if end + 4 - self.at > MAX_HEADER_BYTES + 4 {
                        return fail(format!("has a part whose headers pass {MAX_HEADER_BYTES} bytes"));
                    }
                    self.parts += 1;
                    if self.parts > MAX_PARTS {
                        return fail(format!("has more than {MAX_PARTS} parts"));
                    }
                    let headers = String::from_utf8_lossy(&body[self.at..end.max(self.at)]);
                    let name = part_name(&headers).ok_or_else(|| {
                        MultipartError("has a part without a form-data Content-Disposition naming it".into())
                    })?;
                    let start = end + 4;
                    if name == FILE {
                        if self.file.is_some() {
                            return fail("has two file parts".into());
                        }
                        self.file = Some(FilePart { start, end: None });
                    }
                    self.at = start;
                    self.state = State::Body { name, start };
                }
                State::Body { name, start } => {
                    let start = *start;
                    let Some(end) = find(body, &self.delimiter, self.at) else {
                        // The delimiter may straddle what comes next: keep its length less one.
                        self.at = body.len().saturating_sub(self.delimiter.len() - 1).max(start);
                        if name != FILE && body.len() - start > MAX_FIELD_BYTES {
                            return fail(format!("has a field {name} longer than {MAX_FIELD_BYTES} bytes"));
                        }
                        return Ok(());
                    };
                    if name == FILE {
                        if let Some(file) = &mut self.file {
                            file.end = Some(end);
                        }
                    } else {
                        if end - start > MAX_FIELD_BYTES {
                            return fail(format!("has a field {name} longer than {MAX_FIELD_BYTES} bytes"));
                        }
                        let value = std::str::from_utf8(&body[start..end])
                            .map_err(|_| MultipartError(format!("has a field {name} that is not UTF-8 text")))?;
                        self.fields.push((name.clone(), value.to_string()));
                    }
                    self.at = end + self.delimiter.len();
                    self.state = State::Delimited;
                }
                State::Done => return Ok(()),
            }
        }
    }
}

/// The name a part's `Content-Disposition: form-data; name="…"` gives it.
fn part_name(headers: &str) -> Option<String> {
    part(headers).map(|(name, _)| name)
}

/// A part's name as its form-data `Content-Disposition` says it, and whether that names a
/// filename (the part is a file).
pub(crate) fn part(headers: &str) -> Option<(String, bool)> {
    headers.split("\r\n").find_map(|line| {
        let (header, value) = line.split_once(':')?;
        if !header.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        let (kind, params) = value.split_once(';')?;
        if !kind.trim().eq_ignore_ascii_case("form-data") {
            return None;
        }
        let (mut name, mut file) = (None, false);
        for (k, v) in params_of(params) {
            match k.to_ascii_lowercase().as_str() {
                "name" => name = name.or(Some(v)),
                "filename" | "filename*" => file = true,
                _ => {}
            }
        }
        name.map(|n| (n, file))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, value) in parts {
            body.extend(b"--XyZ\r\n");
            let file = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
            body.extend(format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n").as_bytes());
            if filename.is_some() {
                body.extend(b"Content-Type: audio/wav\r\n");
            }
            body.extend(b"\r\n");
            body.extend(*value);
            body.extend(b"\r\n");
        }
        body.extend(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn fields_and_the_file_are_found_however_the_body_is_cut() {
        let whole = body(&[
            ("model", None, b"whisper-1"),
            ("file", Some("a \"b\".wav"), b"RIFF\r\n--Xy..."),
            ("stream", None, b"true"),
        ]);
        for step in [1, 2, 7, 64, whole.len()] {
            let mut reader = Reader::new(b"XyZ");
            let mut end = 0;
            while end < whole.len() {
                end = (end + step).min(whole.len());
                reader.read(&whole[..end]).unwrap();
            }
            assert!(reader.done(), "step {step}");
            let fields: Vec<(&str, &str)> = reader.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert_eq!(fields, [("model", "whisper-1"), ("stream", "true")], "step {step}");
            let file = reader.file.clone().unwrap();
            assert_eq!(&whole[file.start..file.end.unwrap()], b"RIFF\r\n--Xy...");
        }
    }

    #[test]
    fn the_boundary_is_read_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some(b"abc".to_vec()));
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=\"a;b c\""),
            Some(b"a;b c".to_vec())
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
    }

    #[test]
    fn a_client_cannot_size_what_the_reader_keeps() {
        let long = vec![b'a'; MAX_FIELD_BYTES + 1];
        let mut reader = Reader::new(b"XyZ");
        let err = reader.read(&body(&[("prompt", None, &long)])).unwrap_err();
        assert!(err.0.contains("prompt"), "{err:?}");
        // A field still arriving is refused once past the bound, before its end.
        let mut open = b"--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n".to_vec();
        open.extend(&long);
        assert!(Reader::new(b"XyZ").read(&open).is_err());
        let mut headers = b"--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n".to_vec();
        headers.extend(vec![b'h'; MAX_HEADER_BYTES + 1]);
        assert!(Reader::new(b"XyZ").read(&headers).is_err());
        let many: Vec<(&str, Option<&str>, &[u8])> = (0..=MAX_PARTS).map(|_| ("n", None, &b"1"[..])).collect();
        assert!(Reader::new(b"XyZ").read(&body(&many)).is_err());
        // The file's bytes are located, never kept, however long.
        let audio = vec![0u8; 3 * MAX_FIELD_BYTES];
        let mut reader = Reader::new(b"XyZ");
        reader.read(&body(&[("file", Some("a.wav"), &audio)])).unwrap();
        assert!(reader.fields.is_empty() && reader.done());
        assert!(Reader::new(b"XyZ")
            .read(b"--XyZ\r\nno-colon\r\n\r\nx\r\n--XyZ--")
            .is_err());
        assert!(Reader::new(b"XyZ").read(&vec![b'-'; MAX_HEADER_BYTES + 10]).is_err());
    }
}
