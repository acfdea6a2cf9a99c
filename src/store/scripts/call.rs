//! One call of a data-plane script, built straight into one command, and the keys and
//! arguments every writing script starts with. redis's `ScriptInvocation` keeps every key and
//! argument in a vector of its own and copies them into a command on every call: about 30,000
//! instructions of a reserve, most of them allocating and freeing forty small vectors. Here the
//! keys go into the command as they come (their number is declared up front: every script
//! declares the keys it touches) and the arguments into one buffer, appended when the call is
//! made.

use redis::aio::ConnectionLike;
use redis::{Arg, Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind, ToRedisArgs};

use super::Writing;

pub struct Call {
    script: &'static Script,
    keys: usize,
    cmd: Cmd,
    args: Cmd,
}

impl Call {
    /// A call of `script` with exactly `keys` keys.
    pub fn new(script: &'static Script, keys: usize) -> Call {
        let mut cmd = Cmd::with_capacity(3 + keys + 48, 1024);
        cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys);
        Call {
            script,
            keys,
            cmd,
            args: Cmd::with_capacity(48, 512),
        }
    }

    pub fn key(&mut self, key: &str) -> &mut Call {
        self.cmd.arg(key);
        self
    }

    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Call {
        self.args.arg(arg);
        self
    }

    /// Runs the script (EVALSHA); when Redis no longer has it (a restart, a failover, SCRIPT
    /// FLUSH), loads it and runs it once more.
    pub async fn invoke<T: FromRedisValue>(mut self, conn: &mut impl ConnectionLike) -> RedisResult<T> {
        debug_assert_eq!(
            self.cmd.args_iter().len(),
            3 + self.keys,
            "keys declared and given differ"
        );
        for arg in self.args.args_iter() {
            if let Arg::Simple(bytes) = arg {
                self.cmd.arg(bytes);
            }
        }
        match self.cmd.query_async(conn).await {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(conn).await?;
                self.cmd.query_async(conn).await
            }
            answer => answer,
        }
    }
}

/// How many keys every data-plane writing script starts with (prelude.lua).
pub const WRITING_KEYS: usize = 10;

/// The ten keys and four arguments every data-plane writing script starts with (prelude.lua).
pub fn writing_args<'i>(inv: &'i mut Call, w: &Writing<'_>) -> &'i mut Call {
    let keys = w.keys;
    inv.key(&keys.ctr)
        .key(&keys.res)
        .key(&keys.open)
        .key(&keys.ended)
        .key(&keys.periods)
        .key(&keys.sub)
        .key(&keys.idem)
        .key(&keys.ledger)
        .key(&keys.daily)
        .key(&keys.outbox)
        .arg(w.retention_ms)
        .arg(w.idempotency.map_or("", |i| i.field.as_str()))
        .arg(w.idempotency.map_or("", |i| i.body_digest.as_str()))
        .arg(w.ledger_keep_ms.map(|ms| ms.to_string()).unwrap_or_default())
}
