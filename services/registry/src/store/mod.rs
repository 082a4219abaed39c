//! The registry's storage: one trait, one implementation per backend (`postgres`, `sqlite`),
//! and one conformance suite (`tests/store_conformance.rs`) that both must pass.
//!
//! Every change goes through `write`, one transaction holding the new person states, history
//! entries, reservation changes, outbox events, audit entries and the request id with its
//! response, so a change is recorded completely or not at all.

use async_trait::async_trait;
use homeward_kit::{
    StoreError,
    audit::AuditEntry,
    db::Db,
    idempotency::{Replay, RequestKey},
    outbox::NewEvent,
};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Person, Status, StatusEntry};

mod sql;

pub use sql::{PostgresStore, SqliteStore};

/// Filters of `ListPersons`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub category: Option<crate::domain::Category>,
    pub holding_party: Option<String>,
    pub affiliated_party: Option<String>,
}

/// A change of reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    None,
    Reserve(String),
    Release(String),
}

/// One person's part of a change: the new state, the version it replaces (`None` for a new
/// person), and what else changes with it.
#[derive(Debug, Clone)]
pub struct PersonWrite {
    pub person: Person,
    pub expected_version: Option<i64>,
    pub history: Option<StatusEntry>,
    pub reservation: Reservation,
}

/// Everything one request changes.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub key: Option<RequestKey>,
    /// The encoded response, stored with the request id for replays.
    pub response: Vec<u8>,
    pub persons: Vec<PersonWrite>,
    pub events: Vec<NewEvent>,
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug)]
pub enum WriteOutcome {
    Applied,
    /// The request id was handled before; nothing was written.
    Replayed(Replay),
}

#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    fn db(&self) -> Db;
    async fn lookup_request(&self, key: &RequestKey) -> Result<Option<Replay>, StoreError>;
    /// Applies a change atomically. A stale `expected_version` fails with `Conflict`; a person
    /// already reserved for another exchange with `UniqueViolation`.
    async fn write(&self, batch: &WriteBatch) -> Result<WriteOutcome, StoreError>;
    async fn get_person(&self, id: Uuid) -> Result<Option<Person>, StoreError>;
    /// The persons found among `ids`, in no particular order.
    async fn get_persons(&self, ids: &[Uuid]) -> Result<Vec<Person>, StoreError>;
    /// Persons after keyset position `after`, in registration order, with their positions.
    /// Persons in registration order after `after` (a sequence number), merged duplicates left
    /// out.
    async fn list_persons(
        &self,
        filter: &ListFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Person)>, StoreError>;
    async fn history(
        &self,
        id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StatusEntry>, StoreError>;
    /// Ids of persons reserved for `exchange_id`.
    async fn reserved_for(&self, exchange_id: &str) -> Result<Vec<Uuid>, StoreError>;
}

/// Opens the store for a connected database.
pub fn for_db(db: Db) -> std::sync::Arc<dyn RegistryStore> {
    match db {
        Db::Postgres(pool) => std::sync::Arc::new(PostgresStore::new(pool)),
        Db::Sqlite(pool) => std::sync::Arc::new(SqliteStore::new(pool)),
    }
}

/// The row form of a person, as bound into the bulk statements.
#[derive(Serialize)]
struct PersonRow {
    id: String,
    expected: i64,
    version: i64,
    category: String,
    status: String,
    holding_party: String,
    affiliated_party: String,
    file_reference: Option<String>,
    merged_into: Option<String>,
    record: String,
    updated_at_us: i64,
}

impl PersonRow {
    fn new(w: &PersonWrite) -> Self {
        let p = &w.person;
        let tag = |v: &dyn erased::Tag| v.tag();
        Self {
            id: p.id.to_string(),
            expected: w.expected_version.unwrap_or(0),
            version: p.version,
            category: tag(&p.identity.category),
            status: tag(&p.status),
            holding_party: p.identity.holding_party.clone(),
            affiliated_party: p.identity.affiliated_party.clone(),
            file_reference: p.identity.file_reference.clone(),
            merged_into: p.merged_into.map(|id| id.to_string()),
            record: serde_json::to_string(p).unwrap_or_default(),
            updated_at_us: p.updated_at_us,
        }
    }
}

#[derive(Serialize)]
struct HistoryRow {
    person_id: String,
    sequence: i64,
    record: String,
}

mod erased {
    /// The snake-case tag serde gives a unit enum variant, as stored in filter columns.
    pub trait Tag {
        fn tag(&self) -> String;
    }

    impl<T: serde::Serialize> Tag for T {
        fn tag(&self) -> String {
            match serde_json::to_value(self) {
                Ok(serde_json::Value::String(s)) => s,
                _ => String::new(),
            }
        }
    }
}

pub(crate) use erased::Tag;

fn decode_person(record: &str) -> Result<Person, StoreError> {
    serde_json::from_str(record)
        .map_err(|e| StoreError::Other(format!("unreadable person record: {e}")))
}

fn decode_entry(record: &str) -> Result<StatusEntry, StoreError> {
    serde_json::from_str(record)
        .map_err(|e| StoreError::Other(format!("unreadable history record: {e}")))
}

fn json<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".into())
}
