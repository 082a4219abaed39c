//! The exchange coordination service: agreements between two parties, exchange phases and
//! their state machine, each side's lists and their versions, reconciliation against the
//! registry, consent, hold-backs, the handover, and the saga that reserves, releases and
//! repatriates people in the registry.
//!
//! `Application::build` binds the listener and connects the database; `run_until` serves until
//! the given future resolves. Tests build it on port 0 and read the port back. The registry is
//! reached only through its gRPC contract (`registry`).

#![forbid(unsafe_code)]

pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod handover;
pub mod model;
pub mod reconcile;
pub mod registry;
pub mod saga;
pub mod store;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use homeward_kit::{
    auth::{Authenticator, TokenKeys},
    db::{Db, Migrations},
    metrics::{Exporter, Metrics},
    outbox::EventFeed,
    server,
};
use homeward_proto::exchange::v1::exchange_service_server::{ExchangeServiceServer, SERVICE_NAME};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{service::Routes, service::interceptor::InterceptedService};

pub use config::ExchangeConfig;

static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

pub const SERVICE_NAMES: &[&str] = &[SERVICE_NAME];

/// The `service` label of this service's metrics.
const METRICS_NAME: &str = "exchange";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("authentication: {0}")]
    Auth(#[from] homeward_kit::auth::AuthError),
    #[error("database: {0}")]
    Database(#[from] homeward_kit::StoreError),
    #[error("registry client: {0}")]
    Registry(#[from] error::ExchangeError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("server: {0}")]
    Serve(#[from] server::ServeError),
}

/// The exchange service's gRPC routes (wrapped in authentication) over a connected database,
/// with the resumer of pending registry steps running until `stop`.
pub fn routes(
    db: Db,
    keys: TokenKeys,
    registry: &config::RegistryClientConfig,
    stop: CancellationToken,
    max_message_bytes: usize,
) -> Result<(Routes, EventFeed), StartError> {
    let feed = EventFeed::start(db.clone(), stop.clone());
    let client = registry::RegistryClient::new(registry, keys.clone())?;
    let exchange = Arc::new(grpc::Exchange::new(store::for_db(db), feed.clone(), client));
    saga::spawn_resumer(
        exchange.clone(),
        Duration::from_millis(registry.resume_interval_ms.max(50)),
        Duration::from_millis(registry.resume_after_ms),
        stop,
    );
    let service = ExchangeServiceServer::from_arc(exchange)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes.max(16 * 1024 * 1024));
    Ok((
        Routes::new(InterceptedService::new(service, Authenticator::new(keys))),
        feed,
    ))
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    config: ExchangeConfig,
    db: Db,
    keys: TokenKeys,
    metrics: Metrics,
    exporter: Option<Exporter>,
}

impl Application {
    pub async fn build(config: ExchangeConfig) -> Result<Self, StartError> {
        Self::build_with_metrics(config, Metrics::new()).await
    }

    /// Builds a service that records its metrics into `metrics`, which the caller may share with
    /// other services of the process and serve itself (the all-in-one binary does).
    /// `metrics.listen`, when set, still starts a listener of this service's own.
    pub async fn build_with_metrics(
        config: ExchangeConfig,
        metrics: Metrics,
    ) -> Result<Self, StartError> {
        let keys = TokenKeys::from_config(&config.auth)?;
        if keys.uses_development_key() {
            tracing::warn!("development signing key in use: never run real data this way");
        }
        let db = Db::connect(&config.database, &MIGRATIONS).await?;
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
            &self.config.registry,
            stop.clone(),
            self.config.server.max_message_bytes,
        )?;
        tracing::info!(addr = %self.addr, backend = self.db.backend(), "exchange listening");
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
