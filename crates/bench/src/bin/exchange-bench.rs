//! `exchange-bench`: a 1,000-for-1,000 phase on PostgreSQL, from the lists to completion, with
//! the registry and the exchange service started in this process on their own sockets and
//! their own databases, talked to over gRPC exactly as `make demo` does.
//!
//! Measured per run: list submission to frozen (four lists of 1,000, reconciliation through the
//! registry's matcher, the freeze reserving 2,000 persons), and completion to every registry
//! status updated. Baselines in the same run against the same registry: reserving and marking
//! repatriated the same number of other persons with one direct registry call each, which is
//! what the saga's registry steps cannot beat.

#![forbid(unsafe_code)]

#[path = "../probe.rs"]
#[allow(dead_code)]
mod probe;

use std::{
    fmt::Write as _,
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Parser;
use homeward_kit::{
    auth::AuthConfig,
    config::{DatabaseConfig, ServerConfig},
    db::testing,
};
use homeward_proto::registry::v1 as reg;
use homeward_story::{Party, Plan, Rng, Services, cast, play, register};
use tokio::sync::oneshot;

#[derive(Parser)]
#[command(
    about = "Times a 1,000-for-1,000 exchange phase against in-process services on PostgreSQL"
)]
struct Args {
    /// People per party.
    #[arg(long, default_value_t = 1000)]
    per_party: usize,
    /// Phases played (each with new people, against the same services).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Write the Markdown report here (printed otherwise).
    #[arg(long)]
    report: Option<PathBuf>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Spawns a service's `run_until`, handing it the future that resolves when the bench stops it.
fn running<F, E>(
    addr: SocketAddr,
    run: impl FnOnce(futures::future::BoxFuture<'static, ()>) -> F,
) -> Running
where
    F: std::future::Future<Output = Result<(), E>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn({
        let serving = run(Box::pin(async {
            let _ = stopped.await;
        }));
        async move {
            let _ = serving.await;
        }
    });
    Running { addr, stop, task }
}

fn server() -> ServerConfig {
    ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        request_timeout_ms: 600_000,
        shutdown_grace_ms: 2_000,
        ..ServerConfig::default()
    }
}

fn database(url: String) -> DatabaseConfig {
    DatabaseConfig {
        url,
        max_connections: 16,
        ..DatabaseConfig::default()
    }
}

async fn start_registry() -> Result<Running, Error> {
    let url = testing::fresh_postgres_database("xbench_registry").await;
    let app = homeward_registry::Application::build(homeward_registry::RegistryConfig {
        server: server(),
        database: database(url),
        auth: AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        },
        telemetry: Default::default(),
    })
    .await?;
    Ok(running(app.local_addr(), |stopped| app.run_until(stopped)))
}

async fn start_exchange(registry: SocketAddr) -> Result<Running, Error> {
    let url = testing::fresh_postgres_database("xbench_exchange").await;
    let app = homeward_exchange::Application::build(homeward_exchange::ExchangeConfig {
        server: server(),
        database: database(url),
        auth: AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        },
        telemetry: Default::default(),
        registry: homeward_exchange::config::RegistryClientConfig {
            url: format!("http://{registry}"),
            timeout_ms: 600_000,
            ..Default::default()
        },
    })
    .await?;
    Ok(running(app.local_addr(), |stopped| app.run_until(stopped)))
}

/// One run's figures.
struct Run {
    lists_to_frozen: Duration,
    submit: Duration,
    reconcile: Duration,
    freeze: Duration,
    complete: Duration,
    confirm: Duration,
    reserve_baseline: Duration,
    repatriate_baseline: Duration,
    paired: u32,
    reserved: usize,
    statuses: String,
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The registry floor: one direct call reserving, then one marking repatriated, `2 × n` other
/// persons.
async fn baseline(services: &Services, n: usize, seed: u64) -> Result<(Duration, Duration), Error> {
    let mut rng = Rng::new(seed);
    let mut people = cast(&mut rng, Party::Ua, n, n / 4, 3);
    people.extend(cast(&mut rng, Party::Ru, n, n / 4, 3));
    let ids = register(services, &people, 8).await?;
    let exchange_id = format!("baseline-{seed}");
    let mut registry = services.registry.clone();
    let started = Instant::now();
    registry
        .reserve_persons(reg::ReservePersonsRequest {
            request_id: rid(),
            exchange_id: exchange_id.clone(),
            person_ids: ids.clone(),
        })
        .await?;
    let reserve = started.elapsed();
    let started = Instant::now();
    registry
        .mark_repatriated(reg::MarkRepatriatedRequest {
            request_id: rid(),
            exchange_id,
            person_ids: ids,
            occur_time: None,
        })
        .await?;
    Ok((reserve, started.elapsed()))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let registry = start_registry().await?;
    let exchange = start_exchange(registry.addr).await?;
    let services = Services::connect(
        &format!("http://{}", registry.addr),
        &format!("http://{}", exchange.addr),
    )
    .await?;
    let n = args.per_party.max(10);
    let mut runs = Vec::new();
    for run in 0..args.runs.max(1) {
        let seed = 1_000 + run as u64;
        eprintln!(
            "run {}: baseline of {} direct registry calls ...",
            run + 1,
            2 * n
        );
        let (reserve_baseline, repatriate_baseline) = baseline(&services, n, seed + 500).await?;
        let plan = Plan {
            seed,
            per_party: n,
            civilians: n * 3 / 10,
            women: 3,
            substitution: false,
            refusals: 2,
            missing: 1,
            concurrency: 8,
            ..Plan::may_2025()
        };
        eprintln!("run {}: a {n}-for-{n} phase ...", run + 1);
        let ending = play(&services, &plan, |line| eprintln!("  {line}")).await?;
        let t = &ending.timings;
        runs.push(Run {
            lists_to_frozen: t.lists_to_frozen,
            submit: t.submit,
            reconcile: t.reconcile,
            freeze: t.freeze,
            complete: t.complete,
            confirm: t.confirm,
            reserve_baseline,
            repatriate_baseline,
            paired: ending.final_reconciliation.paired,
            reserved: ending
                .report
                .tallies
                .iter()
                .map(|t| t.planned as usize)
                .sum(),
            statuses: ending
                .statuses
                .iter()
                .map(|(s, c)| {
                    format!(
                        "{} {c}",
                        s.as_str_name()
                            .trim_start_matches("PERSON_STATUS_")
                            .to_lowercase()
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let _ = exchange.stop.send(());
    let _ = exchange.task.await;
    let _ = registry.stop.send(());
    let _ = registry.task.await;

    let machine = probe::machine();
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "# Exchange benchmark\n");
    let _ = writeln!(
        out,
        "Written by `make bench-exchange` (`cargo run --release -p homeward-bench --bin exchange-bench -- --report docs/EXCHANGE_BENCH.md`) on {date}.\n\
         Machine: {} ({} cores, {} logical CPUs, {:.0} GiB), Linux {}; PostgreSQL on the same machine.\n",
        machine.cpu_model, machine.cores, machine.logical_cpus, machine.memory_gib, machine.kernel
    );
    let _ = writeln!(
        out,
        "A {n}-for-{n} phase per run ({} civilians and 3 women per party, two refusals, one person who does not appear), \
         played over gRPC against a registry and an exchange service started in the bench process, each on its own socket and \
         its own PostgreSQL database. Each run adds new people to the same services. The baselines are one direct registry \
         call reserving, then one marking repatriated, {} other persons in the same run: the floor under the freeze's and the \
         completion's registry steps.\n",
        n * 3 / 10,
        2 * n
    );
    let _ = writeln!(
        out,
        "| run | lists → frozen | of which: submit 4 lists | reconcile | freeze | baseline: reserve {} | completion → registry updated | baseline: repatriate {} | read back | pairs | statuses after |",
        2 * n,
        2 * n
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} of {} | {} |",
            i + 1,
            ms(r.lists_to_frozen),
            ms(r.submit),
            ms(r.reconcile),
            ms(r.freeze),
            ms(r.reserve_baseline),
            ms(r.complete),
            ms(r.repatriate_baseline),
            ms(r.confirm),
            r.paired,
            r.reserved,
            r.statuses
        );
    }
    let lists = median(runs.iter().map(|r| r.lists_to_frozen).collect());
    let complete = median(runs.iter().map(|r| r.complete).collect());
    let _ = writeln!(
        out,
        "\nMedians: list submission to frozen **{}**, completion to registry updated **{}** (aim: each under 2 s). \
         Freeze against its registry floor: {} vs {}; completion against its floor: {} vs {}.",
        ms(lists),
        ms(complete),
        ms(median(runs.iter().map(|r| r.freeze).collect())),
        ms(median(runs.iter().map(|r| r.reserve_baseline).collect())),
        ms(complete),
        ms(median(runs.iter().map(|r| r.repatriate_baseline).collect())),
    );
    match &args.report {
        Some(path) => {
            std::fs::write(path, &out)?;
            eprintln!("report written to {}", path.display());
        }
        None => println!("{out}"),
    }
    Ok(())
}
