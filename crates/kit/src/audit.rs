//! The append-only, hash-chained audit log and its verifier.
//!
//! Entries are written in the same transaction as the change they record. Like outbox
//! positions, chain positions are given after commit by the sequencer (one at a time), which
//! links each entry to the previous one: hash = SHA-256 over the previous hash, the sequence
//! number and every field. Changing, deleting or reordering any sealed entry breaks the chain at
//! that point; cutting entries off the end is caught by checking an anchor (a sequence number
//! and hash recorded elsewhere earlier).
//!
//! Details hold ids and field names, never personal data: the log is read by auditors who are
//! not entitled to every record.

use homeward_proto::common::v1 as pb;
use sha2::{Digest, Sha256};

use crate::{db::Db, error::StoreError, timestamp};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to record with a change.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_id: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SealedRow {
    sequence: i64,
    prev_hash: Option<String>,
    hash: Option<String>,
    #[sqlx(flatten)]
    fields: Fields,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Fields {
    recorded_at_us: i64,
    actor: String,
    action: String,
    target: String,
    request_id: String,
    details: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct UnsealedRow {
    id: i64,
    #[sqlx(flatten)]
    fields: Fields,
}

fn entry_hash(prev_hash: &str, sequence: i64, f: &Fields) -> String {
    let mut h = Sha256::new();
    // Length-prefixed, so no two different entries serialise to the same bytes.
    for part in [
        prev_hash.as_bytes(),
        &sequence.to_be_bytes(),
        &f.recorded_at_us.to_be_bytes(),
        f.actor.as_bytes(),
        f.action.as_bytes(),
        f.target.as_bytes(),
        f.request_id.as_bytes(),
        f.details.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Chains unsealed rows (in id order) onto the head: (id, sequence, prev_hash, hash).
fn chain(head: Option<(i64, String)>, rows: Vec<UnsealedRow>) -> Vec<(i64, i64, String, String)> {
    let (mut sequence, mut prev) = head.unwrap_or((0, GENESIS.to_string()));
    rows.into_iter()
        .map(|row| {
            sequence += 1;
            let hash = entry_hash(&prev, sequence, &row.fields);
            (
                row.id,
                sequence,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            )
        })
        .collect()
}

pub(crate) const SEAL_BATCH: i64 = 2_000;

type Query<DB> = sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>;

/// PostgreSQL takes the seals as typed arrays.
fn bind_arrays(
    q: Query<sqlx::Postgres>,
    ids: Vec<i64>,
    sequences: Vec<i64>,
    prevs: Vec<String>,
    hashes: Vec<String>,
) -> Query<sqlx::Postgres> {
    q.bind(ids).bind(sequences).bind(prevs).bind(hashes)
}

/// SQLite has no arrays: the seals travel as JSON arrays.
fn bind_json(
    q: Query<sqlx::Sqlite>,
    ids: Vec<i64>,
    sequences: Vec<i64>,
    prevs: Vec<String>,
    hashes: Vec<String>,
) -> Query<sqlx::Sqlite> {
    let json = |v: serde_json::Value| v.to_string();
    q.bind(json(ids.into()))
        .bind(json(sequences.into()))
        .bind(json(prevs.into()))
        .bind(json(hashes.into()))
}

macro_rules! backend {
    ($name:ident, $db:ty, $insert:expr, $bind:path) => {
        pub mod $name {
            use super::*;

            /// Records an entry inside the caller's transaction.
            pub async fn append(
                conn: &mut <$db as sqlx::Database>::Connection,
                entry: &AuditEntry,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_log (recorded_at_us, actor, action, target, request_id, \
                     details) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(timestamp::now_micros())
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(&entry.target)
                .bind(&entry.request_id)
                .bind(entry.details.to_string())
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn head_and_pending(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<Vec<(i64, i64, String, String)>, StoreError> {
                let head: Option<(i64, String)> = sqlx::query_as(
                    "SELECT sequence, hash FROM audit_chain ORDER BY sequence DESC LIMIT 1",
                )
                .fetch_optional(&mut *conn)
                .await?;
                let rows: Vec<UnsealedRow> = sqlx::query_as(
                    "SELECT a.id, a.recorded_at_us, a.actor, a.action, a.target, a.request_id, \
                     a.details FROM audit_pending p JOIN audit_log a ON a.id = p.audit_id \
                     ORDER BY p.audit_id LIMIT $1",
                )
                .bind(SEAL_BATCH)
                .fetch_all(&mut *conn)
                .await?;
                Ok(chain(head, rows))
            }

            /// Seals pending entries; called by the sequencer, one at a time.
            pub(crate) async fn seal(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<u64, StoreError> {
                let sealed = head_and_pending(&mut *conn).await?;
                let n = sealed.len() as u64;
                let Some(first) = sealed.first().map(|s| s.1) else {
                    return Ok(0);
                };
                let (ids, sequences, prevs, hashes) = sealed.into_iter().fold(
                    (vec![], vec![], vec![], vec![]),
                    |(mut a, mut b, mut c, mut d), (id, seq, prev, hash)| {
                        a.push(id);
                        b.push(seq);
                        c.push(prev);
                        d.push(hash);
                        (a, b, c, d)
                    },
                );
                // One statement for the whole batch.
                $bind(sqlx::query($insert), ids, sequences, prevs, hashes)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "DELETE FROM audit_pending WHERE audit_id IN \
                     (SELECT audit_id FROM audit_chain WHERE sequence >= $1)",
                )
                .bind(first)
                .execute(&mut *conn)
                .await?;
                Ok(n)
            }

            pub(crate) async fn read_sealed(
                pool: &sqlx::Pool<$db>,
                after: i64,
                limit: i64,
            ) -> Result<Vec<SealedRow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT c.sequence, c.prev_hash, c.hash, a.recorded_at_us, a.actor, a.action, \
                     a.target, a.request_id, a.details \
                     FROM audit_chain c JOIN audit_log a ON a.id = c.audit_id \
                     WHERE c.sequence > $1 ORDER BY c.sequence LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?)
            }
        }
    };
}

backend!(
    postgres,
    sqlx::Postgres,
    "INSERT INTO audit_chain (audit_id, sequence, prev_hash, hash) \
     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[])",
    bind_arrays
);
backend!(
    sqlite,
    sqlx::Sqlite,
    "INSERT INTO audit_chain (audit_id, sequence, prev_hash, hash) \
     SELECT i.value, s.value, p.value, h.value \
     FROM json_each($1) AS i JOIN json_each($2) AS s ON s.key = i.key \
     JOIN json_each($3) AS p ON p.key = i.key JOIN json_each($4) AS h ON h.key = i.key",
    bind_json
);

/// Checks the whole chain, and the anchor when one is given.
pub async fn verify(db: &Db, anchor: Option<(u64, &str)>) -> Result<Verification, StoreError> {
    let mut v = Verification {
        intact: true,
        ..Verification::default()
    };
    let mut prev = GENESIS.to_string();
    let mut expected = 1i64;
    let mut anchor_seen = false;
    'pages: loop {
        let rows = match db {
            Db::Postgres(pool) => postgres::read_sealed(pool, expected - 1, 10_000).await?,
            Db::Sqlite(pool) => sqlite::read_sealed(pool, expected - 1, 10_000).await?,
        };
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let problem = if row.sequence != expected {
                Some(format!(
                    "entry {expected} is missing (next entry is {})",
                    row.sequence
                ))
            } else if row.prev_hash.as_deref() != Some(prev.as_str()) {
                Some(format!(
                    "entry {expected} does not follow entry {}",
                    expected - 1
                ))
            } else if row.hash.as_deref()
                != Some(entry_hash(&prev, row.sequence, &row.fields).as_str())
            {
                Some(format!("entry {expected} was altered"))
            } else {
                None
            };
            if let Some(problem) = problem {
                v.intact = false;
                v.first_bad_sequence = expected as u64;
                v.problem = problem;
                break 'pages;
            }
            if let Some((seq, hash)) = anchor
                && seq == row.sequence as u64
            {
                anchor_seen = true;
                if row.hash.as_deref() != Some(hash) {
                    v.intact = false;
                    v.first_bad_sequence = seq;
                    v.problem = format!("entry {seq} does not match the anchor");
                    break 'pages;
                }
            }
            prev = row.hash.unwrap_or_default();
            v.entries += 1;
            v.head_sequence = row.sequence as u64;
            expected += 1;
        }
    }
    v.head_hash = if v.entries == 0 { String::new() } else { prev };
    // Every entry is either chained or waiting for the sequencer; one that is neither had its
    // place in the queue removed so that it would never be chained.
    if v.intact {
        let orphan = "SELECT MIN(a.id) FROM audit_log a \
             WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.audit_id = a.id) \
             AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.audit_id = a.id)";
        let orphan: Option<i64> = match db {
            Db::Postgres(pool) => sqlx::query_scalar(orphan).fetch_one(pool).await?,
            Db::Sqlite(pool) => sqlx::query_scalar(orphan).fetch_one(pool).await?,
        };
        if let Some(id) = orphan {
            v.intact = false;
            v.first_bad_sequence = v.head_sequence + 1;
            v.problem = format!("entry id {id} was recorded but taken out of the chain");
        }
    }
    if let Some((seq, _)) = anchor
        && v.intact
        && !anchor_seen
        && seq > 0
    {
        v.intact = false;
        v.first_bad_sequence = seq;
        v.problem = format!("entry {seq} named by the anchor is gone: the log was cut short");
    }
    Ok(v)
}

/// The verifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    pub intact: bool,
    pub entries: u64,
    pub head_sequence: u64,
    pub head_hash: String,
    pub first_bad_sequence: u64,
    pub problem: String,
}

impl From<Verification> for pb::AuditVerification {
    fn from(v: Verification) -> Self {
        pb::AuditVerification {
            intact: v.intact,
            entries: v.entries,
            head_sequence: v.head_sequence,
            head_hash: v.head_hash,
            first_bad_sequence: v.first_bad_sequence,
            problem: v.problem,
        }
    }
}
