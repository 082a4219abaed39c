//! Database setup for both backends: PostgreSQL in deployment, SQLite as the embedded default.
//! Migrations (the kit's own tables plus the service's) run at start under the migrator's lock,
//! so replicas starting together never race. Where a separate step migrates (`--migrate-only`,
//! the Kubernetes Job), services start with `database.migrate = false` and wait until every
//! migration they know of has been applied.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{config::DatabaseConfig, error::StoreError};

static KIT_POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static KIT_SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// A service's own migrations for each backend; versions must start at 100 (below is the kit's).
pub struct Migrations {
    pub postgres: &'static Migrator,
    pub sqlite: &'static Migrator,
}

/// A connected, migrated database.
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Db {
    /// Connects (retrying while the server is not up yet, for up to `acquire_timeout` × 6) and
    /// runs migrations.
    pub async fn connect(
        config: &DatabaseConfig,
        migrations: &Migrations,
    ) -> Result<Self, StoreError> {
        let url = config.url.trim();
        let (db, migrator) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No ping before each use: it is a round trip per request, and a broken connection
            // fails its statement anyway, which callers see as UNAVAILABLE and retry.
            let options = PgPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(config.max_connections)
                .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms));
            let mut attempt = 0;
            let pool = loop {
                match options.clone().connect(url).await {
                    Ok(pool) => break pool,
                    Err(err) => {
                        let err = StoreError::from(err);
                        attempt += 1;
                        if !matches!(err, StoreError::Unavailable(_)) || attempt >= 6 {
                            return Err(err);
                        }
                        tracing::warn!(attempt, "database not reachable yet, retrying");
                        tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                    }
                }
            };
            let migrator = merged(&KIT_POSTGRES, migrations.postgres)?;
            if config.migrate {
                migrator.run(&pool).await?;
            }
            (Db::Postgres(pool), migrator)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
                .connect_with(options)
                .await?;
            let migrator = merged(&KIT_SQLITE, migrations.sqlite)?;
            if config.migrate {
                migrator.run(&pool).await?;
            }
            (Db::Sqlite(pool), migrator)
        } else {
            return Err(StoreError::Other(
                "database url must start with postgres:// or sqlite://".into(),
            ));
        };
        if !config.migrate {
            wait_for_schema(&db, &migrator, config.schema_wait_ms).await?;
        }
        Ok(db)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(pool) => pool.close().await,
        }
    }
}

/// Waits until every migration of `migrator` has been applied by someone else.
async fn wait_for_schema(db: &Db, migrator: &Migrator, wait_ms: u64) -> Result<(), StoreError> {
    const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let deadline = std::time::Instant::now() + Duration::from_millis(wait_ms);
    loop {
        // Before the first migration the table does not exist: nothing is applied yet.
        let applied: Vec<i64> = match db {
            Db::Postgres(pool) => sqlx::query_scalar(APPLIED).fetch_all(pool).await,
            Db::Sqlite(pool) => sqlx::query_scalar(APPLIED).fetch_all(pool).await,
        }
        .unwrap_or_default();
        let missing = migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        if missing == 0 {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "{missing} migrations not applied: run the service with --migrate-only first"
            )));
        }
        tracing::info!(missing, "waiting for migrations to be applied");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Connects and applies every migration, for a separate migration step (`--migrate-only`).
pub async fn migrate_only(
    config: &DatabaseConfig,
    migrations: &Migrations,
) -> Result<(), StoreError> {
    let config = DatabaseConfig {
        migrate: true,
        ..config.clone()
    };
    Db::connect(&config, migrations).await?.close().await;
    Ok(())
}

fn merged(kit: &Migrator, service: &Migrator) -> Result<Migrator, StoreError> {
    let mut all: Vec<_> = kit.iter().chain(service.iter()).cloned().collect();
    all.sort_by_key(|m| m.version);
    if all.windows(2).any(|w| w[0].version == w[1].version) {
        return Err(StoreError::Other("two migrations share a version".into()));
    }
    Ok(Migrator::with_migrations(all))
}

/// A lease on one piece of background work that only one replica should do at a time (following
/// an event stream, say). On PostgreSQL it is a session advisory lock on a connection of its own,
/// taken out of the pool: a replica that dies closes the connection and the lease passes to
/// another at once. SQLite serves one process, which always holds it. Work done under a lease
/// must still be safe without it (written against versions), as a broken connection loses the
/// lock without the holder noticing at once.
pub struct Lease {
    _connection: Option<sqlx::PgConnection>,
}

impl Db {
    /// Takes the lease `key` if no other replica holds it.
    pub async fn try_lease(&self, key: i64) -> Result<Option<Lease>, StoreError> {
        match self {
            Db::Postgres(pool) => {
                let mut connection = pool.acquire().await?;
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut *connection)
                    .await?;
                // Only a connection holding the lock leaves the pool; it closes with the lease.
                Ok(taken.then(|| Lease {
                    _connection: Some(connection.detach()),
                }))
            }
            Db::Sqlite(_) => Ok(Some(Lease { _connection: None })),
        }
    }
}

/// A lease key for a named piece of work, the same in every replica.
pub fn lease_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Begins a PostgreSQL transaction that holds the advisory lock `key` until it ends: used by
/// the background jobs that must never run concurrently across replicas.
pub async fn pg_begin_locked(
    pool: &PgPool,
    key: i64,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Begins a SQLite transaction that takes the write lock at once, so it waits for other writers
/// (busy timeout) instead of failing when it upgrades from reading to writing.
pub async fn sqlite_begin_write(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// Test support: fresh, empty databases on the PostgreSQL server named by
/// `HOMEWARD_TEST_POSTGRES_URL` (default: the local server). A test that needs PostgreSQL and
/// cannot reach it fails: it never skips.
pub mod testing {
    use sqlx::{Connection, PgConnection};

    pub fn server_url() -> String {
        std::env::var("HOMEWARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// Creates a new database and returns its URL.
    pub async fn fresh_postgres_database(prefix: &str) -> String {
        let server = server_url();
        let mut conn = PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for this test and is not reachable at {}: {e}. Start it \
                 (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or \
                 set HOMEWARD_TEST_POSTGRES_URL",
                crate::config::redact_url(&server)
            )
        });
        drop_stale_databases(&mut conn).await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let name = format!("hwt_{now}_{prefix}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
        format!("{base}/{name}")
    }

    /// Test databases carry their creation time in their name (`hwt_<unix seconds>_...`); those
    /// older than an hour belong to finished runs and are dropped, so the server does not fill up
    /// over many runs. Failures here are ignored: a database still in use is left for later.
    async fn drop_stale_databases(conn: &mut PgConnection) {
        let Ok(names) = sqlx::query_scalar::<_, String>(
            "SELECT datname FROM pg_database WHERE datname LIKE 'hwt\\_%'",
        )
        .fetch_all(&mut *conn)
        .await
        else {
            return;
        };
        let cutoff = time::OffsetDateTime::now_utc().unix_timestamp() - 3_600;
        for name in names {
            let created = name.split('_').nth(1).and_then(|t| t.parse::<i64>().ok());
            if created.is_some_and(|t| t < cutoff)
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .execute(&mut *conn)
                .await;
            }
        }
    }
}
