//! The notification service's tables in the kit's record store (`homeward_kit::docs`).

use homeward_kit::docs;

pub use docs::{Filter, Stored, WriteOutcome, decode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Inquiries,
    Links,
    Notifications,
    Deliveries,
    Tasks,
    Cursors,
    Handled,
    Contacts,
    StatusChecks,
}

impl docs::Tables for Table {
    const ALL: &'static [Table] = &[
        Table::Inquiries,
        Table::Links,
        Table::Notifications,
        Table::Deliveries,
        Table::Tasks,
        Table::Cursors,
        Table::Handled,
        Table::Contacts,
        Table::StatusChecks,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Inquiries => "inquiries",
            Table::Links => "links",
            Table::Notifications => "notifications",
            Table::Deliveries => "deliveries",
            Table::Tasks => "tasks",
            Table::Cursors => "cursors",
            Table::Handled => "handled",
            Table::Contacts => "contacts",
            Table::StatusChecks => "status_checks",
        }
    }
}

pub type Store = docs::DocStore<Table>;
pub type DocWrite = docs::DocWrite<Table>;
pub type WriteBatch = docs::WriteBatch<Table>;
