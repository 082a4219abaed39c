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
    /// Families linked to the people of a separate notification run (0: no such run).
    #[arg(long, default_value_t = 390)]
    families: usize,
    /// Write the notification run's report here (printed otherwise).
    #[arg(long)]
    notification_report: Option<PathBuf>,
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
        metrics: Default::default(),
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
        metrics: Default::default(),
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
    for run in 0..args.runs {
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
    // The families' run gets services of its own, so the notification service follows the
    // registry from its first event rather than from the history of the runs above.
    let families = if args.families > 0 {
        let registry = start_registry().await?;
        let exchange = start_exchange(registry.addr).await?;
        let services = Services::connect(
            &format!("http://{}", registry.addr),
            &format!("http://{}", exchange.addr),
        )
        .await?;
        let figures =
            notify_families(&services, registry.addr, exchange.addr, args.families).await?;
        let _ = exchange.stop.send(());
        let _ = exchange.task.await;
        let _ = registry.stop.send(());
        let _ = registry.task.await;
        Some(figures)
    } else {
        None
    };

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
    if !runs.is_empty() {
        write_report(args.report.as_ref(), &out)?;
    }
    if let Some(figures) = families {
        let text = notification_report(&figures, &machine, &date);
        write_report(args.notification_report.as_ref(), &text)?;
    }
    Ok(())
}

fn write_report(path: Option<&PathBuf>, text: &str) -> Result<(), Error> {
    match path {
        Some(path) => {
            std::fs::write(path, text)?;
            eprintln!("report written to {}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}

/// The notification run's figures.
struct Families {
    linked: usize,
    latencies: Vec<Duration>,
    baseline: Vec<Duration>,
    baseline_total: Duration,
    complete: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A phase of `n` for `n` in which every person RU hands over has a mother waiting for news,
/// against a notification service started here (file sink, its own PostgreSQL database).
async fn notify_families(
    services: &Services,
    registry: SocketAddr,
    exchange: SocketAddr,
    n: usize,
) -> Result<Families, Error> {
    let letters = tempfile::tempdir()?;
    let url = testing::fresh_postgres_database("xbench_notification").await;
    let mut config = homeward_notification::NotificationConfig {
        server: server(),
        database: database(url),
        auth: AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        },
        delivery: homeward_delivery::DeliveryConfig::files_in(letters.path()),
        ..Default::default()
    };
    config.peers.registry_url = format!("http://{registry}");
    config.peers.exchange_url = format!("http://{exchange}");
    config.peers.reconnect_ms = 100;
    config.messages.poll_ms = 50;
    let app = homeward_notification::Application::build(config).await?;
    let notification = running(app.local_addr(), |stopped| app.run_until(stopped));
    let services = services
        .clone()
        .with_office(&format!("http://{}", notification.addr))
        .await?;
    let plan = Plan {
        seed: 7_000,
        per_party: n,
        civilians: n * 3 / 10,
        women: 3,
        substitution: false,
        families: n,
        absent_family: false,
        ..Plan::may_2025()
    };
    eprintln!("notification run: a {n}-for-{n} phase with {n} families waiting ...");
    let ending = play(&services, &plan, |line| eprintln!("  {line}")).await?;
    let _ = notification.stop.send(());
    let _ = notification.task.await;
    let mut latencies: Vec<Duration> = ending.cases.iter().filter_map(|c| c.latency).collect();
    latencies.sort();
    // Baseline: the same number of letters written straight through the file channel.
    let dir = tempfile::tempdir()?;
    let channel = homeward_delivery::FileChannel::new(dir.path());
    let mut baseline = Vec::new();
    let started = Instant::now();
    for i in 0..latencies.len() {
        let message = homeward_delivery::Outgoing {
            delivery_id: format!("baseline-{i}"),
            to: format!("family{i}@example.org"),
            messenger: String::new(),
            subject: "Добрі новини".into(),
            body: "Раді повідомити: людина, про яку ви запитували, повернулася на батьківщину."
                .into(),
            language: "uk".into(),
        };
        let one = Instant::now();
        homeward_delivery::Channel::send(&channel, &message).await?;
        baseline.push(one.elapsed());
    }
    let baseline_total = started.elapsed();
    baseline.sort();
    Ok(Families {
        linked: ending.cases.len(),
        latencies,
        baseline,
        baseline_total,
        complete: ending.timings.complete,
    })
}

fn notification_report(f: &Families, machine: &probe::Machine, date: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Notification benchmark\n");
    let _ = writeln!(
        out,
        "Written by `make bench-exchange` (`cargo run --release -p homeward-bench --bin exchange-bench -- --report docs/EXCHANGE_BENCH.md --notification-report docs/NOTIFICATION_BENCH.md`) on {date}.\n\
         Machine: {} ({} cores, {} logical CPUs, {:.0} GiB), Linux {}; PostgreSQL on the same machine.\n",
        machine.cpu_model, machine.cores, machine.logical_cpus, machine.memory_gib, machine.kernel
    );
    let _ = writeln!(
        out,
        "A phase in which each of the {} people one party hands over has a mother whose inquiry is verified and linked to him \
         (one of them does not appear at the handover). Registry, exchange and notification services run in the bench \
         process, each on its own socket and PostgreSQL database; letters go to the file sink. Latency per family: from the \
         phase's completion time to the moment the family's letter was accepted by the channel, both as the services \
         recorded them. The baseline writes the same number of letters straight through the file channel in the same run.\n",
        f.linked
    );
    let _ = writeln!(out, "| | families | p50 | p99 | max (all told) |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| completion → family's channel accepted | {} | {} | {} | {} |",
        f.latencies.len(),
        ms(percentile(&f.latencies, 0.5)),
        ms(percentile(&f.latencies, 0.99)),
        ms(f.latencies.last().copied().unwrap_or_default())
    );
    let _ = writeln!(
        out,
        "| baseline: one letter written by the file channel | {} | {} | {} | {} (all, one after another) |",
        f.baseline.len(),
        ms(percentile(&f.baseline, 0.5)),
        ms(percentile(&f.baseline, 0.99)),
        ms(f.baseline_total)
    );
    let _ = writeln!(
        out,
        "\nThe completion itself (registry updated) took {} in this run. Aim: p99 ≤ 1 s.",
        ms(f.complete)
    );
    out
}
