//! The notification service's configuration: defaults < file < `HOMEWARD_*` environment.

use homeward_delivery::DeliveryConfig;
use homeward_kit::{
    auth::AuthConfig,
    config::{ClientTlsConfig, DatabaseConfig, MetricsConfig, ServerConfig},
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PORT: u16 = 50053;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub telemetry: TelemetryConfig,
    /// Prometheus metrics on a port of their own, when `metrics.listen` is set.
    pub metrics: MetricsConfig,
    /// The services whose events are followed and whose registry is matched against.
    pub peers: Peers,
    /// Channels (SMTP, webhooks, files); passwords and tokens never leave this process.
    #[serde(skip_serializing)]
    pub delivery: DeliveryConfig,
    pub messages: Messages,
    pub family_check: FamilyCheck,
    /// How long family data and message texts are kept (`crate::retention`).
    pub retention: crate::retention::Retention,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Peers {
    pub registry_url: String,
    pub exchange_url: String,
    pub timeout_ms: u64,
    /// Pause before reconnecting to an event stream that broke.
    pub reconnect_ms: u64,
    /// Mutual TLS to both peers (`HOMEWARD_PEERS__TLS__CA`, `..__CERT`, `..__KEY`); set, both
    /// urls must be `https://`.
    pub tls: ClientTlsConfig,
}

impl Default for Peers {
    fn default() -> Self {
        Self {
            registry_url: "http://127.0.0.1:50051".into(),
            exchange_url: "http://127.0.0.1:50052".into(),
            timeout_ms: 10_000,
            reconnect_ms: 1_000,
            tls: ClientTlsConfig::default(),
        }
    }
}

/// What every message says besides its news.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Messages {
    /// How the family reaches the office, in every message and in the status check.
    pub office_contact: String,
    /// Attempts per delivery before it goes to the dead-letter queue.
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt, with jitter, up to `max_retry_ms`.
    pub first_retry_ms: u64,
    pub max_retry_ms: u64,
    /// How often the delivery worker looks for due deliveries when nothing wakes it.
    pub poll_ms: u64,
    /// How long a claimed delivery is left to the replica that claimed it before another may
    /// send it: longer than any send takes, short enough that a crashed replica's claims are
    /// taken over soon.
    pub claim_ms: u64,
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            office_contact: "0 800 000 000".into(),
            max_attempts: 6,
            first_retry_ms: 2_000,
            max_retry_ms: 600_000,
            poll_ms: 250,
            claim_ms: 60_000,
        }
    }
}

/// Limits of the family-facing status check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyCheck {
    /// Failed checks per reference in a window before the reference is locked for the window.
    pub failures_per_reference: u32,
    /// Failed checks per caller address in a window.
    pub failures_per_caller: u32,
    pub window_s: u64,
}

impl Default for FamilyCheck {
    fn default() -> Self {
        Self {
            failures_per_reference: 5,
            failures_per_caller: 20,
            window_s: 900,
        }
    }
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig {
                url: "postgres://postgres@127.0.0.1:5432/homeward_notification".into(),
                ..DatabaseConfig::default()
            },
            auth: AuthConfig::default(),
            telemetry: TelemetryConfig::default(),
            metrics: MetricsConfig::default(),
            peers: Peers::default(),
            delivery: DeliveryConfig::files_in("data/letters"),
            messages: Messages::default(),
            family_check: FamilyCheck::default(),
            retention: crate::retention::Retention::default(),
        }
    }
}
