//! `homeward`: every Homeward service in one process (monolithic mode), each on its own port,
//! each with its own SQLite database under one data folder. The same service code runs here as
//! in the separate binaries; only the wiring differs. One metrics listener serves all three
//! (their series told apart by the `service` label).

#![forbid(unsafe_code)]

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use homeward_kit::{
    auth::AuthConfig,
    config::{DatabaseConfig, MetricsConfig, ServerConfig},
    metrics::{Exporter, Metrics},
    telemetry::TelemetryConfig,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(version, about = "Homeward: all services in one process on SQLite")]
struct Args {
    /// TOML configuration file; HOMEWARD_* environment variables override it.
    #[arg(long, env = "HOMEWARD_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
struct Config {
    /// Folder holding one SQLite database per service.
    data_dir: PathBuf,
    /// Limits shared by every service's server (the listen address is per service).
    server: ServerConfig,
    registry: Listen,
    exchange: Listen,
    notification: Listen,
    auth: AuthConfig,
    telemetry: TelemetryConfig,
    /// One `GET /metrics` for every service (`metrics.listen`).
    metrics: MetricsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listen {
    listen: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerConfig::default(),
            registry: Listen {
                listen: SocketAddr::from(([127, 0, 0, 1], homeward_registry::config::DEFAULT_PORT)),
            },
            exchange: Listen {
                listen: SocketAddr::from(([127, 0, 0, 1], homeward_exchange::config::DEFAULT_PORT)),
            },
            notification: Listen {
                listen: SocketAddr::from((
                    [127, 0, 0, 1],
                    homeward_notification::config::DEFAULT_PORT,
                )),
            },
            auth: AuthConfig::default(),
            telemetry: TelemetryConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Config {
    fn database(&self, service: &str) -> DatabaseConfig {
        DatabaseConfig {
            url: format!(
                "sqlite://{}",
                self.data_dir.join(format!("{service}.db")).display()
            ),
            ..DatabaseConfig::default()
        }
    }

    /// A service's metrics settings: sampled as configured, exported by the process's listener.
    fn metrics(&self) -> MetricsConfig {
        MetricsConfig {
            listen: None,
            ..self.metrics.clone()
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config: Config = homeward_kit::config::load(args.config.as_deref())?;
    let _telemetry = homeward_kit::telemetry::init("homeward", &config.telemetry);

    let metrics = Metrics::new();
    let exporter = Exporter::from_config(&config.metrics).await?;
    let registry = homeward_registry::Application::build_with_metrics(
        homeward_registry::RegistryConfig {
            server: ServerConfig {
                listen: config.registry.listen,
                ..config.server.clone()
            },
            database: config.database("registry"),
            auth: config.auth.clone(),
            telemetry: config.telemetry.clone(),
            metrics: config.metrics(),
        },
        metrics.clone(),
    )
    .await?;
    let exchange = homeward_exchange::Application::build_with_metrics(
        homeward_exchange::ExchangeConfig {
            server: ServerConfig {
                listen: config.exchange.listen,
                ..config.server.clone()
            },
            database: config.database("exchange"),
            auth: config.auth.clone(),
            telemetry: config.telemetry.clone(),
            metrics: config.metrics(),
            registry: homeward_exchange::config::RegistryClientConfig {
                url: format!("http://{}", registry.local_addr()),
                ..Default::default()
            },
        },
        metrics.clone(),
    )
    .await?;
    let notification = homeward_notification::Application::build_with_metrics(
        homeward_notification::NotificationConfig {
            server: ServerConfig {
                listen: config.notification.listen,
                ..config.server.clone()
            },
            database: config.database("notification"),
            auth: config.auth.clone(),
            telemetry: config.telemetry.clone(),
            metrics: config.metrics(),
            peers: homeward_notification::config::Peers {
                registry_url: format!("http://{}", registry.local_addr()),
                exchange_url: format!("http://{}", exchange.local_addr()),
                ..Default::default()
            },
            // Letters to families are written as files in the data folder (no mail server needed).
            delivery: homeward_delivery::DeliveryConfig::files_in(config.data_dir.join("letters")),
            ..Default::default()
        },
        metrics.clone(),
    )
    .await?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        notification = %notification.local_addr(),
        registry = %registry.local_addr(),
        exchange = %exchange.local_addr(),
        "homeward running in one process"
    );

    let stop = CancellationToken::new();
    let signal = stop.clone();
    let on_signal = homeward_kit::server::shutdown_signal();
    tokio::spawn(async move {
        on_signal.await;
        signal.cancel();
    });
    // The metrics listener outlives the services' drain and stops with the process.
    let exporting = CancellationToken::new();
    let _exporting = exporting.clone().drop_guard();
    if let Some(exporter) = exporter {
        exporter.spawn(metrics, exporting);
    }
    let (registry, exchange, notification) = tokio::join!(
        registry.run_until(stop.clone().cancelled_owned()),
        exchange.run_until(stop.clone().cancelled_owned()),
        notification.run_until(stop.cancelled_owned()),
    );
    registry?;
    exchange?;
    notification?;
    Ok(())
}
