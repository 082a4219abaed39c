//! The exchange service's storage: one trait, one implementation per backend, and one
//! conformance suite (`tests/store_conformance.rs`) that both must pass.
//!
//! Every record is a domain value kept as JSON in a table of the same shape (see the
//! migration). Every change goes through `write`: one transaction holding the new and changed
//! records, outbox events, audit entries and the request id with its response, so a change is
//! recorded completely or not at all. An update names the version it replaces; a stale one
//! fails the whole change with `Conflict`.

use async_trait::async_trait;
use homeward_kit::{
    StoreError,
    audit::AuditEntry,
    db::Db,
    idempotency::{Replay, RequestKey},
    outbox::NewEvent,
};
use serde::{Serialize, de::DeserializeOwned};

mod sql;

pub use sql::{PostgresStore, SqliteStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Agreements,
    Phases,
    ListVersions,
    Reconciliations,
    ReconciliationItems,
    Consents,
    HoldBacks,
    HandoverChecks,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Agreements,
        Table::Phases,
        Table::ListVersions,
        Table::Reconciliations,
        Table::ReconciliationItems,
        Table::Consents,
        Table::HoldBacks,
        Table::HandoverChecks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Agreements => "agreements",
            Table::Phases => "phases",
            Table::ListVersions => "list_versions",
            Table::Reconciliations => "reconciliations",
            Table::ReconciliationItems => "reconciliation_items",
            Table::Consents => "consents",
            Table::HoldBacks => "hold_backs",
            Table::HandoverChecks => "handover_checks",
        }
    }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub seq: i64,
    pub version: i64,
    pub record: String,
}

impl Stored {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        decode(&self.record)
    }
}

/// One record's part of a change.
#[derive(Debug, Clone, Serialize)]
pub struct DocWrite {
    #[serde(skip)]
    pub table: Table,
    pub id: String,
    pub parent: String,
    pub tag: String,
    pub version: i64,
    /// The version this write replaces; `None` inserts a new record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    pub record: String,
    /// Phases only: a step with the registry is under way.
    pub pending: bool,
}

impl DocWrite {
    pub fn new<T: Serialize>(
        table: Table,
        id: impl Into<String>,
        parent: impl Into<String>,
        tag: impl Into<String>,
        record: &T,
    ) -> Self {
        Self {
            table,
            id: id.into(),
            parent: parent.into(),
            tag: tag.into(),
            version: 1,
            expected: None,
            record: serde_json::to_string(record).unwrap_or_default(),
            pending: false,
        }
    }

    /// An update of the record stored at version `expected`.
    pub fn replacing(mut self, expected: i64) -> Self {
        self.expected = Some(expected);
        self.version = expected + 1;
        self
    }

    pub fn pending(mut self, pending: bool) -> Self {
        self.pending = pending;
        self
    }
}

/// Everything one request changes.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub key: Option<RequestKey>,
    /// The encoded response, stored with the request id for replays.
    pub response: Vec<u8>,
    pub docs: Vec<DocWrite>,
    pub events: Vec<NewEvent>,
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug)]
pub enum WriteOutcome {
    Applied,
    /// The request id was handled before; nothing was written.
    Replayed(Replay),
}

/// Which records of a table a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter<'a> {
    /// Only records of this parent; empty: every record.
    pub parent: &'a str,
    /// Only records with this tag.
    pub tag: Option<&'a str>,
    /// Keyset position: records after it.
    pub after: i64,
    pub limit: i64,
}

impl<'a> Filter<'a> {
    /// Every record of `parent`, in creation order.
    pub fn all_of(parent: &'a str) -> Self {
        Self {
            parent,
            tag: None,
            after: 0,
            limit: i64::MAX,
        }
    }
}

#[async_trait]
pub trait ExchangeStore: Send + Sync + 'static {
    fn db(&self) -> Db;
    async fn lookup_request(&self, key: &RequestKey) -> Result<Option<Replay>, StoreError>;
    /// Applies a change atomically. A stale `expected` version fails with `Conflict`; an id
    /// already taken with `UniqueViolation` naming the table.
    async fn write(&self, batch: &WriteBatch) -> Result<WriteOutcome, StoreError>;
    async fn get(&self, table: Table, id: &str) -> Result<Option<Stored>, StoreError>;
    /// Records in creation order.
    async fn list(&self, table: Table, filter: &Filter<'_>) -> Result<Vec<Stored>, StoreError>;
    /// Ids of phases with a registry step under way.
    async fn pending_phases(&self) -> Result<Vec<String>, StoreError>;
}

/// Opens the store for a connected database.
pub fn for_db(db: Db) -> std::sync::Arc<dyn ExchangeStore> {
    match db {
        Db::Postgres(pool) => std::sync::Arc::new(PostgresStore::new(pool)),
        Db::Sqlite(pool) => std::sync::Arc::new(SqliteStore::new(pool)),
    }
}

pub fn decode<T: DeserializeOwned>(record: &str) -> Result<T, StoreError> {
    serde_json::from_str(record).map_err(|e| StoreError::Other(format!("unreadable record: {e}")))
}
