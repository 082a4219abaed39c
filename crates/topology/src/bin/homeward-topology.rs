//! `homeward-topology` (`make run-distributed`): the compose topology as plain processes on this
//! machine — one PostgreSQL database per service, migrations first, then two replicas of each
//! service on fixed ports — until Ctrl-C.

use std::path::PathBuf;

use clap::Parser;
use homeward_topology::{Databases, Service, Spec, Topology};

#[derive(Parser)]
#[command(
    version,
    about = "Run Homeward's services as separate processes, with replicas"
)]
struct Args {
    /// PostgreSQL server (any database on it); the services' databases are created beside it.
    #[arg(
        long,
        env = "HOMEWARD_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Replicas of the registry.
    #[arg(long, default_value_t = 2)]
    registry: usize,
    /// Replicas of the exchange service.
    #[arg(long, default_value_t = 2)]
    exchange: usize,
    /// Replicas of the notification service.
    #[arg(long, default_value_t = 2)]
    notification: usize,
    /// Logs and letters.
    #[arg(long, default_value = "data/distributed")]
    run_dir: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let databases = Databases::on_server(&args.postgres).await?;
    let mut spec = Spec::new(databases, args.run_dir.clone())?;
    spec.registry_replicas = args.registry;
    spec.exchange_replicas = args.exchange;
    spec.notification_replicas = args.notification;
    spec.fixed_ports = true;
    if let Ok(endpoint) = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        spec.env
            .push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint));
    }
    println!(
        "migrating and starting (logs in {})",
        args.run_dir.join("logs").display()
    );
    let topology = Topology::start(spec).await?;
    for replica in &topology.replicas {
        println!(
            "  {:<15} grpc {}  metrics http://{}/metrics",
            replica.name(),
            replica.url(),
            replica.metrics
        );
    }
    println!(
        "development tokens only. Try: make demo HOMEWARD_REGISTRY_URL={} HOMEWARD_EXCHANGE_URL={} HOMEWARD_NOTIFICATION_URL={}",
        topology.urls(Service::Registry),
        topology.urls(Service::Exchange),
        topology.urls(Service::Notification)
    );
    println!("Ctrl-C stops every process");
    homeward_kit::server::shutdown_signal().await;
    topology.stop().await;
    Ok(())
}
