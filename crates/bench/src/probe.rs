//! Cheap profiling: where CPU time went (this process, PostgreSQL, the machine), what the
//! database's backends were doing (sampled `pg_stat_activity`), how busy the registry's pool
//! was, and how much the database wrote (transaction ids and WAL bytes consumed).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{Connection, PgConnection, PgPool};

/// Linux reports process times in clock ticks of 1/100 s on every architecture it runs on.
const TICKS_PER_SECOND: f64 = 100.0;

pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub logical_cpus: usize,
    pub memory_gib: f64,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |line: &str, name: &str| -> Option<String> {
        let (k, v) = line.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_string())
    };
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| field(l, "model name"))
        .unwrap_or_else(|| "unknown".into());
    let logical_cpus = cpuinfo
        .lines()
        .filter(|l| field(l, "processor").is_some())
        .count();
    // Physical cores: distinct (physical id, core id) pairs, when the kernel reports them.
    let mut cores = std::collections::HashSet::new();
    let mut physical = String::new();
    for line in cpuinfo.lines() {
        if let Some(p) = field(line, "physical id") {
            physical = p;
        }
        if let Some(c) = field(line, "core id") {
            cores.insert((physical.clone(), c));
        }
    }
    let available = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    Machine {
        cpu_model,
        cores: if cores.is_empty() {
            available
        } else {
            cores.len()
        },
        logical_cpus: logical_cpus.max(available),
        memory_gib: memory_kib / 1024.0 / 1024.0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Threads of the runtime the bench's clients run on (see `main`).
pub const CLIENT_THREAD: &str = "bench-client";

/// CPU counters at one instant, in clock ticks.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// This process's threads that run the bench's clients.
    clients: u64,
    /// This process's other threads: the registry (server, store, sequencer) and the bench's
    /// orchestration.
    own: u64,
    postgres: u64,
    busy: u64,
    iowait: u64,
    total: u64,
}

fn process_ticks(stat: &str) -> Option<(String, u64)> {
    // pid (comm) state ppid ... utime(14) stime(15); comm may hold spaces, so split at ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

fn cpu_now() -> Cpu {
    let (mut clients, mut own) = (0, 0);
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Some((comm, ticks)) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| process_ticks(&s))
            {
                if comm.starts_with(CLIENT_THREAD) {
                    clients += ticks;
                } else {
                    own += ticks;
                }
            }
        }
    }
    let mut postgres = 0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some((comm, ticks)) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| process_ticks(&s))
                && (comm == "postgres" || comm == "postmaster")
            {
                postgres += ticks;
            }
        }
    }
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    let total: u64 = (0..8).map(get).sum();
    let idle = get(3);
    let iowait = get(4);
    Cpu {
        clients,
        own,
        postgres,
        busy: total.saturating_sub(idle + iowait),
        iowait,
        total,
    }
}

/// Database-wide counters at one instant.
#[derive(Clone, Copy, Default)]
struct Db {
    xid: i64,
    wal_lsn_bytes: i64,
}

async fn db_now(conn: &mut PgConnection) -> Db {
    // txid_snapshot_xmax of a fresh snapshot is the next xid to be assigned, without consuming
    // one; the WAL insert position is how far the log has been written.
    let row: Result<(i64, i64), _> = sqlx::query_as(
        "SELECT txid_snapshot_xmax(txid_current_snapshot())::bigint, \
         (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint",
    )
    .fetch_one(&mut *conn)
    .await;
    match row {
        Ok((xid, wal)) => Db {
            xid,
            wal_lsn_bytes: wal,
        },
        Err(_) => Db::default(),
    }
}

/// What one phase cost, beyond its wall time.
#[derive(Default, Clone)]
pub struct Profile {
    /// The bench's clients (gRPC clients, or the sqlx tasks of the raw-insert baseline).
    pub client_cpu_s: f64,
    /// The rest of this process: the registry in-process (or the store, in the breakdown).
    pub own_cpu_s: f64,
    pub postgres_cpu_s: f64,
    pub machine_busy: f64,
    /// CPU used by everything else on the machine (other users' builds, the kernel's own
    /// threads): a sign the numbers are disturbed when it is large.
    pub other_cpu_s: f64,
    pub machine_iowait: f64,
    pub xids: i64,
    pub wal_bytes: i64,
    /// (state, share of samples as mean number of backends in it), most frequent first.
    pub backend_states: Vec<(String, f64)>,
    /// Active statements by their start, as the mean number of backends running them.
    pub active_statements: Vec<(String, f64)>,
    pub samples: usize,
    /// Mean connections in use in the registry's pool (of its size), when it was watched.
    pub pool_in_use: Option<(f64, u32)>,
}

/// Backend states and active statements (summed over samples), and the number of samples.
type Samples = (HashMap<String, f64>, HashMap<String, f64>, usize);

/// A running measurement of one phase. `finish` stops the samplers and returns the profile.
pub struct Probe {
    cpu: Cpu,
    db: Db,
    conn: PgConnection,
    stop: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<Samples>,
    pool_sampler: Option<tokio::task::JoinHandle<(f64, u32)>>,
}

impl Probe {
    /// Starts watching the database `datname` (through `url`, a connection to any database of
    /// the same server) and, when given, the registry's pool.
    pub async fn start(
        url: &str,
        datname: &str,
        pool: Option<PgPool>,
    ) -> Result<Self, sqlx::Error> {
        let mut conn = PgConnection::connect(url).await?;
        let mut sampler_conn = PgConnection::connect(url).await?;
        let db = db_now(&mut conn).await;
        let stop = Arc::new(AtomicBool::new(false));
        let datname = datname.to_string();
        let flag = stop.clone();
        let sampler = tokio::spawn(async move {
            let mut states: HashMap<String, f64> = HashMap::new();
            let mut statements: HashMap<String, f64> = HashMap::new();
            let mut samples = 0usize;
            while !flag.load(Ordering::Relaxed) {
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT coalesce(state, ''), coalesce(wait_event_type, ''), \
                     coalesce(wait_event, ''), left(regexp_replace(query, '\\s+', ' ', 'g'), 60) \
                     FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() \
                     AND backend_type = 'client backend'",
                )
                .bind(&datname)
                .fetch_all(&mut sampler_conn)
                .await
                .unwrap_or_default();
                samples += 1;
                for (state, wait_type, wait, query) in rows {
                    let key = match state.as_str() {
                        "active" if wait_type.is_empty() => "active: on CPU".to_string(),
                        "active" => format!("active: waiting on {wait_type}/{wait}"),
                        "idle in transaction" => {
                            "idle in transaction (waiting for the app)".to_string()
                        }
                        "idle" => "idle (connection free)".to_string(),
                        other => other.to_string(),
                    };
                    *states.entry(key).or_default() += 1.0;
                    if state == "active" {
                        *statements.entry(query).or_default() += 1.0;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (states, statements, samples)
        });
        let pool_sampler = pool.map(|pool| {
            let flag = stop.clone();
            tokio::spawn(async move {
                let (mut sum, mut n) = (0.0, 0u64);
                while !flag.load(Ordering::Relaxed) {
                    sum += f64::from(pool.size()) - pool.num_idle() as f64;
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (sum / n.max(1) as f64, pool.options().get_max_connections())
            })
        });
        Ok(Self {
            cpu: cpu_now(),
            db,
            conn,
            stop,
            sampler,
            pool_sampler,
        })
    }

    pub async fn finish(mut self) -> Profile {
        let cpu = cpu_now();
        let db = db_now(&mut self.conn).await;
        self.stop.store(true, Ordering::Relaxed);
        let (states, statements, samples) = self.sampler.await.unwrap_or_default();
        let pool_in_use = match self.pool_sampler {
            Some(h) => h.await.ok(),
            None => None,
        };
        let _ = self.conn.close().await;
        let norm = |m: HashMap<String, f64>| {
            let mut v: Vec<(String, f64)> = m
                .into_iter()
                .map(|(k, c)| (k, c / samples.max(1) as f64))
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v
        };
        let total = cpu.total.saturating_sub(self.cpu.total).max(1) as f64;
        Profile {
            client_cpu_s: cpu.clients.saturating_sub(self.cpu.clients) as f64 / TICKS_PER_SECOND,
            own_cpu_s: cpu.own.saturating_sub(self.cpu.own) as f64 / TICKS_PER_SECOND,
            postgres_cpu_s: cpu.postgres.saturating_sub(self.cpu.postgres) as f64
                / TICKS_PER_SECOND,
            machine_busy: cpu.busy.saturating_sub(self.cpu.busy) as f64 / total,
            other_cpu_s: {
                let busy = cpu.busy.saturating_sub(self.cpu.busy);
                let ours = (cpu.clients + cpu.own + cpu.postgres)
                    .saturating_sub(self.cpu.clients + self.cpu.own + self.cpu.postgres);
                busy.saturating_sub(ours) as f64 / TICKS_PER_SECOND
            },
            machine_iowait: cpu.iowait.saturating_sub(self.cpu.iowait) as f64 / total,
            xids: db.xid - self.db.xid,
            wal_bytes: db.wal_lsn_bytes - self.db.wal_lsn_bytes,
            backend_states: norm(states),
            active_statements: norm(statements),
            samples,
            pool_in_use,
        }
    }
}
