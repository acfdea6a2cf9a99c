//! The elements of one JSON array as they arrive (Gemini's stream without `alt=sse` is one
//! array of answer chunks, written element by element): each element is passed on as soon as
//! it is whole, with the separators before it, and read for the usage. The scan keeps its
//! place between chunks, so a long element is scanned once.

/// Where the scan of the array is.
#[derive(Default)]
pub(crate) struct Elements {
    /// Bytes of the buffer scanned so far.
    at: usize,
    /// Nesting depth inside the current element.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Inside an element (past its first byte).
    inside: bool,
}

impl Elements {
    /// The end of the first whole element in `buf` (the scan's place carried over from the
    /// last call; it restarts after each element taken).
    pub(crate) fn boundary(&mut self, buf: &[u8]) -> Option<usize> {
        while self.at < buf.len() {
            let b = buf[self.at];
            self.at += 1;
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.inside = true;
                }
                b'{' | b'[' if self.inside || b == b'{' => {
                    self.depth += 1;
                    self.inside = true;
                }
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(self.take());
                    }
                }
                // The array's own brackets, commas and spaces travel with the next element.
                _ => {}
            }
        }
        None
    }

    fn take(&mut self) -> usize {
        let end = self.at;
        *self = Elements::default();
        end
    }
}

/// An element's JSON text: its bytes without the separators before it.
pub(crate) fn element(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.trim_start_matches(|c: char| c == '[' || c == ',' || c.is_whitespace())
        .to_string()
}
