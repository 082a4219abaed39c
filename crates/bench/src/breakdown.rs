//! `--breakdown`: the registry's store driven directly, without gRPC, to split the cost of a
//! request between the store's write itself, the outbox/audit sequencer running beside it, an
//! idempotency lookup before the write, and (for imports) the outbox events.
//!
//! The batches are built exactly as the gRPC handlers build them (`grpc.rs`: `create_person`,
//! `import_chunk`/`import_batch`), before the clock starts, so only storage is measured; import
//! chunks are written by as many tasks at once as `import_persons` uses.

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

/// Rows per import chunk, and chunks written at once, as in `grpc.rs`.
pub const IMPORT_CHUNK: usize = 500;
pub const IMPORT_WRITERS: usize = 3;

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
        possible_duplicates: vec![],
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
    let w = run_concurrent(warm, IMPORT_WRITERS, write.clone()).await;
    if w.errors > 0 {
        return Err(format!(
            "{name}: warm-up failed: {}",
            w.first_error.unwrap_or_default()
        )
        .into());
    }
    let probe = probe::Probe::start(server_url, crate::db_name(&s.url), pool_of(&s.db)).await?;
    let outcome = run_concurrent(batches, IMPORT_WRITERS, write).await;
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
            "store.write(CreatePerson batch), sequencer running",
            false,
            true,
        ),
        (
            "store.write(CreatePerson batch), no sequencer",
            false,
            false,
        ),
        (
            "store.write(CreatePerson batch) after lookup_request, no sequencer",
            true,
            false,
        ),
    ] {
        out.push(create_experiment(&cx, name, lookup_first, sequencer).await?);
    }
    for (name, events, sequencer) in [
        (
            "store.write(import chunks of 500), 3 writers, with events, sequencer running",
            true,
            true,
        ),
        (
            "store.write(import chunks of 500), 3 writers, with events, no sequencer",
            true,
            false,
        ),
        (
            "store.write(import chunks of 500), 3 writers, no events, no sequencer",
            false,
            false,
        ),
    ] {
        out.push(import_experiment(&cx, name, events, sequencer).await?);
    }
    Ok(out)
}
