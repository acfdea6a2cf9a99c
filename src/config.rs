//! Configuration: `QG_*` environment variables, each also a command-line flag, parsed once.
//! Secrets are redacted from `Debug` so a logged config never leaks them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::store::RedisMode;

#[derive(Clone, Args)]
pub struct Config {
    /// Address to serve HTTP on.
    #[arg(long, env = "QG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Redis to keep state in (redis://, rediss://, redis+unix://); unset: start a managed redis-server.
    #[arg(long, env = "QG_REDIS_URL")]
    pub redis_url: Option<String>,

    /// How to reach Redis: one server, or a Redis Cluster (QG_REDIS_URL then lists seed nodes, comma-separated).
    #[arg(long, env = "QG_REDIS_MODE", value_parser = redis_modes(), default_value = "standalone")]
    pub redis_mode: RedisMode,

    /// In sentinel mode: the name of the primary the sentinels watch.
    #[arg(long, env = "QG_SENTINEL_MASTER", default_value = "mymaster")]
    pub sentinel_master: String,

    /// After each write, wait until this many replicas of the shard that took it have it; a
    /// write they do not confirm in time is answered 503, so a failover never loses an
    /// acknowledged write (0: do not wait).
    #[arg(
        long = "redis-wait-replicas",
        alias = "wait-replicas",
        env = "QG_REDIS_WAIT_REPLICAS",
        default_value_t = 0
    )]
    pub wait_replicas: u32,

    /// Root token for managing projects; unset: one is generated and printed once at first start.
    #[arg(long, env = "QG_ROOT_TOKEN", hide_env_values = true)]
    pub root_token: Option<String>,

    /// Data directory of the managed redis-server.
    #[arg(long, env = "QG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// How long ended reservations are kept (seconds).
    #[arg(long, env = "QG_RETENTION_SECONDS", default_value_t = 86_400)]
    pub retention_seconds: u64,

    /// How long each user's usage ledger keeps its entries (days).
    #[arg(long, env = "QG_LEDGER_RETENTION_DAYS", default_value_t = 35)]
    pub ledger_retention_days: u64,

    /// Longest Redis may answer nothing before a call answers 503; a call queued behind the
    /// node's own calls while Redis answers waits up to 20 times this (milliseconds).
    #[arg(long, env = "QG_COMMAND_TIMEOUT_MS", default_value_t = 250)]
    pub command_timeout_ms: u64,

    /// Prefix of every Redis key, so several deployments can share one Redis.
    #[arg(long, env = "QG_KEY_PREFIX", default_value = "qg")]
    pub key_prefix: String,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "QG_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// On SIGTERM, how long /readyz answers 503 while the node still serves, before it stops
    /// taking requests and lets those in flight finish, so a load balancer can move traffic
    /// away first (milliseconds; 0 stops at once).
    #[arg(long, env = "QG_DRAIN_MS", default_value_t = 5_000)]
    pub drain_ms: u64,

    /// Deliver webhooks to plain http URLs too (https only by default).
    #[arg(long, env = "QG_WEBHOOK_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_http: bool,

    /// Deliver webhooks to private, loopback and link-local addresses too (refused by default,
    /// after DNS resolution).
    #[arg(long, env = "QG_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// Multiplies the webhook retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), the
    /// 5 days after which a failing endpoint is disabled, and the outbox sweeper's pace.
    #[arg(long, env = "QG_WEBHOOK_RETRY_SCALE", default_value_t = 1.0)]
    pub webhook_retry_scale: f64,

    /// Longest wait for a webhook receiver's answer (milliseconds).
    #[arg(long, env = "QG_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,

    /// The upstreams the proxy forwards to (a JSON file); unset: no proxy routes.
    #[arg(long, env = "QG_UPSTREAMS")]
    pub upstreams: Option<PathBuf>,

    /// A model catalog file to price by instead of the one built in (`catalog/models.json`'s
    /// shape); checked at start, and a bad entry stops the node naming it.
    #[arg(long, env = "QG_CATALOG")]
    pub catalog: Option<PathBuf>,

    /// Proxied streams this node keeps reading after their caller left, to commit the usage
    /// the provider reports, at most at once (a quarter of them for one project, a sixteenth
    /// for one user); past it a stream is cut and charged its input and the output streamed.
    #[arg(long, env = "QG_PROXY_DRAINS", default_value_t = 64)]
    pub proxy_drains: usize,

    /// How long one such drain may read (seconds).
    #[arg(long, env = "QG_PROXY_DRAIN_SECONDS", default_value_t = 120)]
    pub proxy_drain_seconds: u64,

    /// The largest request body the proxy reads whole to count it (bytes).
    #[arg(long, env = "QG_PROXY_MAX_BODY_BYTES", default_value_t = 32 << 20)]
    pub proxy_max_body_bytes: usize,

    /// The largest body the proxy streams through unread (an audio file to transcribe, a batch
    /// file, a body an upstream's `passthrough` lets through), in bytes.
    #[arg(long, env = "QG_PROXY_MAX_UPLOAD_BYTES", default_value_t = 1 << 30)]
    pub proxy_max_upload_bytes: u64,

    /// How long a proxied call's body may go quiet before the gateway has read what its hold
    /// needs (seconds): past it the call is refused with 408, nothing held or forwarded.
    #[arg(long, env = "QG_PROXY_READ_IDLE_SECONDS", default_value_t = 30)]
    pub proxy_read_idle_seconds: u64,

    /// The bytes of proxied bodies read before their hold one node keeps at once (at least four
    /// times `QG_PROXY_MAX_BODY_BYTES`); one user may take a quarter of it and one project half,
    /// and past any of them a call is refused with 503 and Retry-After.
    #[arg(long, env = "QG_PROXY_READ_BUDGET_BYTES", default_value_t = 256 << 20)]
    pub proxy_read_budget_bytes: usize,

    /// An async job's hold (a batch's, a video's) outlives its window by this long, in seconds,
    /// so the job is settled from the provider's numbers before its hold would expire.
    #[arg(long, env = "QG_JOB_MARGIN_SECONDS", default_value_t = 3600)]
    pub job_margin_seconds: u64,

    /// How long a video job may take, in seconds: its hold lives this long and the margin.
    #[arg(long, env = "QG_JOB_VIDEO_WINDOW_SECONDS", default_value_t = 3600)]
    pub job_video_window_seconds: u64,

    /// The sweeper first polls an open job this long before its hold expires, in seconds, then
    /// every third of it, and last at the hold's end (the hold extended to outlive that poll):
    /// a job still running then is charged its hold.
    #[arg(long, env = "QG_JOB_SWEEP_LEAD_SECONDS", default_value_t = 900)]
    pub job_sweep_lead_seconds: u64,

    /// How often the sweeper looks for jobs due a poll, in milliseconds.
    #[arg(long, env = "QG_JOB_SWEEP_MS", default_value_t = 10_000)]
    pub job_sweep_ms: u64,

    /// How long the sweeper waits for a provider's answer to one poll of a job (or one look
    /// for a job its node never recorded), in milliseconds; past it, the poll is tried at the
    /// job's next turn. Polls run at once, a few per upstream, so a provider that hangs
    /// delays no other's.
    #[arg(long, env = "QG_JOB_POLL_TIMEOUT_MS", default_value_t = 30_000)]
    pub job_poll_timeout_ms: u64,

    /// Members of a team decide on leased slices of its budget in their own slot, instead of a
    /// script at the team's slot for every call; the team's usage reads its slices (`leased`
    /// apart), and its ledger lists a member's calls just after them. `false` decides every
    /// call at every level, one script per level
    #[arg(long, env = "QG_LEASES", default_value_t = true, action = clap::ArgAction::Set)]
    pub leases: bool,

    /// How long a leased slice takes new holds near its team's limit, in seconds (and the unit
    /// of its longer life far from it: QG_SLICE_MAX_SECONDS): capacity a member does not use
    /// goes back to its team at most this long (and the sweep interval) after it was leased
    /// there. A busy member renews once per life, and a renewal costs its team's slot one
    /// script and Redis about seven reserves' work: a longer life renews less often, and keeps
    /// unspent capacity from the team for longer.
    #[arg(long, env = "QG_SLICE_SECONDS", default_value_t = 10)]
    pub slice_seconds: u64,

    /// The longest a leased slice takes new holds, in seconds, while its team is far from its
    /// limit: a slice lives one QG_SLICE_SECONDS per twice the headroom the team keeps unleased
    /// (5 % of its quota) that the team has free, up to this, and is sized for that life. Idle
    /// capacity in a slice can deny another member only near the limit, where slices live
    /// QG_SLICE_SECONDS; far from it a longer life saves renewals. At most QG_SLICE_SECONDS
    /// keeps every slice at that life
    #[arg(long, env = "QG_SLICE_MAX_SECONDS", default_value_t = 60)]
    pub slice_max_seconds: u64,

    /// Knobs only the crate's own tests turn.
    #[cfg(feature = "test-hooks")]
    #[command(flatten)]
    pub test: TestHooks,
}

/// Knobs only the test suite turns, compiled only with the `test-hooks` feature (which the
/// crate's own tests enable): no other build reads them, or can be told to.
#[cfg(feature = "test-hooks")]
#[derive(clap::Args, Debug, Clone)]
pub struct TestHooks {
    /// A proxied call's hold lives this long between extensions (milliseconds).
    #[arg(
        long = "test-proxy-hold-ttl-ms",
        env = "QG_TEST_PROXY_HOLD_TTL_MS",
        default_value_t = crate::proxy::HOLD_TTL_MS,
        hide = true
    )]
    pub proxy_hold_ttl_ms: i64,
    /// Never move fired alerts after a script, as though the node died there.
    #[arg(long = "test-skip-alert-moves", env = "QG_TEST_SKIP_ALERT_MOVES", default_value_t = false, hide = true, action = clap::ArgAction::Set)]
    pub skip_alert_moves: bool,
    /// Wait this long before each parent's level of a call, and between a parent change's
    /// check and its write (milliseconds), so a test can stop the node between levels or race
    /// two changes.
    #[arg(
        long = "test-level-pause-ms",
        env = "QG_TEST_LEVEL_PAUSE_MS",
        default_value_t = 0,
        hide = true
    )]
    pub level_pause_ms: u64,
    /// Pretend the machine's clock is off by this much (milliseconds).
    #[arg(
        long = "test-clock-skew-ms",
        env = "QG_TEST_CLOCK_SKEW_MS",
        default_value_t = 0,
        hide = true
    )]
    pub clock_skew_ms: i64,
    /// Export traces here (an OTLP/HTTP traces endpoint), as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    /// would, for this node alone.
    #[arg(long = "test-traces-endpoint", env = "QG_TEST_TRACES_ENDPOINT", hide = true)]
    pub traces_endpoint: Option<String>,
    /// Its queue of finished spans, as OTEL_BSP_MAX_QUEUE_SIZE.
    #[arg(
        long = "test-traces-queue",
        env = "QG_TEST_TRACES_QUEUE",
        default_value_t = 2048,
        hide = true
    )]
    pub traces_queue: usize,
    /// Its batches' delay (ms), as OTEL_BSP_SCHEDULE_DELAY.
    #[arg(
        long = "test-traces-delay-ms",
        env = "QG_TEST_TRACES_DELAY_MS",
        default_value_t = 5000,
        hide = true
    )]
    pub traces_delay_ms: u64,
}

#[cfg(feature = "test-hooks")]
impl Default for TestHooks {
    fn default() -> TestHooks {
        let off = Hooks::PRODUCTION;
        TestHooks {
            proxy_hold_ttl_ms: off.proxy_hold_ttl_ms,
            skip_alert_moves: false,
            level_pause_ms: 0,
            clock_skew_ms: off.clock_skew_ms,
            traces_endpoint: None,
            traces_queue: 2048,
            traces_delay_ms: 5000,
        }
    }
}

/// What the test hooks say, or what every other build does.
#[derive(Debug, Clone, Copy)]
pub struct Hooks {
    pub proxy_hold_ttl_ms: i64,
    pub level_pause: std::time::Duration,
    pub clock_skew_ms: i64,
}

impl Hooks {
    /// What every build without the hooks does.
    pub const PRODUCTION: Hooks = Hooks {
        proxy_hold_ttl_ms: crate::proxy::HOLD_TTL_MS,
        level_pause: std::time::Duration::ZERO,
        clock_skew_ms: 0,
    };
}

impl Config {
    /// The test hooks' values; without the `test-hooks` feature, production's.
    pub fn hooks(&self) -> Hooks {
        #[cfg(feature = "test-hooks")]
        let hooks = Hooks {
            proxy_hold_ttl_ms: self.test.proxy_hold_ttl_ms,
            level_pause: std::time::Duration::from_millis(self.test.level_pause_ms),
            clock_skew_ms: self.test.clock_skew_ms,
        };
        #[cfg(not(feature = "test-hooks"))]
        let hooks = Hooks::PRODUCTION;
        hooks
    }

    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }

    pub fn webhooks(&self) -> crate::webhooks::WebhookSettings {
        crate::webhooks::WebhookSettings {
            allow_http: self.webhook_allow_http,
            allow_private: self.webhook_allow_private,
            retry_scale: self.webhook_retry_scale,
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            #[cfg(feature = "test-hooks")]
            test_skip_moves: self.test.skip_alert_moves,
        }
    }

    pub fn proxy(&self) -> crate::proxy::ProxySettings {
        crate::proxy::ProxySettings {
            drains: self.proxy_drains,
            drain_for: Duration::from_secs(self.proxy_drain_seconds),
            max_body_bytes: self.proxy_max_body_bytes,
            max_upload_bytes: self.proxy_max_upload_bytes,
            hold_ttl_ms: self.hooks().proxy_hold_ttl_ms.max(1_000),
            read_idle: Duration::from_secs(self.proxy_read_idle_seconds.max(1)),
            // A user's share (a quarter) always holds the largest body read whole.
            read_budget_bytes: self
                .proxy_read_budget_bytes
                .max(self.proxy_max_body_bytes.saturating_mul(4)),
            jobs: crate::proxy::JobSettings {
                margin_ms: (self.job_margin_seconds as i64).saturating_mul(1_000),
                video_window_ms: (self.job_video_window_seconds.max(1) as i64).saturating_mul(1_000),
                lead_ms: (self.job_sweep_lead_seconds as i64).saturating_mul(1_000),
                sweep_every: Duration::from_millis(self.job_sweep_ms.max(100)),
                poll_timeout: Duration::from_millis(self.job_poll_timeout_ms.max(100)),
            },
        }
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_seconds)
    }

    pub fn ledger_retention(&self) -> Duration {
        Duration::from_secs(self.ledger_retention_days.saturating_mul(86_400))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("redis_mode", &self.redis_mode)
            .field("redis_url", &self.redis_url.as_ref().map(|url| redact_url(url)))
            .field("sentinel_master", &self.sentinel_master)
            .field("wait_replicas", &self.wait_replicas)
            .field("root_token", &self.root_token.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("retention_seconds", &self.retention_seconds)
            .field("ledger_retention_days", &self.ledger_retention_days)
            .field("command_timeout_ms", &self.command_timeout_ms)
            .field("key_prefix", &self.key_prefix)
            .field("workers", &self.workers)
            .field("drain_ms", &self.drain_ms)
            .field("webhook_allow_http", &self.webhook_allow_http)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("webhook_retry_scale", &self.webhook_retry_scale)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("upstreams", &self.upstreams)
            .field("catalog", &self.catalog)
            .field("proxy_drains", &self.proxy_drains)
            .field("proxy_drain_seconds", &self.proxy_drain_seconds)
            .field("proxy_max_body_bytes", &self.proxy_max_body_bytes)
            .field("proxy_max_upload_bytes", &self.proxy_max_upload_bytes)
            .field("proxy_read_idle_seconds", &self.proxy_read_idle_seconds)
            .field("proxy_read_budget_bytes", &self.proxy_read_budget_bytes)
            .field("job_margin_seconds", &self.job_margin_seconds)
            .field("job_video_window_seconds", &self.job_video_window_seconds)
            .field("job_sweep_lead_seconds", &self.job_sweep_lead_seconds)
            .field("job_sweep_ms", &self.job_sweep_ms)
            .field("job_poll_timeout_ms", &self.job_poll_timeout_ms)
            .finish()
    }
}

/// `QG_REDIS_MODE`: one of the store's modes by name, each listed in `--help`.
fn redis_modes() -> impl TypedValueParser<Value = RedisMode> {
    let listed = RedisMode::ALL.map(|mode| match mode {
        RedisMode::Sentinel => {
            PossibleValue::new(mode.as_str()).help("The primary Sentinel names; `QG_REDIS_URL` lists the sentinels")
        }
        RedisMode::Standalone | RedisMode::Cluster => PossibleValue::new(mode.as_str()),
    });
    PossibleValuesParser::new(listed).try_map(|name| name.parse::<RedisMode>())
}

/// Hides the password of `redis://user:password@host` (of each seed in a list).
fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|one| match (one.find("://"), one.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}://<redacted>@{}", &one[..scheme_end], &one[at + 1..])
            }
            _ => one.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        assert_eq!(redact_url("redis://u:secret@h:6379"), "redis://<redacted>@h:6379");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
    }
}
