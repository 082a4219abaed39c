//! The exchange service's configuration: defaults < file < `HOMEWARD_*` environment.

use homeward_kit::{
    auth::AuthConfig,
    config::{ClientTlsConfig, DatabaseConfig, MetricsConfig, ServerConfig},
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PORT: u16 = 50052;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ExchangeConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub telemetry: TelemetryConfig,
    /// Prometheus metrics on a port of their own, when `metrics.listen` is set.
    pub metrics: MetricsConfig,
    pub registry: RegistryClientConfig,
}

/// Where the registry is and how long to wait for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryClientConfig {
    pub url: String,
    /// Deadline of each registry call.
    pub timeout_ms: u64,
    /// How often pending registry steps left by a stopped process are looked for.
    pub resume_interval_ms: u64,
    /// How long a step may be under way before the resumer takes it over from the request that
    /// started it: longer than a step takes, so a live request finishes its own step (and its
    /// trace and events stay its own).
    pub resume_after_ms: u64,
    /// Mutual TLS to the registry (`HOMEWARD_REGISTRY__TLS__CA`, `..__CERT`, `..__KEY`); set,
    /// the url must be `https://`.
    pub tls: ClientTlsConfig,
}

impl Default for RegistryClientConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:50051".into(),
            timeout_ms: 30_000,
            resume_interval_ms: 2_000,
            resume_after_ms: 10_000,
            tls: ClientTlsConfig::default(),
        }
    }
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig {
                url: "postgres://postgres@127.0.0.1:5432/homeward_exchange".into(),
                ..DatabaseConfig::default()
            },
            auth: AuthConfig::default(),
            telemetry: TelemetryConfig::default(),
            metrics: MetricsConfig::default(),
            registry: RegistryClientConfig::default(),
        }
    }
}
