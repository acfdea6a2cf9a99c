//! A stream framed as it arrives, each event kept as the exact bytes the upstream sent so the
//! caller receives them unchanged, with what it says read for the usage: server-sent events
//! (an `event` and joined `data`), the elements of one JSON array as they come (Gemini's
//! stream without `alt=sse`, `array.rs`), or AWS event stream messages (Bedrock's,
//! `eventstream.rs`). Only the event being received is buffered, and its
//! scan keeps its place between chunks, so a long event arriving in many chunks is scanned
//! once; one longer than `MAX_EVENT_BYTES` is passed on as it is and no longer read (its call
//! then settles at its hold).

use bytes::{Bytes, BytesMut};

use super::array::Elements;
use super::eventstream;

/// The largest event read for usage (a Responses stream's last event carries the whole answer).
pub(crate) const MAX_EVENT_BYTES: usize = 8 << 20;

#[derive(Default)]
pub(crate) struct Framer {
    buf: BytesMut,
    /// Set once an event was too long: everything after is passed on unread.
    blind: bool,
    /// Some: the stream is one JSON array, each element an event.
    elements: Option<Elements>,
    /// The stream is AWS event stream messages, each an event.
    messages: bool,
    /// Bytes of the buffer known to hold no event's end (server-sent events).
    scanned: usize,
    began: bool,
}

/// One event: its bytes, and what it says.
pub(crate) struct Event {
    pub raw: Bytes,
    pub kind: Option<String>,
    pub data: String,
}

/// What the framer gives back for a chunk: whole events, and bytes passed on unread.
pub(crate) enum Piece {
    Event(Event),
    Unread(Bytes),
}

impl Framer {
    /// A framer of one JSON array's elements.
    pub(crate) fn json_array() -> Framer {
        Framer {
            elements: Some(Elements::default()),
            ..Framer::default()
        }
    }

    /// A framer of AWS event stream messages.
    pub(crate) fn event_stream() -> Framer {
        Framer {
            messages: true,
            ..Framer::default()
        }
    }

    /// Takes a chunk and answers what is whole so far, in order.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Piece> {
        if self.blind {
            return vec![Piece::Unread(Bytes::copy_from_slice(chunk))];
        }
        self.buf.extend_from_slice(chunk);
        let mut pieces = Vec::new();
        loop {
            let end = match &mut self.elements {
                _ if self.messages => eventstream::boundary(&self.buf).unwrap_or_else(|()| {
                    // Not a message's prelude: nothing after it can be framed either.
                    self.blind = true;
                    None
                }),
                Some(elements) => elements.boundary(&self.buf),
                None => boundary(&self.buf, &mut self.scanned),
            };
            let Some(end) = end else { break };
            self.scanned = 0;
            let raw = self.buf.split_to(end).freeze();
            self.began = true;
            let (kind, data) = match self.elements {
                _ if self.messages => eventstream::fields(&raw),
                Some(_) => (None, super::array::element(&raw)),
                None => fields(&raw),
            };
            pieces.push(Piece::Event(Event { raw, kind, data }));
        }
        if self.blind || self.buf.len() > MAX_EVENT_BYTES {
            self.blind = true;
            pieces.push(Piece::Unread(self.buf.split().freeze()));
        }
        pieces
    }

    /// Whether any event was taken whole (for an array: its `[` went with the first).
    pub(crate) fn began(&self) -> bool {
        self.began
    }

    /// What is left when the stream ends: an event without its blank line, passed on as it is.
    pub(crate) fn rest(&mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.buf.split().freeze())
    }
}

/// The end (past the blank line) of the first whole event in `buf`, scanning from `scanned`;
/// when there is none yet, `scanned` moves to where the next scan must start again: the first
/// of the line ends the buffer closes with, which the next bytes may make an event's end.
fn boundary(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let mut i = *scanned;
    while let Some(at) = memchr::memchr2(b'\n', b'\r', &buf[i..]) {
        i += at;
        // A line ends at \n, \r or \r\n; an empty line after it ends the event.
        let after = if buf[i] == b'\r' && buf.get(i + 1) == Some(&b'\n') {
            i + 2
        } else {
            i + 1
        };
        match buf.get(after) {
            Some(b'\n') => return Some(after + 1),
            Some(b'\r') => match buf.get(after + 1) {
                Some(b'\n') => return Some(after + 2),
                // A lone \r may yet be followed by \n: wait for the next byte.
                None => break,
                Some(_) => return Some(after + 1),
            },
            None => break,
            Some(_) => i = after,
        }
    }
    // Nothing before the buffer's closing run of line ends can end an event any more.
    let tail = buf.iter().rev().take_while(|b| matches!(b, b'\n' | b'\r')).count();
    *scanned = buf.len() - tail;
    None
}

/// The event's `event` field and its `data` lines joined by newlines.
fn fields(raw: &[u8]) -> (Option<String>, String) {
    let text = String::from_utf8_lossy(raw);
    let (mut kind, mut data) = (None, String::new());
    let mut first = true;
    for line in text.split(['\n', '\r']) {
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "event" => kind = Some(value.to_string()),
            "data" => {
                if !first {
                    data.push('\n');
                }
                data.push_str(value);
                first = false;
            }
            _ => {}
        }
    }
    (kind, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(pieces: Vec<Piece>) -> Vec<(Option<String>, String, Vec<u8>)> {
        pieces
            .into_iter()
            .map(|p| match p {
                Piece::Event(e) => (e.kind, e.data, e.raw.to_vec()),
                Piece::Unread(b) => (None, "<unread>".into(), b.to_vec()),
            })
            .collect()
    }

    #[test]
    fn events_split_anywhere_come_out_whole_and_unchanged() {
        let stream = b"event: message_start\ndata: {\"a\":1}\n\n: comment\ndata: x\r\n\r\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut f = Framer::default();
            let mut out = events(f.push(&stream[..cut]));
            out.extend(events(f.push(&stream[cut..])));
            assert_eq!(out.len(), 3, "cut at {cut}");
            assert_eq!(out[0].0.as_deref(), Some("message_start"));
            assert_eq!(out[0].1, "{\"a\":1}");
            assert_eq!(out[1].1, "x");
            assert_eq!(out[2].1, "[DONE]");
            let joined: Vec<u8> = out.iter().flat_map(|e| e.2.clone()).collect();
            assert_eq!(joined, stream.to_vec());
            assert!(f.rest().is_none());
        }
    }

    #[test]
    fn events_split_in_three_anywhere_come_out_whole_and_unchanged() {
        let stream = b"data: a\r\r\ndata: b\r\n\r\n\ndata: c\n\r\rdata: d\n\n";
        let whole = events(Framer::default().push(stream));
        for one in 0..stream.len() {
            for two in one..stream.len() {
                let mut f = Framer::default();
                let mut out = events(f.push(&stream[..one]));
                out.extend(events(f.push(&stream[one..two])));
                out.extend(events(f.push(&stream[two..])));
                assert_eq!(out, whole, "cut at {one} and {two}");
            }
        }
        assert_eq!(
            whole.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn a_long_event_in_many_chunks_is_scanned_once() {
        let mut f = Framer::default();
        let line = format!("data: {}\n", "x".repeat(1 << 10));
        for _ in 0..1 << 10 {
            assert!(f.push(line.as_bytes()).is_empty());
            // The place kept: only the line end just taken is left to scan again.
            assert_eq!(f.scanned, f.buf.len() - 1);
        }
        let out = events(f.push(b"\n"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.len(), (1 << 10) * (1 << 10) + (1 << 10) - 1);
    }

    #[test]
    fn an_event_too_long_is_passed_on_unread() {
        let mut f = Framer::default();
        let long = vec![b'a'; MAX_EVENT_BYTES + 1];
        let out = events(f.push(&long));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "<unread>");
        assert_eq!(events(f.push(b"data: x\n\n"))[0].1, "<unread>");
    }

    #[test]
    fn messages_split_anywhere_come_out_whole_and_unchanged() {
        let one = eventstream::message(&[(":event-type", "contentBlockDelta")], b"{\"delta\":{\"text\":\"a\"}}");
        let two = eventstream::message(&[(":event-type", "metadata")], b"{\"usage\":{}}");
        let stream = [one, two].concat();
        for cut in 0..stream.len() {
            let mut f = Framer::event_stream();
            let mut out = events(f.push(&stream[..cut]));
            out.extend(events(f.push(&stream[cut..])));
            let kinds: Vec<_> = out.iter().map(|e| e.0.as_deref()).collect();
            assert_eq!(kinds, [Some("contentBlockDelta"), Some("metadata")], "cut at {cut}");
            assert_eq!(out[1].1, "{\"usage\":{}}");
            let joined: Vec<u8> = out.iter().flat_map(|e| e.2.clone()).collect();
            assert_eq!(joined, stream);
        }
        // A prelude no message has: the rest is passed on unread.
        let mut f = Framer::event_stream();
        let out = events(f.push(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9]));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "<unread>");
    }

    #[test]
    fn elements_split_anywhere_come_out_whole_and_unchanged() {
        let stream = b"[{\"a\": \"x]}\\\"\"},\r\n{\"b\": [1, {\"c\": 2}]}\n,{}\n]";
        for cut in 0..stream.len() {
            let mut f = Framer::json_array();
            let mut out = Vec::new();
            for piece in f.push(&stream[..cut]).into_iter().chain(f.push(&stream[cut..])) {
                match piece {
                    Piece::Event(e) => out.push((e.data, e.raw.to_vec())),
                    Piece::Unread(_) => panic!("read whole"),
                }
            }
            let data: Vec<&str> = out.iter().map(|(d, _)| d.as_str()).collect();
            assert_eq!(
                data,
                ["{\"a\": \"x]}\\\"\"}", "{\"b\": [1, {\"c\": 2}]}", "{}"],
                "cut at {cut}"
            );
            let mut joined: Vec<u8> = out.iter().flat_map(|(_, raw)| raw.clone()).collect();
            joined.extend(f.rest().unwrap_or_default());
            assert_eq!(joined, stream.to_vec());
        }
    }
}
