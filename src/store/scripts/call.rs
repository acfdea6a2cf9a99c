//! One call of a data-plane function (or script), encoded as it is built, and the keys and
//! arguments every writing function starts with. redis's `ScriptInvocation` keeps every key
//! and argument in a vector of its own and copies them all into a command on every call (about
//! 30,000 instructions of a reserve), and even a `Cmd` is encoded once more when sent (6,000
//! more).
//! Here the keys and the arguments go straight into their wire form (RESP), each into a buffer
//! of its own (a script declares how many keys it takes; they are sent first). The connection
//! writes the whole call to its socket as it is, or turns it into a `Cmd` when it must route
//! it (a cluster) or hand it to redis's own connections.

use std::io;

use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult, RedisWrite, ServerErrorKind, ToRedisArgs};

use super::contract::{Contract, Runs, WRITING_ARGS, WRITING_KEYS};
use super::keys;
use super::library::{self, LIBRARY};
use super::Writing;
use crate::store::backend::Conn;

pub(crate) struct Call {
    contract: &'static Contract,
    /// How many keys the script takes.
    declared: usize,
    keys: Resp,
    args: Resp,
}

/// Arguments as sent, each `$<length>\r\n<bytes>\r\n`, so a call is encoded once.
struct Resp {
    bytes: Vec<u8>,
    count: usize,
}

impl Resp {
    fn with_capacity(bytes: usize) -> Resp {
        Resp {
            bytes: Vec::with_capacity(bytes),
            count: 0,
        }
    }

    /// Each argument's bytes, as written.
    fn each(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.bytes.as_slice();
        std::iter::from_fn(move || {
            let digits_end = rest.iter().position(|&b| b == b'\r')?;
            let length: usize = std::str::from_utf8(&rest[1..digits_end]).ok()?.parse().ok()?;
            let start = digits_end + 2;
            let arg = rest.get(start..start + length)?;
            rest = &rest[start + length + 2..];
            Some(arg)
        })
    }

    /// One argument: `parts` joined by `separator`, written where it goes rather than joined
    /// into a text of its own first (one part is an argument as it is).
    fn write_joined<P: AsRef<[u8]>>(&mut self, parts: &[P], separator: u8) {
        let length = parts.iter().map(|p| p.as_ref().len()).sum::<usize>() + parts.len().saturating_sub(1);
        self.bytes.push(b'$');
        self.bytes
            .extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                self.bytes.push(separator);
            }
            self.bytes.extend_from_slice(part.as_ref());
        }
        self.bytes.extend_from_slice(b"\r\n");
        self.count += 1;
    }
}

impl RedisWrite for Resp {
    fn write_arg(&mut self, arg: &[u8]) {
        self.write_joined(&[arg], b'|');
    }

    fn writer_for_next_arg(&mut self) -> impl io::Write + '_ {
        Arg {
            resp: self,
            bytes: Vec::new(),
        }
    }
}

/// An argument written piecewise: its length comes first on the wire, so it is kept until done.
struct Arg<'a> {
    resp: &'a mut Resp,
    bytes: Vec<u8>,
}

impl io::Write for Arg<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Arg<'_> {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        self.resp.write_arg(&bytes);
    }
}

impl Call {
    /// A call of the function or script `contract` declares, shaped as it declares.
    pub(crate) fn new(contract: &'static Contract) -> Call {
        Call {
            contract,
            declared: contract.keys,
            keys: Resp::with_capacity(512),
            args: Resp::with_capacity(1024),
        }
    }

    pub(crate) fn key(&mut self, key: &str) -> &mut Call {
        self.keys.write_arg(key.as_bytes());
        self
    }

    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Call {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// One argument of `parts` joined by `separator`.
    pub(crate) fn arg_joined(&mut self, parts: &[&str], separator: u8) -> &mut Call {
        self.args.write_joined(parts, separator);
        self
    }

    /// Runs the function (FCALL) or the script (EVALSHA); when Redis no longer has it (a
    /// restart, a failover, a flush, or a node of another build that removed this build's
    /// library), loads it and runs it once more.
    pub(crate) async fn invoke<T: FromRedisValue>(self, conn: &mut Conn) -> RedisResult<T> {
        debug_assert_eq!(self.keys.count, self.declared, "keys declared and given differ");
        debug_assert!(
            self.contract.args.iter().any(|p| p.then.is_some()) || self.args.count == self.contract.args_with(&[]),
            "{} takes {} arguments, given {}",
            self.contract.file,
            self.contract.args_with(&[]),
            self.args.count
        );
        let lead = self.lead();
        let packed = [lead.as_slice(), self.keys.bytes.as_slice(), self.args.bytes.as_slice()];
        let value = match conn.send_packed(&packed, || self.cmd()).await?.extract_error() {
            // Loading is rare and its futures are large: boxed, they stay out of every call's.
            Err(err) if lost(&err) => {
                match &self.contract.runs {
                    Runs::Function { .. } => Box::pin(load_library(conn)).await?,
                    Runs::Eval(script) => {
                        Box::pin(script.load_async(conn)).await?;
                    }
                }
                conn.send_packed(&packed, || self.cmd()).await?.extract_error()?
            }
            answer => answer?,
        };
        Ok(T::from_redis_value(value)?)
    }

    /// The command and what it calls: FCALL and the function's full name, or EVALSHA and the
    /// script's hash.
    fn target(&self) -> (&'static [u8], &'static str) {
        match &self.contract.runs {
            Runs::Function { name, .. } => (
                b"FCALL",
                name.get_or_init(|| library::function_name(self.contract.name())),
            ),
            Runs::Eval(script) => (b"EVALSHA", script.get_hash()),
        }
    }

    /// What comes before the keys: the array's length, the command, what it calls, the number
    /// of keys.
    fn lead(&self) -> Vec<u8> {
        let mut lead = Resp::with_capacity(96);
        lead.bytes.push(b'*');
        let count = 3 + self.keys.count + self.args.count;
        lead.bytes
            .extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
        lead.bytes.extend_from_slice(b"\r\n");
        let (command, called) = self.target();
        lead.write_arg(command);
        lead.write_arg(called.as_bytes());
        lead.write_arg(itoa::Buffer::new().format(self.declared).as_bytes());
        lead.bytes
    }

    /// The same call as a command, for connections that route or encode commands themselves.
    fn cmd(&self) -> Cmd {
        let (keys, args) = (&self.keys, &self.args);
        let mut cmd = Cmd::with_capacity(3 + keys.count + args.count, keys.bytes.len() + args.bytes.len());
        let (command, called) = self.target();
        cmd.arg(command).arg(called).arg(self.declared);
        for arg in keys.each().chain(args.each()) {
            cmd.arg(arg);
        }
        cmd
    }
}

impl keys::TakesKeys for Call {
    fn take_key(&mut self, key: &str) {
        self.key(key);
    }
}

/// Whether Redis answered that it has not the function or script called.
fn lost(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
        || (err.code() == Some("ERR") && err.detail().is_some_and(|d| d.starts_with("Function not found")))
}

/// Loads this build's library, on every primary of a cluster (redis routes FUNCTION LOAD to
/// all of them). REPLACE makes a load that another node of this build raced harmless: the text
/// is the same.
pub(crate) async fn load_library(conn: &mut Conn) -> RedisResult<()> {
    let mut cmd = redis::cmd("FUNCTION");
    cmd.arg("LOAD").arg("REPLACE").arg(&LIBRARY.text);
    let _: redis::Value = cmd.query_async(conn).await?;
    Ok(())
}

/// The `WRITING_KEYS` keys (keys::WRITING) and `WRITING_ARGS` arguments every data-plane
/// writing function starts with (prelude.lua).
pub(crate) fn writing_args<'i>(inv: &'i mut Call, w: &Writing<'_>) -> &'i mut Call {
    let (keys_before, args_before) = (inv.keys.count, inv.args.count);
    keys::push(inv, w.keys, &keys::WRITING);
    inv.arg(w.retention_ms)
        .arg(w.idempotency.map_or("", |i| i.field.as_str()))
        .arg(w.idempotency.map_or("", |i| i.body_digest.as_str()))
        .arg(w.ledger_keep_ms.map(|ms| ms.to_string()).unwrap_or_default());
    debug_assert_eq!(
        (inv.keys.count - keys_before, inv.args.count - args_before),
        (WRITING_KEYS, WRITING_ARGS)
    );
    inv
}

#[cfg(test)]
mod tests {
    use std::sync::{LazyLock, OnceLock};

    use redis::Script;

    use super::{Call, Runs};

    #[test]
    fn a_call_as_sent_and_as_a_command_are_the_same_bytes() {
        static TWO_KEYS: super::Contract = super::Contract {
            file: "test",
            runs: Runs::Eval(LazyLock::new(|| Script::new("return 1"))),
            keys: 2,
            args: &[],
        };
        static FUNCTION: super::Contract = super::Contract {
            file: "library/functions/f.lua",
            runs: Runs::Function {
                text: "",
                name: OnceLock::new(),
            },
            keys: 0,
            args: &[],
        };
        let call = Call::new(&FUNCTION);
        let sent = [call.lead(), call.keys.bytes.clone(), call.args.bytes.clone()].concat();
        assert_eq!(sent, call.cmd().get_packed_command());
        assert!(String::from_utf8_lossy(&sent).contains(&super::library::function_name("f")));
        let mut call = Call::new(&TWO_KEYS);
        // Layout and arguments may come in any order; keys are sent first.
        call.key("k1")
            .arg(7_i64)
            .arg("")
            .key("k2")
            .arg("é\r\n")
            .arg(1.5_f64)
            .arg(u64::MAX)
            .arg_joined(&["l/3", "", "é|x"], b'|')
            .arg_joined(&[], b'|');
        let sent = [call.lead(), call.keys.bytes.clone(), call.args.bytes.clone()].concat();
        assert_eq!(sent, call.cmd().get_packed_command());
        assert_eq!(call.cmd().args_iter().count(), 3 + 2 + 7);
        // A joined argument is the text joined first.
        let mut joined = Call::new(&TWO_KEYS);
        joined.arg("l/3||é|x").arg("");
        assert!(call.args.bytes.ends_with(&joined.args.bytes));
    }
}
