//! The access log: every read of a person's full record, every search and every export is
//! recorded in the audit chain with who read, what (ids and counts, never names) and why — the
//! purpose the caller gives in the `homeward-purpose` request header ("exchange phase 2 list
//! check", "inquiry HW-7K3M-Q2PX", a case number).
//!
//! Reads change nothing else, so their entries are not written in a transaction of their own
//! each: a writer task gathers the entries of concurrent reads and writes them together, at
//! most `GATHER` after the read. A read waits only for room in the writer's queue, never for the
//! database. Entries a process holds when it is killed (at most one gathering's worth) are lost;
//! a stopping process writes what it holds first.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    audit::{self, AuditEntry},
    db::Db,
    error::StoreError,
    outbox::EventFeed,
};

/// The request header that carries the reason for a read.
pub const PURPOSE_HEADER: &str = "homeward-purpose";
/// What is recorded when a caller gives no purpose.
pub const NO_PURPOSE: &str = "(none given)";
const MAX_PURPOSE: usize = 120;
const QUEUE: usize = 10_000;
const BATCH: usize = 500;
const GATHER: Duration = Duration::from_millis(20);

/// The purpose a request gives for itself: printable text, at most 120 characters.
pub fn purpose<T>(request: &tonic::Request<T>) -> String {
    let given = request
        .metadata()
        .get(PURPOSE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let clean: String = given
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_PURPOSE)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        NO_PURPOSE.to_string()
    } else {
        clean.to_string()
    }
}

/// Where reads are recorded.
#[derive(Clone)]
pub struct AccessLog {
    entries: mpsc::Sender<AuditEntry>,
}

impl AccessLog {
    /// Starts the writer; it writes what it holds and stops after `stop`.
    pub fn start(db: Db, feed: EventFeed, stop: CancellationToken) -> Self {
        let (entries, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write(db, feed, queue, stop));
        Self { entries }
    }

    /// Records a read; waits only while the writer's queue is full.
    pub async fn record(&self, entry: AuditEntry) {
        if self.entries.send(entry).await.is_err() {
            tracing::warn!("access log writer stopped; a read was not recorded");
        }
    }
}

async fn write(
    db: Db,
    feed: EventFeed,
    mut queue: mpsc::Receiver<AuditEntry>,
    stop: CancellationToken,
) {
    let mut pending: Vec<AuditEntry> = Vec::new();
    loop {
        if pending.is_empty() {
            tokio::select! {
                entry = queue.recv() => match entry {
                    Some(entry) => pending.push(entry),
                    None => return,
                },
                _ = stop.cancelled() => {
                    queue.close();
                    while let Some(entry) = queue.recv().await {
                        pending.push(entry);
                    }
                    if !pending.is_empty() {
                        let _ = append(&db, &pending).await;
                        feed.wake();
                    }
                    return;
                }
            }
        }
        let until = tokio::time::Instant::now() + GATHER;
        while pending.len() < BATCH {
            match tokio::time::timeout_at(until, queue.recv()).await {
                Ok(Some(entry)) => pending.push(entry),
                Ok(None) | Err(_) => break,
            }
        }
        let mut pause = Duration::from_millis(50);
        loop {
            match append(&db, &pending).await {
                Ok(()) => {
                    pending.clear();
                    feed.wake();
                    break;
                }
                Err(e) => {
                    // Kept and tried again: the database may be restarting.
                    tracing::warn!(error = %e, entries = pending.len(), "access log not written yet, retrying");
                    if stop.is_cancelled() {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

async fn append(db: &Db, entries: &[AuditEntry]) -> Result<(), StoreError> {
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for entry in entries {
                audit::postgres::append(&mut tx, entry).await?;
            }
            tx.commit().await?;
        }
        Db::Sqlite(pool) => {
            let mut tx = crate::db::sqlite_begin_write(pool).await?;
            for entry in entries {
                audit::sqlite::append(&mut tx, entry).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purpose_is_printable_bounded_and_never_empty() {
        let mut request = tonic::Request::new(());
        assert_eq!(purpose(&request), NO_PURPOSE);
        request
            .metadata_mut()
            .insert(PURPOSE_HEADER, "  inquiry HW-7K3M-Q2PX  ".parse().unwrap());
        assert_eq!(purpose(&request), "inquiry HW-7K3M-Q2PX");
        request
            .metadata_mut()
            .insert(PURPOSE_HEADER, "x".repeat(500).parse().unwrap());
        assert_eq!(purpose(&request).len(), MAX_PURPOSE);
    }
}
