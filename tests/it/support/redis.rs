//! Real Redis for the tests: one standalone server per test binary, or (with
//! `QG_TEST_TOPOLOGY=cluster`) a 3-master Redis Cluster, on free loopback ports. Each server
//! is stopped when the binary exits however it exits: a shell watchdog beside it ends it once
//! the test process is gone.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use quota_gateway::surface::store::contract::{Contract, Runs};
use quota_gateway::surface::store::library::{function_name, LIBRARY};
use quota_gateway::surface::store::RedisMode;

/// Where a gateway under test finds Redis.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub mode: RedisMode,
}

/// A running test Redis server.
pub struct TestRedis {
    pub port: u16,
    pub dir: PathBuf,
    watchdog: Mutex<Child>,
}

impl TestRedis {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn target(&self) -> Target {
        Target {
            url: self.url(),
            mode: RedisMode::Standalone,
        }
    }

    /// Starts a server of its own (for tests that reconfigure or stop it).
    pub fn start() -> TestRedis {
        TestRedis::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> TestRedis {
        TestRedis::start_in("", extra)
    }

    /// Starts a server whose wall clock (Redis `TIME`, key expiry) reads `start_ms` now and
    /// runs `rate` times as fast as the machine's: `fastclock.c`, built here with the system's
    /// C compiler and loaded with LD_PRELOAD. Tests of period boundaries reach one in seconds.
    pub fn start_fast_clock(start_ms: i64, rate: u32) -> TestRedis {
        let shim = fast_clock_library();
        TestRedis::start_in(
            &format!(
                "QG_CLOCK_START_MS={start_ms} QG_CLOCK_RATE={rate} LD_PRELOAD='{}'",
                shim.display()
            ),
            &[],
        )
    }

    /// Starts a server with `env` (shell assignments) before the command.
    fn start_in(env: &str, extra: &[&str]) -> TestRedis {
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("qg-test-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create the test redis directory");
            if let Some(redis) = TestRedis::spawn_in(env, port, dir, extra) {
                return redis;
            }
        }
        panic!("redis-server did not start; is it installed? (scripts/test installs it)");
    }

    /// Starts a server on `port` with its data in `dir`, as `start_with` would; None when it
    /// does not answer (the port was taken).
    pub fn spawn(port: u16, dir: PathBuf, extra: &[&str]) -> Option<TestRedis> {
        TestRedis::spawn_in("", port, dir, extra)
    }

    fn spawn_in(env: &str, port: u16, dir: PathBuf, extra: &[&str]) -> Option<TestRedis> {
        let extra: Vec<String> = extra.iter().map(|a| format!("'{a}'")).collect();
        let command = format!(
            "{env} redis-server --port {port} --bind 127.0.0.1 --save '' --dir '{dir}' --pidfile '{dir}/redis.pid' \
             --maxmemory-policy noeviction --daemonize no {extra}",
            dir = dir.display(),
            extra = extra.join(" "),
        );
        TestRedis::watch(port, dir, &command)
    }

    /// A Sentinel on `port` watching the primary on `primary` as "mymaster".
    pub fn sentinel(primary: u16) -> TestRedis {
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("qg-test-sentinel-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create the sentinel directory");
            let conf = dir.join("sentinel.conf");
            let text = format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\npidfile {dir}/redis.pid\n\
                 sentinel monitor mymaster 127.0.0.1 {primary} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 5000\nsentinel parallel-syncs mymaster 1\n",
                dir = dir.display()
            );
            std::fs::write(&conf, text).expect("write sentinel.conf");
            if let Some(sentinel) =
                TestRedis::watch(port, dir, &format!("redis-server '{}' --sentinel", conf.display()))
            {
                return sentinel;
            }
        }
        panic!("redis-server --sentinel did not start");
    }

    /// Runs `command` beside a watchdog that stops it when this test process is gone.
    fn watch(port: u16, dir: PathBuf, command: &str) -> Option<TestRedis> {
        // The watchdog polls this test process and stops redis when it is gone, even after SIGKILL.
        let script = format!(
            "{command} >/dev/null 2>&1 & rpid=$!; \
             while kill -0 {test_pid} 2>/dev/null && kill -0 $rpid 2>/dev/null; do sleep 0.2; done; \
             kill $rpid 2>/dev/null",
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
            return Some(TestRedis {
                port,
                dir,
                watchdog: Mutex::new(watchdog),
            });
        }
        // Most likely the port was taken in between.
        let _ = watchdog.kill();
        let _ = watchdog.wait();
        None
    }

    /// Sends one command and reads the reply.
    pub fn query<T: ::redis::FromRedisValue>(&self, args: &[&str]) -> T {
        self.try_query(args).expect("the test redis answers")
    }

    /// Sends one command and reads the reply or the error.
    pub fn try_query<T: ::redis::FromRedisValue>(&self, args: &[&str]) -> ::redis::RedisResult<T> {
        let client = ::redis::Client::open(self.url()).expect("a redis url");
        let mut conn = client.get_connection().expect("a connection to the test redis");
        command(args).query(&mut conn)
    }

    /// Stops the server now (SHUTDOWN NOSAVE) and waits until the port is closed.
    pub fn stop(&self) {
        let _ = ::redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .and_then(|mut c| command(&["SHUTDOWN", "NOSAVE"]).query::<()>(&mut c));
        self.wait_until_gone();
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).expect("the redis pid file");
        let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
        self.wait_until_gone();
    }

    /// Stops the server's process (SIGSTOP) without closing its connections, as a machine that
    /// stalls would; `resume` lets it go on.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).expect("the redis pid file");
        let _ = Command::new("kill").arg(signal).arg(pid.trim()).status();
    }

    fn wait_until_gone(&self) {
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

/// A Redis of one test's own, of the topology this pass runs (a cluster of one primary holding
/// every slot on the cluster pass, which starts in a moment), whose clock the test steps
/// forward (`fastclock.c`'s step file): past a reservation's TTL or a window's end at once,
/// where a sleep would wait for it. A node resyncs its clock when a script finds its instant
/// stale, as it does after any jump of Redis time; until then what the node judges by its own
/// estimate of Redis time (a read's "expired") lags the step, so such a test asks a node started
/// after the step (`support::node_after_steps`).
pub struct Stepped {
    pub redis: TestRedis,
    clock: PathBuf,
    cluster: bool,
}

impl Drop for Stepped {
    /// The step file goes with its Redis (which has it mapped, so may outlive the name).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.clock);
    }
}

/// The one-primary clusters kept warm for `Stepped` (`Stepped::warmed`).
#[derive(Default)]
struct Warm {
    state: Mutex<WarmState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct WarmState {
    ready: Vec<Stepped>,
    starting: usize,
}

impl Stepped {
    pub fn start() -> Stepped {
        if std::env::var("QG_TEST_TOPOLOGY").as_deref() == Ok("cluster") {
            Stepped::warmed()
        } else {
            Stepped::start_now(false)
        }
    }

    fn start_now(cluster: bool) -> Stepped {
        // Named by a count of this process's clocks: a free port's number, as it was, can be
        // drawn twice by clocks started at once, and one clock's end then took the other's file.
        static CLOCKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CLOCKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let clock = std::env::temp_dir().join(format!("qg-test-clock-{}-{n}", std::process::id()));
        std::fs::write(&clock, 0i64.to_le_bytes()).expect("write the clock's step file");
        let env = format!(
            "QG_CLOCK_STEP_FILE='{}' LD_PRELOAD='{}'",
            clock.display(),
            fast_clock_library().display()
        );
        let redis = if cluster {
            let redis = TestRedis::start_in(
                &env,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "5000",
                    "--cluster-announce-ip",
                    "127.0.0.1",
                ],
            );
            let _: () = redis.query(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !redis.query::<String>(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "the one-node cluster did not become ok");
                std::thread::sleep(Duration::from_millis(20));
            }
            redis
        } else {
            TestRedis::start_in(&env, &[])
        };
        Stepped { redis, clock, cluster }
    }

    /// A one-primary cluster from those kept warm: a primary of a cluster takes writes only 2 s
    /// after it started (Redis waits that long before it calls its state ok), so a few are
    /// started ahead, each on a thread of its own, and a test takes one that is ready.
    fn warmed() -> Stepped {
        const AHEAD: usize = 3;
        static POOL: OnceLock<Warm> = OnceLock::new();
        let warm = POOL.get_or_init(Warm::default);
        let mut state = warm.state.lock().unwrap();
        while state.ready.len() + state.starting < AHEAD + 1 {
            state.starting += 1;
            std::thread::spawn(|| {
                let started = Stepped::start_now(true);
                let warm = POOL.get().unwrap();
                let mut state = warm.state.lock().unwrap();
                state.ready.push(started);
                state.starting -= 1;
                warm.changed.notify_all();
            });
        }
        loop {
            if let Some(stepped) = state.ready.pop() {
                return stepped;
            }
            state = warm.changed.wait(state).unwrap();
        }
    }

    pub fn target(&self) -> Target {
        Target {
            url: self.redis.url(),
            mode: if self.cluster {
                RedisMode::Cluster
            } else {
                RedisMode::Standalone
            },
        }
    }

    /// Moves Redis's time `ms` forward (its key expiries with it).
    pub fn step(&self, ms: i64) {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.clock)
            .expect("open the clock's step file");
        let mut now = [0u8; 8];
        file.read_exact_at(&mut now, 0).expect("read the clock's step");
        file.write_all_at(&(i64::from_le_bytes(now) + ms).to_le_bytes(), 0)
            .expect("write the clock's step");
    }

    /// Redis time, ms.
    pub fn now_ms(&self) -> i64 {
        ms_of_time(self.redis.query(&["TIME"]))
    }
}

/// `fastclock.c` built once per test process, into a directory of its own.
fn fast_clock_library() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("qg-test-fastclock-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create the fast clock's directory");
            let library = dir.join("fastclock.so");
            let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/support/fastclock.c");
            let status = Command::new("cc")
                .args(["-shared", "-fPIC", "-O2", "-o"])
                .arg(&library)
                .arg(source)
                .status()
                .expect("run cc (the C compiler Rust links with) to build the fast clock");
            assert!(status.success(), "cc could not build {source}");
            library
        })
        .clone()
}

/// A 3-master Redis Cluster on loopback.
pub struct TestCluster {
    pub nodes: Vec<TestRedis>,
}

impl TestCluster {
    pub fn start() -> TestCluster {
        TestCluster::start_with(&[])
    }

    /// As `start`, each node given `extra` options too.
    pub fn start_with(extra: &[&str]) -> TestCluster {
        let options = [&["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"], extra].concat();
        TestCluster::create(&options)
    }

    /// Three masters started with these options, holding every slot between them.
    fn create(options: &[&str]) -> TestCluster {
        let nodes: Vec<TestRedis> = (0..3).map(|_| TestRedis::start_with(options)).collect();
        for node in &nodes {
            let _ = std::fs::remove_file(node.dir.join("nodes.conf"));
        }
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &nodes {
            loop {
                let info: String = node.query(&["CLUSTER", "INFO"]);
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline, "the test cluster did not become ok");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        TestCluster { nodes }
    }

    pub fn url(&self) -> String {
        self.nodes.iter().map(TestRedis::url).collect::<Vec<_>>().join(",")
    }

    /// A 3-master cluster whose master i has `replicas[i]` replicas (in `replicas`, by master),
    /// each node failing over after `node_timeout_ms` of silence.
    pub fn with_replicas(node_timeout_ms: u32, replicas: [usize; 3]) -> (TestCluster, Vec<Vec<TestRedis>>) {
        let timeout = node_timeout_ms.to_string();
        let options = ["--cluster-enabled", "yes", "--cluster-node-timeout", timeout.as_str()];
        let cluster = TestCluster::create(&options);
        let mut all = Vec::new();
        for (master, count) in cluster.nodes.iter().zip(replicas) {
            let id: String = master.query(&["CLUSTER", "MYID"]);
            let mine: Vec<TestRedis> = (0..count).map(|_| TestRedis::start_with(&options)).collect();
            for replica in &mine {
                let _ = std::fs::remove_file(replica.dir.join("nodes.conf"));
                let _: String = replica.query(&["CLUSTER", "MEET", "127.0.0.1", &master.port.to_string()]);
                let deadline = Instant::now() + Duration::from_secs(20);
                // It can follow the master once it knows it (gossip takes a beat).
                while replica
                    .query::<String>(&["CLUSTER", "NODES"])
                    .lines()
                    .all(|l| !l.starts_with(&id))
                    || replica.try_query::<()>(&["CLUSTER", "REPLICATE", &id]).is_err()
                {
                    assert!(Instant::now() < deadline, "a replica did not join its master");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            all.push(mine);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for replica in all.iter().flatten() {
            while !replica
                .query::<String>(&["INFO", "replication"])
                .contains("master_link_status:up")
            {
                assert!(Instant::now() < deadline, "a replica did not sync");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        (cluster, all)
    }
}

/// The Redis every test of this binary shares, on the topology `QG_TEST_TOPOLOGY` names;
/// tests keep apart by key prefix (Redis Cluster has only database 0).
pub enum Shared {
    Standalone(TestRedis),
    Cluster(TestCluster),
}

pub fn shared() -> &'static Shared {
    static REDIS: OnceLock<Shared> = OnceLock::new();
    REDIS.get_or_init(|| match std::env::var("QG_TEST_TOPOLOGY").as_deref() {
        Ok("cluster") => Shared::Cluster(TestCluster::start()),
        _ => Shared::Standalone(TestRedis::start()),
    })
}

impl Shared {
    pub fn target(&self) -> Target {
        match self {
            Shared::Standalone(redis) => redis.target(),
            Shared::Cluster(cluster) => Target {
                url: cluster.url(),
                mode: RedisMode::Cluster,
            },
        }
    }

    /// Runs a script with these keys (all of one slot) and arguments, and answers its reply or
    /// its error.
    /// Runs what `contract` declares as the node does: a function of this build's library
    /// (loaded first), or a script with EVAL.
    pub fn run_script(
        &self,
        contract: &Contract,
        keys: &[String],
        args: &[String],
    ) -> ::redis::RedisResult<::redis::Value> {
        match &contract.runs {
            Runs::Function { .. } => {
                let mut cmd = ::redis::cmd("FCALL");
                cmd.arg(function_name(contract.name()))
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args);
                match self.on_conn(|conn| cmd.query(conn)) {
                    // Loaded only when missing, as a node does: a library loaded anew would
                    // hide what one call left in it for the next.
                    Err(err) if err.detail().is_some_and(|d| d.starts_with("Function not found")) => {
                        let mut load = ::redis::cmd("FUNCTION");
                        load.arg("LOAD").arg("REPLACE").arg(&LIBRARY.text);
                        self.on_conn(|conn| load.query::<::redis::Value>(conn))?;
                        self.on_conn(|conn| cmd.query(conn))
                    }
                    answer => answer,
                }
            }
            Runs::Eval(script) => {
                let mut inv = script.prepare_invoke();
                for k in keys {
                    inv.key(k);
                }
                for a in args {
                    inv.arg(a);
                }
                self.on_conn(|conn| inv.invoke(conn))
            }
        }
    }

    /// Runs `f` on a connection of its own (routing commands by their keys on a cluster).
    pub fn on_conn<T>(
        &self,
        f: impl FnOnce(&mut dyn ::redis::ConnectionLike) -> ::redis::RedisResult<T>,
    ) -> ::redis::RedisResult<T> {
        match self {
            Shared::Standalone(redis) => {
                let mut conn = ::redis::Client::open(redis.url())?.get_connection()?;
                f(&mut conn)
            }
            Shared::Cluster(cluster) => {
                let urls: Vec<String> = cluster.nodes.iter().map(TestRedis::url).collect();
                let mut conn = ::redis::cluster::ClusterClient::new(urls)?.get_connection()?;
                f(&mut conn)
            }
        }
    }

    /// Sends one command, routed by its key in a cluster, and reads the reply.
    pub fn query<T: ::redis::FromRedisValue>(&self, args: &[&str]) -> T {
        match self {
            Shared::Standalone(redis) => redis.query(args),
            Shared::Cluster(cluster) => {
                let urls: Vec<String> = cluster.nodes.iter().map(TestRedis::url).collect();
                let client = ::redis::cluster::ClusterClient::new(urls).expect("cluster urls");
                let mut conn = client.get_connection().expect("a connection to the test cluster");
                command(args).query(&mut conn).expect("the test cluster answers")
            }
        }
    }

    /// Every key matching `pattern`, on every node.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let nodes: Vec<&TestRedis> = match self {
            Shared::Standalone(redis) => vec![redis],
            Shared::Cluster(cluster) => cluster.nodes.iter().collect(),
        };
        nodes
            .iter()
            .flat_map(|n| n.query::<Vec<String>>(&["KEYS", pattern]))
            .collect()
    }
}

fn command(args: &[&str]) -> ::redis::Cmd {
    let mut cmd = ::redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_pong(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let url = format!("redis://127.0.0.1:{port}");
    while Instant::now() < deadline {
        let pong = ::redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| ::redis::cmd("PING").query::<String>(&mut c));
        if pong.is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// `n` keys of the slot `tag` names (`{tag}:k1` ...), as a script's KEYS for a user of its own.
pub fn slot_keys(tag: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{{{tag}}}:k{i}")).collect()
}

impl Shared {
    /// Redis time in whole ms, as a script reads it (a request's decision instant).
    pub fn now_ms(&self) -> i64 {
        ms_of_time(self.query(&["TIME"]))
    }
}

/// `TIME`'s answer (seconds, microseconds) in whole ms, as a script reads it.
fn ms_of_time(time: Vec<String>) -> i64 {
    time[0].parse::<i64>().unwrap() * 1000 + time[1].parse::<i64>().unwrap() / 1000
}

/// One command in a server's slow log: its id (in the order run), its arguments and the
/// client that sent it (a script's own commands: "?:0" on Redis, the caller on Valkey).
pub struct Logged {
    pub id: i64,
    pub args: Vec<String>,
    pub client: String,
}

impl TestRedis {
    /// Logs every command from now on, and nothing before, in the slow log (`slowlog`): a
    /// script's own commands too.
    pub fn log_every_command(&self) {
        let _: String = self.query(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        let _: String = self.query(&["CONFIG", "SET", "slowlog-max-len", "100000"]);
        let _: String = self.query(&["SLOWLOG", "RESET"]);
    }

    /// The server's slow log (`SLOWLOG GET -1`), oldest first: every command since
    /// `log_every_command`.
    pub fn slowlog(&self) -> Vec<Logged> {
        let text = |value: Option<&::redis::Value>| match value {
            Some(::redis::Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        let mut logged: Vec<Logged> = self
            .query::<Vec<::redis::Value>>(&["SLOWLOG", "GET", "-1"])
            .iter()
            .filter_map(|entry| {
                let ::redis::Value::Array(fields) = entry else {
                    return None;
                };
                let Some(::redis::Value::Int(id)) = fields.first() else {
                    return None;
                };
                let Some(::redis::Value::Array(args)) = fields.get(3) else {
                    return None;
                };
                Some(Logged {
                    id: *id,
                    args: args.iter().map(|a| text(Some(a))).collect(),
                    client: text(fields.get(4)),
                })
            })
            .collect();
        logged.sort_by_key(|l| l.id);
        logged
    }

    /// Each command's calls since the server's stats were reset (`INFO commandstats`), by
    /// name, sorted.
    pub fn command_calls(&self) -> Vec<(String, u64)> {
        let stats: String = self.query(&["INFO", "commandstats"]);
        let mut calls: Vec<(String, u64)> = stats
            .lines()
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(":calls=")?;
                Some((name.to_owned(), rest.split(',').next()?.parse().ok()?))
            })
            .collect();
        calls.sort();
        calls
    }
}
