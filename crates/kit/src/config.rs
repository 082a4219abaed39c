//! Configuration: defaults, then an optional TOML file, then `HOMEWARD_*` environment variables
//! (nested keys split by `__`, e.g. `HOMEWARD_SERVER__LISTEN=0.0.0.0:50051`).
//!
//! Secrets (database passwords, token keys) are loaded here like anything else but must never be
//! logged: the types that hold them implement `Debug` without their values.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Loads a configuration: `T::default()` < `file` (when given) < `HOMEWARD_*` variables.
pub fn load<T>(file: Option<&Path>) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError::MissingFile(file.display().to_string()));
        }
        figment = figment.merge(Toml::file(file));
    }
    figment
        .merge(Env::prefixed("HOMEWARD_").split("__"))
        .extract()
        .map_err(|e| ConfigError::Invalid(e.to_string()))
}

/// Limits and behaviour of one gRPC server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest accepted request message.
    pub max_message_bytes: usize,
    /// Requests handled at once by the whole server; beyond it requests are shed with
    /// RESOURCE_EXHAUSTED instead of queueing.
    pub concurrency_limit: usize,
    /// Requests handled at once on one connection.
    pub concurrency_limit_per_connection: usize,
    pub max_concurrent_streams: u32,
    /// Deadline for unary handlers (streams are bounded by their own protocol).
    pub request_timeout_ms: u64,
    /// How long to keep reporting NOT_SERVING before closing the listener, so load balancers
    /// notice first.
    pub drain_delay_ms: u64,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub shutdown_grace_ms: u64,
    /// Mutual TLS (`crate::tls`); unset, the server speaks plaintext.
    pub tls: TlsConfig,
    /// A second port that serves only `grpc.health.v1`, in plaintext and without client
    /// certificates, for probes that cannot present one (the kubelet's gRPC probes). It tells
    /// whether the service is serving, nothing else.
    pub health_listen: Option<SocketAddr>,
}

impl ServerConfig {
    pub fn with_port(port: u16) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            ..Self::default()
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_message_bytes: 4 * 1024 * 1024,
            concurrency_limit: 1024,
            concurrency_limit_per_connection: 256,
            max_concurrent_streams: 512,
            request_timeout_ms: 30_000,
            drain_delay_ms: 0,
            shutdown_grace_ms: 10_000,
            tls: TlsConfig::default(),
            health_listen: None,
        }
    }
}

/// The server side of mutual TLS (`crate::tls`): PEM files, all three set or none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// This service's certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    /// Its private key. A secret: only the path is ever logged.
    pub key: Option<PathBuf>,
    /// The CA that must have signed the certificate every caller presents.
    pub client_ca: Option<PathBuf>,
}

/// The client side of mutual TLS, for channels to peers (`crate::tls::ClientTls`): PEM files.
/// Unset, peers are called in plaintext over `http://` addresses; set, only `https://` addresses
/// are accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTlsConfig {
    /// The CA the peers' server certificates must be signed by.
    pub ca: Option<PathBuf>,
    /// The certificate chain this service presents to its peers, leaf first.
    pub cert: Option<PathBuf>,
    /// Its private key. A secret: only the path is ever logged.
    pub key: Option<PathBuf>,
}

/// Prometheus metrics (see `crate::metrics`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served, on its own port. Unset, no listener starts: tests run
    /// many services in one process, and the all-in-one binary has one listener for all.
    pub listen: Option<SocketAddr>,
    /// How often gauges read from the database (outbox backlog, pool use, queue depth) are
    /// sampled.
    pub sample_interval_ms: u64,
}

impl MetricsConfig {
    pub fn sample_interval(&self) -> Duration {
        Duration::from_millis(self.sample_interval_ms.max(10))
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: None,
            sample_interval_ms: 5_000,
        }
    }
}

/// Where a service keeps its data: `postgres://...` or `sqlite://path`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    /// Runs migrations at start. Off where a separate step migrates (the Kubernetes Job runs
    /// `--migrate-only`); the service then waits for the schema instead.
    pub migrate: bool,
    /// How long a service that does not migrate waits for the schema at start.
    pub schema_wait_ms: u64,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("migrate", &self.migrate)
            .finish()
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/homeward.db".into(),
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            migrate: true,
            schema_wait_ms: 120_000,
        }
    }
}

/// A database URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/registry"),
            "postgres://app:***@db:5432/registry"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "max_message_bytes = 1234\nrequest_timeout_ms = 5\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("HOMEWARD_REQUEST_TIMEOUT_MS", "77");
            let cfg: ServerConfig = load(Some(&file)).map_err(|e| e.to_string())?;
            assert_eq!(cfg.max_message_bytes, 1234);
            assert_eq!(cfg.request_timeout_ms, 77);
            assert_eq!(
                cfg.concurrency_limit,
                ServerConfig::default().concurrency_limit
            );
            Ok(())
        });
    }

    #[test]
    fn a_missing_configuration_file_is_an_error() {
        let err = load::<ServerConfig>(Some(Path::new("/nonexistent/h.toml"))).unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }
}
