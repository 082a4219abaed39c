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
    let store = store::for_db(db);
    let matcher = matching::Matcher::new();
    matcher.start(&*store, &feed, stop).await?;
    let registry = grpc::Registry::new(store, feed.clone(), matcher);
    let service = RegistryServiceServer::new(registry)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes.max(16 * 1024 * 1024));
    Ok((
        Routes::new(InterceptedService::new(service, Authenticator::new(keys))),
        feed,
    ))
}

pub const SERVICE_NAMES: &[&str] = &[SERVICE_NAME];

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    config: RegistryConfig,
    db: Db,
    keys: TokenKeys,
}

impl Application {
    pub async fn build(config: RegistryConfig) -> Result<Self, StartError> {
        let keys = TokenKeys::from_config(&config.auth)?;
        if config.auth.dev_mode {
            tracing::warn!("development token secret in use: never run real data this way");
        }
        let db = Db::connect(&config.database, &MIGRATIONS).await?;
        // The name-class table is built on first use; build it now, not in the first search.
        tokio::task::spawn_blocking(homeward_identity::class_count);
        let listener = TcpListener::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            config,
            db,
            keys,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` resolves, then drains (see `homeward_kit::server`).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let stop = CancellationToken::new();
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
            shutdown,
            stop,
        )
        .await?;
        self.db.close().await;
        Ok(())
    }
}
