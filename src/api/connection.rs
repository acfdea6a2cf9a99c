//! The socket under every HTTP connection, so that the HTTP layer's own answers read like ours.
//!
//! actix-http answers a request it cannot parse (a NUL in a header, `Content-Length` twice, a
//! head over 128 KiB or 96 headers, a head that does not arrive in time) by itself, before a
//! request exists and so before any middleware: a bare 400, 431 or 408 with an empty body and no
//! request id. It has no hook for those answers, so they are rewritten here on their way to the
//! socket: the same status, as problem+json with an `X-Request-Id`, and the connection closed as
//! actix-http closes it. The application never sends one of these statuses without a body, so a
//! bodiless head with one of them at the end of what the HTTP layer writes can only be its own.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::request_id;
use crate::http::ApiError;

/// Wraps the connection's stream; only writes are looked at, reads pass through untouched.
pub struct Connection<T> {
    io: T,
    /// The rewritten answer still to be sent, and how much of it has gone.
    owed: Vec<u8>,
    sent: usize,
}

impl<T> Connection<T> {
    pub fn new(io: T) -> Connection<T> {
        Connection {
            io,
            owed: Vec::new(),
            sent: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> Connection<T> {
    /// Sends what is owed from an earlier rewrite before anything else.
    fn poll_owed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.owed.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.owed[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Connection<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Connection<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_owed(cx))?;
        let Some((at, error)) = bare_answer(buf) else {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        };
        if at > 0 {
            // Answers pipelined before the bare one go out as they are; the rest comes back.
            return Pin::new(&mut this.io).poll_write(cx, &buf[..at]);
        }
        this.owed = rewrite(buf, &error);
        this.sent = 0;
        // The bare head counts as written; what replaces it goes out now or on the next flush.
        if let Poll::Ready(Err(err)) = this.poll_owed(cx) {
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Where in `buf` the HTTP layer's own bodiless answer starts, and the error it stands for;
/// None for everything else (one suffix compare for a write that ends in a body: nearly all).
fn bare_answer(buf: &[u8]) -> Option<(usize, ApiError)> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let at = rfind(buf, b"HTTP/1.1 ")?;
    let head = &buf[at..];
    let error = match head.get(9..13)? {
        b"400 " => ApiError::invalid(
            "request",
            "the request is not valid HTTP/1.1 (a malformed or NUL header, or Content-Length given twice); nothing was done",
        ),
        b"408 " => ApiError::RequestTimeout,
        b"431 " => ApiError::HeadersTooLarge,
        _ => return None,
    };
    let lone = find(head, b"\r\n\r\n") == Some(head.len() - 4);
    let bodiless = find(head, b"\r\ncontent-length: 0\r\n").is_some();
    (lone && bodiless).then_some((at, error))
}

/// The bare head (alone in `head`) as problem+json with a request id, its other header lines
/// kept and the connection closed.
fn rewrite(head: &[u8], error: &ApiError) -> Vec<u8> {
    let mut lines = head[..head.len() - 4]
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().unwrap_or_default();
    let kept = lines.filter(|line| {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        !name.eq_ignore_ascii_case(b"content-length") && !name.eq_ignore_ascii_case(b"connection")
    });
    let id = request_id::next_id();
    tracing::info!(request_id = %id, status = %String::from_utf8_lossy(status_line.get(9..).unwrap_or_default()), "malformed request answered before routing");
    let body = error.body(&id).to_string();
    let mut answer = Vec::with_capacity(256 + body.len());
    answer.extend_from_slice(status_line);
    answer.extend_from_slice(b"\r\ncontent-type: application/problem+json\r\n");
    answer.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    answer.extend_from_slice(format!("x-request-id: {id}\r\nconnection: close\r\n").as_bytes());
    for line in kept {
        answer.extend_from_slice(line);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"\r\n");
    answer.extend_from_slice(body.as_bytes());
    answer
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::{bare_answer, rewrite};

    #[test]
    fn only_a_lone_bodiless_error_head_at_the_end_is_rewritten() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        let (at, error) = bare_answer(bare).unwrap();
        assert_eq!(at, 0);
        let text = String::from_utf8(rewrite(bare, &error)).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\ndate: x\r\n\r\n{"), "{text}");
        assert_eq!(text.matches("connection: close").count(), 1, "{text}");

        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        let pipelined = [&ok[..], bare].concat();
        assert_eq!(bare_answer(&pipelined).unwrap().0, ok.len());

        let no_content = b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n";
        assert!(bare_answer(no_content).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(bare_answer(with_body).is_none());
        let sized = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n";
        assert!(bare_answer(sized).is_none());
    }
}
