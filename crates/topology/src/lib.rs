//! The compose topology as plain processes on one machine: one PostgreSQL database per service,
//! a migration step per database (as the Kubernetes Job does it), then each service its own
//! process on its own port, with as many replicas as asked. Peers are given every replica's
//! address (`homeward_kit::client` balances over the healthy ones).
//!
//! `make run-distributed` starts it and waits; the distributed end-to-end test starts it, plays
//! an exchange across it and kills replicas in the middle.

#![forbid(unsafe_code)]

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use tokio::process::{Child, Command};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(
        "{0} not found in {1}: build the service binaries first (`cargo build --bins -p homeward-registry -p homeward-exchange -p homeward-notification`)"
    )]
    MissingBinary(String, String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("database: {0}")]
    Database(String),
    #[error("{name} did not start: {reason}; last lines of {log}:\n{tail}")]
    NotStarted {
        name: String,
        reason: String,
        log: String,
        tail: String,
    },
    #[error("migrations of {0} failed; see {1}")]
    Migration(String, String),
}

type Result<T> = std::result::Result<T, TopologyError>;

/// The three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Registry,
    Exchange,
    Notification,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Registry, Service::Exchange, Service::Notification];

    pub fn name(self) -> &'static str {
        match self {
            Service::Registry => "registry",
            Service::Exchange => "exchange",
            Service::Notification => "notification",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Service::Registry => "homeward-registry",
            Service::Exchange => "homeward-exchange",
            Service::Notification => "homeward-notification",
        }
    }

    /// The fixed gRPC port of the first replica (the compose file's); replica `n` adds `10 * n`.
    fn base_port(self) -> u16 {
        match self {
            Service::Registry => 50051,
            Service::Exchange => 50052,
            Service::Notification => 50053,
        }
    }
}

/// Where each service keeps its data.
#[derive(Debug, Clone)]
pub struct Databases {
    pub registry: String,
    pub exchange: String,
    pub notification: String,
}

impl Databases {
    fn url(&self, service: Service) -> &str {
        match service {
            Service::Registry => &self.registry,
            Service::Exchange => &self.exchange,
            Service::Notification => &self.notification,
        }
    }

    /// `homeward_registry`, `homeward_exchange` and `homeward_notification` on the server at
    /// `server` (a `postgres://` url naming any database), created when missing.
    pub async fn on_server(server: &str) -> Result<Self> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .map_err(|e| TopologyError::Database(e.to_string()))?;
        let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
        let mut urls = Vec::new();
        for service in Service::ALL {
            let name = format!("homeward_{}", service.name());
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| TopologyError::Database(e.to_string()))?;
            if !exists {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| TopologyError::Database(e.to_string()))?;
            }
            urls.push(format!("{base}/{name}"));
        }
        Ok(Self {
            registry: urls[0].clone(),
            exchange: urls[1].clone(),
            notification: urls[2].clone(),
        })
    }
}

/// How the topology is laid out.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Folder of the service binaries.
    pub bin_dir: PathBuf,
    /// Logs and letters of this run.
    pub run_dir: PathBuf,
    pub databases: Databases,
    pub registry_replicas: usize,
    pub exchange_replicas: usize,
    pub notification_replicas: usize,
    /// Fixed ports (50051.., metrics 9101..) or any free ones.
    pub fixed_ports: bool,
    /// Variables given to every service (`OTEL_EXPORTER_OTLP_ENDPOINT`, `RUST_LOG`, ...).
    pub env: Vec<(String, String)>,
}

impl Spec {
    /// Two replicas of each service, binaries beside the running executable.
    pub fn new(databases: Databases, run_dir: PathBuf) -> Result<Self> {
        Ok(Self {
            bin_dir: bin_dir()?,
            run_dir,
            databases,
            registry_replicas: 2,
            exchange_replicas: 2,
            notification_replicas: 2,
            fixed_ports: false,
            env: Vec::new(),
        })
    }

    fn replicas(&self, service: Service) -> usize {
        match service {
            Service::Registry => self.registry_replicas,
            Service::Exchange => self.exchange_replicas,
            Service::Notification => self.notification_replicas,
        }
        .max(1)
    }
}

/// The folder holding the service binaries: `HOMEWARD_BIN_DIR`, or the running executable's
/// folder (a binary in `target/debug`) or its parent (a test in `target/debug/deps`).
pub fn bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("HOMEWARD_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| TopologyError::Io("current exe".into(), e))?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.join(Service::Registry.binary()).exists() {
        return Ok(dir);
    }
    Ok(dir.parent().map(Path::to_path_buf).unwrap_or(dir))
}

/// One running replica.
pub struct Replica {
    pub service: Service,
    pub index: usize,
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    pub log: PathBuf,
    /// Where a notification replica writes its letters (shared by the replicas).
    pub letters: Option<PathBuf>,
    child: Option<Child>,
}

impl Replica {
    pub fn name(&self) -> String {
        format!("{}-{}", self.service.name(), self.index + 1)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    fn pid(&self) -> Option<Pid> {
        self.child
            .as_ref()
            .and_then(Child::id)
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
    }
}

/// The running topology. Dropping it kills every process.
pub struct Topology {
    pub spec: Spec,
    pub replicas: Vec<Replica>,
}

impl Topology {
    /// Migrates each database, then starts the registry replicas, the exchange replicas and the
    /// notification replicas, each waited for until it reports SERVING.
    pub async fn start(spec: Spec) -> Result<Self> {
        for service in Service::ALL {
            let path = spec.bin_dir.join(service.binary());
            if !path.exists() {
                return Err(TopologyError::MissingBinary(
                    service.binary().into(),
                    spec.bin_dir.display().to_string(),
                ));
            }
        }
        let logs = spec.run_dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| TopologyError::Io(logs.display().to_string(), e))?;
        for service in Service::ALL {
            migrate(&spec, service).await?;
        }
        let mut topology = Self {
            spec,
            replicas: Vec::new(),
        };
        // Free ports are held until their replica starts, so no two replicas get the same one.
        let mut held = Vec::new();
        let mut planned = Vec::new();
        let mut offset = 0u16;
        for service in Service::ALL {
            for index in 0..topology.spec.replicas(service) {
                let (addr, metrics) = if topology.spec.fixed_ports {
                    let n = u16::try_from(index).unwrap_or(0);
                    (
                        SocketAddr::from(([127, 0, 0, 1], service.base_port() + 10 * n)),
                        SocketAddr::from(([127, 0, 0, 1], 9101 + offset)),
                    )
                } else {
                    let (grpc, metrics) = (free_port()?, free_port()?);
                    let addrs = (local_addr(&grpc)?, local_addr(&metrics)?);
                    held.push((grpc, metrics));
                    addrs
                };
                offset += 1;
                planned.push((service, index, addr, metrics));
            }
        }
        let mut held = held.into_iter();
        for (service, index, addr, metrics) in planned {
            drop(held.next());
            {
                // One folder for every notification replica, as they share one mail provider: a
                // letter is written under its delivery id, so a delivery sent again after a crash
                // replaces its letter instead of reaching the family twice.
                let letters = (service == Service::Notification)
                    .then(|| topology.spec.run_dir.join("letters"));
                let mut replica = Replica {
                    service,
                    index,
                    addr,
                    metrics,
                    log: logs.join(format!("{}-{}.log", service.name(), index + 1)),
                    letters,
                    child: None,
                };
                topology.launch(&mut replica).await?;
                topology.replicas.push(replica);
            }
        }
        Ok(topology)
    }

    /// Every replica's url of `service`, comma-separated: what its peers are given.
    pub fn urls(&self, service: Service) -> String {
        self.replicas
            .iter()
            .filter(|r| r.service == service)
            .map(Replica::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn replica(&self, service: Service, index: usize) -> Option<&Replica> {
        self.replicas
            .iter()
            .find(|r| r.service == service && r.index == index)
    }

    fn env(&self, replica: &Replica) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOMEWARD_SERVER__LISTEN".into(), replica.addr.to_string()),
            (
                "HOMEWARD_DATABASE__URL".into(),
                self.spec.databases.url(replica.service).to_string(),
            ),
            ("HOMEWARD_DATABASE__MIGRATE".into(), "false".into()),
            ("HOMEWARD_DATABASE__MAX_CONNECTIONS".into(), "4".into()),
            ("HOMEWARD_AUTH__DEV_MODE".into(), "true".into()),
            (
                "HOMEWARD_METRICS__LISTEN".into(),
                replica.metrics.to_string(),
            ),
            ("HOMEWARD_SERVER__DRAIN_DELAY_MS".into(), "300".into()),
            ("HOMEWARD_SERVER__SHUTDOWN_GRACE_MS".into(), "5000".into()),
        ];
        match replica.service {
            Service::Registry => {}
            Service::Exchange => {
                env.push((
                    "HOMEWARD_REGISTRY__URL".into(),
                    self.urls(Service::Registry),
                ));
                env.push(("HOMEWARD_REGISTRY__RESUME_INTERVAL_MS".into(), "500".into()));
            }
            Service::Notification => {
                env.push((
                    "HOMEWARD_PEERS__REGISTRY_URL".into(),
                    self.urls(Service::Registry),
                ));
                env.push((
                    "HOMEWARD_PEERS__EXCHANGE_URL".into(),
                    self.urls(Service::Exchange),
                ));
                if let Some(letters) = &replica.letters {
                    env.push((
                        "HOMEWARD_DELIVERY__FILE__DIR".into(),
                        letters.display().to_string(),
                    ));
                }
            }
        }
        env.extend(self.spec.env.iter().cloned());
        env
    }

    /// Starts `replica`'s process and waits until it serves.
    async fn launch(&self, replica: &mut Replica) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&replica.log)
            .map_err(|e| TopologyError::Io(replica.log.display().to_string(), e))?;
        let err = log
            .try_clone()
            .map_err(|e| TopologyError::Io(replica.log.display().to_string(), e))?;
        let mut command = Command::new(self.spec.bin_dir.join(replica.service.binary()));
        command
            .envs(self.env(replica))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| TopologyError::Io(replica.service.binary().into(), e))?;
        replica.child = Some(child);
        wait_serving(replica, Duration::from_secs(90)).await
    }

    /// Kills a replica with SIGKILL, as a crash would, and reaps it.
    pub async fn kill(&mut self, service: Service, index: usize) {
        if let Some(replica) = self
            .replicas
            .iter_mut()
            .find(|r| r.service == service && r.index == index)
            && let Some(mut child) = replica.child.take()
        {
            let _ = child.kill().await;
            tracing::info!(replica = %replica.name(), "killed");
        }
    }

    /// Stops a replica with SIGTERM and waits up to `grace` for it to drain and exit.
    pub async fn terminate(&mut self, service: Service, index: usize, grace: Duration) -> bool {
        let Some(replica) = self
            .replicas
            .iter_mut()
            .find(|r| r.service == service && r.index == index)
        else {
            return false;
        };
        terminate(replica, grace).await
    }

    /// Starts a stopped replica again on the same port.
    pub async fn restart(&mut self, service: Service, index: usize) -> Result<()> {
        let Some(position) = self
            .replicas
            .iter()
            .position(|r| r.service == service && r.index == index)
        else {
            return Ok(());
        };
        let mut replica = self.replicas.remove(position);
        let outcome = if replica.running() {
            Ok(())
        } else {
            self.launch(&mut replica).await
        };
        self.replicas.insert(position, replica);
        outcome
    }

    /// Stops every replica with SIGTERM, notification first, registry last.
    pub async fn stop(mut self) {
        for replica in self.replicas.iter_mut().rev() {
            terminate(replica, Duration::from_secs(15)).await;
        }
    }
}

async fn terminate(replica: &mut Replica, grace: Duration) -> bool {
    let Some(pid) = replica.pid() else {
        return false;
    };
    let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    let Some(mut child) = replica.child.take() else {
        return false;
    };
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        _ => {
            let _ = child.kill().await;
            false
        }
    }
}

/// Runs `service --migrate-only` against its database and waits for it to finish.
async fn migrate(spec: &Spec, service: Service) -> Result<()> {
    let log = spec
        .run_dir
        .join("logs")
        .join(format!("{}-migrate.log", service.name()));
    let file =
        std::fs::File::create(&log).map_err(|e| TopologyError::Io(log.display().to_string(), e))?;
    let err = file
        .try_clone()
        .map_err(|e| TopologyError::Io(log.display().to_string(), e))?;
    let status = Command::new(spec.bin_dir.join(service.binary()))
        .arg("--migrate-only")
        .env("HOMEWARD_DATABASE__URL", spec.databases.url(service))
        .env("HOMEWARD_AUTH__DEV_MODE", "true")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .await
        .map_err(|e| TopologyError::Io(service.binary().into(), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(TopologyError::Migration(
            service.name().into(),
            log.display().to_string(),
        ))
    }
}

/// Waits until the replica reports SERVING, failing early if its process exits.
async fn wait_serving(replica: &mut Replica, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let url = replica.url();
    let failed = |replica: &Replica, reason: String| TopologyError::NotStarted {
        name: replica.name(),
        reason,
        log: replica.log.display().to_string(),
        tail: tail(&replica.log, 20),
    };
    loop {
        if let Some(child) = replica.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            replica.child = None;
            return Err(failed(replica, format!("exited with {status}")));
        }
        if let Ok(endpoint) = tonic::transport::Endpoint::from_shared(url.clone())
            && let Ok(channel) = endpoint.connect().await
        {
            let mut health = HealthClient::new(channel);
            if let Ok(response) = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                && response.into_inner().status == ServingStatus::Serving as i32
            {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(failed(replica, format!("not serving after {within:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).map_err(|e| TopologyError::Io("free port".into(), e))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr> {
    listener
        .local_addr()
        .map_err(|e| TopologyError::Io("free port".into(), e))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
