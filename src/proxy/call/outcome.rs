//! How an attempt upstream ended, as the phases pass it on to settling: what the provider
//! answered (`Answered`), why there was no answer (`Failure`), or its refusal (`Refusal`).

use actix_web::http::StatusCode;
use actix_web::HttpResponseBuilder;
use bytes::Bytes;

use super::usage::Usage;

/// What the provider said, for the record.
pub(crate) struct Answered {
    /// None: it gave no answer (a timeout, a broken connection).
    pub status: Option<u16>,
    pub request_id: Option<String>,
}

impl Answered {
    /// No answer to speak of (a job's hold charged without one).
    pub(crate) fn nothing() -> Answered {
        Answered {
            status: None,
            request_id: None,
        }
    }

    /// Takes the id the answer's body names when no header named one (Gemini's `responseId`);
    /// a header's id, or the first body's, is kept.
    pub(crate) fn identify(&mut self, id: Option<&str>) {
        if let (None, Some(id)) = (&self.request_id, id) {
            self.request_id = Some(id.to_string());
        }
    }
}

/// Why the upstream gave no answer.
pub(crate) enum Failure {
    /// No connection could be made: it never saw the call.
    Unreachable(String),
    /// The connection broke after the call was sent: it may have taken the call, and bill it.
    Broken(String),
    /// No answer before the first-byte timeout: it may be working on it, and billing it.
    Timeout,
    /// The caller's upload broke off, passed the node's bound, or carried a part its hold did
    /// not see (why, as a sentence's subject and verb) before its end: the provider never had
    /// the whole request.
    Unsent(Cut),
}

impl Failure {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => "connect",
            Failure::Broken(_) => "stream_broken",
            Failure::Timeout => "timeout",
            Failure::Unsent(_) => "upload_broken",
        }
    }
}

/// Why an upload was cut off before its end (a sentence's subject and verb), and the form's
/// part it is about, if one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    pub why: String,
    pub part: Option<String>,
}

impl Cut {
    pub(crate) fn because(why: impl Into<String>) -> Cut {
        Cut {
            why: why.into(),
            part: None,
        }
    }
}

/// The provider refused the call: its error answer, read whole before any byte of it reaches
/// the caller, so a routed call may still give way to its next target (`fallback.rs`).
pub(crate) struct Refusal {
    pub status: StatusCode,
    /// The answer as the caller gets it, but its body.
    pub reply: HttpResponseBuilder,
    pub answered: Answered,
    pub body: Bytes,
}

/// How a relayed stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    Done,
    /// It broke, or went quiet past the idle timeout, before its end.
    Broken(&'static str),
    /// The caller left and no drain could be had, or the drain ran out of time.
    Abandoned,
}

/// What a relayed stream said of its usage on the way, and how it ended: its hold's settling
/// reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streamed {
    pub end: StreamEnd,
    /// The usage its events reported.
    pub seen: Usage,
    /// The output streamed, in tokens, for a stream left before its usage.
    pub streamed: u64,
    /// Whether the provider's last event came (a running total is final there only).
    pub stopped: bool,
}
