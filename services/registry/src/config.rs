//! The registry's configuration: defaults < file < `HOMEWARD_*` environment.

use homeward_kit::{
    auth::AuthConfig,
    config::{DatabaseConfig, MetricsConfig, ServerConfig},
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PORT: u16 = 50051;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub telemetry: TelemetryConfig,
    /// Prometheus metrics on a port of their own, when `metrics.listen` is set.
    pub metrics: MetricsConfig,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig {
                url: "postgres://postgres@127.0.0.1:5432/homeward_registry".into(),
                ..DatabaseConfig::default()
            },
            auth: AuthConfig::default(),
            telemetry: TelemetryConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}
