//! The family notification service: inquiries from relatives, verification of who is asking,
//! consent, links to registry persons, and news that reaches families safely and once — in their
//! language, over the channel they chose, or in person when it is grave.
//!
//! It follows the registry's and the exchange service's event streams (`follow`), decides what
//! each event means for each family (`policy`), and delivers through the channels of
//! `homeward_delivery` (`deliver`). It reaches the other services only through their gRPC
//! contracts (`peers`). It must never log a name, an address or a message text.

#![forbid(unsafe_code)]

pub mod config;
pub mod convert;
pub mod deliver;
pub mod error;
pub mod follow;
pub mod grpc;
pub mod model;
pub mod peers;
pub mod policy;
pub mod rematch;
pub mod retention;
pub mod store;

use std::{future::Future, net::SocketAddr, sync::Arc};

use homeward_delivery::Channels;
use homeward_kit::{
    auth::{Authenticator, TokenKeys},
    db::{Db, Migrations},
    metrics::{Exporter, Metrics, ServiceMetrics},
    outbox::EventFeed,
    server,
};
use homeward_proto::notification::v1::notification_service_server::{
    NotificationServiceServer, SERVICE_NAME,
};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{service::Routes, service::interceptor::InterceptedService};

pub use config::NotificationConfig;

static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

pub const SERVICE_NAMES: &[&str] = &[SERVICE_NAME];

/// The `service` label of this service's metrics.
const METRICS_NAME: &str = "notification";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("authentication: {0}")]
    Auth(#[from] homeward_kit::auth::AuthError),
    #[error("database: {0}")]
    Database(#[from] homeward_kit::StoreError),
    #[error("peers: {0}")]
    Peers(#[from] error::NotifyError),
    #[error("delivery channels: {0}")]
    Channels(#[from] homeward_delivery::ConfigError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("server: {0}")]
    Serve(#[from] server::ServeError),
}

/// The service's routes over a connected database, with its background work (event followers,
/// the delivery worker, re-matching of open inquiries) running until `stop` and reporting to
/// `metrics`.
pub fn routes(
    db: Db,
    keys: TokenKeys,
    config: Arc<NotificationConfig>,
    metrics: &ServiceMetrics,
    stop: CancellationToken,
) -> Result<(Routes, Arc<grpc::Notifications>), StartError> {
    let feed = EventFeed::start(db.clone(), stop.clone());
    let peers = peers::Peers::new(&config.peers, keys.clone())?;
    let channels = Channels::from_config(&config.delivery)?;
    let service = Arc::new(grpc::Notifications::new(
        store::Store::new(db),
        feed,
        peers,
        channels,
        config.clone(),
    ));
    for stream in [follow::Stream::Registry, follow::Stream::Exchange] {
        let consumer = metrics.consumer(stream.name());
        follow::spawn(service.clone(), stream, consumer, stop.clone());
    }
    let deliveries = deliver::DeliveryMetrics::new(metrics);
    deliver::spawn_sampler(
        service.clone(),
        deliveries.clone(),
        config.metrics.sample_interval(),
        stop.clone(),
    );
    deliver::spawn(service.clone(), deliveries, stop.clone());
    retention::spawn(service.clone(), stop.clone());
    rematch::spawn(service.clone(), stop);
    let max = config.server.max_message_bytes;
    let server = NotificationServiceServer::from_arc(service.clone())
        .max_decoding_message_size(max)
        .max_encoding_message_size(max.max(16 * 1024 * 1024));
    Ok((
        Routes::new(InterceptedService::new(
            server,
            Authenticator::allowing_anonymous(keys),
        )),
        service,
    ))
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    config: NotificationConfig,
    db: Db,
    keys: TokenKeys,
    metrics: Metrics,
    exporter: Option<Exporter>,
}

impl Application {
    pub async fn build(config: NotificationConfig) -> Result<Self, StartError> {
        Self::build_with_metrics(config, Metrics::new()).await
    }

    /// Builds a service that records its metrics into `metrics`, which the caller may share with
    /// other services of the process and serve itself (the all-in-one binary does).
    /// `metrics.listen`, when set, still starts a listener of this service's own.
    pub async fn build_with_metrics(
        config: NotificationConfig,
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
        let config = Arc::new(self.config.clone());
        let (routes, _service) =
            routes(self.db.clone(), self.keys, config, &metrics, stop.clone())?;
        tracing::info!(addr = %self.addr, backend = self.db.backend(), "notification listening");
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
