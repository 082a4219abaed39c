//! `registry-bench`: measures the registry on PostgreSQL against a raw-insert baseline, in one
//! run on one machine, and prints a Markdown report.
//!
//! 1. Baseline: single-row INSERTs through sqlx into `bench_persons` (the shape of the registry's
//!    `persons` table, with the same JSON record) from concurrent tasks over a pool.
//! 2. `CreatePerson` over gRPC against a registry started in this process, from concurrent
//!    clients spread over several HTTP/2 connections.
//! 3. `ImportPersons`: one client stream into a fresh database.
//!
//! Every phase runs after a short warm-up, and is profiled cheaply (CPU split between the clients,
//! the in-process registry and PostgreSQL, sampled backend states, transactions and WAL written
//! per row, how long the outbox/audit sequencer needs to catch up afterwards).
//!
//! `--quick` shrinks every size (a smoke test); `--breakdown` adds experiments that drive the
//! registry's store directly, to locate the cost. PostgreSQL is
//! `homeward_kit::db::testing::server_url()` (`HOMEWARD_TEST_POSTGRES_URL`, default the local
//! server); every database the bench creates is dropped at the end unless `--keep-databases`.

#![forbid(unsafe_code)]

/// Progress on stderr, with the time since the start.
macro_rules! progress {
    ($($arg:tt)*) => {
        eprintln!("[{:>6.1} s] {}", $crate::since_start().as_secs_f64(), format!($($arg)*))
    };
}

mod breakdown;
mod people;
mod probe;

use std::{
    fmt::Write as _,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Parser;
use homeward_kit::{
    auth::{AuthConfig, Role, TokenKeys},
    config::{DatabaseConfig, ServerConfig},
    db::{Db, testing},
};
use homeward_proto::{
    common::v1 as common,
    registry::v1::{self as pb, registry_service_client::RegistryServiceClient},
};
use homeward_registry::{Application, RegistryConfig};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgPoolOptions};
use tokio::{runtime::Handle, sync::oneshot, task::JoinHandle};
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::{Channel, Endpoint},
};

use crate::{
    people::{Generated, Rng, Row},
    probe::Profile,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(
    about = "Registry throughput on PostgreSQL: raw INSERT baseline, CreatePerson, ImportPersons"
)]
struct Args {
    /// Rows for the raw-insert baseline and CreatePerson calls [default: 20000; 500 with --quick].
    #[arg(long)]
    rows: Option<usize>,
    /// Rows in the ImportPersons stream [default: 100000; 2000 with --quick].
    #[arg(long)]
    import_rows: Option<usize>,
    /// Concurrent tasks (baseline) and clients (CreatePerson); also the size of both pools.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the CreatePerson clients share.
    #[arg(long, default_value_t = 8)]
    channels: usize,
    /// Tiny sizes, as a smoke test.
    #[arg(long)]
    quick: bool,
    /// Also write the report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Seed of the generated persons.
    #[arg(long, default_value_t = 1_945)]
    seed: u64,
    /// Keep the databases the bench created (they are dropped at the end otherwise).
    #[arg(long)]
    keep_databases: bool,
    /// Also drive the registry's store directly (no gRPC), with and without the outbox/audit
    /// sequencer, import events and an idempotency lookup before the write, to locate the cost.
    #[arg(long)]
    breakdown: bool,
}

fn since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

struct Sizes {
    rows: usize,
    rows_warmup: usize,
    import_rows: usize,
    import_warmup: usize,
}

impl Args {
    fn sizes(&self) -> Sizes {
        let rows = self
            .rows
            .unwrap_or(if self.quick { 500 } else { 20_000 })
            .max(1);
        let import_rows = self
            .import_rows
            .unwrap_or(if self.quick { 2_000 } else { 100_000 })
            .max(1);
        Sizes {
            rows,
            rows_warmup: (rows / 10).clamp(100, 1_000),
            import_rows,
            import_warmup: (import_rows / 20).clamp(500, 5_000),
        }
    }
}

/// How a concurrent phase went.
#[derive(Default)]
struct Outcome {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, q: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank =
            ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        Some(self.latencies[rank - 1])
    }
}

/// Runs `call` once per item from `tasks` concurrent tasks taking items from one queue.
/// `call` gets the task number (to pick a client) and the item.
async fn run_concurrent<T, F, Fut>(items: Vec<T>, tasks: usize, call: F) -> Outcome
where
    T: Send + 'static,
    F: Fn(usize, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let queue = Arc::new(Mutex::new(items.into_iter()));
    let start = Instant::now();
    let handles: Vec<JoinHandle<Outcome>> = (0..tasks.max(1))
        .map(|task| {
            let queue = queue.clone();
            let call = call.clone();
            tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    let item = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(item) = item else { break };
                    let t = Instant::now();
                    match call(task, item).await {
                        Ok(()) => {
                            out.ok += 1;
                            out.latencies.push(t.elapsed());
                        }
                        Err(e) => {
                            out.errors += 1;
                            out.first_error.get_or_insert(e);
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut total = Outcome::default();
    for handle in handles {
        match handle.await {
            Ok(out) => {
                total.ok += out.ok;
                total.errors += out.errors;
                if total.first_error.is_none() {
                    total.first_error = out.first_error;
                }
                total.latencies.extend(out.latencies);
            }
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert(format!("task failed: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total.latencies.sort_unstable();
    total
}

const BENCH_TABLE: &str = "
CREATE TABLE bench_persons (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    version          BIGINT NOT NULL,
    category         TEXT NOT NULL,
    status           TEXT NOT NULL,
    holding_party    TEXT NOT NULL,
    affiliated_party TEXT NOT NULL,
    file_reference   TEXT UNIQUE,
    merged_into      TEXT,
    record           TEXT NOT NULL,
    updated_at_us    BIGINT NOT NULL
);
CREATE INDEX bench_persons_by_status ON bench_persons (status, seq);
CREATE INDEX bench_persons_by_holding_party ON bench_persons (holding_party, seq);
";

const BENCH_INSERT: &str = "INSERT INTO bench_persons (id, version, category, status, holding_party, \
    affiliated_party, file_reference, merged_into, record, updated_at_us) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

async fn raw_inserts(pool: &PgPool, rows: Vec<Row>, tasks: usize) -> Outcome {
    let pool = pool.clone();
    run_concurrent(rows, tasks, move |_, r: Row| {
        let pool = pool.clone();
        async move {
            sqlx::query(BENCH_INSERT)
                .bind(r.id)
                .bind(r.version)
                .bind(r.category)
                .bind(r.status)
                .bind(r.holding_party)
                .bind(r.affiliated_party)
                .bind(r.file_reference)
                .bind(r.merged_into)
                .bind(r.record)
                .bind(r.updated_at_us)
                .execute(&pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await
}

fn create_request(g: Generated) -> pb::CreatePersonRequest {
    pb::CreatePersonRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        person: Some(g.person),
        source: g.source,
        reliability: g.reliability,
    }
}

async fn create_persons(
    clients: &[RegistryServiceClient<Channel>],
    bearer: &MetadataValue<Ascii>,
    requests: Vec<pb::CreatePersonRequest>,
    tasks: usize,
) -> Outcome {
    let clients: Arc<Vec<_>> = Arc::new(clients.to_vec());
    let bearer = bearer.clone();
    run_concurrent(
        requests,
        tasks,
        move |task, req: pb::CreatePersonRequest| {
            let mut client = clients[task % clients.len()].clone();
            let bearer = bearer.clone();
            async move {
                let mut request = tonic::Request::new(req);
                request.metadata_mut().insert("authorization", bearer);
                let response = client
                    .create_person(request)
                    .await
                    .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?;
                match response.into_inner().person {
                    Some(p) if !p.id.is_empty() => Ok(()),
                    _ => Err("CreatePerson answered without a person".into()),
                }
            }
        },
    )
    .await
}

async fn import(
    client: &RegistryServiceClient<Channel>,
    bearer: &MetadataValue<Ascii>,
    persons: Vec<Generated>,
) -> Result<(pb::ImportPersonsResponse, Duration), Error> {
    let header = pb::ImportPersonsRequest {
        item: Some(pb::import_persons_request::Item::Header(pb::ImportHeader {
            request_id: uuid::Uuid::new_v4().to_string(),
            source: common::InformationSource::OtherPartyList as i32,
            reliability: common::Reliability::UsuallyReliable as i32,
        })),
    };
    let rows = persons
        .into_iter()
        .enumerate()
        .map(|(i, g)| pb::ImportPersonsRequest {
            item: Some(pb::import_persons_request::Item::Row(pb::ImportRow {
                row_number: i as u64 + 1,
                person: Some(g.person),
            })),
        });
    let messages: Vec<_> = std::iter::once(header).chain(rows).collect();
    let mut request = tonic::Request::new(futures::stream::iter(messages));
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    let mut client = client.clone();
    let start = Instant::now();
    let response = client.import_persons(request).await?.into_inner();
    Ok((response, start.elapsed()))
}

/// A registry running in this process on its own fresh database.
struct Registry {
    url: String,
    addr: SocketAddr,
    pool: PgPool,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), homeward_registry::StartError>>,
}

impl Registry {
    async fn start(prefix: &str, max_connections: u32) -> Result<Self, Error> {
        let url = testing::fresh_postgres_database(prefix).await;
        let config = RegistryConfig {
            server: ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                concurrency_limit: 16_384,
                concurrency_limit_per_connection: 4_096,
                max_concurrent_streams: 4_096,
                // Generous, so a slow import is measured rather than cut off.
                request_timeout_ms: 600_000,
                shutdown_grace_ms: 5_000,
                ..ServerConfig::default()
            },
            database: DatabaseConfig {
                url: url.clone(),
                max_connections,
                ..DatabaseConfig::default()
            },
            auth: AuthConfig {
                dev_mode: true,
                ..AuthConfig::default()
            },
            ..RegistryConfig::default()
        };
        let app = Application::build(config).await?;
        let addr = app.local_addr();
        let Db::Postgres(pool) = app.db().clone() else {
            return Err("the registry did not open PostgreSQL".into());
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            url,
            addr,
            pool,
            stop,
            handle,
        })
    }

    /// `n` clients, each on its own HTTP/2 connection, driven by the clients' runtime.
    async fn channels(
        &self,
        on: &Handle,
        n: usize,
    ) -> Result<Vec<RegistryServiceClient<Channel>>, Error> {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.addr))?.tcp_nodelay(true);
        on_clients(on, async move {
            let mut clients = Vec::with_capacity(n);
            for _ in 0..n.max(1) {
                let channel = endpoint.connect().await?;
                clients.push(
                    RegistryServiceClient::new(channel).max_encoding_message_size(64 * 1024 * 1024),
                );
            }
            Ok::<_, Error>(clients)
        })
        .await?
    }

    async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        self.handle.await??;
        Ok(())
    }
}

fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Time until the sequencer has positioned every outbox event and sealed every audit entry, and
/// what was pending when it started waiting.
async fn sequencer_catch_up(url: &str) -> Result<(i64, i64, Duration), Error> {
    let mut conn = PgConnection::connect(url).await?;
    let start = Instant::now();
    let pending = "SELECT (SELECT count(*) FROM outbox_pending), \
                   (SELECT count(*) FROM audit_pending)";
    let (events, audit): (i64, i64) = sqlx::query_as(pending).fetch_one(&mut conn).await?;
    let (mut e, mut a) = (events, audit);
    while (e > 0 || a > 0) && start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        (e, a) = sqlx::query_as(pending).fetch_one(&mut conn).await?;
    }
    let waited = start.elapsed();
    conn.close().await?;
    if e > 0 || a > 0 {
        return Err(format!(
            "the sequencer left {e} events and {a} audit entries pending after 120 s"
        )
        .into());
    }
    Ok((events, audit, waited))
}

/// Rows in the registry's tables, to show what one request writes.
async fn table_counts(url: &str) -> Result<Vec<(String, i64)>, Error> {
    let mut conn = PgConnection::connect(url).await?;
    let mut out = Vec::new();
    for table in [
        "persons",
        "status_history",
        "outbox",
        "audit_log",
        "idempotency",
    ] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await?;
        out.push((table.to_string(), n));
    }
    conn.close().await?;
    Ok(out)
}

struct PhaseResult {
    name: &'static str,
    unit: &'static str,
    outcome: Outcome,
    profile: Profile,
    catch_up: Option<(i64, i64, Duration)>,
}

struct Server {
    version: String,
    settings: Vec<(String, String)>,
}

async fn server_info(url: &str) -> Result<Server, Error> {
    let mut conn = PgConnection::connect(url).await?;
    let (version,): (String,) = sqlx::query_as("SELECT version()")
        .fetch_one(&mut conn)
        .await?;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name IN \
         ('synchronous_commit', 'fsync', 'autovacuum', 'shared_buffers', 'max_connections', 'wal_sync_method', \
          'commit_delay', 'max_wal_size') ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    Ok(Server { version, settings })
}

async fn drop_database(server_url: &str, url: &str) {
    let name = db_name(url);
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return;
    }
    if let Ok(mut conn) = PgConnection::connect(server_url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            eprintln!("could not drop {name}: {e}");
        }
        let _ = conn.close().await;
    }
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The command as typed: through cargo when cargo started us, else the binary as invoked.
fn command_line() -> (String, String) {
    let argv: Vec<String> = std::env::args().collect();
    let invoked = argv
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let args = argv
        .iter()
        .skip(1)
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let profile = if cfg!(debug_assertions) {
        ""
    } else {
        " --release"
    };
    let cargo = format!(
        "cargo run{profile} -p homeward-bench --bin registry-bench{}",
        if args.is_empty() {
            String::new()
        } else {
            format!(" -- {args}")
        }
    );
    if std::env::var_os("CARGO").is_some() {
        (cargo, invoked)
    } else {
        (invoked, cargo)
    }
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.2} ms", d.as_secs_f64() * 1e3),
        None => "—".into(),
    }
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// Runs `fut` on the clients' runtime, so its CPU is counted apart from the registry's.
async fn on_clients<F>(clients: &Handle, fut: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(clients.spawn(fut).await?)
}

async fn run(args: Args, on: Handle) -> Result<(String, bool), Error> {
    let sizes = args.sizes();
    let tasks = args.concurrency.max(1);
    let pool_size = u32::try_from(tasks).unwrap_or(u32::MAX);
    let (command, alternative) = command_line();
    let machine = probe::machine();
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let server_url = testing::server_url();
    let server = server_info(&server_url).await?;
    let mut created = Vec::new();
    let mut healthy = true;

    progress!(
        "generating {} persons ...",
        2 * (sizes.rows + sizes.rows_warmup) + sizes.import_rows + sizes.import_warmup
    );
    let mut rng = Rng::new(args.seed);
    let raw_rows: Vec<Row> = (0..sizes.rows_warmup + sizes.rows)
        .map(|n| people::row(&people::person(&mut rng, "RAW", n)))
        .collect();
    let requests: Vec<pb::CreatePersonRequest> = (0..sizes.rows_warmup + sizes.rows)
        .map(|n| create_request(people::person(&mut rng, "API", n)))
        .collect();
    let warm_imports: Vec<Generated> = (0..sizes.import_warmup)
        .map(|n| people::person(&mut rng, "IMPW", n))
        .collect();
    let imports: Vec<Generated> = (0..sizes.import_rows)
        .map(|n| people::person(&mut rng, "IMP", n))
        .collect();
    let keys = TokenKeys::from_config(&AuthConfig {
        dev_mode: true,
        ..AuthConfig::default()
    })?;
    let token = keys.mint(
        "registry-bench",
        &[Role::Registrar],
        "UA",
        Duration::from_secs(3_600),
    )?;
    let bearer: MetadataValue<Ascii> = format!("Bearer {token}").parse()?;

    // Phases 1 and 2 share one fresh database: the registry's, with `bench_persons` beside it.
    progress!("starting the registry on a fresh database ...");
    let registry = Registry::start("bench_registry", pool_size).await?;
    created.push(registry.url.clone());
    let mut results = Vec::new();

    // 1. Raw INSERT baseline.
    {
        let mut conn = PgConnection::connect(&registry.url).await?;
        sqlx::raw_sql(BENCH_TABLE).execute(&mut conn).await?;
        conn.close().await?;
        let url = registry.url.clone();
        let pool = on_clients(&on, async move {
            PgPoolOptions::new()
                .max_connections(pool_size)
                .min_connections(pool_size)
                .acquire_timeout(Duration::from_secs(30))
                .connect(&url)
                .await
        })
        .await??;
        let mut rows = raw_rows;
        let measured = rows.split_off(sizes.rows_warmup);
        progress!("baseline: warm-up {} rows ...", rows.len());
        let p = pool.clone();
        let warm = on_clients(&on, async move { raw_inserts(&p, rows, tasks).await }).await?;
        if warm.errors > 0 {
            return Err(format!(
                "baseline warm-up failed: {}",
                warm.first_error.unwrap_or_default()
            )
            .into());
        }
        progress!(
            "baseline: {} rows, {tasks} tasks, pool of {pool_size} ...",
            measured.len()
        );
        let probe =
            probe::Probe::start(&server_url, db_name(&registry.url), Some(pool.clone())).await?;
        let p = pool.clone();
        let outcome =
            on_clients(&on, async move { raw_inserts(&p, measured, tasks).await }).await?;
        let profile = probe.finish().await;
        pool.close().await;
        results.push(PhaseResult {
            name: "Raw INSERT (sqlx, 1 row per statement, autocommit)",
            unit: "rows/s",
            outcome,
            profile,
            catch_up: None,
        });
    }

    // 2. CreatePerson over gRPC.
    let create_counts;
    let record_sizes: (f64, f64);
    {
        let clients = Arc::new(registry.channels(&on, args.channels).await?);
        let mut requests = requests;
        let measured = requests.split_off(sizes.rows_warmup);
        progress!("CreatePerson: warm-up {} requests ...", requests.len());
        let (c, b) = (clients.clone(), bearer.clone());
        let warm = on_clients(
            &on,
            async move { create_persons(&c, &b, requests, tasks).await },
        )
        .await?;
        if warm.errors > 0 {
            return Err(format!(
                "CreatePerson warm-up failed: {}",
                warm.first_error.unwrap_or_default()
            )
            .into());
        }
        sequencer_catch_up(&registry.url).await?;
        progress!(
            "CreatePerson: {} requests, {tasks} clients over {} channels ...",
            measured.len(),
            clients.len()
        );
        let probe = probe::Probe::start(
            &server_url,
            db_name(&registry.url),
            Some(registry.pool.clone()),
        )
        .await?;
        let (c, b) = (clients.clone(), bearer.clone());
        let outcome = on_clients(
            &on,
            async move { create_persons(&c, &b, measured, tasks).await },
        )
        .await?;
        let profile = probe.finish().await;
        let catch_up = sequencer_catch_up(&registry.url).await?;
        create_counts = table_counts(&registry.url).await?;
        let mut conn = PgConnection::connect(&registry.url).await?;
        let (api,): (f64,) =
            sqlx::query_as("SELECT coalesce(avg(octet_length(record)), 0)::float8 FROM persons")
                .fetch_one(&mut conn)
                .await?;
        let (raw,): (f64,) = sqlx::query_as(
            "SELECT coalesce(avg(octet_length(record)), 0)::float8 FROM bench_persons",
        )
        .fetch_one(&mut conn)
        .await?;
        conn.close().await?;
        record_sizes = (raw, api);
        drop(clients);
        results.push(PhaseResult {
            name: "CreatePerson (gRPC unary)",
            unit: "requests/s",
            outcome,
            profile,
            catch_up: Some(catch_up),
        });
    }
    registry.stop().await?;

    // 3. ImportPersons into a fresh database.
    let import_check;
    {
        progress!("starting a registry on a fresh database for the import ...");
        let registry = Registry::start("bench_import", pool_size).await?;
        created.push(registry.url.clone());
        let client = registry.channels(&on, 1).await?.remove(0);
        progress!(
            "ImportPersons: warm-up stream of {} rows ...",
            warm_imports.len()
        );
        let (c, b) = (client.clone(), bearer.clone());
        let (warm, _) =
            on_clients(&on, async move { import(&c, &b, warm_imports).await }).await??;
        if warm.rows_imported != warm.rows_received {
            return Err(format!("import warm-up rejected rows: {:?}", warm.errors.first()).into());
        }
        sequencer_catch_up(&registry.url).await?;
        progress!("ImportPersons: one stream of {} rows ...", imports.len());
        let sent = imports.len() as u64;
        let probe = probe::Probe::start(
            &server_url,
            db_name(&registry.url),
            Some(registry.pool.clone()),
        )
        .await?;
        let (c, b) = (client.clone(), bearer.clone());
        let result = on_clients(&on, async move { import(&c, &b, imports).await }).await?;
        let profile = probe.finish().await;
        let (response, elapsed) = result?;
        let catch_up = sequencer_catch_up(&registry.url).await?;
        let all = response.rows_received == sent
            && response.rows_imported == sent
            && response.rows_rejected == 0;
        healthy &= all;
        import_check = format!(
            "{}: received {}, imported {}, rejected {}{}",
            if all {
                "all rows imported"
            } else {
                "NOT all rows imported"
            },
            response.rows_received,
            response.rows_imported,
            response.rows_rejected,
            response
                .errors
                .first()
                .map(|e| format!(
                    " (first error: row {} {} {})",
                    e.row_number, e.field, e.description
                ))
                .unwrap_or_default()
        );
        drop(client);
        registry.stop().await?;
        results.push(PhaseResult {
            name: "ImportPersons (1 client stream)",
            unit: "rows/s",
            outcome: Outcome {
                ok: response.rows_imported as usize,
                errors: response.rows_rejected as usize,
                first_error: None,
                latencies: Vec::new(),
                elapsed,
            },
            profile,
            catch_up: Some(catch_up),
        });
    }

    let experiments = if args.breakdown {
        breakdown::run(
            sizes.rows,
            sizes.import_rows,
            tasks,
            args.seed,
            &server_url,
            args.keep_databases,
        )
        .await?
    } else {
        Vec::new()
    };
    progress!("done; writing the report");

    if !args.keep_databases {
        for url in &created {
            drop_database(&server_url, url).await;
        }
    }
    for r in &results {
        healthy &= r.outcome.errors == 0;
    }
    for e in &experiments {
        healthy &= e.outcome.errors == 0;
    }

    // The report.
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Registry benchmark on PostgreSQL\n");
    let _ = writeln!(w, "- **Date:** {date}");
    let _ = writeln!(
        w,
        "- **Machine:** {}, {} cores ({} logical CPUs), {:.0} GiB RAM, Linux {}",
        machine.cpu_model, machine.cores, machine.logical_cpus, machine.memory_gib, machine.kernel
    );
    let _ = writeln!(w, "- **PostgreSQL:** {}", server.version);
    let _ = writeln!(
        w,
        "- **PostgreSQL settings:** {}",
        server
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(w, "- **Command:** `{command}`");
    let _ = writeln!(w, "  (equivalently `{alternative}`)");
    let _ = writeln!(
        w,
        "- **Build:** {}; client, registry and PostgreSQL share this machine",
        if cfg!(debug_assertions) {
            "debug (numbers are not representative)"
        } else {
            "release"
        }
    );
    let _ = writeln!(
        w,
        "- **Sizes:** {} rows for the baseline and CreatePerson (after {} warm-up), {} import rows (after a {}-row warm-up stream); \
         {tasks} concurrent tasks/clients, {} gRPC channels, pools of {pool_size} connections; seed {}",
        sizes.rows,
        sizes.rows_warmup,
        sizes.import_rows,
        sizes.import_warmup,
        args.channels.max(1),
        args.seed
    );
    let _ = writeln!(
        w,
        "- **Record size:** mean JSON record {:.0} bytes in `bench_persons`, {:.0} bytes in `persons`\n",
        record_sizes.0, record_sizes.1
    );

    let _ = writeln!(w, "## Results\n");
    let _ = writeln!(
        w,
        "| Measurement | Count | Time | Throughput | p50 | p99 | Errors |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        let _ = writeln!(
            w,
            "| {} | {} | {:.2} s | **{} {}** | {} | {} | {} |",
            r.name,
            thousands(r.outcome.ok as f64),
            r.outcome.elapsed.as_secs_f64(),
            thousands(r.outcome.per_second()),
            r.unit,
            ms(r.outcome.percentile(0.50)),
            ms(r.outcome.percentile(0.99)),
            r.outcome.errors
        );
    }
    let raw = results[0].outcome.per_second();
    let create = results[1].outcome.per_second();
    let imported = results[2].outcome.per_second();
    let ratio = create / raw.max(1e-9);
    let _ = writeln!(w);
    let _ = writeln!(w, "| Target | Measured | Aim | Verdict |");
    let _ = writeln!(w, "|---|---:|---:|---|");
    let _ = writeln!(
        w,
        "| CreatePerson / raw INSERT | {} | ≥ 50% | {} |",
        percent(ratio),
        if ratio >= 0.5 { "met" } else { "**missed**" }
    );
    let _ = writeln!(
        w,
        "| ImportPersons rows/s | {} | ≥ 30,000 | {} |",
        thousands(imported),
        if imported >= 30_000.0 {
            "met"
        } else {
            "**missed**"
        }
    );
    let _ = writeln!(w, "\nImport check: {import_check}.");
    for r in &results {
        if let Some(e) = &r.outcome.first_error {
            let _ = writeln!(w, "\nFirst error in {}: `{e}`", r.name);
        }
    }

    let _ = writeln!(w, "\n## Profile\n");
    let _ = writeln!(
        w,
        "CPU is in core-seconds over the measured phase, split by thread: the bench's clients (gRPC clients, or the sqlx \
         tasks of the baseline) run on their own runtime; \"registry\" is the rest of this process (the in-process registry: \
         gRPC server, handlers, store, sequencer); PostgreSQL is every `postgres` process. Transaction ids and WAL are counted server-wide. Backend states are sampled from `pg_stat_activity` every 50 ms \
         for the phase's database and given as the mean number of backends in each state.\n"
    );
    let _ = writeln!(
        w,
        "| Phase | Machine busy | iowait | CPU s: clients / registry / PostgreSQL / other processes | CPU µs per row: clients / registry / PostgreSQL | Write xacts/row | WAL bytes/row | Pool in use | Sequencer backlog at end → caught up after |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in &results {
        let p = &r.profile;
        let n = r.outcome.ok.max(1) as f64;
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1} / {:.1} / {:.1} / {:.1} | {:.0} / {:.0} / {:.0} | {:.3} | {} | {} | {} |",
            r.name,
            percent(p.machine_busy),
            percent(p.machine_iowait),
            p.client_cpu_s,
            p.own_cpu_s,
            p.postgres_cpu_s,
            p.other_cpu_s,
            p.client_cpu_s * 1e6 / n,
            p.own_cpu_s * 1e6 / n,
            p.postgres_cpu_s * 1e6 / n,
            p.xids as f64 / n,
            thousands(p.wal_bytes as f64 / n),
            p.pool_in_use
                .map(|(used, max)| format!("{used:.1} of {max}"))
                .unwrap_or_else(|| "—".into()),
            r.catch_up
                .map(|(e, a, d)| format!(
                    "{e} events, {a} audit entries → {:.2} s",
                    d.as_secs_f64()
                ))
                .unwrap_or_else(|| "—".into()),
        );
    }
    for r in &results {
        let _ = writeln!(
            w,
            "\n**{}** — backend states ({} samples):\n",
            r.name, r.profile.samples
        );
        for (state, mean) in r.profile.backend_states.iter().take(8) {
            let _ = writeln!(w, "- {mean:.1} × {state}");
        }
        if !r.profile.active_statements.is_empty() {
            let _ = writeln!(w, "\nActive statements (mean backends running each):\n");
            for (query, mean) in r.profile.active_statements.iter().take(8) {
                let _ = writeln!(w, "- {mean:.2} × `{}`", query.replace('`', "'"));
            }
        }
    }
    if !experiments.is_empty() {
        let _ = writeln!(w, "\n## Breakdown: the store without gRPC\n");
        let _ = writeln!(
            w,
            "The registry's `RegistryStore::write` called directly with the batches the handlers build (built before the clock \
             starts), each in a fresh database. CreatePerson-shaped rows use {tasks} tasks over a pool of {pool_size}; import \
             chunks of {} are written by {} tasks at once, as `ImportPersons` does.\n",
            breakdown::IMPORT_CHUNK,
            breakdown::IMPORT_WRITERS
        );
        let _ = writeln!(
            w,
            "| Experiment | Rows | Throughput | vs raw INSERT | p50 | p99 | CPU µs/row (store + PG) | Other processes' CPU | Write xacts/row | WAL bytes/row | Pool in use |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for e in &experiments {
            let p = &e.profile;
            let n = e.rows.max(1) as f64;
            let _ = writeln!(
                w,
                "| {} | {} | **{} rows/s** | {} | {} | {} | {:.0} + {:.0} | {:.1} s | {:.3} | {} | {} |",
                e.name,
                thousands(n),
                thousands(e.rows_per_second()),
                percent(e.rows_per_second() / raw.max(1e-9)),
                ms(e.outcome.percentile(0.50)),
                ms(e.outcome.percentile(0.99)),
                p.own_cpu_s * 1e6 / n,
                p.postgres_cpu_s * 1e6 / n,
                p.other_cpu_s,
                p.xids as f64 / n,
                thousands(p.wal_bytes as f64 / n),
                p.pool_in_use
                    .map(|(used, max)| format!("{used:.1} of {max}"))
                    .unwrap_or_else(|| "—".into()),
            );
        }
        for e in &experiments {
            if let Some(err) = &e.outcome.first_error {
                let _ = writeln!(w, "\nFirst error in {}: `{err}`", e.name);
            }
            let top: Vec<String> = e
                .profile
                .active_statements
                .iter()
                .take(4)
                .map(|(q, m)| format!("{m:.2} × `{}`", q.replace('`', "'")))
                .collect();
            if !top.is_empty() {
                let _ = writeln!(w, "\n*{}* — busiest statements: {}", e.name, top.join("; "));
            }
        }
    }
    let total_creates = (sizes.rows + sizes.rows_warmup) as f64;
    let _ = writeln!(
        w,
        "\nRows written per CreatePerson (table rows ÷ {} requests incl. warm-up): {}.",
        total_creates,
        create_counts
            .iter()
            .map(|(t, n)| format!("{t} {:.2}", *n as f64 / total_creates))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((md, healthy))
}

fn main() -> ExitCode {
    since_start();
    let args = Args::parse();
    let report = args.report.clone();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // Two runtimes, so the CPU the bench's clients burn is told apart from the registry's.
    let runtimes = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(probe::CLIENT_THREAD)
        .enable_all()
        .build()
        .and_then(|clients| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("registry")
                .enable_all()
                .build()
                .map(|server| (clients, server))
        });
    let (clients, server) = match runtimes {
        Ok(r) => r,
        Err(e) => {
            eprintln!("registry-bench: cannot start the runtimes: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = server.block_on(run(args, clients.handle().clone()));
    drop(server);
    drop(clients);
    match result {
        Ok((md, healthy)) => {
            println!("{md}");
            if let Some(path) = report {
                if let Err(e) = std::fs::write(&path, &md) {
                    eprintln!("cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                eprintln!("report written to {}", path.display());
            }
            if healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("registry-bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
