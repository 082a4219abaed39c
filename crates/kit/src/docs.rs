//! A record store for services whose records are domain values kept as JSON, one table per
//! kind of record, every table of the same shape:
//!
//! ```sql
//! seq     -- keyset order for paging (creation order), BIGSERIAL / INTEGER PRIMARY KEY
//! id      -- the record's id, unique in its table
//! parent  -- the record it belongs to ('' for none)
//! tag     -- the one value lists filter on
//! version -- optimistic concurrency: an update names the version it replaces
//! record  -- the JSON
//! due_us  -- when the record wants attention from a background worker (NULL: never)
//! ```
//!
//! Every change goes through `write`: one transaction holding the new and changed records,
//! outbox events, audit entries and the request id with its response, so a change is recorded
//! completely or not at all. A stale `expected` version fails the whole change with
//! `Conflict`; an id already taken fails it with `UniqueViolation` naming the table. Table
//! names come from the service's `Tables` type, never from input, so formatting them into SQL
//! is safe. Writes are one statement per table they touch, whether they hold one record or a
//! thousand.

use std::{collections::BTreeMap, hash::Hash, sync::Arc};

use serde::{Serialize, de::DeserializeOwned};
use sqlx::AssertSqlSafe;

use crate::{
    StoreError, audit,
    audit::AuditEntry,
    db::Db,
    idempotency::{self, Replay, RequestKey},
    outbox::{self, NewEvent},
};

/// A service's tables: a small `Copy` enum naming each.
pub trait Tables: Copy + Eq + Hash + Ord + Send + Sync + std::fmt::Debug + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub seq: i64,
    pub id: String,
    pub version: i64,
    pub record: String,
}

impl Stored {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        decode(&self.record)
    }
}

pub fn decode<T: DeserializeOwned>(record: &str) -> Result<T, StoreError> {
    serde_json::from_str(record).map_err(|e| StoreError::Other(format!("unreadable record: {e}")))
}

/// One record's part of a change.
#[derive(Debug, Clone, Serialize)]
pub struct DocWrite<T: Tables> {
    #[serde(skip)]
    pub table: T,
    pub id: String,
    pub parent: String,
    pub tag: String,
    pub version: i64,
    /// The version this write replaces; `None` inserts a new record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    pub record: String,
    pub due_us: Option<i64>,
}

impl<T: Tables> DocWrite<T> {
    pub fn new<R: Serialize>(
        table: T,
        id: impl Into<String>,
        parent: impl Into<String>,
        tag: impl Into<String>,
        record: &R,
    ) -> Self {
        Self {
            table,
            id: id.into(),
            parent: parent.into(),
            tag: tag.into(),
            version: 1,
            expected: None,
            record: serde_json::to_string(record).unwrap_or_default(),
            due_us: None,
        }
    }

    /// An update of the record stored at version `expected`.
    pub fn replacing(mut self, expected: i64) -> Self {
        self.expected = Some(expected);
        self.version = expected + 1;
        self
    }

    /// When a background worker should look at the record (`None`: never).
    pub fn due(mut self, due_us: Option<i64>) -> Self {
        self.due_us = due_us;
        self
    }
}

/// Everything one request changes.
#[derive(Debug, Clone)]
pub struct WriteBatch<T: Tables> {
    pub key: Option<RequestKey>,
    /// The encoded response, stored with the request id for replays.
    pub response: Vec<u8>,
    pub docs: Vec<DocWrite<T>>,
    pub events: Vec<NewEvent>,
    pub audit: Vec<AuditEntry>,
}

impl<T: Tables> Default for WriteBatch<T> {
    fn default() -> Self {
        Self {
            key: None,
            response: Vec::new(),
            docs: Vec::new(),
            events: Vec::new(),
            audit: Vec::new(),
        }
    }
}

/// Why a change with a request id could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] crate::ApiError),
}

/// A committed change's answer.
pub struct Committed<R> {
    pub response: R,
    /// False when the request id had been handled before and `response` is the first answer.
    pub applied: bool,
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

struct Statements {
    insert: String,
    update: String,
    get: String,
    list: String,
    due: String,
}

fn statements(backend: &Db, t: &str) -> Statements {
    let (insert, update) = match backend {
        Db::Postgres(_) => (
            format!(
                "INSERT INTO {t} (id, parent, tag, version, record, due_us) \
                 SELECT x->>'id', x->>'parent', x->>'tag', (x->>'version')::bigint, x->>'record', \
                 (x->>'due_us')::bigint \
                 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(x, n) ORDER BY n"
            ),
            format!(
                "UPDATE {t} SET tag = x->>'tag', version = (x->>'version')::bigint, \
                 record = x->>'record', due_us = (x->>'due_us')::bigint \
                 FROM jsonb_array_elements($1::jsonb) AS r(x) \
                 WHERE {t}.id = x->>'id' AND {t}.version = (x->>'expected')::bigint"
            ),
        ),
        Db::Sqlite(_) => (
            format!(
                "INSERT INTO {t} (id, parent, tag, version, record, due_us) \
                 SELECT value ->> 'id', value ->> 'parent', value ->> 'tag', value ->> 'version', \
                 value ->> 'record', value ->> 'due_us' FROM json_each($1) ORDER BY key"
            ),
            format!(
                "UPDATE {t} SET tag = r.value ->> 'tag', version = r.value ->> 'version', \
                 record = r.value ->> 'record', due_us = r.value ->> 'due_us' \
                 FROM json_each($1) AS r \
                 WHERE {t}.id = r.value ->> 'id' AND {t}.version = r.value ->> 'expected'"
            ),
        ),
    };
    Statements {
        insert,
        update,
        get: format!("SELECT seq, id, version, record FROM {t} WHERE id = $1"),
        list: format!(
            "SELECT seq, id, version, record FROM {t} WHERE ($1 = '' OR parent = $1) \
             AND ($2 = '' OR tag = $2) AND seq > $3 ORDER BY seq LIMIT $4"
        ),
        due: format!(
            "SELECT seq, id, version, record FROM {t} WHERE due_us IS NOT NULL AND due_us <= $1 \
             ORDER BY due_us, seq LIMIT $2"
        ),
    }
}

/// The store over one connected database. Cheap to clone.
#[derive(Clone)]
pub struct DocStore<T: Tables> {
    db: Db,
    sql: Arc<BTreeMap<T, Statements>>,
}

type Row = (i64, String, i64, String);

fn stored((seq, id, version, record): Row) -> Stored {
    Stored {
        seq,
        id,
        version,
        record,
    }
}

impl<T: Tables> DocStore<T> {
    pub fn new(db: Db) -> Self {
        let sql = T::ALL
            .iter()
            .map(|t| (*t, statements(&db, t.name())))
            .collect();
        Self {
            db,
            sql: Arc::new(sql),
        }
    }

    pub fn db(&self) -> Db {
        self.db.clone()
    }

    fn sql(&self, table: T) -> Result<&Statements, StoreError> {
        self.sql
            .get(&table)
            .ok_or_else(|| StoreError::Other(format!("unknown table {table:?}")))
    }

    pub async fn lookup_request(&self, key: &RequestKey) -> Result<Option<Replay>, StoreError> {
        match &self.db {
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                idempotency::postgres::lookup(&mut conn, key).await
            }
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                idempotency::sqlite::lookup(&mut conn, key).await
            }
        }
    }

    /// The batch's records grouped by table and by insert/update, tables in a fixed order so
    /// concurrent writers take row locks in the same order.
    fn grouped<'a>(
        &'a self,
        batch: &'a WriteBatch<T>,
    ) -> Vec<(&'a str, usize, Vec<&'a DocWrite<T>>)> {
        let mut groups: BTreeMap<(T, bool), Vec<&DocWrite<T>>> = BTreeMap::new();
        for doc in &batch.docs {
            groups
                .entry((doc.table, doc.expected.is_some()))
                .or_default()
                .push(doc);
        }
        groups
            .into_iter()
            .filter_map(|((table, update), docs)| {
                let sql = self.sql.get(&table)?;
                Some((
                    if update {
                        sql.update.as_str()
                    } else {
                        sql.insert.as_str()
                    },
                    if update { docs.len() } else { 0 },
                    docs,
                ))
            })
            .collect()
    }

    /// Applies a change atomically.
    pub async fn write(&self, batch: &WriteBatch<T>) -> Result<WriteOutcome, StoreError> {
        macro_rules! apply {
            ($tx:expr, $kit:ident) => {{
                let mut tx = $tx;
                if let Some(key) = &batch.key
                    && let Some(replay) = idempotency::$kit::lookup(&mut tx, key).await?
                {
                    return Ok(WriteOutcome::Replayed(replay));
                }
                for (statement, updates, docs) in self.grouped(batch) {
                    let rows = serde_json::to_string(&docs).unwrap_or_else(|_| "[]".into());
                    let done = sqlx::query(AssertSqlSafe(statement.to_string()))
                        .bind(rows)
                        .execute(&mut *tx)
                        .await?;
                    if updates > 0 && done.rows_affected() != updates as u64 {
                        return Err(StoreError::Conflict);
                    }
                }
                outbox::$kit::append(&mut tx, &batch.events).await?;
                for entry in &batch.audit {
                    audit::$kit::append(&mut tx, entry).await?;
                }
                if let Some(key) = &batch.key {
                    idempotency::$kit::record(&mut tx, key, &batch.response).await?;
                }
                tx.commit().await?;
                Ok(WriteOutcome::Applied)
            }};
        }
        match &self.db {
            Db::Postgres(pool) => apply!(pool.begin().await?, postgres),
            Db::Sqlite(pool) => apply!(crate::db::sqlite_begin_write(pool).await?, sqlite),
        }
    }

    /// The stored first response for `key`, if the request was handled before.
    pub async fn replayed<R: prost::Message + Default>(
        &self,
        key: &RequestKey,
    ) -> Result<Option<R>, CommitError> {
        match self.lookup_request(key).await? {
            Some(replay) => Ok(Some(idempotency::decode_response(
                &replay.into_result(&key.request_id)?,
            )?)),
            None => Ok(None),
        }
    }

    /// Writes the batch with `response` stored under its request id, and answers `response`;
    /// or the first answer if the request id was handled before or in the meantime.
    pub async fn commit<R: prost::Message + Default>(
        &self,
        mut batch: WriteBatch<T>,
        response: R,
    ) -> Result<Committed<R>, CommitError> {
        batch.response = response.encode_to_vec();
        match self.write(&batch).await {
            Ok(WriteOutcome::Applied) => Ok(Committed {
                response,
                applied: true,
            }),
            Ok(WriteOutcome::Replayed(replay)) => {
                let id = batch
                    .key
                    .as_ref()
                    .map(|k| k.request_id.as_str())
                    .unwrap_or_default();
                Ok(Committed {
                    response: idempotency::decode_response(&replay.into_result(id)?)?,
                    applied: false,
                })
            }
            // A concurrent duplicate of this request won the race: answer with its result.
            Err(StoreError::UniqueViolation(c)) if c.contains("idempotency") => {
                let key = batch.key.as_ref().ok_or(StoreError::UniqueViolation(c))?;
                let response = self.replayed(key).await?.ok_or(StoreError::Conflict)?;
                Ok(Committed {
                    response,
                    applied: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, table: T, id: &str) -> Result<Option<Stored>, StoreError> {
        let sql = AssertSqlSafe(self.sql(table)?.get.clone());
        let row: Option<Row> = match &self.db {
            Db::Postgres(pool) => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?,
            Db::Sqlite(pool) => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?,
        };
        Ok(row.map(stored))
    }

    /// Records in creation order.
    pub async fn list(&self, table: T, filter: &Filter<'_>) -> Result<Vec<Stored>, StoreError> {
        let sql = AssertSqlSafe(self.sql(table)?.list.clone());
        let tag = filter.tag.unwrap_or_default();
        let rows: Vec<Row> = match &self.db {
            Db::Postgres(pool) => {
                sqlx::query_as(sql)
                    .bind(filter.parent)
                    .bind(tag)
                    .bind(filter.after)
                    .bind(filter.limit)
                    .fetch_all(pool)
                    .await?
            }
            Db::Sqlite(pool) => {
                sqlx::query_as(sql)
                    .bind(filter.parent)
                    .bind(tag)
                    .bind(filter.after)
                    .bind(filter.limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().map(stored).collect())
    }

    /// Records due at or before `until_us`, soonest first.
    pub async fn due(
        &self,
        table: T,
        until_us: i64,
        limit: i64,
    ) -> Result<Vec<Stored>, StoreError> {
        let sql = AssertSqlSafe(self.sql(table)?.due.clone());
        let rows: Vec<Row> = match &self.db {
            Db::Postgres(pool) => {
                sqlx::query_as(sql)
                    .bind(until_us)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            Db::Sqlite(pool) => {
                sqlx::query_as(sql)
                    .bind(until_us)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().map(stored).collect())
    }
}
