//! What a `StoreError` says went wrong: its words, and when Redis itself reported the error
//! (an error reply, a refused or dropped connection), the kind and code Redis gave, so callers
//! match on those rather than on the words.

use std::fmt;

use redis::{ErrorKind, RedisError};

/// The words of a store error and, when Redis reported it, its kind and code.
#[derive(Debug)]
pub struct Failure {
    text: String,
    kind: Option<ErrorKind>,
    /// The server's error code as Redis wrote it (`ERR`, `BUSY`, `NOSCRIPT`), kept beside the
    /// kind since redis-rs names only some codes (`BUSY` is `ErrorKind::Extension`).
    code: Option<String>,
}

impl Failure {
    /// An error Redis reported, in its own words.
    pub fn redis(err: &RedisError) -> Failure {
        Failure::redis_in(err.to_string(), err)
    }

    /// An error Redis reported, in the words `text` (which may say where or through what).
    pub fn redis_in(text: String, err: &RedisError) -> Failure {
        Failure {
            text,
            kind: Some(err.kind()),
            code: err.code().map(str::to_owned),
        }
    }

    /// The kind of error Redis reported; None for one this code found itself.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.kind
    }

    /// The server's error code (`ERR`, `BUSY`); None when Redis sent no error reply.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

/// A failure this code found itself (a reply it could not read, a record that does not parse).
impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure {
            text,
            kind: None,
            code: None,
        }
    }
}

impl From<&str> for Failure {
    fn from(text: &str) -> Failure {
        Failure::from(text.to_owned())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
