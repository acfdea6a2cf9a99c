//! `Application::build`: connect to Redis, run the first-start bootstrap, bind, and wire the routes.
//! Tests build it on port 0, exactly as `main` does on the configured address.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::api::{self, request_id, AppState};
use crate::bootstrap::{bootstrap, FirstStart};
use crate::config::Config;
use crate::store::{QuotaStore, StoreConfig, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach redis at start: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
}

pub struct Application {
    server: Server,
    port: u16,
    /// Secrets this start created, for `main` to print once.
    pub first_start: FirstStart,
}

impl Application {
    /// Connects to `redis_url` (the configured one, or the managed server's).
    pub async fn build(config: &Config, redis_url: &str) -> Result<Application, StartupError> {
        let store = QuotaStore::new(&StoreConfig {
            redis_url: redis_url.to_string(),
            key_prefix: config.key_prefix.clone(),
            command_timeout: config.command_timeout(),
            retention: config.retention(),
        })?;
        store.sync_clock().await?;
        let (root_digest, first_start) = bootstrap(&store, config.root_token.as_deref()).await?;
        let listener =
            TcpListener::bind(config.listen).map_err(|e| StartupError::Bind(config.listen.to_string(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(config.listen.to_string(), e))?
            .port();
        // Plans, settings and keys are cached per node; this keeps them and the clock fresh.
        tokio::spawn(store.clone().refresh_forever());
        let signing_key = store.signing_key().await?;
        let state = web::Data::new(AppState {
            store,
            root_digest,
            signing_key,
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(request_id::middleware))
                .configure(|cfg| {
                    api::routes(cfg);
                })
        })
        .listen(listener)
        .map_err(|e| StartupError::Bind(config.listen.to_string(), e))?;
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        Ok(Application {
            server: server.run(),
            port,
            first_start,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (SIGINT or SIGTERM stop it gracefully).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
