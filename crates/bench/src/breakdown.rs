//! `--breakdown`: the registry's store driven directly, without gRPC, to split the cost of a
//! request between the database transaction, the extra idempotency lookup before it, the
//! outbox/audit sequencer, and (for imports) the per-event outbox inserts.
//!
//! The batches are built exactly as the gRPC handlers build them (`grpc.rs`: `create_person`,
//! `import_chunk`/`import_batch`), before the clock starts, so only storage is measured.

use std::{sync::Arc, time::Duration};

use homeward_kit::{
    audit::AuditEntry,
    config::DatabaseConfig,
    db::{Db, testing},
    idempotency::RequestKey,
    outbox::{EventFeed, NewEvent},
};
use homeward_proto::registry::v1 as pb;
use homeward_registry::{
    convert,
    store::{self, PersonWrite, RegistryStore, Reservation, WriteBatch},
};
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Outcome,
    people::{self, Rng},
    probe::{self, Profile},
    run_concurrent,
};

const ACTOR: &str = "registry-bench";

/// What every experiment shares.
struct Ctx<'a> {
    rows: usize,
    warmup: usize,
    import_rows: usize,
    tasks: usize,
    seed: u64,
    server_url: &'a str,
    keep: bool,
}
const IMPORT_CHUNK: usize = 500;

pub struct Experiment {
    pub name: String,
    pub rows: usize,
    pub outcome: Outcome,
    pub profile: Profile,
}

impl Experiment {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.outcome.elapsed.as_secs_f64().max(1e-9)
    }
}

struct Create {
    key: RequestKey,
    batch: WriteBatch,
}

/// What `Registry::create_person` hands the store for one request.
fn create_batch(rng: &mut Rng, n: usize) -> Result<Create, Error> {
    let g = people::person(rng, "BRK", n);
    let request = pb::CreatePersonRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        person: Some(g.person.clone()),
        source: g.source,
        reliability: g.reliability,
    };
    let mut body = request.clone();
    body.request_id.clear();
    let key = RequestKey::new("create_person", &request.request_id, &body.encode_to_vec())?;
    let (person, entry) = people::domain_person(&g, ACTOR);
    let response = pb::CreatePersonResponse {
        person: Some(convert::person_to_pb(&person)),
    };
    let id = person.id.to_string();
    let batch = WriteBatch {
        events: vec![NewEvent::new(
            "registry.person.created",
            &id,
            &pb::PersonCreated {
                person: response.person.clone(),
            },
        )],
        audit: vec![AuditEntry {
            actor: ACTOR.into(),
            action: "person.create".into(),
            target: id,
            request_id: key.request_id.clone(),
            details: serde_json::json!({"status": person.status.name()}),
        }],
        persons: vec![PersonWrite {
            person,
            expected_version: None,
            history: Some(entry),
            reservation: Reservation::None,
        }],
        key: Some(key.clone()),
        response: response.encode_to_vec(),
    };
    Ok(Create { key, batch })
}

/// What `Registry::import_chunk` hands the store for one chunk; without events when `events`
/// is false.
fn import_batches(
    rng: &mut Rng,
    first: usize,
    rows: usize,
    events: bool,
) -> Result<Vec<WriteBatch>, Error> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let fingerprint = "0".repeat(64);
    let mut out = Vec::new();
    let mut n = 0;
    while n < rows {
        let base = first + n;
        let size = IMPORT_CHUNK.min(rows - n);
        let persons: Vec<PersonWrite> = (base..base + size)
            .map(|i| {
                let (person, entry) = people::domain_person(&people::person(rng, "BRI", i), ACTOR);
                PersonWrite {
                    person,
                    expected_version: None,
                    history: Some(entry),
                    reservation: Reservation::None,
                }
            })
            .collect();
        let event_list = if events {
            persons
                .iter()
                .map(|w| {
                    NewEvent::new(
                        "registry.person.created",
                        &w.person.id.to_string(),
                        &pb::PersonCreated {
                            person: Some(convert::person_to_pb(&w.person)),
                        },
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let ids: Vec<String> = persons.iter().map(|w| w.person.id.to_string()).collect();
        out.push(WriteBatch {
            key: Some(RequestKey::new(
                "import_persons_chunk",
                &format!("{request_id}#{}", out.len()),
                fingerprint.as_bytes(),
            )?),
            response: Vec::new(),
            audit: vec![AuditEntry {
                actor: ACTOR.into(),
                action: "person.create".into(),
                target: "persons".into(),
                request_id: request_id.clone(),
                details: serde_json::json!({"imported": ids}),
            }],
            persons,
            events: event_list,
        });
        n += size;
    }
    Ok(out)
}

struct Store {
    url: String,
    db: Db,
    store: Arc<dyn RegistryStore>,
    feed: Option<(EventFeed, CancellationToken)>,
}

async fn open(pool_size: u32, sequencer: bool) -> Result<Store, Error> {
    let url = testing::fresh_postgres_database("bench_breakdown").await;
    let db = Db::connect(
        &DatabaseConfig {
            url: url.clone(),
            max_connections: pool_size,
            ..DatabaseConfig::default()
        },
        &homeward_registry::MIGRATIONS,
    )
    .await?;
    let feed = sequencer.then(|| {
        let stop = CancellationToken::new();
        (EventFeed::start(db.clone(), stop.clone()), stop)
    });
    Ok(Store {
        url,
        store: store::for_db(db.clone()),
        db,
        feed,
    })
}

async fn close(s: Store, server_url: &str, keep: bool) {
    if let Some((_, stop)) = &s.feed {
        stop.cancel();
        // Let the sequencer's last run finish before the pool closes.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    s.db.close().await;
    if !keep {
        crate::drop_database(server_url, &s.url).await;
    }
}

fn pool_of(db: &Db) -> Option<sqlx::PgPool> {
    match db {
        Db::Postgres(pool) => Some(pool.clone()),
        Db::Sqlite(_) => None,
    }
}

/// CreatePerson's storage work from `tasks` concurrent tasks.
async fn creates(s: &Store, items: Vec<Create>, tasks: usize, lookup_first: bool) -> Outcome {
    let store = s.store.clone();
    let feed = s.feed.as_ref().map(|(f, _)| f.clone());
    run_concurrent(items, tasks, move |_, c: Create| {
        let store = store.clone();
        let feed = feed.clone();
        async move {
            if lookup_first {
                store
                    .lookup_request(&c.key)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            store.write(&c.batch).await.map_err(|e| e.to_string())?;
            if let Some(feed) = feed {
                feed.wake();
            }
            Ok(())
        }
    })
    .await
}

async fn create_experiment(
    cx: &Ctx<'_>,
    name: &str,
    lookup_first: bool,
    sequencer: bool,
) -> Result<Experiment, Error> {
    let Ctx {
        rows,
        warmup,
        tasks,
        seed,
        server_url,
        keep,
        ..
    } = *cx;
    progress!("breakdown: {name} ...");
    let s = open(u32::try_from(tasks).unwrap_or(u32::MAX), sequencer).await?;
    let mut rng = Rng::new(seed);
    let warm: Vec<Create> = (0..warmup)
        .map(|n| create_batch(&mut rng, n))
        .collect::<Result<_, _>>()?;
    let items: Vec<Create> = (warmup..warmup + rows)
        .map(|n| create_batch(&mut rng, n))
        .collect::<Result<_, _>>()?;
    let w = creates(&s, warm, tasks, lookup_first).await;
    if w.errors > 0 {
        return Err(format!(
            "{name}: warm-up failed: {}",
            w.first_error.unwrap_or_default()
        )
        .into());
    }
    let probe = probe::Probe::start(server_url, crate::db_name(&s.url), pool_of(&s.db)).await?;
    let outcome = creates(&s, items, tasks, lookup_first).await;
    let profile = probe.finish().await;
    close(s, server_url, keep).await;
    Ok(Experiment {
        name: name.into(),
        rows: outcome.ok,
        outcome,
        profile,
    })
}

async fn import_experiment(
    cx: &Ctx<'_>,
    name: &str,
    events: bool,
    sequencer: bool,
) -> Result<Experiment, Error> {
    let Ctx {
        import_rows: rows,
        seed,
        server_url,
        keep,
        ..
    } = *cx;
    progress!("breakdown: {name} ...");
    let s = open(32, sequencer).await?;
    let mut rng = Rng::new(seed);
    let warm_rows = (rows / 20).clamp(IMPORT_CHUNK, 5_000);
    let warm = import_batches(&mut rng, 0, warm_rows, events)?;
    let batches = import_batches(&mut rng, warm_rows, rows, events)?;
    let store = s.store.clone();
    let feed = s.feed.as_ref().map(|(f, _)| f.clone());
    let write = move |_, b: WriteBatch| {
        let store = store.clone();
        let feed = feed.clone();
        async move {
            store.write(&b).await.map_err(|e| e.to_string())?;
            if let Some(feed) = feed {
                feed.wake();
            }
            Ok(())
        }
    };
    let w = run_concurrent(warm, 1, write.clone()).await;
    if w.errors > 0 {
        return Err(format!(
            "{name}: warm-up failed: {}",
            w.first_error.unwrap_or_default()
        )
        .into());
    }
    let probe = probe::Probe::start(server_url, crate::db_name(&s.url), pool_of(&s.db)).await?;
    let outcome = run_concurrent(batches, 1, write).await;
    let profile = probe.finish().await;
    close(s, server_url, keep).await;
    let written = if outcome.errors == 0 {
        rows
    } else {
        outcome.ok * IMPORT_CHUNK
    };
    Ok(Experiment {
        name: name.into(),
        rows: written,
        outcome,
        profile,
    })
}

/// A prototype of the suggested CreatePerson write: the whole batch in one statement (claim
/// the request id first; write the rest only when the claim succeeded), in autocommit, so one
/// round trip instead of eleven. Replays (no claim) write nothing and would be answered from the
/// stored response.
const CREATE_ONE_STATEMENT: &str = "WITH k AS (\
    INSERT INTO idempotency (scope, request_id, fingerprint, response, created_at_us) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1), \
  p AS (INSERT INTO persons (id, version, category, status, holding_party, affiliated_party, \
    file_reference, search_keys, record, updated_at_us) \
    SELECT $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM k RETURNING id), \
  h AS (INSERT INTO status_history (person_id, sequence, record) SELECT id, $16, $17 FROM p), \
  o AS (INSERT INTO outbox (event_id, event_type, aggregate_id, payload_type, payload, traceparent, \
    occurred_at_us) SELECT $18, $19, $20, $21, $22, $23, $24 FROM k) \
  INSERT INTO audit_log (recorded_at_us, actor, action, target, request_id, details) \
  SELECT $25, $26, $27, $28, $29, $30 FROM k";

async fn create_one_statement(pool: &sqlx::PgPool, c: &Create) -> Result<(), String> {
    let b = &c.batch;
    let w = b.persons.first().ok_or("no person")?;
    let h = w.history.as_ref().ok_or("no history")?;
    let e = b.events.first().ok_or("no event")?;
    let a = b.audit.first().ok_or("no audit entry")?;
    let row = people::stored_row(&w.person);
    let now = homeward_kit::timestamp::now_micros();
    sqlx::query(CREATE_ONE_STATEMENT)
        .bind(c.key.scope)
        .bind(&c.key.request_id)
        .bind(&c.key.fingerprint)
        .bind(&b.response)
        .bind(now)
        .bind(row.id)
        .bind(row.version)
        .bind(row.category)
        .bind(row.status)
        .bind(row.holding_party)
        .bind(row.affiliated_party)
        .bind(row.file_reference)
        .bind(row.search_keys)
        .bind(row.record)
        .bind(row.updated_at_us)
        .bind(h.sequence)
        .bind(serde_json::to_string(h).unwrap_or_default())
        .bind(&e.event_id)
        .bind(&e.event_type)
        .bind(&e.aggregate_id)
        .bind(&e.payload.type_url)
        .bind(&e.payload.value)
        .bind(&e.traceparent)
        .bind(e.occurred_at_us)
        .bind(now)
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.target)
        .bind(&a.request_id)
        .bind(a.details.to_string())
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A prototype of the suggested import chunk write: persons and history as today (one JSON
/// array each), the outbox events in one `UNNEST` insert instead of one statement per event,
/// everything in one statement.
const IMPORT_ONE_STATEMENT: &str = "WITH k AS (\
    INSERT INTO idempotency (scope, request_id, fingerprint, response, created_at_us) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1), \
  p AS (INSERT INTO persons (id, version, category, status, holding_party, affiliated_party, \
    file_reference, search_keys, record, updated_at_us) \
    SELECT x->>'id', (x->>'version')::bigint, x->>'category', x->>'status', x->>'holding_party', \
    x->>'affiliated_party', x->>'file_reference', x->>'search_keys', x->>'record', \
    (x->>'updated_at_us')::bigint FROM k, jsonb_array_elements($6::jsonb) WITH ORDINALITY AS t(x, n) ORDER BY n), \
  h AS (INSERT INTO status_history (person_id, sequence, record) \
    SELECT x->>'person_id', (x->>'sequence')::bigint, x->>'record' FROM k, jsonb_array_elements($7::jsonb) AS t(x)), \
  o AS (INSERT INTO outbox (event_id, event_type, aggregate_id, payload_type, payload, traceparent, occurred_at_us) \
    SELECT e.event_id, e.event_type, e.aggregate_id, e.payload_type, e.payload, e.traceparent, e.occurred_at_us \
    FROM k, UNNEST($8::text[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::text[], $14::bigint[]) \
    WITH ORDINALITY AS e(event_id, event_type, aggregate_id, payload_type, payload, traceparent, occurred_at_us, n) ORDER BY e.n) \
  INSERT INTO audit_log (recorded_at_us, actor, action, target, request_id, details) \
  SELECT $15, $16, $17, $18, $19, $20 FROM k";

async fn import_one_statement(pool: &sqlx::PgPool, b: &WriteBatch) -> Result<(), String> {
    let key = b.key.as_ref().ok_or("no key")?;
    let a = b.audit.first().ok_or("no audit entry")?;
    let persons: Vec<serde_json::Value> = b
        .persons
        .iter()
        .map(|w| {
            let r = people::stored_row(&w.person);
            serde_json::json!({
                "id": r.id, "version": r.version, "category": r.category, "status": r.status,
                "holding_party": r.holding_party, "affiliated_party": r.affiliated_party,
                "file_reference": r.file_reference, "search_keys": r.search_keys, "record": r.record,
                "updated_at_us": r.updated_at_us,
            })
        })
        .collect();
    let history: Vec<serde_json::Value> = b
        .persons
        .iter()
        .filter_map(|w| {
            w.history.as_ref().map(|h| {
                serde_json::json!({
                    "person_id": w.person.id.to_string(), "sequence": h.sequence,
                    "record": serde_json::to_string(h).unwrap_or_default(),
                })
            })
        })
        .collect();
    let ev = &b.events;
    let now = homeward_kit::timestamp::now_micros();
    sqlx::query(IMPORT_ONE_STATEMENT)
        .bind(key.scope)
        .bind(&key.request_id)
        .bind(&key.fingerprint)
        .bind(&b.response)
        .bind(now)
        .bind(serde_json::Value::Array(persons).to_string())
        .bind(serde_json::Value::Array(history).to_string())
        .bind(ev.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>())
        .bind(ev.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>())
        .bind(
            ev.iter()
                .map(|e| e.aggregate_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            ev.iter()
                .map(|e| e.payload.type_url.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            ev.iter()
                .map(|e| e.payload.value.clone())
                .collect::<Vec<_>>(),
        )
        .bind(ev.iter().map(|e| e.traceparent.clone()).collect::<Vec<_>>())
        .bind(ev.iter().map(|e| e.occurred_at_us).collect::<Vec<_>>())
        .bind(now)
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.target)
        .bind(&a.request_id)
        .bind(a.details.to_string())
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The same chunk with every column bound as a typed array (`UNNEST`), so PostgreSQL does not
/// parse a JSON document holding each record as an escaped string.
const IMPORT_UNNEST: &str = "WITH k AS (\
    INSERT INTO idempotency (scope, request_id, fingerprint, response, created_at_us) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1), \
  p AS (INSERT INTO persons (id, version, category, status, holding_party, affiliated_party, \
    file_reference, search_keys, record, updated_at_us) \
    SELECT u.id, u.version, u.category, u.status, u.holding_party, u.affiliated_party, u.file_reference, \
    u.search_keys, u.record, u.updated_at_us FROM k, UNNEST($6::text[], $7::bigint[], $8::text[], $9::text[], \
    $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[]) WITH ORDINALITY \
    AS u(id, version, category, status, holding_party, affiliated_party, file_reference, search_keys, record, \
    updated_at_us, n) ORDER BY u.n), \
  h AS (INSERT INTO status_history (person_id, sequence, record) \
    SELECT u.person_id, u.sequence, u.record FROM k, UNNEST($16::text[], $17::bigint[], $18::text[]) \
    AS u(person_id, sequence, record)), \
  o AS (INSERT INTO outbox (event_id, event_type, aggregate_id, payload_type, payload, traceparent, occurred_at_us) \
    SELECT e.event_id, e.event_type, e.aggregate_id, e.payload_type, e.payload, e.traceparent, e.occurred_at_us \
    FROM k, UNNEST($19::text[], $20::text[], $21::text[], $22::text[], $23::bytea[], $24::text[], $25::bigint[]) \
    WITH ORDINALITY AS e(event_id, event_type, aggregate_id, payload_type, payload, traceparent, occurred_at_us, n) ORDER BY e.n) \
  INSERT INTO audit_log (recorded_at_us, actor, action, target, request_id, details) \
  SELECT $26, $27, $28, $29, $30, $31 FROM k";

async fn import_unnest(pool: &sqlx::PgPool, b: &WriteBatch) -> Result<(), String> {
    let key = b.key.as_ref().ok_or("no key")?;
    let a = b.audit.first().ok_or("no audit entry")?;
    let rows: Vec<people::Row> = b
        .persons
        .iter()
        .map(|w| people::stored_row(&w.person))
        .collect();
    let col = |f: fn(&people::Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let history: Vec<(String, i64, String)> = b
        .persons
        .iter()
        .filter_map(|w| {
            w.history.as_ref().map(|h| {
                (
                    w.person.id.to_string(),
                    h.sequence,
                    serde_json::to_string(h).unwrap_or_default(),
                )
            })
        })
        .collect();
    let ev = &b.events;
    let now = homeward_kit::timestamp::now_micros();
    sqlx::query(IMPORT_UNNEST)
        .bind(key.scope)
        .bind(&key.request_id)
        .bind(&key.fingerprint)
        .bind(&b.response)
        .bind(now)
        .bind(col(|r| r.id.clone()))
        .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind(col(|r| r.category.clone()))
        .bind(col(|r| r.status.clone()))
        .bind(col(|r| r.holding_party.clone()))
        .bind(col(|r| r.affiliated_party.clone()))
        .bind(
            rows.iter()
                .map(|r| r.file_reference.clone())
                .collect::<Vec<_>>(),
        )
        .bind(col(|r| r.search_keys.clone()))
        .bind(col(|r| r.record.clone()))
        .bind(rows.iter().map(|r| r.updated_at_us).collect::<Vec<_>>())
        .bind(history.iter().map(|h| h.0.clone()).collect::<Vec<_>>())
        .bind(history.iter().map(|h| h.1).collect::<Vec<_>>())
        .bind(history.iter().map(|h| h.2.clone()).collect::<Vec<_>>())
        .bind(ev.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>())
        .bind(ev.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>())
        .bind(
            ev.iter()
                .map(|e| e.aggregate_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            ev.iter()
                .map(|e| e.payload.type_url.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            ev.iter()
                .map(|e| e.payload.value.clone())
                .collect::<Vec<_>>(),
        )
        .bind(ev.iter().map(|e| e.traceparent.clone()).collect::<Vec<_>>())
        .bind(ev.iter().map(|e| e.occurred_at_us).collect::<Vec<_>>())
        .bind(now)
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.target)
        .bind(&a.request_id)
        .bind(a.details.to_string())
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Persons and history as JSON arrays (as the store binds them today), outbox by `UNNEST`.
    Json,
    /// Every column as a typed array.
    Unnest,
}

/// A pool like the registry's, but without the ping sqlx sends before handing out a connection.
async fn quiet_pool(url: &str, size: u32) -> Result<sqlx::PgPool, Error> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await?)
}

async fn create_prototype(cx: &Ctx<'_>) -> Result<Experiment, Error> {
    let Ctx {
        rows,
        warmup,
        tasks,
        seed,
        server_url,
        keep,
        ..
    } = *cx;
    let name =
        "PROTOTYPE: CreatePerson batch as one statement (autocommit, no ping), sequencer running";
    progress!("breakdown: {name} ...");
    let s = open(2, true).await?;
    let pool = quiet_pool(&s.url, u32::try_from(tasks).unwrap_or(u32::MAX)).await?;
    let mut rng = Rng::new(seed);
    let warm: Vec<Create> = (0..warmup)
        .map(|n| create_batch(&mut rng, n))
        .collect::<Result<_, _>>()?;
    let items: Vec<Create> = (warmup..warmup + rows)
        .map(|n| create_batch(&mut rng, n))
        .collect::<Result<_, _>>()?;
    let feed = s.feed.as_ref().map(|(f, _)| f.clone());
    let call = {
        let pool = pool.clone();
        move |_, c: Create| {
            let pool = pool.clone();
            let feed = feed.clone();
            async move {
                create_one_statement(&pool, &c).await?;
                if let Some(feed) = feed {
                    feed.wake();
                }
                Ok(())
            }
        }
    };
    let w = run_concurrent(warm, tasks, call.clone()).await;
    if w.errors > 0 {
        return Err(format!(
            "{name}: warm-up failed: {}",
            w.first_error.unwrap_or_default()
        )
        .into());
    }
    let probe = probe::Probe::start(server_url, crate::db_name(&s.url), Some(pool.clone())).await?;
    let outcome = run_concurrent(items, tasks, call).await;
    let profile = probe.finish().await;
    pool.close().await;
    close(s, server_url, keep).await;
    Ok(Experiment {
        name: name.into(),
        rows: outcome.ok,
        outcome,
        profile,
    })
}

async fn import_prototype(
    cx: &Ctx<'_>,
    writers: usize,
    shape: Shape,
    sequencer: bool,
) -> Result<Experiment, Error> {
    let Ctx {
        import_rows: rows,
        seed,
        server_url,
        keep,
        ..
    } = *cx;
    let name = format!(
        "PROTOTYPE: import chunks of 500 as one statement ({}), {writers} writer{}, {}",
        match shape {
            Shape::Json => "persons as JSON as today, bulk outbox insert",
            Shape::Unnest => "every column as a typed array",
        },
        if writers == 1 { "" } else { "s" },
        if sequencer {
            "sequencer running"
        } else {
            "no sequencer"
        }
    );
    progress!("breakdown: {name} ...");
    let s = open(2, sequencer).await?;
    let pool = quiet_pool(&s.url, u32::try_from(writers).unwrap_or(1)).await?;
    let mut rng = Rng::new(seed);
    let warm_rows = (rows / 20).clamp(IMPORT_CHUNK, 5_000);
    let warm = import_batches(&mut rng, 0, warm_rows, true)?;
    let batches = import_batches(&mut rng, warm_rows, rows, true)?;
    let feed = s.feed.as_ref().map(|(f, _)| f.clone());
    let call = {
        let pool = pool.clone();
        move |_, b: WriteBatch| {
            let pool = pool.clone();
            let feed = feed.clone();
            async move {
                match shape {
                    Shape::Json => import_one_statement(&pool, &b).await?,
                    Shape::Unnest => import_unnest(&pool, &b).await?,
                }
                if let Some(feed) = feed {
                    feed.wake();
                }
                Ok(())
            }
        }
    };
    let w = run_concurrent(warm, writers, call.clone()).await;
    if w.errors > 0 {
        return Err(format!(
            "{name}: warm-up failed: {}",
            w.first_error.unwrap_or_default()
        )
        .into());
    }
    let probe = probe::Probe::start(server_url, crate::db_name(&s.url), Some(pool.clone())).await?;
    let outcome = run_concurrent(batches, writers, call).await;
    let profile = probe.finish().await;
    pool.close().await;
    close(s, server_url, keep).await;
    let written = if outcome.errors == 0 {
        rows
    } else {
        outcome.ok * IMPORT_CHUNK
    };
    Ok(Experiment {
        name,
        rows: written,
        outcome,
        profile,
    })
}

/// Runs every experiment, one fresh database each.
pub async fn run(
    rows: usize,
    import_rows: usize,
    tasks: usize,
    seed: u64,
    server_url: &str,
    keep: bool,
) -> Result<Vec<Experiment>, Error> {
    let cx = Ctx {
        rows,
        warmup: (rows / 10).clamp(100, 1_000),
        import_rows,
        tasks,
        seed,
        server_url,
        keep,
    };
    let mut out = Vec::new();
    for (name, lookup_first, sequencer) in [
        (
            "store.write(CreatePerson batch) after lookup_request, sequencer running",
            true,
            true,
        ),
        (
            "store.write(CreatePerson batch) after lookup_request, no sequencer",
            true,
            false,
        ),
        (
            "store.write(CreatePerson batch) alone, no sequencer",
            false,
            false,
        ),
    ] {
        out.push(create_experiment(&cx, name, lookup_first, sequencer).await?);
    }
    out.push(create_prototype(&cx).await?);
    for (name, events, sequencer) in [
        (
            "store.write(import chunks of 500), 1 writer, with events, sequencer running",
            true,
            true,
        ),
        (
            "store.write(import chunks of 500), 1 writer, with events, no sequencer",
            true,
            false,
        ),
        (
            "store.write(import chunks of 500), 1 writer, no events, no sequencer",
            false,
            false,
        ),
    ] {
        out.push(import_experiment(&cx, name, events, sequencer).await?);
    }
    for (writers, shape, sequencer) in [
        (1, Shape::Json, true),
        (2, Shape::Json, true),
        (2, Shape::Unnest, true),
        (2, Shape::Unnest, false),
    ] {
        out.push(import_prototype(&cx, writers, shape, sequencer).await?);
    }
    Ok(out)
}
