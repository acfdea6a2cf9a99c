//! A real `redis-server` per test binary on a free loopback port, stopped when the binary exits
//! however it exits: a shell watchdog beside it ends it once the test process is gone.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running test Redis.
pub struct TestRedis {
    pub port: u16,
    watchdog: Mutex<Child>,
}

impl TestRedis {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts a server of its own (for tests that reconfigure or stop it).
    pub fn start() -> TestRedis {
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("qg-test-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create the test redis directory");
            // The watchdog polls this test process and stops redis when it is gone, even after SIGKILL.
            let script = format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir '{dir}' \
                 --maxmemory-policy noeviction --daemonize no >/dev/null 2>&1 & rpid=$!; \
                 while kill -0 {test_pid} 2>/dev/null && kill -0 $rpid 2>/dev/null; do sleep 0.2; done; \
                 kill $rpid 2>/dev/null",
                dir = dir.display(),
                test_pid = std::process::id(),
            );
            let mut watchdog = Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run sh to start redis-server");
            if wait_for_pong(port, Duration::from_secs(10)) {
                return TestRedis {
                    port,
                    watchdog: Mutex::new(watchdog),
                };
            }
            // Most likely the port was taken in between; try another.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        panic!("redis-server did not start; is it installed? (scripts/test installs it)");
    }

    /// Sends one command in RESP and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        command(self.port, args).unwrap_or_default()
    }

    /// Stops the server now (SHUTDOWN NOSAVE) and waits until the port is closed.
    pub fn stop(&self) {
        let _ = command(self.port, &["SHUTDOWN", "NOSAVE"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The watchdog ends once redis is gone; reap it.
        if let Ok(mut watchdog) = self.watchdog.lock() {
            let _ = watchdog.wait();
        }
    }
}

/// The server shared by every test of this binary; tests keep apart by key prefix.
pub fn shared() -> &'static TestRedis {
    static REDIS: OnceLock<TestRedis> = OnceLock::new();
    REDIS.get_or_init(TestRedis::start)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_pong(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if command(port, &["PING"]).is_some_and(|reply| reply.starts_with("+PONG")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

fn command(port: u16, args: &[&str]) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).ok()?;
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}
