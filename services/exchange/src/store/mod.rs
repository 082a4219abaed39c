//! The exchange service's storage: its tables in the kit's record store
//! (`homeward_kit::docs`: every record a domain value kept as JSON, every change one
//! transaction with its events, audit entries and request id), checked against both backends
//! by `tests/store_conformance.rs`.

use std::sync::Arc;

use homeward_kit::{StoreError, db::Db, docs};

pub use docs::{Filter, Stored, WriteOutcome, decode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl docs::Tables for Table {
    const ALL: &'static [Table] = &[
        Table::Agreements,
        Table::Phases,
        Table::ListVersions,
        Table::Reconciliations,
        Table::ReconciliationItems,
        Table::Consents,
        Table::HoldBacks,
        Table::HandoverChecks,
    ];

    fn name(self) -> &'static str {
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

pub type ExchangeStore = docs::DocStore<Table>;
pub type DocWrite = docs::DocWrite<Table>;
pub type WriteBatch = docs::WriteBatch<Table>;

/// Opens the store for a connected database.
pub fn for_db(db: Db) -> Arc<ExchangeStore> {
    Arc::new(ExchangeStore::new(db))
}

/// Ids of phases with a registry step under way since `until_us` or earlier.
pub async fn pending_phases(
    store: &ExchangeStore,
    until_us: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(store
        .due(Table::Phases, until_us, 1_000)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect())
}
