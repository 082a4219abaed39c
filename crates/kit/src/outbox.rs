//! The transactional outbox and the resumable event stream built on it.
//!
//! A change and the events it causes are written in one transaction (`append`). Stream
//! positions are not taken from the insert's own sequence: concurrent transactions commit out of
//! order, and a reader that had passed position 6 would never see a position 5 committed after
//! it. Instead a sequencer assigns positions after commit, to rows that are already visible, one
//! sequencer at a time (an advisory lock on PostgreSQL, the write lock on SQLite). A position is
//! therefore only ever handed out above every position a reader could have seen, and a reader
//! resuming from its cursor misses nothing and sees nothing twice.
//!
//! Positions live in narrow tables (`outbox_pending`, filled by a trigger on every insert into
//! `outbox`, and `outbox_positions`), so sequencing never rewrites the wide event rows.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use homeward_proto::common::v1 as pb;
use tokio::sync::{Notify, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::{
    audit,
    db::Db,
    error::{ApiError, StoreError},
    timestamp,
};

/// Lock key of the sequencer (any constant shared by all replicas).
const SEQUENCER_LOCK: i64 = 0x486f_6d65_7761_7264; // "Homeward"
const BATCH: i64 = 5_000;
/// Shortest time between two sequencer runs: the longest an event waits for its position when
/// the service is busy.
const MIN_GAP: Duration = Duration::from_millis(20);

/// An event to publish with a change.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub aggregate_id: String,
    pub payload: prost_types::Any,
    pub traceparent: String,
    pub occurred_at_us: i64,
}

impl NewEvent {
    pub fn new<M: prost::Name>(event_type: &str, aggregate_id: &str, payload: &M) -> Self {
        Self {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type: event_type.to_string(),
            aggregate_id: aggregate_id.to_string(),
            // Encoding into a Vec cannot run out of space.
            payload: prost_types::Any::from_msg(payload).unwrap_or_default(),
            traceparent: crate::telemetry::current_traceparent(),
            occurred_at_us: timestamp::now_micros(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredEvent {
    position: i64,
    event_id: String,
    event_type: String,
    aggregate_id: String,
    payload_type: String,
    payload: Vec<u8>,
    traceparent: String,
    occurred_at_us: i64,
}

impl From<StoredEvent> for pb::Event {
    fn from(e: StoredEvent) -> Self {
        pb::Event {
            cursor: encode_cursor(e.position),
            event_id: e.event_id,
            r#type: e.event_type,
            aggregate_id: e.aggregate_id,
            occur_time: Some(timestamp::micros_to_proto(e.occurred_at_us)),
            payload: Some(prost_types::Any {
                type_url: e.payload_type,
                value: e.payload,
            }),
            traceparent: e.traceparent,
        }
    }
}

pub fn encode_cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o1:{position}"))
}

/// The position after which to resume; empty means the start of the stream.
pub fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    if cursor.is_empty() {
        return Ok(0);
    }
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.strip_prefix("o1:").and_then(|p| p.parse::<i64>().ok()))
        .filter(|p| *p >= 0)
        .ok_or_else(|| ApiError::invalid("after_cursor", "not a cursor returned by this stream"))
}

macro_rules! backend {
    ($name:ident, $db:ty, $insert:expr) => {
        pub mod $name {
            use super::*;

            /// Writes events inside the caller's transaction, in one statement however many.
            pub async fn append(
                conn: &mut <$db as sqlx::Database>::Connection,
                events: &[NewEvent],
            ) -> Result<(), StoreError> {
                if events.is_empty() {
                    return Ok(());
                }
                let rows: Vec<serde_json::Value> = events
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "event_id": e.event_id,
                            "event_type": e.event_type,
                            "aggregate_id": e.aggregate_id,
                            "payload_type": e.payload.type_url,
                            "payload": hex::encode(&e.payload.value),
                            "traceparent": e.traceparent,
                            "occurred_at_us": e.occurred_at_us,
                        })
                    })
                    .collect();
                sqlx::query($insert)
                    .bind(serde_json::Value::Array(rows).to_string())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub(crate) async fn read_after(
                pool: &sqlx::Pool<$db>,
                after: i64,
                limit: i64,
            ) -> Result<Vec<StoredEvent>, StoreError> {
                Ok(sqlx::query_as::<_, StoredEvent>(
                    "SELECT p.position, o.event_id, o.event_type, o.aggregate_id, o.payload_type, \
                     o.payload, o.traceparent, o.occurred_at_us \
                     FROM outbox_positions p JOIN outbox o ON o.id = p.outbox_id \
                     WHERE p.position > $1 ORDER BY p.position LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?)
            }

            /// Gives the next positions to committed events, in id order, and returns how many.
            pub(crate) async fn assign_positions(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<u64, StoreError> {
                let (head,): (i64,) =
                    sqlx::query_as("SELECT COALESCE(MAX(position), 0) FROM outbox_positions")
                        .fetch_one(&mut *conn)
                        .await?;
                let done = sqlx::query(
                    "INSERT INTO outbox_positions (position, outbox_id) \
                     SELECT $1 + ROW_NUMBER() OVER (ORDER BY outbox_id), outbox_id \
                     FROM (SELECT outbox_id FROM outbox_pending ORDER BY outbox_id LIMIT $2) AS pending",
                )
                .bind(head)
                .bind(BATCH)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() > 0 {
                    sqlx::query(
                        "DELETE FROM outbox_pending WHERE outbox_id IN \
                         (SELECT outbox_id FROM outbox_positions WHERE position > $1)",
                    )
                    .bind(head)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(done.rows_affected())
            }
        }
    };
}

backend!(
    postgres,
    sqlx::Postgres,
    "INSERT INTO outbox (event_id, event_type, aggregate_id, payload_type, payload, traceparent, \
     occurred_at_us) SELECT x->>'event_id', x->>'event_type', x->>'aggregate_id', \
     x->>'payload_type', decode(x->>'payload', 'hex'), x->>'traceparent', \
     (x->>'occurred_at_us')::bigint \
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(x, n) ORDER BY n"
);
backend!(
    sqlite,
    sqlx::Sqlite,
    "INSERT INTO outbox (event_id, event_type, aggregate_id, payload_type, payload, traceparent, \
     occurred_at_us) SELECT value ->> 'event_id', value ->> 'event_type', \
     value ->> 'aggregate_id', value ->> 'payload_type', unhex(value ->> 'payload'), \
     value ->> 'traceparent', value ->> 'occurred_at_us' FROM json_each($1) ORDER BY key"
);

/// One run of the sequencer: positions for committed events, seals for audit entries.
/// Returns how many events got positions and how many audit entries were chained.
async fn sequence(db: &Db) -> Result<(u64, u64), StoreError> {
    match db {
        Db::Postgres(pool) => {
            let mut tx = crate::db::pg_begin_locked(pool, SEQUENCER_LOCK).await?;
            let events = postgres::assign_positions(&mut tx).await?;
            let entries = audit::postgres::seal(&mut tx).await?;
            tx.commit().await?;
            Ok((events, entries))
        }
        Db::Sqlite(pool) => {
            let mut tx = crate::db::sqlite_begin_write(pool).await?;
            let events = sqlite::assign_positions(&mut tx).await?;
            let entries = audit::sqlite::seal(&mut tx).await?;
            tx.commit().await?;
            Ok((events, entries))
        }
    }
}

/// Sequences everything committed so far, now, in this task (tests, tools, shutdown).
pub async fn sequence_now(db: &Db) -> Result<(), StoreError> {
    while sequence(db).await? != (0, 0) {}
    Ok(())
}

/// How far the sequencer is: events committed but not yet given a position, and the last
/// position handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub pending: i64,
    pub head: i64,
}

/// Measures the backlog, for the metrics sampler. `outbox_pending` holds only what awaits
/// the sequencer, so counting it stays cheap; the head is the end of an index.
pub async fn backlog(db: &Db) -> Result<Backlog, StoreError> {
    const SQL: &str = "SELECT (SELECT COUNT(*) FROM outbox_pending), \
                       (SELECT COALESCE(MAX(position), 0) FROM outbox_positions)";
    let (pending, head): (i64, i64) = match db {
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
    };
    Ok(Backlog { pending, head })
}

async fn read_after(db: &Db, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    match db {
        Db::Postgres(pool) => postgres::read_after(pool, after, limit).await,
        Db::Sqlite(pool) => sqlite::read_after(pool, after, limit).await,
    }
}

/// A service's event feed: runs the sequencer in the background and serves `WatchEvents`.
#[derive(Clone)]
pub struct EventFeed {
    db: Db,
    wake: Arc<Notify>,
    sequenced: watch::Receiver<u64>,
    shutdown: CancellationToken,
    poll: Duration,
}

impl EventFeed {
    /// Starts the sequencer; it stops when `shutdown` is cancelled.
    pub fn start(db: Db, shutdown: CancellationToken) -> Self {
        let wake = Arc::new(Notify::new());
        let (tx, sequenced) = watch::channel(0u64);
        let poll = Duration::from_millis(200);
        tokio::spawn(run_sequencer(
            db.clone(),
            wake.clone(),
            tx,
            shutdown.clone(),
            poll,
        ));
        Self {
            db,
            wake,
            sequenced,
            shutdown,
            poll,
        }
    }

    /// Call after committing a change that appended events or audit entries, so they are
    /// sequenced now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the sequencer once, now (tests and shutdown use it to flush).
    pub async fn flush(&self) -> Result<(), StoreError> {
        sequence_now(&self.db).await
    }

    /// Up to `limit` events after `after_cursor`, read once (a consumer that polls at its own
    /// pace rather than following every change as `watch` does).
    pub async fn read(&self, after_cursor: &str, limit: i64) -> Result<Vec<pb::Event>, ApiError> {
        let after = decode_cursor(after_cursor)?;
        let events = read_after(&self.db, after, limit)
            .await
            .map_err(StoreError::into_api)?;
        Ok(events.into_iter().map(pb::Event::from).collect())
    }

    /// The cursor of the last event sequenced so far: a consumer that has loaded the current
    /// state resumes from here.
    pub async fn head(&self) -> Result<String, StoreError> {
        let sql = "SELECT COALESCE(MAX(position), 0) FROM outbox_positions";
        let head: i64 = match &self.db {
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        };
        Ok(encode_cursor(head))
    }

    /// Events after `after_cursor`, then new ones as they are sequenced, until the client goes
    /// away or the server shuts down (the client then resumes from its last cursor).
    pub fn watch(
        &self,
        after_cursor: &str,
        types: Vec<String>,
    ) -> Result<ReceiverStream<Result<pb::Event, tonic::Status>>, ApiError> {
        let mut cursor = decode_cursor(after_cursor)?;
        let (tx, rx) = mpsc::channel(256);
        let feed = self.clone();
        tokio::spawn(async move {
            let mut sequenced = feed.sequenced.clone();
            loop {
                match read_after(&feed.db, cursor, 500).await {
                    Ok(events) if !events.is_empty() => {
                        for event in events {
                            cursor = event.position;
                            if !types.is_empty() && !types.contains(&event.event_type) {
                                continue;
                            }
                            if tx.send(Ok(event.into())).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        let status = err.into_api().into_status("homeward.events");
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
                tokio::select! {
                    _ = sequenced.changed() => {}
                    _ = tokio::time::sleep(feed.poll) => {}
                    _ = feed.shutdown.cancelled() => return,
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(ReceiverStream::new(rx))
    }
}

async fn run_sequencer(
    db: Db,
    wake: Arc<Notify>,
    sequenced: watch::Sender<u64>,
    shutdown: CancellationToken,
    poll: Duration,
) {
    let mut total = 0u64;
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        match sequence(&db).await {
            Ok((events, entries)) => {
                failures = 0;
                if events > 0 {
                    total += events;
                    sequenced.send_replace(total);
                }
                if events >= BATCH as u64 || entries >= audit::SEAL_BATCH as u64 {
                    // More are waiting beyond one batch.
                    continue;
                }
            }
            Err(err) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(50) {
                    tracing::warn!(error = %err, failures, "sequencer run failed");
                }
            }
        }
        // Under load every commit wakes the sequencer; spacing its runs lets one run (one
        // transaction, one commit) serve all the commits of the interval.
        tokio::select! {
            _ = tokio::time::sleep_until(started + MIN_GAP) => {}
            _ = shutdown.cancelled() => {}
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.cancelled() => {
                // Sequence what committed before shutdown so it is not left for the next start.
                let _ = sequence(&db).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert_eq!(decode_cursor("").unwrap(), 0);
        assert!(decode_cursor("not-a-cursor").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("o1:-3")).is_err());
    }
}
