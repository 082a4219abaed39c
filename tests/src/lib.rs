//! Harness for the end-to-end tests: starts real services on port 0 against a fresh database of
//! either backend and hands out authenticated gRPC clients.

#![forbid(unsafe_code)]

pub mod smtp;

use std::{net::SocketAddr, time::Duration};

use std::sync::OnceLock;

use homeward_exchange::ExchangeConfig;
use homeward_kit::{
    auth::{AuthConfig, Role, TokenKeys},
    telemetry::{TelemetryConfig, TelemetryGuard},
};
use homeward_notification::NotificationConfig;
use homeward_proto::{
    exchange::v1::exchange_service_client::ExchangeServiceClient,
    notification::v1::notification_service_client::NotificationServiceClient,
    registry::v1::registry_service_client::RegistryServiceClient,
};
use homeward_registry::{Application, RegistryConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// One subscriber per test process, so spans carry trace context as in the real services.
static TELEMETRY: OnceLock<TelemetryGuard> = OnceLock::new();

/// Adds a bearer token to every request.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        Ok(request)
    }
}

pub type Client = RegistryServiceClient<InterceptedService<Channel, Bearer>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that outlives restarts of the service using it.
pub struct Database {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    pub async fn fresh(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("registry.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => Self {
                url: homeward_kit::db::testing::fresh_postgres_database("hw_e2e").await,
                _dir: None,
            },
        }
    }
}

pub fn dev_auth() -> AuthConfig {
    AuthConfig {
        dev_mode: true,
        ..AuthConfig::default()
    }
}

/// A token signed with the development key, for an officer of UA.
pub fn token(subject: &str, roles: &[Role]) -> String {
    party_token(subject, roles, "UA")
}

/// A token signed with the development key, for someone acting for `party`.
pub fn party_token(subject: &str, roles: &[Role], party: &str) -> String {
    TokenKeys::from_config(&dev_auth())
        .expect("dev keys")
        .mint(subject, roles, party, Duration::from_secs(600))
        .expect("mint")
}

/// A registry running in this process.
pub struct RunningRegistry {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningRegistry {
    /// Starts on `port` (0 = any free port).
    pub async fn start(db: &Database, port: u16) -> Self {
        Self::start_with(db, port, |_| {}).await
    }

    /// Starts with configuration changed by `tweak`.
    pub async fn start_with(
        db: &Database,
        port: u16,
        tweak: impl FnOnce(&mut RegistryConfig),
    ) -> Self {
        TELEMETRY.get_or_init(|| {
            homeward_kit::telemetry::init("homeward-e2e", &TelemetryConfig::default())
        });
        let mut config = RegistryConfig::default();
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], port));
        config.server.shutdown_grace_ms = 2_000;
        config.database.url = db.url.clone();
        config.database.max_connections = 8;
        config.auth = dev_auth();
        tweak(&mut config);
        let app = Application::build(config).await.expect("registry starts");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let task = tokio::spawn(async move {
            app.run_until(signal.cancelled_owned())
                .await
                .expect("registry runs");
        });
        Self { addr, stop, task }
    }

    /// Shuts down gracefully and waits until the server has stopped.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// A client acting with `roles`.
    pub async fn client_as(&self, roles: &[Role]) -> Client {
        self.client_of(roles, "UA").await
    }

    /// A client acting with `roles` for `party`.
    pub async fn client_of(&self, roles: &[Role], party: &str) -> Client {
        let value = format!("Bearer {}", party_token("e2e-user", roles, party))
            .parse()
            .expect("header");
        RegistryServiceClient::with_interceptor(self.channel().await, Bearer(Some(value)))
    }

    /// A registrar's client.
    pub async fn client(&self) -> Client {
        self.client_as(&[Role::Registrar, Role::Auditor, Role::Service])
            .await
    }

    /// A client that sends no token.
    pub async fn anonymous(&self) -> Client {
        RegistryServiceClient::with_interceptor(self.channel().await, Bearer(None))
    }
}

pub type ExchangeClient = ExchangeServiceClient<InterceptedService<Channel, Bearer>>;

/// An exchange service running in this process, talking to a registry at `registry`.
pub struct RunningExchange {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningExchange {
    /// Starts on `port` (0 = any free port); pending registry steps are looked for every 200 ms.
    pub async fn start(db: &Database, registry: SocketAddr, port: u16) -> Self {
        TELEMETRY.get_or_init(|| {
            homeward_kit::telemetry::init("homeward-e2e", &TelemetryConfig::default())
        });
        let mut config = ExchangeConfig::default();
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], port));
        config.server.shutdown_grace_ms = 2_000;
        config.database.url = db.url.clone();
        config.database.max_connections = 8;
        config.auth = dev_auth();
        config.registry.url = format!("http://{registry}");
        config.registry.timeout_ms = 5_000;
        config.registry.resume_interval_ms = 200;
        config.registry.resume_after_ms = 1_000;
        let app = homeward_exchange::Application::build(config)
            .await
            .expect("exchange starts");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let task = tokio::spawn(async move {
            app.run_until(signal.cancelled_owned())
                .await
                .expect("exchange runs");
        });
        Self { addr, stop, task }
    }

    /// Shuts down gracefully and waits until the server has stopped.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    /// Stops at once, as a crash would: the task is aborted mid-request.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        self.stop.cancel();
    }

    /// A client acting with `roles`.
    pub async fn client_as(&self, roles: &[Role]) -> ExchangeClient {
        let value = format!("Bearer {}", token("officer-1", roles))
            .parse()
            .expect("header");
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        ExchangeServiceClient::with_interceptor(channel, Bearer(Some(value)))
    }

    /// An exchange officer's client.
    pub async fn client(&self) -> ExchangeClient {
        self.client_as(&[Role::ExchangeOfficer, Role::Auditor])
            .await
    }
}

pub type NotificationClient = NotificationServiceClient<InterceptedService<Channel, Bearer>>;

/// A notification service running in this process, following a registry and an exchange
/// service, writing letters to `letters` unless `tweak` configures other channels.
pub struct RunningNotification {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningNotification {
    pub async fn start(
        db: &Database,
        registry: SocketAddr,
        exchange: SocketAddr,
        letters: &std::path::Path,
        tweak: impl FnOnce(&mut NotificationConfig),
    ) -> Self {
        TELEMETRY.get_or_init(|| {
            homeward_kit::telemetry::init("homeward-e2e", &TelemetryConfig::default())
        });
        let mut config = NotificationConfig::default();
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.server.shutdown_grace_ms = 2_000;
        config.database.url = db.url.clone();
        config.database.max_connections = 8;
        config.auth = dev_auth();
        config.peers.registry_url = format!("http://{registry}");
        config.peers.exchange_url = format!("http://{exchange}");
        config.peers.reconnect_ms = 100;
        config.delivery = homeward_delivery::DeliveryConfig::files_in(letters);
        config.messages.poll_ms = 50;
        config.messages.first_retry_ms = 50;
        config.messages.max_retry_ms = 200;
        tweak(&mut config);
        let app = homeward_notification::Application::build(config)
            .await
            .expect("notification starts");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let task = tokio::spawn(async move {
            app.run_until(signal.cancelled_owned())
                .await
                .expect("notification runs");
        });
        Self { addr, stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    /// Stops at once, as a crash would.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        self.stop.cancel();
    }

    /// A client acting as `subject` with `roles`; no token at all when `roles` is empty.
    pub async fn client_as(&self, subject: &str, roles: &[Role]) -> NotificationClient {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        if roles.is_empty() {
            return NotificationServiceClient::with_interceptor(channel, Bearer(None));
        }
        let value = format!("Bearer {}", token(subject, roles))
            .parse()
            .expect("header");
        NotificationServiceClient::with_interceptor(channel, Bearer(Some(value)))
    }
}
