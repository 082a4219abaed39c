//! `homeward-demo`: plays the May 2025 exchange against running services (`make run`) and
//! prints what happened and the phase report.

use clap::Parser;
use homeward_story::{Plan, Services, play, render};

#[derive(Parser)]
#[command(
    version,
    about = "Replays a 1,000-for-1,000 exchange's first phase against running Homeward services"
)]
struct Args {
    #[arg(
        long,
        env = "HOMEWARD_REGISTRY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    registry: String,
    #[arg(
        long,
        env = "HOMEWARD_EXCHANGE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    exchange: String,
    #[arg(
        long,
        env = "HOMEWARD_NOTIFICATION_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    notification: String,
    /// People per party in the phase.
    #[arg(long, default_value_t = 390)]
    per_party: usize,
    /// Seed of the generated people (a new seed gives new people; the same seed twice
    /// registers the same names again).
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut plan = Plan::may_2025();
    plan.per_party = args.per_party.max(10);
    plan.civilians = plan.civilians.min(plan.per_party / 3);
    plan.seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let connected = match Services::connect(&args.registry, &args.exchange).await {
        Ok(s) => s.with_office(&args.notification).await,
        Err(e) => Err(e),
    };
    let services = match connected {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match play(&services, &plan, |line| println!("- {line}")).await {
        Ok(ending) => {
            println!("{}", render(&ending));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: {e}\n(is `make run` running? the demo talks to {} and {})",
                args.registry, args.exchange
            );
            std::process::ExitCode::FAILURE
        }
    }
}
