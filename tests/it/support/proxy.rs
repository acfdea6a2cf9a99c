//! A loopback TCP proxy in front of Redis that a test can freeze (Redis stops answering but
//! keeps the connection) or cut (connections refused and closed), to see how the gateway fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use quota_gateway::surface::store::RedisMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::redis::Target;

#[derive(Clone)]
pub struct Proxy {
    pub port: u16,
    frozen: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        tokio::spawn(pipe(cr, sw, flag.clone()));
                        tokio::spawn(pipe(sr, cw, flag));
                    }
                });
            }
        });
        Proxy { port, frozen }
    }

    pub fn target(&self) -> Target {
        Target {
            url: format!("redis://127.0.0.1:{}", self.port),
            mode: RedisMode::Standalone,
        }
    }

    /// Holds every byte from now on, like a Redis that stopped answering.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }
}

async fn pipe(mut from: impl AsyncReadExt + Unpin, mut to: impl AsyncWriteExt + Unpin, frozen: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bounded wait: a frozen proxy holds bytes for at most a minute, then gives up the connection.
        let mut waited = 0;
        while frozen.load(Ordering::SeqCst) {
            if waited > 60_000 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 10;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
