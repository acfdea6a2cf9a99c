//! A webhook receiver on loopback for the tests: records every request (headers and body) and
//! answers with the statuses it is told, in order, then 200; or, when it stalls, holds every
//! request unanswered until it is released, noting how many the gateway still waits on.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    stall: Arc<Stall>,
}

/// A receiver's stall: whether it holds requests, the signal that lets them go, and how many
/// held requests the caller has not given up on.
#[derive(Default)]
struct Stall {
    on: AtomicBool,
    released: Notify,
    waiting: AtomicUsize,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let receiver = Receiver {
            url: format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port()),
            ..Receiver::default()
        };
        let shared = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = shared.serve(stream).await;
                });
            }
        });
        receiver
    }

    /// A receiver that holds every request unanswered until `release`.
    pub async fn stalling() -> Receiver {
        let receiver = Receiver::start().await;
        receiver.stall.on.store(true, Ordering::SeqCst);
        receiver
    }

    /// Answers every held request, and every later one at once.
    pub fn release(&self) {
        self.stall.on.store(false, Ordering::SeqCst);
        self.stall.released.notify_waiters();
    }

    /// Held requests whose callers still wait for the answer (their connection is open).
    pub fn waiting(&self) -> usize {
        self.stall.waiting.load(Ordering::SeqCst)
    }

    /// Answers these statuses to the next requests, then 200 again.
    pub fn answer(&self, statuses: &[u16]) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests came (at most `limit`), and answers what came.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        while self.received.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received()
    }

    async fn serve(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        let mut headers = HashMap::new();
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        // Registered before the flag is read, so a release in between is not missed.
        let released = self.stall.released.notified();
        if self.stall.on.load(Ordering::SeqCst) {
            self.stall.waiting.fetch_add(1, Ordering::SeqCst);
            self.received.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let mut more = [0u8; 1];
            // Until released, or until the caller gives up and closes the connection.
            let gave_up = tokio::select! {
                _ = released => false,
                read = reader.read(&mut more) => matches!(read, Ok(0) | Err(_)),
            };
            self.stall.waiting.fetch_sub(1, Ordering::SeqCst);
            if gave_up {
                return Ok(());
            }
        } else {
            self.received.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        let status = self.statuses.lock().unwrap().pop_front().unwrap_or(200);
        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        reader.get_mut().write_all(answer.as_bytes()).await?;
        reader.get_mut().shutdown().await
    }
}
