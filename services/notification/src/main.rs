//! `homeward-notification`: the notification service alone, configured for PostgreSQL from the
//! environment.

use clap::Parser;
use homeward_notification::{Application, NotificationConfig};

#[derive(Parser)]
#[command(version, about = "Homeward family notification service")]
struct Args {
    /// TOML configuration file; HOMEWARD_* environment variables override it.
    #[arg(long, env = "HOMEWARD_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Apply the database migrations and exit (a deployment's migration step), instead of
    /// serving.
    #[arg(long)]
    migrate_only: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config: NotificationConfig = homeward_kit::config::load(args.config.as_deref())?;
    let _telemetry = homeward_kit::telemetry::init("homeward-notification", &config.telemetry);
    if args.migrate_only {
        homeward_kit::db::migrate_only(&config.database, &homeward_notification::MIGRATIONS)
            .await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let app = Application::build(config).await?;
    app.run_until(homeward_kit::server::shutdown_signal())
        .await?;
    Ok(())
}
