//! The registry's identity index: the identity engine's in-memory candidate index over every
//! registered person (merged duplicates left out), used by search, batch matching, duplicate
//! detection and the duplicate warnings on registration.
//!
//! The index is built from the store at start and then follows the registry's own event
//! stream, so a replica sees registrations made through any other replica; changes made
//! through this replica are applied at once as well (read your own writes). Entries carry
//! the record version, so the same change arriving both ways, or a replayed stream, is
//! applied once. Nothing here logs names: only counts and ids.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use homeward_identity as engine;
use homeward_kit::{StoreError, outbox::EventFeed};
use homeward_proto::registry::v1 as pb;
use prost::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    convert::{self, Check},
    domain::{Category, Identity, NameVariant, PartialDate, Person, Sex},
    store::{ListFilter, RegistryStore},
};

/// Tags of index entries, for the category filter of search and matching.
const TAG_CATEGORY: u32 = 0b11;

fn category_tag(category: Category) -> u32 {
    match category {
        Category::ServiceMember => 1,
        Category::Civilian => 2,
    }
}

/// Only entries of this category.
pub fn category_filter(category: Option<Category>) -> Option<(u32, u32)> {
    category.map(|c| (TAG_CATEGORY, category_tag(c)))
}

/// Event types that change what the index holds.
const INDEXED_EVENTS: &[&str] = &[
    "registry.person.created",
    "registry.person.updated",
    "registry.person.merged",
    "registry.person.unmerged",
];

pub fn engine_names(names: &[NameVariant]) -> Vec<engine::Name> {
    names
        .iter()
        .map(|n| engine::Name::parts(&n.family, &n.given, &n.patronymic))
        .collect()
}

pub fn engine_date(date: Option<PartialDate>) -> Option<engine::BirthDate> {
    date.map(|d| engine::BirthDate {
        year: d.year,
        month: d.month,
        day: d.day,
    })
}

pub fn engine_sex(sex: Option<Sex>) -> engine::Sex {
    match sex {
        Some(Sex::Male) => engine::Sex::Male,
        Some(Sex::Female) => engine::Sex::Female,
        _ => engine::Sex::Unknown,
    }
}

/// The engine's view of a registered identity.
pub fn engine_identity(i: &Identity) -> engine::Identity {
    engine::Identity {
        names: engine_names(&i.names),
        birth_date: engine_date(i.birth_date),
        sex: engine_sex(Some(i.sex)),
        unit: i.unit.clone(),
        service_number: i.service_number.clone(),
        documents: i.documents.iter().map(|d| d.number.clone()).collect(),
    }
}

#[derive(Default)]
pub struct Matcher {
    index: RwLock<engine::Index>,
    /// The version at which each merged duplicate left the index: an older change of it that
    /// the event stream brings later must not put it back.
    merged: std::sync::Mutex<std::collections::HashMap<u128, i64>>,
}

impl Matcher {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The index, for reading. A panic while holding the lock cannot leave it half-changed in
    /// a way that matters (each change is one entry), so a poisoned lock is used as it is.
    pub fn read(&self) -> RwLockReadGuard<'_, engine::Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings one person's entry up to date: indexed, replaced, or removed when merged.
    pub fn apply(&self, person: &Person) {
        self.apply_entry(
            person.id,
            person.version,
            person.merged_into.is_some(),
            &person.identity,
        );
    }

    fn apply_entry(&self, id: Uuid, version: i64, merged: bool, identity: &Identity) {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let mut gone = self.merged.lock().unwrap_or_else(|e| e.into_inner());
        let key = id.as_u128();
        if merged {
            if index.version(&key).is_some_and(|v| v < version) {
                index.remove(&key);
            }
            let at = gone.entry(key).or_insert(version);
            *at = (*at).max(version);
            return;
        }
        match gone.get(&key) {
            Some(at) if *at >= version => return,
            Some(_) => {
                gone.remove(&key);
            }
            None => {}
        }
        index.upsert(
            id.as_u128(),
            version,
            category_tag(identity.category),
            &engine_identity(identity),
        );
    }

    /// Loads every registered person from the store; returns how many.
    pub async fn load(&self, store: &dyn RegistryStore) -> Result<usize, StoreError> {
        let mut after = 0;
        let mut loaded = 0;
        loop {
            let rows = store
                .list_persons(&ListFilter::default(), after, 5_000)
                .await?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            loaded += rows.len();
            let entries: Vec<_> = rows
                .iter()
                .map(|(_, p)| {
                    (
                        p.id.as_u128(),
                        p.version,
                        category_tag(p.identity.category),
                        engine_identity(&p.identity),
                    )
                })
                .collect();
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            index.extend(entries);
        }
        Ok(loaded)
    }

    /// Loads the store, then follows the event stream from where the load began until `stop`.
    pub async fn start(
        self: &Arc<Self>,
        store: &dyn RegistryStore,
        feed: &EventFeed,
        stop: CancellationToken,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let head = feed.head().await?;
        let loaded = self.load(store).await?;
        let index = self.read();
        tracing::info!(
            persons = loaded,
            names = index.vocabulary(),
            heap_mb = index.heap_bytes() / (1 << 20),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "identity index built"
        );
        drop(index);
        tokio::spawn(self.clone().follow(feed.clone(), head, stop));
        Ok(())
    }

    /// Polls the event stream rather than following every change: this replica's own writes
    /// are already applied, so only other replicas' writes arrive this way, and reading at a
    /// steady pace keeps the database free of one query per write.
    async fn follow(self: Arc<Self>, feed: EventFeed, mut cursor: String, stop: CancellationToken) {
        const BATCH: i64 = 1_000;
        loop {
            let read = match feed.read(&cursor, BATCH).await {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(error = %err, "identity index cannot read the event stream; retrying");
                    Vec::new()
                }
            };
            let full = read.len() as i64 == BATCH;
            for event in read {
                if INDEXED_EVENTS.contains(&event.r#type.as_str())
                    && let Some((id, version, merged, identity)) = entry_of(&event)
                {
                    self.apply_entry(id, version, merged, &identity);
                }
                cursor = event.cursor;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

/// How often the index looks for other replicas' writes.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// What an indexed event says of its person: id, version, whether merged, identity.
fn entry_of(event: &homeward_proto::common::v1::Event) -> Option<(Uuid, i64, bool, Identity)> {
    let payload = event.payload.as_ref()?;
    let person = match event.r#type.as_str() {
        "registry.person.created" => pb::PersonCreated::decode(&*payload.value).ok()?.person,
        "registry.person.updated" => pb::PersonUpdated::decode(&*payload.value).ok()?.person,
        "registry.person.merged" => pb::PersonMerged::decode(&*payload.value).ok()?.person,
        "registry.person.unmerged" => pb::PersonUnmerged::decode(&*payload.value).ok()?.person,
        _ => None,
    }?;
    let mut check = Check::default();
    let identity = convert::identity(&mut check, "person", &person);
    if !check.violations.is_empty() {
        return None;
    }
    let version = person.etag.strip_prefix('v').and_then(|v| v.parse().ok())?;
    Some((
        person.id.parse().ok()?,
        version,
        !person.merged_into_id.is_empty(),
        identity,
    ))
}

/// The band a confidence reads as (see the contract).
pub fn band(confidence: f64) -> pb::ConfidenceBand {
    if confidence >= 0.9 {
        pb::ConfidenceBand::High
    } else if confidence >= 0.5 {
        pb::ConfidenceBand::Medium
    } else {
        pb::ConfidenceBand::Low
    }
}

/// Turns engine results into the registry's answer lines.
pub fn candidates(hits: Vec<engine::Hit>) -> Vec<pb::PossibleDuplicate> {
    hits.into_iter()
        .map(|h| pb::PossibleDuplicate {
            person_id: Uuid::from_u128(h.id).to_string(),
            confidence: h.comparison.confidence,
            explanation: h.comparison.explanation,
        })
        .collect()
}
