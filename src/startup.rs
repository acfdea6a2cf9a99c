//! `Application::build`: bind, wire the routes, and start the node's background work. A node
//! starts without Redis: it is not ready (and answers 503) until the first-start bootstrap has
//! run against Redis, which it retries until Redis appears.
//! Tests build it on port 0, exactly as `main` does on the configured address.

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_server::ServerBuilder;
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};
use tokio::sync::oneshot;

use crate::api::connection::Connection;
use crate::api::{self, request_id};
use crate::config::Config;
use crate::dashboard;
use crate::gateway::{Catalog, FirstStart, Gateway};
use crate::http::AppState;
use crate::metrics::traces::{TraceSettings, Traces};
use crate::proxy::upstreams::{self, UpstreamsError};
use crate::proxy::Door;
use crate::store::{StoreConfig, StoreError};

/// How long to wait between attempts to reach Redis at start.
const START_RETRY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot configure redis: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("QG_UPSTREAMS: {0}")]
    Upstreams(#[from] UpstreamsError),
    #[error("QG_CATALOG {path}: {detail}")]
    Catalog { path: String, detail: String },
    #[error("{0}")]
    Traces(String),
}

/// What the node's traces export to (`OTEL_*`), if anything.
fn trace_settings(config: &Config) -> Result<Option<TraceSettings>, StartupError> {
    #[cfg(feature = "test-hooks")]
    if let Some(endpoint) = &config.test.traces_endpoint {
        return Ok(Some(TraceSettings {
            endpoint: endpoint.clone(),
            queue: config.test.traces_queue.max(1),
            delay: Duration::from_millis(config.test.traces_delay_ms.max(10)),
        }));
    }
    #[cfg(not(feature = "test-hooks"))]
    let _ = config;
    TraceSettings::from_env(|name| std::env::var(name).ok()).map_err(StartupError::Traces)
}

/// The catalog a node prices by: the file `QG_CATALOG` names, checked whole, else the one
/// built in.
fn catalog(config: &Config) -> Result<Catalog, StartupError> {
    let Some(path) = &config.catalog else {
        let built = Catalog::built_in();
        tracing::info!(version = built.version(), "catalog: the one built in");
        return Ok(built);
    };
    let refused = |detail: String| StartupError::Catalog {
        path: path.display().to_string(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| refused(format!("cannot read it: {e}")))?;
    let loaded = Catalog::parse(&text).map_err(|e| refused(e.to_string()))?;
    tracing::info!(
        version = loaded.version(),
        models = loaded.doc.models.len(),
        "catalog: loaded"
    );
    Ok(loaded)
}

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
    started: Option<oneshot::Receiver<FirstStart>>,
    /// Why the server Redis answered from cannot be used (it lacks scripting or functions):
    /// the node then stops, rather than fail at its first decision.
    refused: oneshot::Receiver<String>,
    drain: Duration,
}

impl Application {
    /// Binds and starts the bootstrap in the background; connects to `redis_url` (the
    /// configured one, or the managed server's).
    pub async fn build(config: &Config, redis_url: &str) -> Result<Application, StartupError> {
        let gateway = gateway(config, redis_url)?;
        let proxy = proxy(config, &gateway)?;
        let state = web::Data::new(AppState::new(gateway));
        if let Some(proxy) = &proxy {
            crate::proxy::start_background(proxy.clone());
        }
        let (sender, started) = oneshot::channel();
        let (refuse, refused) = oneshot::channel();
        tokio::spawn(start(state.clone(), config.root_token.clone(), sender, refuse));

        let bind_error = |e| StartupError::Bind(config.listen.to_string(), e);
        let listener = TcpListener::bind(config.listen).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        Ok(Application {
            server: serve(config, listener, state.clone(), proxy)?,
            port,
            state,
            started: Some(started),
            refused,
            drain: Duration::from_millis(config.drain_ms),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Resolves once the node has reached Redis and bootstrapped, with what the first start
    /// created (None when asked twice). It can be awaited while the server runs.
    pub fn started(&mut self) -> impl std::future::Future<Output = Option<FirstStart>> + use<> {
        let receiver = self.started.take();
        async move { receiver?.await.ok() }
    }

    /// Serves until stopped from outside (tests drop the runtime).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        serve_unless_refused(self.server, self.refused, handle).await
    }

    /// Serves until SIGTERM or SIGINT, then drains: `/readyz` answers 503 for the drain time,
    /// requests in flight finish, and the server stops.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(stop_on_signal(handle.clone(), self.state.clone(), self.drain));
        serve_unless_refused(self.server, self.refused, handle).await
    }
}

/// The node's gateway over the Redis at `redis_url`, with its webhooks, leases, catalog,
/// traces and root token as configured.
fn gateway(config: &Config, redis_url: &str) -> Result<Gateway, StartupError> {
    let gateway = Gateway::new(&StoreConfig {
        redis_mode: config.redis_mode,
        redis_url: redis_url.to_string(),
        key_prefix: config.key_prefix.clone(),
        command_timeout: config.command_timeout(),
        retention: config.retention(),
        ledger_retention: config.ledger_retention(),
        clock_skew_ms: config.hooks().clock_skew_ms,
        sentinel_master: config.sentinel_master.clone(),
        wait_replicas: config.wait_replicas,
    })?
    .with_webhooks(config.webhooks())
    .with_level_pause(config.hooks().level_pause)
    .with_leases(crate::gateway::LeaseSettings {
        enabled: config.leases,
        slice_life: Duration::from_secs(config.slice_seconds.max(1)),
        longest_life: Duration::from_secs(config.slice_max_seconds.max(config.slice_seconds).max(1)),
    })
    .with_catalog(catalog(config)?);
    let traces = match trace_settings(config)? {
        Some(settings) => {
            tracing::info!(endpoint = settings.endpoint, "traces: exported over OTLP/HTTP");
            Some(Traces::start(&settings, gateway.node().metrics().clone()).map_err(StartupError::Traces)?)
        }
        None => None,
    };
    let gateway = gateway.with_traces(traces);
    if let Some(token) = &config.root_token {
        gateway.node().set_root_token(token);
    }
    Ok(gateway)
}

/// The proxy over the upstreams file `QG_UPSTREAMS` names; None (no `/proxy` routes) without one.
fn proxy(config: &Config, gateway: &Gateway) -> Result<Option<web::Data<Door>>, StartupError> {
    let Some(path) = &config.upstreams else {
        tracing::info!("proxy: off (QG_UPSTREAMS names no upstreams file): no /proxy routes");
        return Ok(None);
    };
    let loaded = upstreams::load(path, |var| std::env::var(var).ok())?;
    let mut names: Vec<&str> = loaded.by_name.keys().map(String::as_str).collect();
    names.sort_unstable();
    tracing::info!(upstreams = names.join(", "), "proxy: serving /proxy/{{upstream}}/");
    Ok(Some(web::Data::new(Door::new(
        loaded,
        &config.proxy(),
        gateway.clone(),
    ))))
}

/// Starts serving the routes (the proxy's, the API's, the dashboard's) on `listener`.
fn serve(
    config: &Config,
    listener: TcpListener,
    state: web::Data<AppState>,
    proxy: Option<web::Data<Door>>,
) -> Result<Server, StartupError> {
    let bind_error = |e| StartupError::Bind(config.listen.to_string(), e);
    let mut builder = ServerBuilder::default()
        // Signals are handled by `run_until_signalled`, which drains first.
        .disable_signals();
    if config.workers > 0 {
        builder = builder.workers(config.workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder
        .listen("quota-gateway", listener, move || {
            let shutdown = shutdown.clone();
            let app = App::new()
                .app_data(state.clone())
                // Request ids see every answer (and paths are checked there, before routing).
                .wrap(from_fn(request_id::middleware))
                .configure(|cfg| {
                    // A request walks the routes in this order: the proxy's scope first (a
                    // prefix compared, where matching the API's routes cost a proxied call
                    // about 57,000 instructions), then the API, so the data plane never pays
                    // for matching the dashboard's paths.
                    if let Some(proxy) = &proxy {
                        crate::proxy::routes(cfg, proxy.clone());
                    }
                    api::routes(cfg);
                    dashboard::routes(cfg);
                });
            // What `HttpServer` builds, with the socket wrapped (see `api::connection`):
            // idle keep-alive connections close on shutdown, a client gets 1 s to go.
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .client_disconnect_timeout(Duration::from_secs(1))
                .finish(map_config(app, |_| AppConfig::default()));
            fn_service(|io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                // A relayed stream writes each event as it comes: without this, the small
                // write after the head waits for the client's delayed ACK (40 ms).
                let _ = io.set_nodelay(true);
                Ok((Connection::new(io), Protocol::Http1, peer))
            })
            .and_then(http)
        })
        .map_err(bind_error)?;
    Ok(builder.run())
}

/// Serves until the server stops, or stops it with an error saying why the Redis it reached
/// cannot be used.
async fn serve_unless_refused(
    mut server: Server,
    refused: oneshot::Receiver<String>,
    handle: ServerHandle,
) -> std::io::Result<()> {
    tokio::select! {
        served = &mut server => served,
        // (A start that went well drops its sender: this branch is then off.)
        Ok(why) = refused => {
            // (The stop completes as the server, polled beside it, winds down.)
            let _ = tokio::join!(handle.stop(false), server);
            Err(std::io::Error::other(why))
        }
    }
}

async fn stop_on_signal(handle: ServerHandle, state: web::Data<AppState>, drain: Duration) {
    wait_for_signal().await;
    tracing::info!(drain_ms = drain.as_millis() as u64, "stopping: draining first");
    state.draining.store(true, Ordering::SeqCst);
    tokio::time::sleep(drain).await;
    handle.stop(true).await;
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers there is nothing to wait for but Ctrl-C.
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Reaches Redis (retrying until it answers), runs the first start, then keeps the node's
/// caches and clock fresh.
async fn start(
    state: web::Data<AppState>,
    configured_root: Option<String>,
    started: oneshot::Sender<FirstStart>,
    refuse: oneshot::Sender<String>,
) {
    let mut attempts: u32 = 0;
    let first = loop {
        match state.gateway.node().server_lacks().await {
            Ok(missing) if !missing.is_empty() => {
                let why = format!(
                    "the Redis server lacks {}, which every decision needs: run Redis 7 or later, or Valkey 8 or later, with its Lua engine",
                    missing.join(" and ")
                );
                tracing::error!("{why}");
                let _ = refuse.send(why);
                return;
            }
            // Everything there, or Redis not reached yet: the start below says which (and
            // both are asked again until it answers).
            Ok(_) | Err(_) => {}
        }
        match state.gateway.accounts().start(configured_root.as_deref()).await {
            Ok(first) => break first,
            Err(err) => {
                if attempts.is_multiple_of(20) {
                    tracing::warn!(%err, "redis is not reachable yet; not ready");
                }
                attempts += 1;
                tokio::time::sleep(START_RETRY).await;
            }
        }
    };
    tracing::info!("connected to redis; ready");
    let _ = started.send(first);
    tokio::spawn(state.gateway.workers().clone().deliver_forever());
    state.gateway.node().clone().refresh_forever().await;
}
