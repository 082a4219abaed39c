//! The detainee registry service: persons held by either party, their names in every script,
//! status history with sources, reservations for exchanges, and the registry's event stream.
//!
//! `Application::build` binds the listener and connects the database; `run_until` serves until
//! the given future resolves. Tests build it on port 0 and read the port back.

#![forbid(unsafe_code)]

pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod matching;
pub mod store;

use std::{future::Future, net::SocketAddr};

use homeward_kit::{
    auth::{Authenticator, TokenKeys},
    db::{Db, Migrations},
    metrics::{Exporter, Metrics},
    outbox::EventFeed,
    server,
};
use homeward_proto::registry::v1::registry_service_server::{RegistryServiceServer, SERVICE_NAME};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{service::Routes, service::interceptor::InterceptedService};

pub use config::RegistryConfig;

static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("authentication: {0}")]
    Auth(#[from] homeward_kit::auth::AuthError),
    #[error("database: {0}")]
    Database(#[from] homeward_kit::StoreError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("server: {0}")]
    Serve(#[from] server::ServeError),
}

/// The registry's gRPC routes (wrapped in authentication) over a connected database, once the
/// identity index has been built from it (see `matching`).
pub async fn routes(
    db: Db,
    keys: TokenKeys,
    stop: CancellationToken,
    max_message_bytes: usize,
) -> Result<(Routes, EventFeed), StartError> {
    let feed = EventFeed::start(db.clone(), stop.clone());
    let access = homeward_kit::access::AccessLog::start(db.clone(), feed.clone(), stop.clone());
    let store = store::for_db(db);
    let matcher = matching::Matcher::new();
    matcher.start(&*store, &feed, stop).await?;
    let registry = grpc::Registry::new(store, feed.clone(), matcher, access);
    let service = RegistryServiceServer::new(registry)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes.max(16 * 1024 * 1024));
    Ok((
        Routes::new(InterceptedService::new(service, Authenticator::new(keys))),
        feed,
    ))
}

pub const SERVICE_NAMES: &[&str] = &[SERVICE_NAME];

/// The `service` label of this service's metrics.
const METRICS_NAME: &str = "registry";

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    config: RegistryConfig,
    db: Db,
    keys: TokenKeys,
    metrics: Metrics,
    exporter: Option<Exporter>,
}

impl Application {
    pub async fn build(config: RegistryConfig) -> Result<Self, StartError> {
        Self::build_with_metrics(config, Metrics::new()).await
    }

    /// Builds a service that records its metrics into `metrics`, which the caller may share with
    /// other services of the process and serve itself (the all-in-one binary does).
    /// `metrics.listen`, when set, still starts a listener of this service's own.
    pub async fn build_with_metrics(
        config: RegistryConfig,
        metrics: Metrics,
    ) -> Result<Self, StartError> {
        let keys = TokenKeys::from_config(&config.auth)?;
        if keys.uses_development_key() {
            tracing::warn!("development signing key in use: never run real data this way");
        }
        let db = Db::connect(&config.database, &MIGRATIONS).await?;
        // The name-class table is built on first use; build it now, not in the first search.
        tokio::task::spawn_blocking(homeward_identity::class_count);
        let listener = TcpListener::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        let exporter = Exporter::from_config(&config.metrics).await?;
        Ok(Self {
            listener,
            addr,
            config,
            db,
            keys,
            metrics,
            exporter,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /metrics` is served, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.exporter.as_ref().map(Exporter::local_addr)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` resolves, then drains (see `homeward_kit::server`).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let stop = CancellationToken::new();
        // Background work stops with the server, and also when starting it fails.
        let _stop = stop.clone().drop_guard();
        let metrics = self.metrics.service(METRICS_NAME);
        let exporting = CancellationToken::new();
        let _exporting = exporting.clone().drop_guard();
        if let Some(exporter) = self.exporter {
            exporter.spawn(self.metrics.clone(), exporting);
        }
        metrics.spawn_sampler(
            self.db.clone(),
            self.config.metrics.sample_interval(),
            stop.clone(),
        );
        let (routes, _feed) = routes(
            self.db.clone(),
            self.keys,
            stop.clone(),
            self.config.server.max_message_bytes,
        )
        .await?;
        tracing::info!(addr = %self.addr, backend = self.db.backend(), "registry listening");
        server::serve(
            self.listener,
            routes,
            SERVICE_NAMES,
            &self.config.server,
            &metrics,
            shutdown,
            stop,
        )
        .await?;
        self.db.close().await;
        Ok(())
    }
}
