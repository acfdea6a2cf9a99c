//! The data plane's own connection to a standalone Redis: one per worker thread, pipelined.
//!
//! redis's multiplexed connection hands each command to a driver task over a channel and
//! decodes replies with a general streaming parser; together about 40,000 instructions of a
//! reserve's 155,000. Here a caller on an idle connection writes its command straight to the
//! socket; while commands are in flight it buffers it for a writer task, which writes all the
//! commands queued by its turn in one system call. Each caller queues a oneshot for its reply;
//! a reader task parses replies in order and answers the queue. Replies come back in the order
//! commands were written, so a caller that gave up (the command timeout) leaves its place in
//! the queue and its late reply is dropped there.
//!
//! The reader marks the store's `Progress` as replies arrive, so a call queued behind others
//! on a Redis that keeps answering is told apart from one whose Redis stopped (`Store::run`).
//!
//! Only the data plane's commands come here (scripts, `TIME`, `WAIT`: short replies, one
//! command at a time); everything else keeps redis's connection manager (`backend.rs`).

mod resp;
mod socket;

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::{Cmd, ConnectionInfo, RedisError, RedisResult, Value};
use tokio::sync::{oneshot, Notify};
use tokio::task::AbortHandle;

use socket::{Reader, Writer};

use super::progress::Progress;

/// How long connecting may take; every call is also bounded by the command timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A cheap handle; the connection closes when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Pipe {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    writer: Writer,
    /// Wakes the writer task when a command did not fit into the socket.
    more: Arc<Notify>,
    tasks: [AbortHandle; 2],
    db: i64,
}

struct State {
    /// Bytes of commands not yet written to the socket.
    out: Vec<u8>,
    /// One per command written or buffered, in order.
    waiting: VecDeque<oneshot::Sender<RedisResult<Value>>>,
    /// Why the connection is no longer usable; a new one is made on the next call.
    broken: Option<String>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Pipe {
    /// Connects, authenticates and selects the database the URL names.
    pub(crate) async fn connect(info: &ConnectionInfo, progress: Arc<Progress>) -> RedisResult<Pipe> {
        let connecting = socket::connect(info.addr());
        let (reader, writer) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| RedisError::from(io::Error::from(io::ErrorKind::TimedOut)))??;
        let settings = info.redis_settings();
        let more = Arc::new(Notify::new());
        let pipe = Pipe {
            shared: Arc::new_cyclic(|weak: &Weak<Shared>| Shared {
                state: Mutex::new(State {
                    out: Vec::with_capacity(4096),
                    waiting: VecDeque::new(),
                    broken: None,
                }),
                writer,
                more: more.clone(),
                tasks: [
                    tokio::spawn(read_replies(reader, weak.clone(), progress)).abort_handle(),
                    tokio::spawn(write_rest(more, weak.clone())).abort_handle(),
                ],
                db: settings.db(),
            }),
        };
        if let Some(password) = settings.password() {
            let mut auth = redis::cmd("AUTH");
            if let Some(username) = settings.username() {
                auth.arg(username);
            }
            auth.arg(password);
            pipe.send_cmd(&auth).await?.extract_error()?;
        }
        if settings.db() != 0 {
            let mut select = redis::cmd("SELECT");
            select.arg(settings.db());
            pipe.send_cmd(&select).await?.extract_error()?;
        }
        Ok(pipe)
    }

    /// False once the socket failed or closed: the caller makes a new one.
    pub(crate) fn is_usable(&self) -> bool {
        self.shared.state.lock().is_ok_and(|state| state.broken.is_none())
    }

    /// Sends a command already encoded, in parts, and waits for its reply.
    pub(crate) async fn send_packed(&self, parts: &[&[u8]]) -> RedisResult<Value> {
        let reply = self.send(|out| parts.iter().for_each(|part| out.extend_from_slice(part)));
        reply?.await.unwrap_or_else(|_| Err(broken("it closed")))
    }

    /// Sends one command and waits for its reply (an error reply is a `Value` still).
    pub(crate) async fn send_cmd(&self, cmd: &Cmd) -> RedisResult<Value> {
        let reply = self.send(|out| cmd.write_packed_command(out));
        reply?.await.unwrap_or_else(|_| Err(broken("it closed")))
    }

    pub(crate) fn db(&self) -> i64 {
        self.shared.db
    }

    /// Writes a command (`encode` appends it to the buffer) to the socket, or buffers it for
    /// the writer task, and queues for its reply.
    fn send(&self, encode: impl FnOnce(&mut Vec<u8>)) -> RedisResult<oneshot::Receiver<RedisResult<Value>>> {
        let shared = &*self.shared;
        let mut state = shared
            .state
            .lock()
            .map_err(|_| broken("a thread panicked holding it"))?;
        if let Some(reason) = &state.broken {
            return Err(broken(reason));
        }
        let (answer, reply) = oneshot::channel();
        // Nothing in flight: write now, the lowest latency. Commands in flight: leave it to the
        // writer task, which writes every command queued by then in one system call.
        let quiet = state.out.is_empty() && state.waiting.is_empty();
        encode(&mut state.out);
        state.waiting.push_back(answer);
        if quiet {
            match shared.writer.try_write(&state.out) {
                Ok(n) => drop(state.out.drain(..n)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => {
                    fail(&mut state, &err.to_string());
                    return Err(err.into());
                }
            }
        }
        if !state.out.is_empty() {
            shared.more.notify_one();
        }
        Ok(reply)
    }
}

/// Reads replies and answers the callers in order, until the socket fails or closes.
async fn read_replies(mut reader: Reader, shared: Weak<Shared>, progress: Arc<Progress>) {
    let _stopped = Stopped(shared.clone());
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let read = reader.read_buf(&mut buf).await;
        let Some(shared) = shared.upgrade() else { return };
        let Ok(mut state) = shared.state.lock() else { return };
        let reason = match read {
            Ok(0) => "redis closed the connection".to_string(),
            Err(err) => err.to_string(),
            Ok(_) => match answer(&mut state, &mut buf) {
                Ok(()) => {
                    progress.answered();
                    continue;
                }
                Err(err) => err.to_string(),
            },
        };
        fail(&mut state, &reason);
        return;
    }
}

/// Marks the pipe broken when its reader stops for any reason but the pipe's own end (a
/// runtime shutting down drops its tasks), so the next call connects again instead of waiting
/// for replies nobody reads.
struct Stopped(Weak<Shared>);

impl Drop for Stopped {
    fn drop(&mut self) {
        let Some(shared) = self.0.upgrade() else { return };
        if let Ok(mut state) = shared.state.lock() {
            if state.broken.is_none() {
                fail(&mut state, "its reader stopped");
            }
        };
    }
}

/// Hands every complete reply in `buf` to the next caller waiting, and keeps the rest.
fn answer(state: &mut State, buf: &mut Vec<u8>) -> RedisResult<()> {
    let mut at = 0;
    while let Some((value, used)) = resp::parse(&buf[at..])? {
        at += used;
        match state.waiting.pop_front() {
            // A caller that gave up has dropped its receiver: the reply goes nowhere.
            Some(answer) => drop(answer.send(Ok(value))),
            None => return Err(broken("a reply came that no command asked for")),
        }
    }
    buf.drain(..at);
    Ok(())
}

/// Writes what callers could not, whenever they leave some.
async fn write_rest(more: Arc<Notify>, shared: Weak<Shared>) {
    loop {
        more.notified().await;
        let Some(shared) = shared.upgrade() else { return };
        loop {
            if let Err(err) = shared.writer.writable().await {
                let Ok(mut state) = shared.state.lock() else { return };
                return fail(&mut state, &err.to_string());
            }
            let Ok(mut state) = shared.state.lock() else { return };
            if state.out.is_empty() {
                break;
            }
            match shared.writer.try_write(&state.out) {
                Ok(n) => drop(state.out.drain(..n)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return fail(&mut state, &err.to_string()),
            }
            if state.out.is_empty() {
                break;
            }
        }
    }
}

/// Marks the connection broken and answers every caller still waiting with why.
fn fail(state: &mut State, reason: &str) {
    state.broken = Some(reason.to_string());
    state.out.clear();
    for answer in state.waiting.drain(..) {
        drop(answer.send(Err(broken(reason))));
    }
}

fn broken(reason: &str) -> RedisError {
    let err = io::Error::new(io::ErrorKind::ConnectionAborted, format!("redis connection: {reason}"));
    RedisError::from(err)
}
