//! `homeward.registry.v1.RegistryService`: each handler authorises the caller, turns the request
//! into domain values (`convert`), applies the rules (`domain`), and hands one `WriteBatch` to
//! the store. Replays of a request id are answered from the stored first response.

use std::{
    collections::{HashMap, HashSet},
    pin::Pin,
    sync::Arc,
};

use futures::Stream;
use homeward_kit::{
    ApiError, StoreError,
    access::{AccessLog, purpose},
    audit::{self, AuditEntry},
    auth::{Principal, Role},
    idempotency::RequestKey,
    outbox::{EventFeed, NewEvent},
    page::Page,
    timestamp,
};
use homeward_proto::{
    Mutation,
    registry::v1::{self as pb, registry_service_server::RegistryService},
};
use prost::Message;
use tonic::{Request, Response, Status as GrpcStatus, Streaming};
use uuid::Uuid;

use crate::{
    convert::{self, Check},
    domain::*,
    error::RegistryError,
    matching::{self, Matcher},
    store::{ListFilter, PersonWrite, RegistryStore, Reservation, WriteBatch, WriteOutcome},
};

/// Who writes persons' records. No service does: a compromised peer cannot rewrite the registry.
const REGISTRARS: &[Role] = &[Role::Registrar, Role::Admin];
/// Who records status changes: registrars, and the exchange service (refusals to return).
const STATUS_WRITERS: &[Role] = &[Role::Registrar, Role::Admin, Role::Service];
const EXCHANGE: &[Role] = &[Role::ExchangeOfficer, Role::Admin, Role::Service];
const READERS: &[Role] = &[
    Role::Registrar,
    Role::ExchangeOfficer,
    Role::FamilyLiaison,
    Role::Auditor,
    Role::TracingAgency,
    Role::Admin,
    Role::Service,
];
const EVENT_READERS: &[Role] = &[
    Role::Service,
    Role::Admin,
    Role::Auditor,
    Role::TracingAgency,
];
const AUDITORS: &[Role] = &[Role::Auditor, Role::TracingAgency, Role::Admin];
const IMPORT_CHUNK: usize = 500;
/// Chunks of one import written at once.
const IMPORT_WRITERS: usize = 3;
const MAX_IMPORT_ERRORS: usize = 1_000;
const MAX_BATCH_IDS: usize = 5_000;
/// Ids per BatchGetPersons: fewer than the writes take, as each answer is a full record.
const MAX_BATCH_GET: usize = 1_000;
const NOT_AN_ID: &str = "not a person id (UUID)";

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Confidence from which a new registration is reported as a possible duplicate.
const DUPLICATE_WARNING: f64 = 0.8;
/// Possible duplicates reported per new registration.
const DUPLICATE_WARNINGS: usize = 3;
const MAX_IMPORT_DUPLICATES: usize = 1_000;

pub struct Registry {
    store: Arc<dyn RegistryStore>,
    feed: EventFeed,
    matcher: Arc<Matcher>,
    access: AccessLog,
}

impl Registry {
    pub fn new(
        store: Arc<dyn RegistryStore>,
        feed: EventFeed,
        matcher: Arc<Matcher>,
        access: AccessLog,
    ) -> Self {
        Self {
            store,
            feed,
            matcher,
            access,
        }
    }

    /// The request id of a mutation, fingerprinted over the request without it.
    fn key<M: Mutation>(scope: &'static str, request: &M) -> Result<RequestKey> {
        let mut body = request.clone();
        body.clear_request_id();
        Ok(RequestKey::new(
            scope,
            request.request_id(),
            &body.encode_to_vec(),
        )?)
    }

    /// The stored first response for `key`, if the request was handled before.
    async fn replayed<R: Message + Default>(&self, key: &RequestKey) -> Result<Option<R>> {
        match self.store.lookup_request(key).await? {
            Some(replay) => Ok(Some(decode(&replay.into_result(&key.request_id)?)?)),
            None => Ok(None),
        }
    }

    /// Writes the batch and returns `response`, or the first response if the request id was
    /// handled in the meantime.
    async fn commit<R: Message + Default>(&self, mut batch: WriteBatch, response: R) -> Result<R> {
        batch.response = response.encode_to_vec();
        match self.store.write(&batch).await {
            Ok(WriteOutcome::Applied) => {
                self.feed.wake();
                for w in &batch.persons {
                    self.matcher.apply(&w.person);
                }
                Ok(response)
            }
            Ok(WriteOutcome::Replayed(replay)) => {
                let key = batch
                    .key
                    .as_ref()
                    .map(|k| k.request_id.as_str())
                    .unwrap_or_default();
                decode(&replay.into_result(key)?)
            }
            Err(StoreError::UniqueViolation(c)) if c.contains("idempotency") => {
                // A concurrent duplicate of this request won the race: answer with its result.
                let key = batch.key.as_ref().ok_or(StoreError::UniqueViolation(c))?;
                self.replayed(key)
                    .await?
                    .ok_or(RegistryError::Store(StoreError::Conflict))
            }
            Err(StoreError::Conflict) if batch.key.is_some() => {
                // The same request, sent twice at once (a retry racing the original), changed
                // the same persons first: answer with its result rather than a conflict.
                let key = batch.key.as_ref().ok_or(StoreError::Conflict)?;
                self.replayed(key)
                    .await?
                    .ok_or(RegistryError::Store(StoreError::Conflict))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn load(&self, field: &str, id: &str) -> Result<Person> {
        let uuid = parse_id(field, id)?;
        self.store
            .get_person(uuid)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))
    }

    /// A person the caller may see; one they may not is not found, exactly as one that does
    /// not exist, so ids cannot be probed.
    async fn load_for(&self, who: &Principal, field: &str, id: &str) -> Result<Person> {
        let person = self.load(field, id).await?;
        if sees(who, &person) {
            Ok(person)
        } else {
            Err(RegistryError::NotFound(id.to_string()))
        }
    }

    /// Records a read in the access log: who, what (ids, counts, filters; never names) and why.
    async fn accessed(
        &self,
        who: &Principal,
        action: &str,
        purpose: String,
        details: serde_json::Value,
    ) {
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("purpose".into(), purpose.into());
            map.insert("party".into(), who.party.clone().into());
        }
        self.access
            .record(AuditEntry {
                actor: who.subject.clone(),
                action: action.to_string(),
                target: String::new(),
                request_id: String::new(),
                details,
            })
            .await;
    }

    /// Persons for an exchange step, every one of them visible to the caller.
    async fn load_many_for(&self, who: &Principal, ids: &[String]) -> Result<Vec<Person>> {
        let persons = self.load_many(ids).await?;
        if let Some(hidden) = persons.iter().find(|p| !sees(who, p)) {
            return Err(RegistryError::NotFound(hidden.id.to_string()));
        }
        Ok(persons)
    }

    /// Of `ids`, those the caller may see.
    async fn visible_ids(&self, who: &Principal, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
        if !scoped(who) {
            return Ok(ids.iter().copied().collect());
        }
        Ok(self
            .store
            .get_persons(ids)
            .await?
            .into_iter()
            .filter(|p| sees(who, p))
            .map(|p| p.id)
            .collect())
    }

    async fn load_many(&self, ids: &[String]) -> Result<Vec<Person>> {
        if ids.is_empty() {
            return Err(invalid("person_ids", "at least one person id"));
        }
        if ids.len() > MAX_BATCH_IDS {
            return Err(invalid(
                "person_ids",
                format!("at most {MAX_BATCH_IDS} ids per call"),
            ));
        }
        let mut uuids = Vec::with_capacity(ids.len());
        let mut seen = HashSet::new();
        for (i, id) in ids.iter().enumerate() {
            let uuid = parse_id(&format!("person_ids[{i}]"), id)?;
            if seen.insert(uuid) {
                uuids.push(uuid);
            }
        }
        let found = self.store.get_persons(&uuids).await?;
        if let Some(missing) = uuids.iter().find(|u| !found.iter().any(|p| p.id == **u)) {
            return Err(RegistryError::NotFound(missing.to_string()));
        }
        // Request order, so responses and events are predictable.
        let mut ordered = Vec::with_capacity(uuids.len());
        for u in uuids {
            if let Some(p) = found.iter().find(|p| p.id == u) {
                ordered.push(p.clone());
            }
        }
        Ok(ordered)
    }

    fn status_event(person: &Person, previous: Status, entry: &StatusEntry) -> NewEvent {
        NewEvent::new(
            "registry.person.status_changed",
            &person.id.to_string(),
            &pb::PersonStatusChanged {
                person: Some(convert::person_to_pb(person)),
                previous_status: convert::status_to_pb(previous) as i32,
                change: Some(convert::entry_to_pb(entry)),
            },
        )
    }

    async fn create_person(
        &self,
        who: &Principal,
        req: pb::CreatePersonRequest,
    ) -> Result<pb::CreatePersonResponse> {
        who.require_any(REGISTRARS)?;
        let key = Self::key("create_person", &req)?;
        // No lookup first: the write itself finds a replayed request id and returns the first
        // response, and a replay's body is the same valid body as the first time.
        let mut check = Check::default();
        let Some(input) = req.person.as_ref() else {
            return Err(invalid("person", "required"));
        };
        let (person, entry) = new_person(
            &mut check,
            "person",
            input,
            req.source,
            req.reliability,
            who,
        );
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let possible_duplicates = matching::candidates(self.matcher.read().likely_duplicates(
            &homeward_identity::compile(&matching::engine_identity(&person.identity)),
            &duplicate_options(),
        ));
        let response = pb::CreatePersonResponse {
            person: Some(convert::person_to_pb(&person)),
            possible_duplicates,
        };
        let batch = WriteBatch {
            events: vec![NewEvent::new(
                "registry.person.created",
                &person.id.to_string(),
                &pb::PersonCreated {
                    person: response.person.clone(),
                },
            )],
            audit: vec![audit_entry(
                who,
                "person.create",
                &person.id.to_string(),
                &key.request_id,
                serde_json::json!({"status": person.status.name()}),
            )],
            persons: vec![PersonWrite {
                person,
                expected_version: None,
                history: Some(entry),
                reservation: Reservation::None,
            }],
            key: Some(key),
            response: vec![],
        };
        self.commit(batch, response).await
    }

    async fn update_person(
        &self,
        who: &Principal,
        req: pb::UpdatePersonRequest,
    ) -> Result<pb::UpdatePersonResponse> {
        who.require_any(REGISTRARS)?;
        let key = Self::key("update_person", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let input = req
            .person
            .as_ref()
            .ok_or_else(|| invalid("person", "required"))?;
        let paths = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(invalid(
                "update_mask",
                "name the fields to change, e.g. names,unit",
            ));
        }
        if input.etag.is_empty() {
            return Err(invalid(
                "person.etag",
                "required: the etag of the record as read",
            ));
        }
        let current = self.load_for(who, "person.id", &input.id).await?;
        live(&current)?;
        let mut merged = convert::person_to_pb(&current);
        for path in &paths {
            apply_path(&mut merged, input, path)?;
        }
        if input.etag != current.etag() {
            return Err(RegistryError::EtagMismatch {
                given: input.etag.clone(),
                current: current.etag(),
            });
        }
        let mut check = Check::default();
        let identity = convert::identity(&mut check, "person", &merged);
        check_party(&mut check, "person", who, &identity);
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let mut person = current.clone();
        person.identity = identity;
        person.version += 1;
        person.updated_at_us = timestamp::now_micros();
        let response = pb::UpdatePersonResponse {
            person: Some(convert::person_to_pb(&person)),
        };
        let id = person.id.to_string();
        let batch = one_person_batch(
            NewEvent::new(
                "registry.person.updated",
                &id,
                &pb::PersonUpdated {
                    person: response.person.clone(),
                    changed_fields: paths.clone(),
                },
            ),
            audit_entry(
                who,
                "person.update",
                &id,
                &key.request_id,
                serde_json::json!({"fields": paths}),
            ),
            person,
            current.version,
            key,
        );
        self.commit(batch, response).await
    }

    async fn list_persons(
        &self,
        who: &Principal,
        req: pb::ListPersonsRequest,
    ) -> Result<pb::ListPersonsResponse> {
        who.require_any(READERS)?;
        let mut check = Check::default();
        let filter = ListFilter {
            status: (req.status != 0)
                .then(|| convert::status(req.status))
                .flatten(),
            category: (req.category != 0)
                .then(|| convert::category(req.category))
                .flatten(),
            holding_party: Some(check.party("holding_party", &req.holding_party, false))
                .filter(|s| !s.is_empty()),
            affiliated_party: Some(check.party("affiliated_party", &req.affiliated_party, false))
                .filter(|s| !s.is_empty()),
        };
        if req.status != 0 && filter.status.is_none() {
            check.fail("status", "unknown status");
        }
        if req.category != 0 && filter.category.is_none() {
            check.fail("category", "unknown category");
        }
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let page = Page::from_request(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let rows = self
            .store
            .list_persons(&filter, page.after, page.limit())
            .await?;
        Ok(pb::ListPersonsResponse {
            next_page_token: page.next_token(rows.len(), rows.last().map(|(seq, _)| *seq)),
            // A page may hold fewer than asked when some are not the caller's to see; the
            // token still moves past them.
            persons: rows
                .iter()
                .filter(|(_, p)| sees(who, p))
                .map(|(_, p)| convert::person_to_pb(p))
                .collect(),
        })
    }

    async fn batch_get_persons(
        &self,
        who: &Principal,
        req: pb::BatchGetPersonsRequest,
    ) -> Result<pb::BatchGetPersonsResponse> {
        who.require_any(READERS)?;
        if req.ids.len() > MAX_BATCH_GET {
            return Err(invalid(
                "ids",
                format!("at most {MAX_BATCH_GET} ids per call"),
            ));
        }
        let mut check = Check::default();
        // Each person once, at the first position asked for, with the id as the caller wrote it
        // so that a missing one can be matched back.
        let mut wanted: Vec<(Uuid, &str)> = Vec::with_capacity(req.ids.len());
        let mut seen = HashSet::new();
        for (i, id) in req.ids.iter().enumerate() {
            match Uuid::parse_str(id.trim()) {
                Ok(uuid) if seen.insert(uuid) => wanted.push((uuid, id)),
                Ok(_) => {}
                Err(_) => check.fail(format!("ids[{i}]"), NOT_AN_ID),
            }
        }
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let mut response = pb::BatchGetPersonsResponse::default();
        if wanted.is_empty() {
            return Ok(response);
        }
        let uuids: Vec<Uuid> = wanted.iter().map(|(uuid, _)| *uuid).collect();
        let found: HashMap<Uuid, Person> = self
            .store
            .get_persons(&uuids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        for (uuid, id) in wanted {
            match found.get(&uuid).filter(|p| sees(who, p)) {
                Some(person) => response.persons.push(convert::person_to_pb(person)),
                None => response.missing_ids.push(id.to_string()),
            }
        }
        Ok(response)
    }

    async fn search_persons(
        &self,
        who: &Principal,
        req: pb::SearchPersonsRequest,
    ) -> Result<pb::SearchPersonsResponse> {
        who.require_any(READERS)?;
        let mut check = Check::default();
        let query = check.text("query", &req.query, true);
        let birth_date = check.date("birth_date", req.birth_date.as_ref());
        let max = match req.max_results {
            0 => 20,
            n @ 1..=100 => n as usize,
            _ => {
                check.fail("max_results", "1 to 100");
                0
            }
        };
        let sex = convert::sex(req.sex);
        if sex.is_none() {
            check.fail("sex", "unknown value");
        }
        let category = (req.category != 0)
            .then(|| convert::category(req.category))
            .flatten();
        if req.category != 0 && category.is_none() {
            check.fail("category", "unknown category");
        }
        if !query.is_empty() && homeward_identity::fold_name(&query).is_empty() {
            check.fail("query", "needs at least one name");
        }
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let probe = homeward_identity::Identity {
            names: vec![homeward_identity::Name::free(&query)],
            birth_date: matching::engine_date(birth_date),
            sex: matching::engine_sex(sex),
            ..Default::default()
        };
        let hits = self.matcher.read().search_identity(
            &probe,
            &homeward_identity::SearchOptions {
                max_results: max,
                tag_filter: matching::category_filter(category),
                ..Default::default()
            },
        );
        let ids: Vec<Uuid> = hits.iter().map(|h| Uuid::from_u128(h.id)).collect();
        let mut persons = self.store.get_persons(&ids).await?;
        persons.retain(|p| sees(who, p));
        Ok(pb::SearchPersonsResponse {
            results: hits
                .into_iter()
                .filter_map(|h| {
                    let person = persons.iter().find(|p| p.id.as_u128() == h.id)?;
                    Some(pb::SearchResult {
                        person: Some(convert::person_to_pb(person)),
                        score: h.comparison.confidence,
                        band: matching::band(h.comparison.confidence) as i32,
                        explanation: h.comparison.explanation,
                    })
                })
                .collect(),
        })
    }

    async fn match_persons(
        &self,
        who: &Principal,
        req: pb::MatchPersonsRequest,
    ) -> Result<pb::MatchPersonsResponse> {
        who.require_any(READERS)?;
        let mut check = Check::default();
        if req.identities.is_empty() || req.identities.len() > MAX_BATCH_IDS {
            check.fail("identities", format!("1 to {MAX_BATCH_IDS} identities"));
        }
        let min = if req.min_confidence == 0.0 {
            0.5
        } else {
            req.min_confidence
        };
        if !(0.0..=1.0).contains(&min) {
            check.fail("min_confidence", "between 0 and 1");
        }
        let max = match req.max_candidates {
            0 => 5,
            n @ 1..=20 => n as usize,
            _ => {
                check.fail("max_candidates", "1 to 20");
                0
            }
        };
        let probes: Vec<(String, homeward_identity::Identity, Option<Category>)> = req
            .identities
            .iter()
            .enumerate()
            .map(|(i, identity)| {
                let f = |s: &str| format!("identities[{i}].{s}");
                let names = convert::names(&mut check, &f("names"), &identity.names);
                let birth_date = check.date(&f("birth_date"), identity.birth_date.as_ref());
                let probe = homeward_identity::Identity {
                    names: matching::engine_names(&names),
                    birth_date: matching::engine_date(birth_date),
                    sex: matching::engine_sex(convert::sex(identity.sex)),
                    unit: check.text(&f("unit"), &identity.unit, false),
                    service_number: check.text(
                        &f("service_number"),
                        &identity.service_number,
                        false,
                    ),
                    documents: identity
                        .documents
                        .iter()
                        .enumerate()
                        .map(|(d, doc)| {
                            check.text(&f(&format!("documents[{d}].number")), &doc.number, false)
                        })
                        .collect(),
                };
                let category = convert::category(identity.category);
                (identity.reference.clone(), probe, category)
            })
            .collect();
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let mut matches = {
            let index = self.matcher.read();
            probes
                .into_iter()
                .map(|(reference, probe, category)| {
                    let hits = index.search_identity(
                        &probe,
                        &homeward_identity::SearchOptions {
                            max_results: max,
                            min_confidence: min,
                            tag_filter: matching::category_filter(category),
                            ..Default::default()
                        },
                    );
                    pb::IdentityMatches {
                        reference,
                        candidates: hits
                            .into_iter()
                            .map(|h| pb::MatchCandidate {
                                person_id: Uuid::from_u128(h.id).to_string(),
                                confidence: h.comparison.confidence,
                                band: matching::band(h.comparison.confidence) as i32,
                                conflicts: h
                                    .comparison
                                    .conflicts
                                    .iter()
                                    .map(|c| c.to_string())
                                    .collect(),
                                explanation: h.comparison.explanation,
                            })
                            .collect(),
                    }
                })
                .collect::<Vec<_>>()
        };
        if scoped(who) {
            let ids: Vec<Uuid> = matches
                .iter()
                .flat_map(|m| &m.candidates)
                .filter_map(|c| Uuid::parse_str(&c.person_id).ok())
                .collect();
            let visible = self.visible_ids(who, &ids).await?;
            for m in &mut matches {
                m.candidates.retain(|c| {
                    Uuid::parse_str(&c.person_id).is_ok_and(|id| visible.contains(&id))
                });
            }
        }
        Ok(pb::MatchPersonsResponse { matches })
    }

    async fn import_persons(
        &self,
        who: &Principal,
        mut stream: Streaming<pb::ImportPersonsRequest>,
    ) -> Result<pb::ImportPersonsResponse> {
        who.require_any(REGISTRARS)?;
        let header = match stream
            .message()
            .await
            .map_err(|s| invalid("header", s.message().to_string()))?
        {
            Some(pb::ImportPersonsRequest {
                item: Some(pb::import_persons_request::Item::Header(h)),
            }) => h,
            _ => {
                return Err(invalid(
                    "header",
                    "the first message must be the import header",
                ));
            }
        };
        let key = Self::key("import_persons", &header)?;
        if let Some(mut done) = self.replayed::<pb::ImportPersonsResponse>(&key).await? {
            done.replayed = true;
            return Ok(done);
        }
        let mut summary = pb::ImportPersonsResponse::default();
        let mut chunk: Vec<(u64, PersonWrite)> = Vec::with_capacity(IMPORT_CHUNK);
        let mut received_in_chunk = 0usize;
        let mut chunk_no = 0u64;
        // Chunks are written by a few tasks at once while the next rows arrive and are checked.
        let mut writers = tokio::task::JoinSet::new();
        loop {
            let message = stream
                .message()
                .await
                .map_err(|s| invalid("row", format!("the import stream broke: {}", s.message())))?;
            let Some(message) = message else { break };
            let row = match message.item {
                Some(pb::import_persons_request::Item::Row(row)) => row,
                _ => return Err(invalid("header", "only the first message may be a header")),
            };
            summary.rows_received += 1;
            received_in_chunk += 1;
            let row_number = if row.row_number == 0 {
                summary.rows_received
            } else {
                row.row_number
            };
            let mut check = Check::default();
            match row.person.as_ref() {
                None => check.fail("person", "required"),
                Some(p) => {
                    let (person, entry) = new_person(
                        &mut check,
                        "person",
                        p,
                        header.source,
                        header.reliability,
                        who,
                    );
                    if check.violations.is_empty() {
                        chunk.push((
                            row_number,
                            PersonWrite {
                                person,
                                expected_version: None,
                                history: Some(entry),
                                reservation: Reservation::None,
                            },
                        ));
                    }
                }
            }
            reject(&mut summary, row_number, check.violations);
            if received_in_chunk == IMPORT_CHUNK {
                if writers.len() >= IMPORT_WRITERS {
                    merge(&mut summary, writers.join_next().await)?;
                }
                writers.spawn(import_chunk(
                    self.store.clone(),
                    self.feed.clone(),
                    self.matcher.clone(),
                    who.clone(),
                    key.clone(),
                    chunk_no,
                    std::mem::take(&mut chunk),
                ));
                chunk_no += 1;
                received_in_chunk = 0;
            }
        }
        if received_in_chunk > 0 {
            writers.spawn(import_chunk(
                self.store.clone(),
                self.feed.clone(),
                self.matcher.clone(),
                who.clone(),
                key.clone(),
                chunk_no,
                chunk,
            ));
        }
        while let Some(done) = writers.join_next().await {
            merge(&mut summary, Some(done))?;
        }
        summary.errors.sort_by_key(|e| e.row_number);
        summary.rows_rejected = summary.rows_received - summary.rows_imported;
        let batch = WriteBatch {
            audit: vec![audit_entry(
                who,
                "person.import",
                "persons",
                &key.request_id,
                serde_json::json!({"received": summary.rows_received, "imported": summary.rows_imported}),
            )],
            key: Some(key),
            ..WriteBatch::default()
        };
        self.commit(batch, summary).await
    }

    async fn record_status_change(
        &self,
        who: &Principal,
        req: pb::RecordStatusChangeRequest,
    ) -> Result<pb::RecordStatusChangeResponse> {
        who.require_any(STATUS_WRITERS)?;
        let key = Self::key("record_status_change", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let mut check = Check::default();
        let change = convert::status_change(&mut check, req.change.as_ref());
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let Some((status, mut entry)) = change else {
            return Err(invalid("change", "required"));
        };
        let current = self.load_for(who, "person_id", &req.person_id).await?;
        live(&current)?;
        if !req.etag.is_empty() && req.etag != current.etag() {
            return Err(RegistryError::EtagMismatch {
                given: req.etag.clone(),
                current: current.etag(),
            });
        }
        check_transition(current.status, status, entry.capture.is_some())?;
        let mut person = current.clone();
        let mut reservation = Reservation::None;
        if let Some(exchange) = &current.reserved_for {
            // A reserved person may fall ill and stay reserved; anything else ends the reservation.
            if status != Status::Hospitalised {
                reservation = Reservation::Release(exchange.clone());
                person.reserved_for = None;
                person.status_before_reservation = None;
                entry.exchange_id = Some(exchange.clone());
            }
        }
        person.status = status;
        person.status_at_us = entry.occurred_at_us;
        if !entry.detention_place.is_empty() {
            person.identity.detention_place = entry.detention_place.clone();
        }
        if entry.capture.is_some() {
            person.identity.capture = entry.capture.clone();
        }
        stamp(&mut person, &mut entry, who);
        let response = pb::RecordStatusChangeResponse {
            person: Some(convert::person_to_pb(&person)),
            change: Some(convert::entry_to_pb(&entry)),
        };
        let id = person.id.to_string();
        let batch = WriteBatch {
            events: vec![Self::status_event(&person, current.status, &entry)],
            audit: vec![audit_entry(
                who,
                "person.status_change",
                &id,
                &key.request_id,
                serde_json::json!({"from": current.status.name(), "to": status.name()}),
            )],
            persons: vec![PersonWrite {
                person,
                expected_version: Some(current.version),
                history: Some(entry),
                reservation,
            }],
            key: Some(key),
            response: vec![],
        };
        self.commit(batch, response).await
    }

    async fn get_person_history(
        &self,
        who: &Principal,
        req: pb::GetPersonHistoryRequest,
    ) -> Result<pb::GetPersonHistoryResponse> {
        who.require_any(READERS)?;
        let id = parse_id("person_id", &req.person_id)?;
        let page = Page::from_request(req.page_size, &req.page_token, &req.person_id)?;
        self.load_for(who, "person_id", &req.person_id).await?;
        let entries = self.store.history(id, page.after, page.limit()).await?;
        Ok(pb::GetPersonHistoryResponse {
            next_page_token: page.next_token(entries.len(), entries.last().map(|e| e.sequence)),
            changes: entries.iter().map(convert::entry_to_pb).collect(),
        })
    }

    /// A status step applied to several persons of one exchange at once (reserve, release,
    /// repatriate), all or nothing.
    #[allow(clippy::too_many_arguments)]
    async fn exchange_step<R: Message + Default>(
        &self,
        who: &Principal,
        key: RequestKey,
        exchange_id: &str,
        persons: Vec<Person>,
        action: &str,
        occurred_at_us: i64,
        step: impl Fn(&Person) -> Result<Option<(Person, StatusEntry, Reservation)>>,
        respond: impl FnOnce(Vec<pb::Person>) -> R,
    ) -> Result<R> {
        let mut batch = WriteBatch::default();
        let mut out = Vec::with_capacity(persons.len());
        for current in &persons {
            match step(current)? {
                None => out.push(convert::person_to_pb(current)),
                Some((mut person, mut entry, reservation)) => {
                    entry.exchange_id = Some(exchange_id.to_string());
                    entry.source = Source::OwnReport;
                    entry.reliability = Reliability::CompletelyReliable;
                    entry.occurred_at_us = occurred_at_us;
                    person.status_at_us = entry.occurred_at_us;
                    stamp(&mut person, &mut entry, who);
                    batch
                        .events
                        .push(Self::status_event(&person, current.status, &entry));
                    out.push(convert::person_to_pb(&person));
                    batch.persons.push(PersonWrite {
                        person,
                        expected_version: Some(current.version),
                        history: Some(entry),
                        reservation,
                    });
                }
            }
        }
        batch.audit.push(audit_entry(
            who,
            action,
            exchange_id,
            &key.request_id,
            serde_json::json!({"persons": batch.persons.iter().map(|w| w.person.id.to_string()).collect::<Vec<_>>()}),
        ));
        batch.key = Some(key);
        self.commit(batch, respond(out)).await
    }

    async fn reserve_persons(
        &self,
        who: &Principal,
        req: pb::ReservePersonsRequest,
    ) -> Result<pb::ReservePersonsResponse> {
        who.require_any(EXCHANGE)?;
        let exchange = exchange_id(&req.exchange_id)?;
        let key = Self::key("reserve_persons", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let persons = self.load_many_for(who, &req.person_ids).await?;
        persons.iter().try_for_each(live)?;
        let elsewhere: Vec<Uuid> = persons
            .iter()
            .filter(|p| p.reserved_for.as_ref().is_some_and(|e| *e != exchange))
            .map(|p| p.id)
            .collect();
        if !elsewhere.is_empty() {
            return Err(RegistryError::ReservedElsewhere(elsewhere));
        }
        let not_held: Vec<Uuid> = persons
            .iter()
            .filter(|p| p.reserved_for.is_none() && !p.status.in_custody())
            .map(|p| p.id)
            .collect();
        if !not_held.is_empty() {
            return Err(RegistryError::NotReservable(not_held));
        }
        self.exchange_step(
            who,
            key,
            &exchange,
            persons,
            "exchange.reserve",
            timestamp::now_micros(),
            |p| {
                if p.reserved_for.is_some() {
                    return Ok(None);
                }
                let mut next = p.clone();
                next.status_before_reservation = Some(p.status);
                next.status = Status::ReservedForExchange;
                next.reserved_for = Some(exchange.clone());
                Ok(Some((
                    next,
                    blank_entry(Status::ReservedForExchange),
                    Reservation::Reserve(exchange.clone()),
                )))
            },
            |persons| pb::ReservePersonsResponse { persons },
        )
        .await
    }

    async fn release_persons(
        &self,
        who: &Principal,
        req: pb::ReleasePersonsRequest,
    ) -> Result<pb::ReleasePersonsResponse> {
        who.require_any(EXCHANGE)?;
        let exchange = exchange_id(&req.exchange_id)?;
        let key = Self::key("release_persons", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let ids: Vec<String> = if req.person_ids.is_empty() {
            self.store
                .reserved_for(&exchange)
                .await?
                .iter()
                .map(Uuid::to_string)
                .collect()
        } else {
            req.person_ids.clone()
        };
        if ids.is_empty() {
            return Ok(pb::ReleasePersonsResponse::default());
        }
        let persons = self.load_many_for(who, &ids).await?;
        let elsewhere: Vec<Uuid> = persons
            .iter()
            .filter(|p| p.reserved_for.as_ref().is_some_and(|e| *e != exchange))
            .map(|p| p.id)
            .collect();
        if !elsewhere.is_empty() {
            return Err(RegistryError::NotReservedFor {
                exchange,
                persons: elsewhere,
            });
        }
        self.exchange_step(
            who,
            key,
            &exchange,
            persons,
            "exchange.release",
            timestamp::now_micros(),
            |p| {
                if p.reserved_for.is_none() {
                    return Ok(None);
                }
                let mut next = p.clone();
                if p.status == Status::ReservedForExchange {
                    next.status = p.status_before_reservation.unwrap_or(Status::Interned);
                }
                next.reserved_for = None;
                next.status_before_reservation = None;
                let mut entry = blank_entry(next.status);
                entry.note = req.reason.chars().take(200).collect();
                Ok(Some((next, entry, Reservation::Release(exchange.clone()))))
            },
            |persons| pb::ReleasePersonsResponse { persons },
        )
        .await
    }

    async fn mark_repatriated(
        &self,
        who: &Principal,
        req: pb::MarkRepatriatedRequest,
    ) -> Result<pb::MarkRepatriatedResponse> {
        who.require_any(EXCHANGE)?;
        let exchange = exchange_id(&req.exchange_id)?;
        let key = Self::key("mark_repatriated", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let persons = self.load_many_for(who, &req.person_ids).await?;
        let not_reserved: Vec<Uuid> = persons
            .iter()
            .filter(|p| p.reserved_for.as_deref() != Some(exchange.as_str()))
            .map(|p| p.id)
            .collect();
        if !not_reserved.is_empty() {
            return Err(RegistryError::NotReservedFor {
                exchange,
                persons: not_reserved,
            });
        }
        // When the handover happened, as the exchange reports it (now when not given).
        let occurred_at_us = match req.occur_time.as_ref() {
            None => timestamp::now_micros(),
            Some(ts) => timestamp::proto_to_micros(ts)
                .filter(|us| *us <= timestamp::now_micros() + 3_600_000_000)
                .ok_or_else(|| invalid("occur_time", "out of range or in the future"))?,
        };
        self.exchange_step(
            who,
            key,
            &exchange,
            persons,
            "exchange.repatriate",
            occurred_at_us,
            |p| {
                let to = p.identity.category.status_on_handover();
                check_transition(p.status, to, false)?;
                let mut next = p.clone();
                next.status = to;
                next.reserved_for = None;
                next.status_before_reservation = None;
                Ok(Some((
                    next,
                    blank_entry(to),
                    Reservation::Release(exchange.clone()),
                )))
            },
            |persons| pb::MarkRepatriatedResponse { persons },
        )
        .await
    }
}

impl Registry {
    async fn find_duplicates(
        &self,
        who: &Principal,
        req: pb::FindDuplicatesRequest,
    ) -> Result<pb::FindDuplicatesResponse> {
        who.require_any(&[
            Role::Registrar,
            Role::Auditor,
            Role::TracingAgency,
            Role::Admin,
        ])?;
        let mut check = Check::default();
        let min = if req.min_confidence == 0.0 {
            0.8
        } else {
            req.min_confidence
        };
        if !(0.0..=1.0).contains(&min) {
            check.fail("min_confidence", "between 0 and 1");
        }
        let scan = match req.page_size {
            0 => 2_000,
            n @ 1..=10_000 => n as usize,
            _ => {
                check.fail("page_size", "1 to 10,000");
                0
            }
        };
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let filter = format!("duplicates:{min}");
        let page = Page::from_request(0, &req.page_token, &filter)?;
        let options = homeward_identity::SearchOptions {
            max_results: 5,
            min_confidence: min,
            ..Default::default()
        };
        let matcher = self.matcher.clone();
        let from = usize::try_from(page.after).unwrap_or(usize::MAX);
        // Scoring thousands of persons takes a while: off the async workers.
        let (pairs, next) = tokio::task::spawn_blocking(move || {
            matcher.read().find_duplicates(from, scan, &options)
        })
        .await
        .map_err(|e| RegistryError::Api(ApiError::internal(&e)))?;
        let ids: Vec<Uuid> = pairs
            .iter()
            .flat_map(|p| [Uuid::from_u128(p.first), Uuid::from_u128(p.second)])
            .collect();
        let visible = self.visible_ids(who, &ids).await?;
        Ok(pb::FindDuplicatesResponse {
            pairs: pairs
                .into_iter()
                .filter(|p| {
                    visible.contains(&Uuid::from_u128(p.first))
                        && visible.contains(&Uuid::from_u128(p.second))
                })
                .map(|p| pb::DuplicatePair {
                    first_person_id: Uuid::from_u128(p.first).to_string(),
                    second_person_id: Uuid::from_u128(p.second).to_string(),
                    confidence: p.comparison.confidence,
                    explanation: p.comparison.explanation,
                })
                .collect(),
            next_page_token: next
                .map(|n| page.next_token(usize::MAX, Some(n as i64)))
                .unwrap_or_default(),
        })
    }

    async fn merge_persons(
        &self,
        who: &Principal,
        req: pb::MergePersonsRequest,
    ) -> Result<pb::MergePersonsResponse> {
        who.require_any(REGISTRARS)?;
        let key = Self::key("merge_persons", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let mut check = Check::default();
        let reason = check.text("reason", &req.reason, true);
        if req.duplicate_etag.is_empty() {
            check.fail(
                "duplicate_etag",
                "required: the etag of the duplicate as read",
            );
        }
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let survivor = self.load_for(who, "survivor_id", &req.survivor_id).await?;
        let current = self
            .load_for(who, "duplicate_id", &req.duplicate_id)
            .await?;
        if survivor.id == current.id {
            return Err(RegistryError::SelfMerge);
        }
        if req.duplicate_etag != current.etag() {
            return Err(RegistryError::EtagMismatch {
                given: req.duplicate_etag.clone(),
                current: current.etag(),
            });
        }
        for p in [&survivor, &current] {
            live(p)?;
            if let Some(exchange) = &p.reserved_for {
                return Err(RegistryError::MergeWhileReserved {
                    person: p.id,
                    exchange: exchange.clone(),
                });
            }
        }
        let mut duplicate = current.clone();
        duplicate.merged_into = Some(survivor.id);
        duplicate.version += 1;
        duplicate.updated_at_us = timestamp::now_micros();
        let response = pb::MergePersonsResponse {
            survivor: Some(convert::person_to_pb(&survivor)),
            duplicate: Some(convert::person_to_pb(&duplicate)),
        };
        let id = duplicate.id.to_string();
        let batch = one_person_batch(
            NewEvent::new(
                "registry.person.merged",
                &id,
                &pb::PersonMerged {
                    person: response.duplicate.clone(),
                    survivor_id: survivor.id.to_string(),
                },
            ),
            audit_entry(
                who,
                "person.merge",
                &id,
                &key.request_id,
                serde_json::json!({"survivor": survivor.id.to_string(), "reason": reason}),
            ),
            duplicate,
            current.version,
            key,
        );
        self.commit(batch, response).await
    }

    async fn unmerge_persons(
        &self,
        who: &Principal,
        req: pb::UnmergePersonsRequest,
    ) -> Result<pb::UnmergePersonsResponse> {
        who.require_any(REGISTRARS)?;
        let key = Self::key("unmerge_persons", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let mut check = Check::default();
        let reason = check.text("reason", &req.reason, true);
        check.into_result(()).map_err(RegistryError::Invalid)?;
        let current = self.load_for(who, "person_id", &req.person_id).await?;
        let Some(survivor) = current.merged_into else {
            return Err(RegistryError::NotMerged(current.id));
        };
        let mut person = current.clone();
        person.merged_into = None;
        person.version += 1;
        person.updated_at_us = timestamp::now_micros();
        let response = pb::UnmergePersonsResponse {
            person: Some(convert::person_to_pb(&person)),
        };
        let id = person.id.to_string();
        let batch = one_person_batch(
            NewEvent::new(
                "registry.person.unmerged",
                &id,
                &pb::PersonUnmerged {
                    person: response.person.clone(),
                },
            ),
            audit_entry(
                who,
                "person.unmerge",
                &id,
                &key.request_id,
                serde_json::json!({"survivor": survivor.to_string(), "reason": reason}),
            ),
            person,
            current.version,
            key,
        );
        self.commit(batch, response).await
    }
}

/// A change to one person's record alone (no history entry, no reservation) with its event
/// and audit entry, under the request's key.
fn one_person_batch(
    event: NewEvent,
    audit: AuditEntry,
    person: Person,
    expected_version: i64,
    key: RequestKey,
) -> WriteBatch {
    WriteBatch {
        events: vec![event],
        audit: vec![audit],
        persons: vec![PersonWrite {
            person,
            expected_version: Some(expected_version),
            history: None,
            reservation: Reservation::None,
        }],
        key: Some(key),
        response: vec![],
    }
}

/// What a new registration is checked against: the few best candidates, reported from a
/// confidence of `DUPLICATE_WARNING`.
fn duplicate_options() -> homeward_identity::SearchOptions {
    homeward_identity::SearchOptions {
        max_results: DUPLICATE_WARNINGS,
        min_confidence: DUPLICATE_WARNING,
        candidate_limit: 50,
        // Two name parts and a near birth year, or a number: less cannot reach the warning.
        min_shared: 10,
        ..Default::default()
    }
}

/// Refuses changes to a record merged into another: they belong on the survivor.
fn live(person: &Person) -> Result<()> {
    match person.merged_into {
        Some(survivor) => Err(RegistryError::Merged {
            person: person.id,
            survivor,
        }),
        None => Ok(()),
    }
}

/// What one written import chunk adds to the summary.
struct ChunkOutcome {
    imported: u64,
    rejected: Vec<(u64, homeward_kit::error::Violation)>,
    duplicates: Vec<pb::ImportDuplicate>,
}

fn merge(
    summary: &mut pb::ImportPersonsResponse,
    done: Option<std::result::Result<Result<ChunkOutcome>, tokio::task::JoinError>>,
) -> Result<()> {
    let Some(done) = done else { return Ok(()) };
    let outcome = done.map_err(|e| RegistryError::Api(ApiError::internal(&e)))??;
    summary.rows_imported += outcome.imported;
    let room = MAX_IMPORT_DUPLICATES.saturating_sub(summary.possible_duplicates.len());
    summary
        .possible_duplicates
        .extend(outcome.duplicates.into_iter().take(room));
    for (row, violation) in outcome.rejected {
        reject(summary, row, vec![violation]);
    }
    Ok(())
}

/// Writes one chunk of valid rows in one transaction, under its own request id so a retried
/// import does not write it twice. Rows refused by the database (a taken file reference) are
/// retried one by one so only they are rejected.
async fn import_chunk(
    store: Arc<dyn RegistryStore>,
    feed: EventFeed,
    matcher: Arc<Matcher>,
    who: Principal,
    key: RequestKey,
    chunk_no: u64,
    rows: Vec<(u64, PersonWrite)>,
) -> Result<ChunkOutcome> {
    let chunk_key = RequestKey::new(
        "import_persons_chunk",
        &format!("{}#{chunk_no}", key.request_id),
        key.fingerprint.as_bytes(),
    )?;
    let mut outcome = ChunkOutcome {
        imported: rows.len() as u64,
        rejected: vec![],
        duplicates: vec![],
    };
    // Rows written now (not by an earlier attempt of this import) are indexed and checked.
    let mut written: Vec<(u64, Uuid)> = Vec::with_capacity(rows.len());
    let batch = import_batch(
        &who,
        &key.request_id,
        Some(chunk_key.clone()),
        rows.iter().map(|(_, w)| w.clone()).collect(),
    );
    match store.write(&batch).await {
        Ok(WriteOutcome::Applied) => {
            for (row_number, w) in &rows {
                matcher.apply(&w.person);
                written.push((*row_number, w.person.id));
            }
        }
        Ok(WriteOutcome::Replayed(_)) => {}
        Err(StoreError::UniqueViolation(c)) if c.contains("file_reference") => {
            outcome.imported = 0;
            for (row_number, write) in rows {
                let (person, id) = (write.person.clone(), write.person.id);
                match store
                    .write(&import_batch(&who, &key.request_id, None, vec![write]))
                    .await
                {
                    Ok(_) => {
                        outcome.imported += 1;
                        matcher.apply(&person);
                        written.push((row_number, id));
                    }
                    Err(StoreError::UniqueViolation(c)) if c.contains("file_reference") => {
                        outcome.rejected.push((
                            row_number,
                            homeward_kit::error::Violation::new(
                                "person.file_reference",
                                "already used by another person",
                            ),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let marker = WriteBatch {
                key: Some(chunk_key),
                ..WriteBatch::default()
            };
            store.write(&marker).await?;
        }
        Err(e) => return Err(e.into()),
    }
    feed.wake();
    let options = duplicate_options();
    // Scoring a chunk against the registry is CPU work: off the async workers.
    outcome.duplicates = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        for (row_number, id) in written {
            // The lock is taken per row, so that other chunks can be indexed in between.
            let hits = matcher.read().duplicates_of(&id.as_u128(), &options);
            for duplicate in matching::candidates(hits) {
                found.push(pb::ImportDuplicate {
                    row_number,
                    person_id: id.to_string(),
                    duplicate: Some(duplicate),
                });
            }
        }
        found
    })
    .await
    .map_err(|e| RegistryError::Api(ApiError::internal(&e)))?;
    Ok(outcome)
}

fn decode<R: Message + Default>(bytes: &[u8]) -> Result<R> {
    R::decode(bytes).map_err(|e| {
        RegistryError::Api(ApiError::internal(&format!(
            "stored response unreadable: {e}"
        )))
    })
}

fn invalid(field: &str, description: impl Into<String>) -> RegistryError {
    RegistryError::Invalid(vec![homeward_kit::error::Violation::new(
        field,
        description,
    )])
}

/// Whether the caller's view is limited to a party: officers (registrars, exchange officers,
/// liaison officers) act for one party. The tracing agency, auditors, administrators and the
/// services see everyone.
fn scoped(who: &Principal) -> bool {
    !who.has_any(&[
        Role::TracingAgency,
        Role::Auditor,
        Role::Admin,
        Role::Service,
    ])
}

/// An officer records people of their own party or held by it, and cannot move a record out of
/// their party's sight.
fn check_party(check: &mut Check, field: &str, who: &Principal, identity: &Identity) {
    let party = who.party.trim();
    if scoped(who) && identity.affiliated_party != party && identity.holding_party != party {
        check.fail(
            format!("{field}.affiliated_party"),
            format!("an officer of {party:?} records people of {party:?} or held by {party:?}"),
        );
    }
}

/// Whom an officer of a party sees: the people of their party and the people their party holds;
/// of everyone else, only those on an exchange's frozen lists, which both parties share (held
/// for the exchange, or handed over by it). An officer token without a party sees nobody.
pub(crate) fn sees(who: &Principal, person: &Person) -> bool {
    if !scoped(who) {
        return true;
    }
    let party = who.party.trim();
    if party.is_empty() {
        return false;
    }
    person.identity.affiliated_party == party
        || person.identity.holding_party == party
        || person.reserved_for.is_some()
        || matches!(
            person.status,
            Status::Repatriated | Status::Released | Status::RefusedRepatriation
        )
}

fn parse_id(field: &str, id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| invalid(field, NOT_AN_ID))
}

fn exchange_id(id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(invalid(
            "exchange_id",
            "required, at most 128 printable characters",
        ));
    }
    Ok(id.to_string())
}

fn audit_entry(
    who: &Principal,
    action: &str,
    target: &str,
    request_id: &str,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor: who.subject.clone(),
        action: action.to_string(),
        target: target.to_string(),
        request_id: request_id.to_string(),
        details,
    }
}

fn reject(
    summary: &mut pb::ImportPersonsResponse,
    row_number: u64,
    violations: Vec<homeward_kit::error::Violation>,
) {
    for v in violations {
        if summary.errors.len() < MAX_IMPORT_ERRORS {
            summary.errors.push(pb::RowError {
                row_number,
                field: v.field,
                description: v.description,
            });
        }
    }
}

fn blank_entry(status: Status) -> StatusEntry {
    StatusEntry {
        sequence: 0,
        status,
        occurred_at_us: 0,
        source: Source::Unknown,
        reliability: Reliability::Unknown,
        detention_place: String::new(),
        capture: None,
        exchange_id: None,
        note: String::new(),
        recorded_at_us: 0,
        recorded_by: String::new(),
    }
}

/// Advances the person's version and history and records who made the change.
fn stamp(person: &mut Person, entry: &mut StatusEntry, who: &Principal) {
    let now = timestamp::now_micros();
    person.version += 1;
    person.history_len += 1;
    person.updated_at_us = now;
    entry.sequence = person.history_len;
    entry.recorded_at_us = now;
    entry.recorded_by = who.subject.clone();
}

/// A new person and their first history entry, from a request's person; problems go to `check`.
fn new_person(
    check: &mut Check,
    field: &str,
    input: &pb::Person,
    source: i32,
    reliability: i32,
    who: &Principal,
) -> (Person, StatusEntry) {
    let identity = convert::identity(check, field, input);
    check_party(check, field, who, &identity);
    let status = match input.status {
        0 => Status::Captured,
        s => match convert::status(s) {
            Some(s) if s.allowed_initially() => s,
            _ => {
                check.fail(
                    format!("{field}.status"),
                    "a new person is captured, interned, hospitalised or missing",
                );
                Status::Captured
            }
        },
    };
    let source = convert::source(source).unwrap_or_else(|| {
        check.fail("source", "unknown source");
        Source::Unknown
    });
    let reliability = convert::reliability(reliability).unwrap_or_else(|| {
        check.fail("reliability", "unknown grade");
        Reliability::Unknown
    });
    let now = timestamp::now_micros();
    let entry = StatusEntry {
        sequence: 1,
        status,
        occurred_at_us: now,
        source,
        reliability,
        detention_place: identity.detention_place.clone(),
        capture: identity.capture.clone(),
        exchange_id: None,
        note: String::new(),
        recorded_at_us: now,
        recorded_by: who.subject.clone(),
    };
    let person = Person {
        id: Uuid::now_v7(),
        version: 1,
        identity,
        status,
        status_at_us: now,
        reserved_for: None,
        status_before_reservation: None,
        history_len: 1,
        merged_into: None,
        created_at_us: now,
        updated_at_us: now,
    };
    (person, entry)
}

fn import_batch(
    who: &Principal,
    request_id: &str,
    key: Option<RequestKey>,
    persons: Vec<PersonWrite>,
) -> WriteBatch {
    let events = persons
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
        .collect();
    let ids: Vec<String> = persons.iter().map(|w| w.person.id.to_string()).collect();
    WriteBatch {
        key,
        response: vec![],
        audit: vec![audit_entry(
            who,
            "person.create",
            "persons",
            request_id,
            serde_json::json!({"imported": ids}),
        )],
        persons,
        events,
    }
}

/// Copies one field-mask path from the request's person into the record being updated.
fn apply_path(target: &mut pb::Person, source: &pb::Person, path: &str) -> Result<()> {
    match path {
        "category" => target.category = source.category,
        "sex" => target.sex = source.sex,
        "names" => target.names = source.names.clone(),
        "birth_date" => target.birth_date = source.birth_date,
        "birth_place" => target.birth_place = source.birth_place.clone(),
        "citizenship" => target.citizenship = source.citizenship.clone(),
        "affiliated_party" => target.affiliated_party = source.affiliated_party.clone(),
        "holding_party" => target.holding_party = source.holding_party.clone(),
        "service_number" => target.service_number = source.service_number.clone(),
        "rank" => target.rank = source.rank.clone(),
        "unit" => target.unit = source.unit.clone(),
        "documents" => target.documents = source.documents.clone(),
        "capture" => target.capture = source.capture.clone(),
        "detention_place" => target.detention_place = source.detention_place.clone(),
        "health" => target.health = source.health,
        "health.wounded" => {
            target.health.get_or_insert_default().wounded =
                source.health.unwrap_or_default().wounded
        }
        "health.seriously_ill" => {
            target.health.get_or_insert_default().seriously_ill =
                source.health.unwrap_or_default().seriously_ill
        }
        "file_reference" => target.file_reference = source.file_reference.clone(),
        "status" | "status_time" | "reserved_for_exchange_id" => {
            return Err(invalid(
                "update_mask",
                format!("{path} changes only through RecordStatusChange or the exchange calls"),
            ));
        }
        _ => {
            return Err(invalid(
                "update_mask",
                format!("{path} is not a field that can be updated"),
            ));
        }
    }
    Ok(())
}

fn respond<T>(result: Result<T>) -> std::result::Result<Response<T>, GrpcStatus> {
    result.map(Response::new).map_err(GrpcStatus::from)
}

fn principal<T>(request: &Request<T>) -> std::result::Result<Principal, GrpcStatus> {
    Principal::of(request).map_err(|e| e.into_status(crate::error::DOMAIN))
}

type EventStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::WatchEventsResponse, GrpcStatus>> + Send>>;

#[tonic::async_trait]
impl RegistryService for Registry {
    #[tracing::instrument(skip_all)]
    async fn create_person(
        &self,
        r: Request<pb::CreatePersonRequest>,
    ) -> std::result::Result<Response<pb::CreatePersonResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.create_person(&who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn get_person(
        &self,
        r: Request<pb::GetPersonRequest>,
    ) -> std::result::Result<Response<pb::GetPersonResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let outcome = async {
            who.require_any(READERS)?;
            let person = self.load_for(&who, "id", &r.get_ref().id).await?;
            Ok(pb::GetPersonResponse {
                person: Some(convert::person_to_pb(&person)),
            })
        }
        .await;
        if let Ok(read) = &outcome {
            let ids: Vec<&str> = read.person.iter().map(|p| p.id.as_str()).collect();
            self.accessed(
                &who,
                "person.read",
                purpose(&r),
                serde_json::json!({ "ids": ids }),
            )
            .await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn batch_get_persons(
        &self,
        r: Request<pb::BatchGetPersonsRequest>,
    ) -> std::result::Result<Response<pb::BatchGetPersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let why = purpose(&r);
        let outcome = self.batch_get_persons(&who, r.into_inner()).await;
        if let Ok(read) = &outcome {
            self.accessed(&who, "persons.read", why, serde_json::json!({ "ids": read.persons.iter().map(|p| p.id.as_str()).collect::<Vec<_>>() })).await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn update_person(
        &self,
        r: Request<pb::UpdatePersonRequest>,
    ) -> std::result::Result<Response<pb::UpdatePersonResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.update_person(&who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn list_persons(
        &self,
        r: Request<pb::ListPersonsRequest>,
    ) -> std::result::Result<Response<pb::ListPersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let why = purpose(&r);
        let outcome = self.list_persons(&who, r.into_inner()).await;
        if let Ok(read) = &outcome {
            self.accessed(&who, "persons.export", why, serde_json::json!({ "count": read.persons.len(), "ids": read.persons.iter().map(|p| p.id.as_str()).collect::<Vec<_>>() })).await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn search_persons(
        &self,
        r: Request<pb::SearchPersonsRequest>,
    ) -> std::result::Result<Response<pb::SearchPersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let why = purpose(&r);
        let outcome = self.search_persons(&who, r.into_inner()).await;
        if let Ok(read) = &outcome {
            self.accessed(&who, "persons.search", why, serde_json::json!({ "ids": read.results.iter().filter_map(|r| r.person.as_ref()).map(|p| p.id.as_str()).collect::<Vec<_>>() })).await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn match_persons(
        &self,
        r: Request<pb::MatchPersonsRequest>,
    ) -> std::result::Result<Response<pb::MatchPersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let why = purpose(&r);
        let outcome = self.match_persons(&who, r.into_inner()).await;
        if let Ok(read) = &outcome {
            self.accessed(&who, "persons.match", why, serde_json::json!({ "identities": read.matches.len(), "ids": read.matches.iter().flat_map(|m| &m.candidates).map(|c| c.person_id.as_str()).collect::<Vec<_>>() })).await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn import_persons(
        &self,
        r: Request<Streaming<pb::ImportPersonsRequest>>,
    ) -> std::result::Result<Response<pb::ImportPersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.import_persons(&who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn record_status_change(
        &self,
        r: Request<pb::RecordStatusChangeRequest>,
    ) -> std::result::Result<Response<pb::RecordStatusChangeResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.record_status_change(&who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn get_person_history(
        &self,
        r: Request<pb::GetPersonHistoryRequest>,
    ) -> std::result::Result<Response<pb::GetPersonHistoryResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let why = purpose(&r);
        let outcome = self.get_person_history(&who, r.into_inner()).await;
        if let Ok(read) = &outcome {
            self.accessed(
                &who,
                "person.history",
                why,
                serde_json::json!({ "changes": read.changes.len() }),
            )
            .await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn reserve_persons(
        &self,
        r: Request<pb::ReservePersonsRequest>,
    ) -> std::result::Result<Response<pb::ReservePersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.reserve_persons(&who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn release_persons(
        &self,
        r: Request<pb::ReleasePersonsRequest>,
    ) -> std::result::Result<Response<pb::ReleasePersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.release_persons(&who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn mark_repatriated(
        &self,
        r: Request<pb::MarkRepatriatedRequest>,
    ) -> std::result::Result<Response<pb::MarkRepatriatedResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(self.mark_repatriated(&who, r.into_inner()).await)
    }

    type WatchEventsStream = EventStream;

    #[tracing::instrument(skip_all)]
    async fn watch_events(
        &self,
        r: Request<pb::WatchEventsRequest>,
    ) -> std::result::Result<Response<Self::WatchEventsStream>, GrpcStatus> {
        let who = principal(&r)?;
        let req = r.into_inner();
        let stream = async {
            who.require_any(EVENT_READERS)?;
            Ok::<_, RegistryError>(self.feed.watch(&req.after_cursor, req.types)?)
        }
        .await
        .map_err(GrpcStatus::from)?;
        let stream = futures::StreamExt::map(stream, |item| {
            item.map(|event| pb::WatchEventsResponse { event: Some(event) })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_audit_log(
        &self,
        r: Request<pb::VerifyAuditLogRequest>,
    ) -> std::result::Result<Response<pb::VerifyAuditLogResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let req = r.into_inner();
        respond(
            async {
                who.require_any(AUDITORS)?;
                let anchor = (req.anchor_sequence > 0)
                    .then_some((req.anchor_sequence, req.anchor_hash.as_str()));
                let verification = audit::verify(&self.store.db(), anchor).await?;
                Ok(pb::VerifyAuditLogResponse {
                    verification: Some(verification.into()),
                })
            }
            .await,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn find_duplicates(
        &self,
        r: Request<pb::FindDuplicatesRequest>,
    ) -> std::result::Result<Response<pb::FindDuplicatesResponse>, GrpcStatus> {
        let who = principal(&r)?;
        let why = purpose(&r);
        let outcome = Registry::find_duplicates(self, &who, r.into_inner()).await;
        if let Ok(read) = &outcome {
            self.accessed(&who, "persons.duplicates", why, serde_json::json!({ "ids": read.pairs.iter().flat_map(|p| [p.first_person_id.as_str(), p.second_person_id.as_str()]).collect::<Vec<_>>() })).await;
        }
        respond(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn merge_persons(
        &self,
        r: Request<pb::MergePersonsRequest>,
    ) -> std::result::Result<Response<pb::MergePersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(Registry::merge_persons(self, &who, r.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn unmerge_persons(
        &self,
        r: Request<pb::UnmergePersonsRequest>,
    ) -> std::result::Result<Response<pb::UnmergePersonsResponse>, GrpcStatus> {
        let who = principal(&r)?;
        respond(Registry::unmerge_persons(self, &who, r.into_inner()).await)
    }
}
