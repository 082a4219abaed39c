//! `homeward.exchange.v1.ExchangeService`: each handler authorises the caller, reads the request
//! into records (`convert`), applies the rules (`domain`, `reconcile`), and hands one
//! `WriteBatch` to the store. Steps that involve the registry go through `saga`. Replays of a
//! request id are answered from the stored first response.

use std::{collections::HashMap, pin::Pin, sync::Arc};

use futures::Stream;
use homeward_kit::{
    audit::{self, AuditEntry},
    auth::{Principal, Role},
    idempotency::{RequestKey, request_key},
    outbox::{EventFeed, NewEvent},
    page::Page,
    timestamp,
};
use homeward_proto::exchange::v1::{self as pb, exchange_service_server::ExchangeService};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    convert::{self, Check},
    domain::{self, PhaseState, Quota, Step},
    error::ExchangeError,
    model::*,
    reconcile::{self, Candidate, Side},
    registry::RegistryClient,
    saga,
    store::{DocWrite, ExchangeStore, Filter, Stored, Table, WriteBatch},
};

pub(crate) const OFFICERS: &[Role] = &[Role::ExchangeOfficer, Role::Admin];
pub(crate) const READERS: &[Role] = &[
    Role::ExchangeOfficer,
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
/// Pairs at least this sure are paired without review unless the caller asks otherwise.
const DEFAULT_MIN_CONFIDENCE: f64 = 0.8;
/// Candidates asked of the registry per identity. A namesake with another birth date scores
/// far below any pairing threshold, so the floor is low enough to see such suspects.
const MATCH_FLOOR: f64 = 0.001;
const MATCH_CANDIDATES: i32 = 5;

pub(crate) type Result<T, E = ExchangeError> = std::result::Result<T, E>;

pub struct Exchange {
    pub(crate) store: Arc<ExchangeStore>,
    pub(crate) feed: EventFeed,
    pub(crate) registry: RegistryClient,
}

/// A phase as loaded, with its stored version.
pub struct Loaded<T> {
    pub record: T,
    pub version: i64,
}

impl Exchange {
    pub fn new(store: Arc<ExchangeStore>, feed: EventFeed, registry: RegistryClient) -> Self {
        Self {
            store,
            feed,
            registry,
        }
    }

    pub(crate) async fn replayed<R: Message + Default>(
        &self,
        key: &RequestKey,
    ) -> Result<Option<R>> {
        Ok(self.store.replayed(key).await?)
    }

    /// Writes the batch and returns `response`, or the first response if the request id was
    /// handled before or in the meantime.
    pub(crate) async fn commit<R: Message + Default>(
        &self,
        batch: WriteBatch,
        response: R,
    ) -> Result<R> {
        let committed = self.store.commit(batch, response).await?;
        if committed.applied {
            self.feed.wake();
        }
        Ok(committed.response)
    }

    async fn load<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        resource: &'static str,
        field: &str,
        id: &str,
    ) -> Result<Loaded<T>> {
        let uuid = parse_id(field, id)?;
        let stored = self
            .store
            .get(table, &uuid.to_string())
            .await?
            .ok_or_else(|| ExchangeError::NotFound {
                resource,
                id: id.trim().to_string(),
            })?;
        Ok(Loaded {
            record: stored.decode()?,
            version: stored.version,
        })
    }

    pub(crate) async fn agreement(&self, id: &str) -> Result<Loaded<Agreement>> {
        self.load(Table::Agreements, "agreement", "agreement_id", id)
            .await
    }

    pub(crate) async fn phase(&self, id: &str) -> Result<Loaded<Phase>> {
        self.load(Table::Phases, "phase", "phase_id", id).await
    }

    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        parent: &str,
    ) -> Result<Vec<T>> {
        self.store
            .list(table, &Filter::all_of(parent))
            .await?
            .iter()
            .map(|s| s.decode().map_err(ExchangeError::from))
            .collect()
    }

    async fn all_versioned<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        parent: &str,
    ) -> Result<Vec<Loaded<T>>> {
        self.store
            .list(table, &Filter::all_of(parent))
            .await?
            .iter()
            .map(|s| {
                Ok(Loaded {
                    record: s.decode()?,
                    version: s.version,
                })
            })
            .collect()
    }

    /// The latest version of one party's list, if any was submitted.
    pub(crate) async fn latest_list(
        &self,
        phase: Uuid,
        party: &str,
        kind: ListKind,
    ) -> Result<Option<ListVersion>> {
        let tag = list_tag(party, kind);
        let parent = phase.to_string();
        let filter = Filter {
            tag: Some(&tag),
            ..Filter::all_of(&parent)
        };
        let stored = self.store.list(Table::ListVersions, &filter).await?;
        Ok(stored.last().map(Stored::decode).transpose()?)
    }

    async fn list_version(&self, phase: Uuid, list: &ListRef) -> Result<ListVersion> {
        self.store
            .get(Table::ListVersions, &list_id(phase, list))
            .await?
            .ok_or_else(|| ExchangeError::NotFound {
                resource: "list version",
                id: format!("{}/{}/{}", list.party, list.kind.tag(), list.version),
            })?
            .decode()
            .map_err(Into::into)
    }

    pub(crate) async fn items(&self, reconciliation: Uuid) -> Result<Vec<Loaded<Item>>> {
        self.all_versioned(Table::ReconciliationItems, &reconciliation.to_string())
            .await
    }

    /// Whether a newer version of any compared list exists.
    async fn is_stale(&self, r: &Reconciliation) -> Result<bool> {
        for list in &r.lists {
            if let Some(latest) = self.latest_list(r.phase_id, &list.party, list.kind).await?
                && latest.list.version != list.version
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Progress of completed phases, one line per party.
    async fn progress(&self, a: &Agreement) -> Result<Vec<pb::PartyProgress>> {
        let phases: Vec<Phase> = self.all(Table::Phases, &a.id.to_string()).await?;
        Ok(a.parties
            .iter()
            .map(|party| {
                let tallies = phases
                    .iter()
                    .filter(|p| {
                        matches!(
                            p.state,
                            PhaseState::Completed | PhaseState::PartiallyCompleted
                        )
                    })
                    .flat_map(|p| p.tallies.iter())
                    .filter(|t| &t.handing_party == party);
                let (mut handed, mut outside) = (0u32, 0u32);
                for t in tallies {
                    handed += t.verified - t.seriously_ill_or_wounded.min(t.verified);
                    outside += t.seriously_ill_or_wounded;
                }
                let total = party_total(&a.quotas, party);
                pb::PartyProgress {
                    party: party.clone(),
                    handed_over: handed,
                    seriously_ill_or_wounded: outside,
                    remaining: total.map(|t| t.saturating_sub(handed)).unwrap_or(0),
                }
            })
            .collect())
    }

    pub(crate) async fn agreement_pb(&self, a: &Loaded<Agreement>) -> Result<pb::Agreement> {
        let progress = self.progress(&a.record).await?;
        Ok(convert::agreement_to_pb(&a.record, a.version, progress))
    }
}

pub(crate) fn list_tag(party: &str, kind: ListKind) -> String {
    format!("{party}/{}", kind.tag())
}

pub(crate) fn list_id(phase: Uuid, list: &ListRef) -> String {
    format!(
        "{phase}/{}/{}/{}",
        list.party,
        list.kind.tag(),
        list.version
    )
}

/// The party's total line: a quota that names no category, sex or age band.
fn party_total(quotas: &[Quota], party: &str) -> Option<u32> {
    quotas
        .iter()
        .find(|q| {
            q.party.as_deref().is_none_or(|p| p == party)
                && q.category.is_none()
                && q.sex.is_none()
                && q.age_band.is_none()
        })
        .map(|q| q.count)
}

pub(crate) fn phase_doc(phase: &Phase, expected: Option<i64>) -> DocWrite {
    let doc = DocWrite::new(
        Table::Phases,
        phase.id.to_string(),
        phase.agreement_id.to_string(),
        convert::state_tag(phase.state),
        phase,
    )
    .due(phase.pending.as_ref().map(|_| phase.updated_at_us));
    match expected {
        Some(v) => doc.replacing(v),
        None => doc,
    }
}

pub(crate) fn parse_id(field: &str, id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| ExchangeError::invalid(field, "not an id (UUID)"))
}

fn finish<T>(check: Check, value: T) -> Result<T> {
    check.finish(value).map_err(ExchangeError::Invalid)
}

pub(crate) fn check_etag(given: &str, version: i64) -> Result<()> {
    let current = convert::etag(version);
    if given.trim() != current {
        return Err(ExchangeError::EtagMismatch {
            given: given.to_string(),
            current,
        });
    }
    Ok(())
}

pub(crate) fn audit_entry(
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

pub(crate) fn state_changed(
    phase: &Phase,
    version: i64,
    previous: PhaseState,
    reason: &str,
) -> NewEvent {
    NewEvent::new(
        "exchange.phase.state_changed",
        &phase.id.to_string(),
        &pb::PhaseStateChanged {
            phase: Some(convert::phase_to_pb(phase, version)),
            previous_state: convert::state_to_pb(previous) as i32,
            reason: reason.to_string(),
        },
    )
}

fn mask_paths(mask: Option<&prost_types::FieldMask>) -> Result<Vec<String>> {
    let paths: Vec<String> = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        return Err(ExchangeError::invalid(
            "update_mask",
            "name at least one field to change",
        ));
    }
    Ok(paths)
}

/// The content hash of a list: SHA-256 over the canonical protobuf encoding of its entries in
/// order, so both parties and the mediators can compare what they hold.
fn content_hash(entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    for e in entries {
        let bytes = convert::entry_to_pb(e).encode_length_delimited_to_vec();
        h.update(&bytes);
    }
    hex::encode(h.finalize())
}

/// Each phase quota line must fit the agreement's matching line together with the other
/// phases that are not cancelled.
fn check_fits_agreement(
    check: &mut Check,
    agreement: &Agreement,
    others: &[Phase],
    quotas: &[Quota],
) {
    for line in &agreement.quotas {
        for party in &agreement.parties {
            if line.party.as_deref().is_some_and(|p| p != party) {
                continue;
            }
            let same = |q: &&Quota| {
                q.party.as_deref().is_none_or(|p| p == party)
                    && q.category == line.category
                    && q.sex == line.sex
                    && q.age_band == line.age_band
            };
            let planned: u32 = others
                .iter()
                .filter(|p| p.state != PhaseState::Cancelled)
                .flat_map(|p| p.quotas.iter())
                .filter(same)
                .map(|q| q.count)
                .sum::<u32>()
                + quotas.iter().filter(same).map(|q| q.count).sum::<u32>();
            if planned > line.count {
                check.add(
                    "phase.quotas",
                    format!(
                        "{party}: {planned} planned over the agreement's phases on a line the agreement sets at {}",
                        line.count
                    ),
                );
            }
        }
    }
}

// Agreements and phases.
impl Exchange {
    async fn create_agreement(
        &self,
        who: &Principal,
        req: pb::CreateAgreementRequest,
    ) -> Result<pb::CreateAgreementResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("create_agreement", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let a = req.agreement.unwrap_or_default();
        let mut check = Check::default();
        let title = check.required("agreement.title", &a.title, 200);
        let parties: Vec<String> = a
            .parties
            .iter()
            .enumerate()
            .map(|(i, p)| check.party(&format!("agreement.parties[{i}]"), p))
            .collect();
        if parties.len() != 2 || parties[0] == parties[1] {
            check.add("agreement.parties", "exactly two different parties");
        }
        let parties = [
            parties.first().cloned().unwrap_or_default(),
            parties.get(1).cloned().unwrap_or_default(),
        ];
        if a.mediators.len() > 10 {
            check.add("agreement.mediators", "at most 10");
        }
        let mediators = a
            .mediators
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, m)| check.required(&format!("agreement.mediators[{i}]"), m, 100))
            .collect();
        let now = timestamp::now_micros();
        let agreement = Agreement {
            id: Uuid::now_v7(),
            title,
            mediators,
            date: convert::date_from_pb(
                &mut check,
                "agreement.agreement_date",
                a.agreement_date.as_ref(),
            ),
            place: check.text("agreement.place", &a.place, 200),
            quotas: convert::quotas_from_pb(
                &mut check,
                "agreement.quotas",
                &a.quotas,
                Some(&parties),
            ),
            parties,
            one_for_one: a.one_for_one,
            document_reference: check.text(
                "agreement.document_reference",
                &a.document_reference,
                200,
            ),
            created_at_us: now,
            updated_at_us: now,
        };
        let agreement = finish(check, agreement)?;
        let loaded = Loaded {
            record: agreement,
            version: 1,
        };
        let out = self.agreement_pb_fresh(&loaded);
        let id = loaded.record.id.to_string();
        let batch = WriteBatch {
            docs: vec![DocWrite::new(
                Table::Agreements,
                &id,
                "",
                "",
                &loaded.record,
            )],
            events: vec![NewEvent::new(
                "exchange.agreement.created",
                &id,
                &pb::AgreementCreated {
                    agreement: Some(out.clone()),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.agreement.create",
                &id,
                &key.request_id,
                serde_json::json!({"parties": loaded.record.parties}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::CreateAgreementResponse {
                agreement: Some(out),
            },
        )
        .await
    }

    /// A new agreement's message: nothing is completed yet.
    fn agreement_pb_fresh(&self, a: &Loaded<Agreement>) -> pb::Agreement {
        let progress = a
            .record
            .parties
            .iter()
            .map(|p| pb::PartyProgress {
                party: p.clone(),
                handed_over: 0,
                seriously_ill_or_wounded: 0,
                remaining: party_total(&a.record.quotas, p).unwrap_or(0),
            })
            .collect();
        convert::agreement_to_pb(&a.record, a.version, progress)
    }

    async fn update_agreement(
        &self,
        who: &Principal,
        req: pb::UpdateAgreementRequest,
    ) -> Result<pb::UpdateAgreementResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("update_agreement", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let paths = mask_paths(req.update_mask.as_ref())?;
        let given = req.agreement.unwrap_or_default();
        let current = self.agreement(&given.id).await?;
        check_etag(&given.etag, current.version)?;
        let mut next = current.record.clone();
        let mut check = Check::default();
        for path in &paths {
            match path.as_str() {
                "title" => next.title = check.required("agreement.title", &given.title, 200),
                "mediators" => {
                    next.mediators = given
                        .mediators
                        .iter()
                        .take(10)
                        .enumerate()
                        .map(|(i, m)| check.required(&format!("agreement.mediators[{i}]"), m, 100))
                        .collect()
                }
                "agreement_date" => next.date = convert::date_from_pb(&mut check, "agreement.agreement_date", given.agreement_date.as_ref()),
                "place" => next.place = check.text("agreement.place", &given.place, 200),
                "one_for_one" => next.one_for_one = given.one_for_one,
                "document_reference" => next.document_reference = check.text("agreement.document_reference", &given.document_reference, 200),
                "quotas" => next.quotas = convert::quotas_from_pb(&mut check, "agreement.quotas", &given.quotas, Some(&next.parties)),
                other => check.add("update_mask", format!("`{other}` cannot be changed (title, mediators, agreement_date, place, one_for_one, document_reference, quotas)")),
            }
        }
        let mut next = finish(check, next)?;
        if paths.iter().any(|p| p == "quotas") {
            let progress = self.progress(&current.record).await?;
            for p in &progress {
                if let Some(total) = party_total(&next.quotas, &p.party)
                    && total < p.handed_over
                {
                    return Err(ExchangeError::refused(
                        "QUOTA_BELOW_PROGRESS",
                        format!(
                            "{} has already handed over {} people; the total cannot be {total}",
                            p.party, p.handed_over
                        ),
                    ));
                }
            }
        }
        next.updated_at_us = timestamp::now_micros();
        let loaded = Loaded {
            record: next,
            version: current.version + 1,
        };
        let out = self.agreement_pb(&loaded).await?;
        let id = loaded.record.id.to_string();
        let batch = WriteBatch {
            docs: vec![
                DocWrite::new(Table::Agreements, &id, "", "", &loaded.record)
                    .replacing(current.version),
            ],
            events: vec![NewEvent::new(
                "exchange.agreement.updated",
                &id,
                &pb::AgreementUpdated {
                    agreement: Some(out.clone()),
                    changed_fields: paths.clone(),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.agreement.update",
                &id,
                &key.request_id,
                serde_json::json!({"fields": paths}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::UpdateAgreementResponse {
                agreement: Some(out),
            },
        )
        .await
    }

    async fn list_agreements(
        &self,
        who: &Principal,
        req: pb::ListAgreementsRequest,
    ) -> Result<pb::ListAgreementsResponse> {
        who.require_any(READERS)?;
        let party = req.party.trim().to_uppercase();
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("agreements:{party}"),
        )?;
        let filter = Filter {
            parent: "",
            tag: None,
            after: page.after,
            limit: page.limit(),
        };
        let rows = self.store.list(Table::Agreements, &filter).await?;
        let mut agreements = Vec::new();
        for row in &rows {
            let a: Agreement = row.decode()?;
            if party.is_empty() || a.parties.contains(&party) {
                agreements.push(
                    self.agreement_pb(&Loaded {
                        record: a,
                        version: row.version,
                    })
                    .await?,
                );
            }
        }
        Ok(pb::ListAgreementsResponse {
            agreements,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    fn phase_quotas(check: &mut Check, agreement: &Agreement, quotas: &[pb::Quota]) -> Vec<Quota> {
        convert::quotas_from_pb(check, "phase.quotas", quotas, Some(&agreement.parties))
    }

    async fn create_phase(
        &self,
        who: &Principal,
        req: pb::CreatePhaseRequest,
    ) -> Result<pb::CreatePhaseResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("create_phase", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let p = req.phase.unwrap_or_default();
        let agreement = self.agreement(&p.agreement_id).await?.record;
        let others: Vec<Phase> = self.all(Table::Phases, &agreement.id.to_string()).await?;
        let mut check = Check::default();
        let quotas = Self::phase_quotas(&mut check, &agreement, &p.quotas);
        check_fits_agreement(&mut check, &agreement, &others, &quotas);
        let now = timestamp::now_micros();
        let number = others.iter().map(|o| o.number).max().unwrap_or(0) + 1;
        let phase = Phase {
            id: Uuid::now_v7(),
            agreement_id: agreement.id,
            number,
            title: check.text("phase.title", &p.title, 200),
            planned_at_us: check.time("phase.planned_time", p.planned_time.as_ref()),
            place: check.text("phase.place", &p.place, 200),
            quotas,
            state: PhaseState::Draft,
            state_at_us: now,
            latest_reconciliation: None,
            frozen_lists: Vec::new(),
            frozen_reconciliation: None,
            imbalance_reason: String::new(),
            outcome_note: String::new(),
            attempts: 0,
            pending: None,
            pending_request: None,
            tallies: Vec::new(),
            created_at_us: now,
            updated_at_us: now,
        };
        let phase = finish(check, phase)?;
        let out = convert::phase_to_pb(&phase, 1);
        let id = phase.id.to_string();
        let batch = WriteBatch {
            docs: vec![phase_doc(&phase, None)],
            events: vec![NewEvent::new(
                "exchange.phase.created",
                &id,
                &pb::PhaseCreated {
                    phase: Some(out.clone()),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.phase.create",
                &id,
                &key.request_id,
                serde_json::json!({"agreement": agreement.id, "number": number}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::CreatePhaseResponse { phase: Some(out) })
            .await
    }

    async fn update_phase(
        &self,
        who: &Principal,
        req: pb::UpdatePhaseRequest,
    ) -> Result<pb::UpdatePhaseResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("update_phase", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let paths = mask_paths(req.update_mask.as_ref())?;
        let given = req.phase.unwrap_or_default();
        let current = self.phase(&given.id).await?;
        check_etag(&given.etag, current.version)?;
        if !matches!(
            current.record.state,
            PhaseState::Draft | PhaseState::Negotiating
        ) {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!(
                    "the phase is {}: its terms were agreed with the frozen lists",
                    current.record.state.name()
                ),
            ));
        }
        let agreement = self
            .agreement(&current.record.agreement_id.to_string())
            .await?
            .record;
        let mut next = current.record.clone();
        let mut check = Check::default();
        for path in &paths {
            match path.as_str() {
                "title" => next.title = check.text("phase.title", &given.title, 200),
                "planned_time" => {
                    next.planned_at_us =
                        check.time("phase.planned_time", given.planned_time.as_ref())
                }
                "place" => next.place = check.text("phase.place", &given.place, 200),
                "quotas" => {
                    next.quotas = Self::phase_quotas(&mut check, &agreement, &given.quotas);
                    let others: Vec<Phase> = self
                        .all::<Phase>(Table::Phases, &agreement.id.to_string())
                        .await?
                        .into_iter()
                        .filter(|p| p.id != next.id)
                        .collect();
                    check_fits_agreement(&mut check, &agreement, &others, &next.quotas);
                }
                other => check.add(
                    "update_mask",
                    format!("`{other}` cannot be changed (title, planned_time, place, quotas)"),
                ),
            }
        }
        let mut next = finish(check, next)?;
        next.updated_at_us = timestamp::now_micros();
        let out = convert::phase_to_pb(&next, current.version + 1);
        let id = next.id.to_string();
        let batch = WriteBatch {
            docs: vec![phase_doc(&next, Some(current.version))],
            events: vec![NewEvent::new(
                "exchange.phase.updated",
                &id,
                &pb::PhaseUpdated {
                    phase: Some(out.clone()),
                    changed_fields: paths.clone(),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.phase.update",
                &id,
                &key.request_id,
                serde_json::json!({"fields": paths}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::UpdatePhaseResponse { phase: Some(out) })
            .await
    }

    async fn list_phases(
        &self,
        who: &Principal,
        req: pb::ListPhasesRequest,
    ) -> Result<pb::ListPhasesResponse> {
        who.require_any(READERS)?;
        let parent = if req.agreement_id.trim().is_empty() {
            String::new()
        } else {
            parse_id("agreement_id", &req.agreement_id)?.to_string()
        };
        let state = match req.state {
            0 => None,
            s => Some(
                convert::state_from_pb(s)
                    .ok_or_else(|| ExchangeError::invalid("state", "not a phase state"))?,
            ),
        };
        let tag = state.map(convert::state_tag);
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("phases:{parent}:{tag:?}"),
        )?;
        let rows = self
            .store
            .list(
                Table::Phases,
                &Filter {
                    parent: &parent,
                    tag,
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let phases = rows
            .iter()
            .map(|r| Ok(convert::phase_to_pb(&r.decode::<Phase>()?, r.version)))
            .collect::<Result<Vec<_>>>()?;
        Ok(pb::ListPhasesResponse {
            phases,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    /// A state step that needs nothing from the registry.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn plain_step(
        &self,
        who: &Principal,
        key: RequestKey,
        phase_id: &str,
        etag: &str,
        step: Step,
        reason: &str,
        precondition: impl AsyncFnOnce(&Phase) -> Result<()>,
    ) -> Result<pb::Phase> {
        let current = self.phase(phase_id).await?;
        saga::refuse_while_pending(&current.record)?;
        check_etag(etag, current.version)?;
        let next_state = domain::next_state(
            current.record.state,
            step,
            false,
            &domain::Settlement::Completed,
        )?;
        precondition(&current.record).await?;
        let mut next = current.record.clone();
        let now = timestamp::now_micros();
        next.state = next_state;
        next.state_at_us = now;
        next.updated_at_us = now;
        let version = current.version + 1;
        let out = convert::phase_to_pb(&next, version);
        let id = next.id.to_string();
        let batch = WriteBatch {
            docs: vec![phase_doc(&next, Some(current.version))],
            events: vec![state_changed(&next, version, current.record.state, reason)],
            audit: vec![audit_entry(
                who,
                &format!("exchange.phase.{}", convert::state_tag(next_state)),
                &id,
                &key.request_id,
                serde_json::json!({"from": convert::state_tag(current.record.state)}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, out).await
    }
}

// Lists.
impl Exchange {
    async fn submit_list(
        &self,
        who: &Principal,
        req: pb::SubmitListRequest,
    ) -> Result<pb::SubmitListResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("submit_list", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let phase = self.phase(&req.phase_id).await?.record;
        let agreement = self
            .agreement(&phase.agreement_id.to_string())
            .await?
            .record;
        let mut check = Check::default();
        let party = check.party("party", &req.party);
        if !agreement.parties.contains(&party) {
            check.add(
                "party",
                format!(
                    "one of the agreement's parties ({})",
                    agreement.parties.join(", ")
                ),
            );
        }
        let kind = convert::kind_from_pb(&mut check, "kind", req.kind);
        if req.entries.is_empty() {
            check.add("entries", "a list has at least one entry");
        }
        let entries = convert::entries_from_pb(&mut check, &req.entries);
        let note = check.text("note", &req.note, 1_000);
        let received_at_us = check.time("receive_time", req.receive_time.as_ref());
        let entries = finish(check, entries)?;
        if phase.state != PhaseState::Negotiating {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!(
                    "lists are submitted while the phase is negotiating; it is {}",
                    phase.state.name()
                ),
            ));
        }
        let latest = self.latest_list(phase.id, &party, kind).await?;
        let current = latest.as_ref().map(|l| l.list.version).unwrap_or(0);
        if req.base_version != current {
            return Err(ExchangeError::ListMoved { current });
        }
        self.check_listed_persons(&entries).await?;
        let list = ListRef {
            party: party.clone(),
            kind,
            version: current + 1,
        };
        let version = ListVersion {
            phase_id: phase.id,
            list: list.clone(),
            content_hash: content_hash(&entries),
            entries,
            source: req.source,
            received_at_us,
            note,
            submitted_by: who.subject.clone(),
            submitted_at_us: timestamp::now_micros(),
        };
        let out = convert::list_version_to_pb(&version, false);
        let id = phase.id.to_string();
        let batch = WriteBatch {
            docs: vec![DocWrite::new(
                Table::ListVersions,
                list_id(phase.id, &list),
                &id,
                list_tag(&party, kind),
                &version,
            )],
            events: vec![NewEvent::new(
                "exchange.list.submitted",
                &id,
                &pb::ListSubmitted {
                    phase_id: id.clone(),
                    list: Some(convert::list_ref_to_pb(&list)),
                    entry_count: version.entries.len() as u32,
                    content_hash: version.content_hash.clone(),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.list.submit",
                &id,
                &key.request_id,
                serde_json::json!({"party": party, "kind": kind.tag(), "version": list.version, "entries": version.entries.len(), "hash": version.content_hash}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::SubmitListResponse { list: Some(out) })
            .await
    }

    /// Entries that name registry persons must name registered, unmerged ones.
    async fn check_listed_persons(&self, entries: &[Entry]) -> Result<()> {
        let ids: Vec<Uuid> = entries
            .iter()
            .filter_map(|e| match e.subject {
                Subject::Person(p) => Some(p),
                Subject::Identity(_) => None,
            })
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let found: HashMap<String, _> = self
            .registry
            .get_persons(&ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut check = Check::default();
        for (i, e) in entries.iter().enumerate() {
            if let Subject::Person(p) = e.subject {
                match found.get(&p.to_string()) {
                    None => check.add(
                        format!("entries[{i}].person_id"),
                        "no such person in the registry",
                    ),
                    Some(person) if !person.merged_into_id.is_empty() => check.add(
                        format!("entries[{i}].person_id"),
                        format!("merged into {}: list that person", person.merged_into_id),
                    ),
                    Some(_) => {}
                }
            }
        }
        finish(check, ())
    }

    async fn get_list_version(
        &self,
        who: &Principal,
        req: pb::GetListVersionRequest,
    ) -> Result<pb::GetListVersionResponse> {
        who.require_any(READERS)?;
        let phase = parse_id("phase_id", &req.phase_id)?;
        let mut check = Check::default();
        let party = check.party("party", &req.party);
        let kind = convert::kind_from_pb(&mut check, "kind", req.kind);
        finish(check, ())?;
        let version = self
            .resolve_version(phase, &party, kind, req.version)
            .await?;
        Ok(pb::GetListVersionResponse {
            list: Some(convert::list_version_to_pb(&version, true)),
        })
    }

    async fn resolve_version(
        &self,
        phase: Uuid,
        party: &str,
        kind: ListKind,
        version: u32,
    ) -> Result<ListVersion> {
        if version == 0 {
            self.latest_list(phase, party, kind)
                .await?
                .ok_or_else(|| ExchangeError::NotFound {
                    resource: "list",
                    id: format!("{party}/{}", kind.tag()),
                })
        } else {
            self.list_version(
                phase,
                &ListRef {
                    party: party.to_string(),
                    kind,
                    version,
                },
            )
            .await
        }
    }

    async fn list_list_versions(
        &self,
        who: &Principal,
        req: pb::ListListVersionsRequest,
    ) -> Result<pb::ListListVersionsResponse> {
        who.require_any(READERS)?;
        let phase = parse_id("phase_id", &req.phase_id)?.to_string();
        let mut check = Check::default();
        let party = (!req.party.trim().is_empty()).then(|| check.party("party", &req.party));
        let kind = (req.kind != 0).then(|| convert::kind_from_pb(&mut check, "kind", req.kind));
        finish(check, ())?;
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("lists:{phase}:{party:?}:{kind:?}"),
        )?;
        let rows = self
            .store
            .list(
                Table::ListVersions,
                &Filter {
                    parent: &phase,
                    tag: None,
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut lists = Vec::new();
        for row in &rows {
            let v: ListVersion = row.decode()?;
            if party.as_ref().is_none_or(|p| *p == v.list.party)
                && kind.is_none_or(|k| k == v.list.kind)
            {
                lists.push(convert::list_version_to_pb(&v, false));
            }
        }
        Ok(pb::ListListVersionsResponse {
            lists,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    async fn compare_list_versions(
        &self,
        who: &Principal,
        req: pb::CompareListVersionsRequest,
    ) -> Result<pb::CompareListVersionsResponse> {
        who.require_any(READERS)?;
        let phase = parse_id("phase_id", &req.phase_id)?;
        let mut check = Check::default();
        let party = check.party("party", &req.party);
        let kind = convert::kind_from_pb(&mut check, "kind", req.kind);
        if req.from_version == 0 {
            check.add("from_version", "a version number, from 1");
        }
        finish(check, ())?;
        let from = self
            .resolve_version(phase, &party, kind, req.from_version)
            .await?;
        let to = self
            .resolve_version(phase, &party, kind, req.to_version)
            .await?;
        Ok(compare(&from.entries, &to.entries))
    }
}

/// What changed between two versions of a list, by reference.
pub fn compare(before: &[Entry], after: &[Entry]) -> pb::CompareListVersionsResponse {
    let old: HashMap<&str, &Entry> = before.iter().map(|e| (e.reference.as_str(), e)).collect();
    let new: HashMap<&str, &Entry> = after.iter().map(|e| (e.reference.as_str(), e)).collect();
    let mut out = pb::CompareListVersionsResponse::default();
    for e in after {
        match old.get(e.reference.as_str()) {
            None => out.added.push(convert::entry_to_pb(e)),
            Some(was) if *was != e => {
                let mut changed = Vec::new();
                let identity_changed = match (&was.subject, &e.subject) {
                    (Subject::Person(a), Subject::Person(b)) => {
                        if a != b {
                            changed.push("person_id".to_string());
                        }
                        a != b
                    }
                    (Subject::Identity(a), Subject::Identity(b)) => {
                        let fields = [
                            ("identity.names", a.names != b.names),
                            ("identity.birth_date", a.birth_date != b.birth_date),
                            ("identity.sex", a.sex != b.sex),
                            (
                                "identity.service_number",
                                a.service_number != b.service_number,
                            ),
                            ("identity.documents", a.documents != b.documents),
                            ("identity.unit", a.unit != b.unit),
                            ("identity.category", a.category != b.category),
                        ];
                        changed.extend(
                            fields
                                .iter()
                                .filter(|(_, c)| *c)
                                .map(|(f, _)| f.to_string()),
                        );
                        let key_changes = usize::from(a.names != b.names)
                            + usize::from(
                                a.birth_date.is_some()
                                    && b.birth_date.is_some()
                                    && a.birth_date != b.birth_date,
                            )
                            + usize::from(
                                !a.service_number.is_empty()
                                    && !b.service_number.is_empty()
                                    && a.service_number != b.service_number,
                            );
                        // A spelling corrected is an amendment; a name and a birth date both
                        // replaced is another person under the same reference.
                        key_changes >= 2 || (a.names != b.names && a.birth_date != b.birth_date)
                    }
                    _ => {
                        changed.push("subject".to_string());
                        true
                    }
                };
                for (field, differs) in [
                    ("seriously_ill", was.seriously_ill != e.seriously_ill),
                    ("wounded", was.wounded != e.wounded),
                    ("source_line", was.source_line != e.source_line),
                    ("note", was.note != e.note),
                ] {
                    if differs {
                        changed.push(field.to_string());
                    }
                }
                out.changed.push(pb::ListEntryChange {
                    reference: e.reference.clone(),
                    before: Some(convert::entry_to_pb(was)),
                    after: Some(convert::entry_to_pb(e)),
                    changed_fields: changed,
                    identity_changed,
                });
            }
            Some(_) => {}
        }
    }
    out.removed = before
        .iter()
        .filter(|e| !new.contains_key(e.reference.as_str()))
        .map(convert::entry_to_pb)
        .collect();
    out
}

// Reconciliation.
impl Exchange {
    async fn reconcile_phase(
        &self,
        who: &Principal,
        req: pb::ReconcilePhaseRequest,
    ) -> Result<pb::ReconcilePhaseResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("reconcile_phase", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        if !(0.0..=1.0).contains(&req.min_confidence) || req.min_confidence.is_nan() {
            return Err(ExchangeError::invalid(
                "min_confidence",
                "from 0 to 1 (0: the default, 0.8)",
            ));
        }
        let min_confidence = if req.min_confidence == 0.0 {
            DEFAULT_MIN_CONFIDENCE
        } else {
            req.min_confidence
        };
        let current = self.phase(&req.phase_id).await?;
        let phase = &current.record;
        if phase.state != PhaseState::Negotiating {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!(
                    "lists are reconciled while the phase is negotiating; it is {}",
                    phase.state.name()
                ),
            ));
        }
        let agreement = self
            .agreement(&phase.agreement_id.to_string())
            .await?
            .record;
        let reconciliation_id = Uuid::now_v7();
        let mut lists = Vec::new();
        let mut items = Vec::new();
        for (receiving, handing) in [(0, 1), (1, 0)] {
            let (receiving, handing) = (&agreement.parties[receiving], &agreement.parties[handing]);
            let request = self
                .latest_list(phase.id, receiving, ListKind::Request)
                .await?;
            let offer = self.latest_list(phase.id, handing, ListKind::Offer).await?;
            let (Some(request), Some(offer)) = (request, offer) else {
                continue;
            };
            let request_candidates = self.candidates(&request.entries).await?;
            let offer_candidates = self.candidates(&offer.entries).await?;
            let mut pairs = reconcile::pair(
                &Side {
                    party: receiving,
                    entries: &request.entries,
                    candidates: &request_candidates,
                },
                &Side {
                    party: handing,
                    entries: &offer.entries,
                    candidates: &offer_candidates,
                },
                min_confidence,
            );
            self.attach_traits(&mut pairs, &request.entries, &offer.entries)
                .await?;
            items.extend(pairs);
            lists.push(request.list);
            lists.push(offer.list);
        }
        if lists.is_empty() {
            return Err(ExchangeError::refused(
                "NO_LISTS",
                "nothing to reconcile: a request list of one party and an offer list of the other are needed",
            ));
        }
        for (n, item) in items.iter_mut().enumerate() {
            item.number = n as u32 + 1;
            item.reconciliation_id = reconciliation_id;
        }
        let reconciliation = Reconciliation {
            id: reconciliation_id,
            phase_id: phase.id,
            lists,
            summary: Summary::of(&items),
            created_by: who.subject.clone(),
            created_at_us: timestamp::now_micros(),
        };
        let mut next = phase.clone();
        next.latest_reconciliation = Some(reconciliation_id);
        next.updated_at_us = reconciliation.created_at_us;
        let out = convert::reconciliation_to_pb(&reconciliation, false);
        let rid = reconciliation_id.to_string();
        let mut docs = vec![
            phase_doc(&next, Some(current.version)),
            DocWrite::new(
                Table::Reconciliations,
                &rid,
                phase.id.to_string(),
                "",
                &reconciliation,
            ),
        ];
        docs.extend(
            items
                .iter()
                .map(|i| DocWrite::new(Table::ReconciliationItems, i.id(), &rid, i.tag(), i)),
        );
        let batch = WriteBatch {
            docs,
            events: vec![NewEvent::new(
                "exchange.reconciliation.created",
                &phase.id.to_string(),
                &pb::ReconciliationCreated {
                    reconciliation: Some(out.clone()),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.reconcile",
                &phase.id.to_string(),
                &key.request_id,
                serde_json::json!({"reconciliation": rid, "summary": reconciliation.summary}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::ReconcilePhaseResponse {
                reconciliation: Some(out),
            },
        )
        .await
    }

    /// Each entry's registry candidates: certain for an entry naming a person, the matcher's
    /// proposals for an identity.
    async fn candidates(&self, entries: &[Entry]) -> Result<Vec<Vec<Candidate>>> {
        let identities: Vec<_> = entries
            .iter()
            .filter_map(|e| match &e.subject {
                Subject::Identity(l) => Some(convert::listed_to_candidate(&e.reference, l)),
                Subject::Person(_) => None,
            })
            .collect();
        let mut matches = if identities.is_empty() {
            Vec::new()
        } else {
            self.registry
                .match_identities(identities, MATCH_FLOOR, MATCH_CANDIDATES)
                .await?
        }
        .into_iter();
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            out.push(match &e.subject {
                Subject::Person(p) => vec![Candidate::listed(*p)],
                Subject::Identity(_) => matches
                    .next()
                    .map(|m| {
                        m.candidates
                            .into_iter()
                            .filter_map(|c| {
                                Some(Candidate {
                                    person: Uuid::parse_str(&c.person_id).ok()?,
                                    confidence: c.confidence,
                                    conflicts: c.conflicts,
                                    explanation: c.explanation,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// What the counts need of each item: the registry's record of the person where there is
    /// one, the lists' flags for sickness and wounds.
    async fn attach_traits(
        &self,
        items: &mut [Item],
        requests: &[Entry],
        offers: &[Entry],
    ) -> Result<()> {
        let ids: Vec<Uuid> = items.iter().filter_map(|i| i.person_id).collect();
        let persons: HashMap<String, _> = if ids.is_empty() {
            HashMap::new()
        } else {
            self.registry
                .get_persons(&ids)
                .await?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect()
        };
        let requests: HashMap<&str, &Entry> =
            requests.iter().map(|e| (e.reference.as_str(), e)).collect();
        let offers: HashMap<&str, &Entry> =
            offers.iter().map(|e| (e.reference.as_str(), e)).collect();
        for item in items {
            let request = requests.get(item.request_reference.as_str()).copied();
            let offer = offers.get(item.offer_reference.as_str()).copied();
            item.traits = Some(traits(
                item.person_id.and_then(|p| persons.get(&p.to_string())),
                request,
                offer,
            ));
        }
        Ok(())
    }

    async fn get_reconciliation(
        &self,
        who: &Principal,
        req: pb::GetReconciliationRequest,
    ) -> Result<pb::GetReconciliationResponse> {
        who.require_any(READERS)?;
        let r: Loaded<Reconciliation> = self
            .load(Table::Reconciliations, "reconciliation", "id", &req.id)
            .await?;
        let stale = self.is_stale(&r.record).await?;
        Ok(pb::GetReconciliationResponse {
            reconciliation: Some(convert::reconciliation_to_pb(&r.record, stale)),
        })
    }

    async fn list_reconciliation_items(
        &self,
        who: &Principal,
        req: pb::ListReconciliationItemsRequest,
    ) -> Result<pb::ListReconciliationItemsResponse> {
        who.require_any(READERS)?;
        let rid = parse_id("reconciliation_id", &req.reconciliation_id)?.to_string();
        let outcome = match req.outcome {
            0 => None,
            o => Some(convert::outcome_from_pb(o).ok_or_else(|| {
                ExchangeError::invalid("outcome", "not a reconciliation outcome")
            })?),
        };
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("items:{rid}:{outcome:?}:{}", req.open_reviews_only),
        )?;
        let rows = self
            .store
            .list(
                Table::ReconciliationItems,
                &Filter {
                    parent: &rid,
                    tag: None,
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut items = Vec::new();
        for row in &rows {
            let item: Item = row.decode()?;
            if outcome.is_none_or(|o| o == item.outcome)
                && (!req.open_reviews_only || item.open_review())
            {
                items.push(convert::item_to_pb(&item));
            }
        }
        Ok(pb::ListReconciliationItemsResponse {
            items,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    async fn review_item(
        &self,
        who: &Principal,
        req: pb::ReviewReconciliationItemRequest,
    ) -> Result<pb::ReviewReconciliationItemResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("review_item", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let mut check = Check::default();
        let decision = match pb::ReviewDecision::try_from(req.decision) {
            Ok(pb::ReviewDecision::ConfirmPair) => Decision::ConfirmPair,
            Ok(pb::ReviewDecision::RejectPair) => Decision::RejectPair,
            Ok(pb::ReviewDecision::PairWith) => Decision::PairWith,
            Ok(pb::ReviewDecision::AcceptUnmatched) => Decision::AcceptUnmatched,
            _ => {
                check.add(
                    "decision",
                    "confirm pair, reject pair, pair with or accept unmatched",
                );
                Decision::ConfirmPair
            }
        };
        let person = (!req.person_id.trim().is_empty())
            .then(|| check.uuid("person_id", &req.person_id))
            .flatten();
        let counterpart = check.text("counterpart_reference", &req.counterpart_reference, 64);
        if decision == Decision::PairWith && counterpart.is_empty() {
            check.add(
                "counterpart_reference",
                "required to pair with another entry",
            );
        }
        let note = check.text("note", &req.note, 1_000);
        let number: u32 = req.item_id.trim().parse().unwrap_or_else(|_| {
            check.add(
                "item_id",
                "an item id as returned by ListReconciliationItems",
            );
            0
        });
        finish(check, ())?;
        let recon: Loaded<Reconciliation> = self
            .load(
                Table::Reconciliations,
                "reconciliation",
                "reconciliation_id",
                &req.reconciliation_id,
            )
            .await?;
        let phase = self.phase(&recon.record.phase_id.to_string()).await?.record;
        if phase.state != PhaseState::Negotiating
            || phase.latest_reconciliation != Some(recon.record.id)
        {
            return Err(ExchangeError::refused(
                "RECONCILIATION_CLOSED",
                "only the latest reconciliation of a phase under negotiation is reviewed; reconcile again",
            ));
        }
        if self.is_stale(&recon.record).await? {
            return Err(ExchangeError::refused(
                "RECONCILIATION_STALE",
                "a newer list version exists; reconcile again",
            ));
        }
        let mut items = self.items(recon.record.id).await?;
        let index = items
            .iter()
            .position(|i| i.record.number == number)
            .ok_or_else(|| ExchangeError::NotFound {
                resource: "reconciliation item",
                id: req.item_id.clone(),
            })?;
        let item = &items[index].record;
        if matches!(
            item.review.as_ref().map(|r| r.decision),
            Some(Decision::PairWith | Decision::PairedElsewhere)
        ) {
            return Err(ExchangeError::refused(
                "ALREADY_PAIRED_BY_HAND",
                "this item was paired by hand; reconcile again to start over",
            ));
        }
        let review = Review {
            decision,
            counterpart_reference: counterpart.clone(),
            person_id: person,
            note,
            reviewed_by: who.subject.clone(),
            reviewed_at_us: timestamp::now_micros(),
        };
        let both = !item.request_reference.is_empty() && !item.offer_reference.is_empty();
        let mut changed = vec![index];
        match decision {
            Decision::ConfirmPair | Decision::RejectPair if !both => {
                return Err(ExchangeError::refused(
                    "NOT_A_PAIR",
                    "this item has one entry; pair it with another or accept it unmatched",
                ));
            }
            Decision::AcceptUnmatched if both => {
                return Err(ExchangeError::refused(
                    "NOT_UNMATCHED",
                    "this item is a pair: confirm or reject it",
                ));
            }
            Decision::ConfirmPair => {
                let item = &mut items[index].record;
                if person.is_some() {
                    item.person_id = person;
                }
                if item.person_id.is_none() {
                    return Err(ExchangeError::invalid(
                        "person_id",
                        "the pair resolves to no registry person: name one",
                    ));
                }
            }
            Decision::PairWith => {
                if both {
                    return Err(ExchangeError::refused(
                        "NOT_UNMATCHED",
                        "only an unmatched entry is paired by hand",
                    ));
                }
                let wants_offer = items[index].record.outcome == Outcome::UnmatchedRequest;
                let (receiving, handing) = (
                    items[index].record.receiving_party.clone(),
                    items[index].record.handing_party.clone(),
                );
                let other = items
                    .iter()
                    .position(|i| {
                        i.record.receiving_party == receiving
                            && i.record.handing_party == handing
                            && i.record.review.is_none()
                            && if wants_offer {
                                i.record.outcome == Outcome::UnmatchedOffer
                                    && i.record.offer_reference == counterpart
                            } else {
                                i.record.outcome == Outcome::UnmatchedRequest
                                    && i.record.request_reference == counterpart
                            }
                    })
                    .ok_or_else(|| {
                        ExchangeError::refused(
                            "NO_SUCH_COUNTERPART",
                            format!("no unmatched entry `{counterpart}` on the opposite list"),
                        )
                    })?;
                let resolved = person
                    .or(items[index].record.person_id)
                    .or(items[other].record.person_id);
                let Some(resolved) = resolved else {
                    return Err(ExchangeError::invalid(
                        "person_id",
                        "neither entry resolves to a registry person: name one",
                    ));
                };
                let persons = self.registry.get_persons(&[resolved]).await?;
                let Some(found) = persons.first() else {
                    return Err(ExchangeError::invalid(
                        "person_id",
                        "no such person in the registry",
                    ));
                };
                let counterpart_review = Review {
                    decision: Decision::PairedElsewhere,
                    counterpart_reference: if wants_offer {
                        items[index].record.request_reference.clone()
                    } else {
                        items[index].record.offer_reference.clone()
                    },
                    ..review.clone()
                };
                items[other].record.review = Some(counterpart_review);
                let item = &mut items[index].record;
                if wants_offer {
                    item.offer_reference = counterpart;
                } else {
                    item.request_reference = counterpart;
                }
                item.person_id = Some(resolved);
                let (category, sex, birth_date) = convert::traits_of_person(found);
                let old = item.traits.clone().unwrap_or(Traits {
                    category: None,
                    sex: domain::Sex::Unknown,
                    birth_date: None,
                    seriously_ill: false,
                    wounded: false,
                });
                item.traits = Some(Traits {
                    category: category.or(old.category),
                    sex,
                    birth_date: birth_date.or(old.birth_date),
                    ..old
                });
                changed.push(other);
            }
            Decision::RejectPair | Decision::AcceptUnmatched | Decision::PairedElsewhere => {}
        }
        items[index].record.review = Some(review);
        let mut next = recon.record.clone();
        next.summary = Summary::of(items.iter().map(|i| &i.record));
        let rid = next.id.to_string();
        let mut docs = vec![
            DocWrite::new(
                Table::Reconciliations,
                &rid,
                next.phase_id.to_string(),
                "",
                &next,
            )
            .replacing(recon.version),
        ];
        let mut out_items = Vec::new();
        for i in &changed {
            let item = &items[*i];
            docs.push(
                DocWrite::new(
                    Table::ReconciliationItems,
                    item.record.id(),
                    &rid,
                    item.record.tag(),
                    &item.record,
                )
                .replacing(item.version),
            );
            out_items.push(convert::item_to_pb(&item.record));
        }
        let out = pb::ReviewReconciliationItemResponse {
            items: out_items,
            reconciliation: Some(convert::reconciliation_to_pb(&next, false)),
        };
        let batch = WriteBatch {
            docs,
            events: vec![NewEvent::new(
                "exchange.reconciliation.item_reviewed",
                &next.phase_id.to_string(),
                &pb::ReconciliationItemReviewed {
                    reconciliation_id: rid.clone(),
                    item_id: number.to_string(),
                    decision: convert::decision_to_pb(decision) as i32,
                    summary: Some(convert::summary_to_pb(&next.summary)),
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.reconciliation.review",
                &rid,
                &key.request_id,
                serde_json::json!({"item": number, "decision": decision}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, out).await
    }
}

/// Counting traits of an item's person.
fn traits(
    person: Option<&homeward_proto::registry::v1::Person>,
    request: Option<&Entry>,
    offer: Option<&Entry>,
) -> Traits {
    let listed = [offer, request]
        .into_iter()
        .flatten()
        .find_map(|e| match &e.subject {
            Subject::Identity(l) => Some(l.as_ref().clone()),
            Subject::Person(_) => None,
        });
    let (category, sex, birth_date) = match person {
        Some(p) => convert::traits_of_person(p),
        None => (None, domain::Sex::Unknown, None),
    };
    let flag = |f: fn(&Entry) -> bool| [request, offer].into_iter().flatten().any(f);
    Traits {
        category: category.or(listed.as_ref().and_then(|l| l.category)),
        sex: match sex {
            domain::Sex::Unknown => listed
                .as_ref()
                .and_then(|l| l.sex)
                .unwrap_or(domain::Sex::Unknown),
            s => s,
        },
        birth_date: birth_date.or(listed.as_ref().and_then(|l| l.birth_date)),
        seriously_ill: flag(|e| e.seriously_ill),
        wounded: flag(|e| e.wounded),
    }
}

fn respond<T>(result: Result<T>) -> std::result::Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

fn principal<T>(request: &Request<T>) -> std::result::Result<Principal, Status> {
    Principal::of(request).map_err(|e| e.into_status(crate::error::DOMAIN))
}

type EventStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::WatchEventsResponse, Status>> + Send>>;

/// The service impl: each listed RPC authenticates the caller and calls its handler; the rest
/// are written out below the list. (One macro around the whole impl, so `async_trait` sees
/// every method.)
macro_rules! service {
    ($($name:ident => $handler:ident($req:ty) -> $resp:ty;)* { $($rest:tt)* }) => {
        #[tonic::async_trait]
        impl ExchangeService for Exchange {
            $(
                #[tracing::instrument(skip_all)]
                async fn $name(&self, r: Request<$req>) -> std::result::Result<Response<$resp>, Status> {
                    let who = principal(&r)?;
                    respond(self.$handler(&who, r.into_inner()).await)
                }
            )*
            $($rest)*
        }
    };
}

service! {
    create_agreement => create_agreement(pb::CreateAgreementRequest) -> pb::CreateAgreementResponse;
    update_agreement => update_agreement(pb::UpdateAgreementRequest) -> pb::UpdateAgreementResponse;
    list_agreements => list_agreements(pb::ListAgreementsRequest) -> pb::ListAgreementsResponse;
    create_phase => create_phase(pb::CreatePhaseRequest) -> pb::CreatePhaseResponse;
    update_phase => update_phase(pb::UpdatePhaseRequest) -> pb::UpdatePhaseResponse;
    list_phases => list_phases(pb::ListPhasesRequest) -> pb::ListPhasesResponse;
    start_negotiation => start_negotiation(pb::StartNegotiationRequest) -> pb::StartNegotiationResponse;
    submit_list => submit_list(pb::SubmitListRequest) -> pb::SubmitListResponse;
    get_list_version => get_list_version(pb::GetListVersionRequest) -> pb::GetListVersionResponse;
    list_list_versions => list_list_versions(pb::ListListVersionsRequest) -> pb::ListListVersionsResponse;
    compare_list_versions => compare_list_versions(pb::CompareListVersionsRequest) -> pb::CompareListVersionsResponse;
    reconcile_phase => reconcile_phase(pb::ReconcilePhaseRequest) -> pb::ReconcilePhaseResponse;
    get_reconciliation => get_reconciliation(pb::GetReconciliationRequest) -> pb::GetReconciliationResponse;
    list_reconciliation_items => list_reconciliation_items(pb::ListReconciliationItemsRequest) -> pb::ListReconciliationItemsResponse;
    review_reconciliation_item => review_item(pb::ReviewReconciliationItemRequest) -> pb::ReviewReconciliationItemResponse;
    check_phase_counts => check_phase_counts(pb::CheckPhaseCountsRequest) -> pb::CheckPhaseCountsResponse;
    record_consent => record_consent(pb::RecordConsentRequest) -> pb::RecordConsentResponse;
    list_consent_records => list_consent_records(pb::ListConsentRecordsRequest) -> pb::ListConsentRecordsResponse;
    hold_back_person => hold_back_person(pb::HoldBackPersonRequest) -> pb::HoldBackPersonResponse;
    update_hold_back => update_hold_back(pb::UpdateHoldBackRequest) -> pb::UpdateHoldBackResponse;
    list_hold_backs => list_hold_backs(pb::ListHoldBacksRequest) -> pb::ListHoldBacksResponse;
    freeze_lists => freeze_lists(pb::FreezeListsRequest) -> pb::FreezeListsResponse;
    unfreeze_lists => unfreeze_lists(pb::UnfreezeListsRequest) -> pb::UnfreezeListsResponse;
    start_handover => start_handover(pb::StartHandoverRequest) -> pb::StartHandoverResponse;
    record_handover_check => record_handover_check(pb::RecordHandoverCheckRequest) -> pb::RecordHandoverCheckResponse;
    list_handover_checks => list_handover_checks(pb::ListHandoverChecksRequest) -> pb::ListHandoverChecksResponse;
    complete_phase => complete_phase(pb::CompletePhaseRequest) -> pb::CompletePhaseResponse;
    cancel_phase => cancel_phase(pb::CancelPhaseRequest) -> pb::CancelPhaseResponse;
    get_phase_report => get_phase_report(pb::GetPhaseReportRequest) -> pb::GetPhaseReportResponse;
    {
    #[tracing::instrument(skip_all)]
    async fn get_agreement(&self, r: Request<pb::GetAgreementRequest>) -> std::result::Result<Response<pb::GetAgreementResponse>, Status> {
        let who = principal(&r)?;
        respond(
            async {
                who.require_any(READERS)?;
                let a = self.agreement(&r.get_ref().id).await?;
                Ok(pb::GetAgreementResponse { agreement: Some(self.agreement_pb(&a).await?) })
            }
            .await,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn get_phase(&self, r: Request<pb::GetPhaseRequest>) -> std::result::Result<Response<pb::GetPhaseResponse>, Status> {
        let who = principal(&r)?;
        respond(
            async {
                who.require_any(READERS)?;
                let p = self.phase(&r.get_ref().id).await?;
                Ok(pb::GetPhaseResponse { phase: Some(convert::phase_to_pb(&p.record, p.version)) })
            }
            .await,
        )
    }

    type WatchEventsStream = EventStream;

    #[tracing::instrument(skip_all)]
    async fn watch_events(&self, r: Request<pb::WatchEventsRequest>) -> std::result::Result<Response<Self::WatchEventsStream>, Status> {
        let who = principal(&r)?;
        let req = r.into_inner();
        let stream = async {
            who.require_any(EVENT_READERS)?;
            Ok::<_, ExchangeError>(self.feed.watch(&req.after_cursor, req.types)?)
        }
        .await
        .map_err(Status::from)?;
        let stream = futures::StreamExt::map(stream, |item| item.map(|event| pb::WatchEventsResponse { event: Some(event) }));
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_audit_log(&self, r: Request<pb::VerifyAuditLogRequest>) -> std::result::Result<Response<pb::VerifyAuditLogResponse>, Status> {
        let who = principal(&r)?;
        let req = r.into_inner();
        respond(
            async {
                who.require_any(AUDITORS)?;
                let anchor = (req.anchor_sequence > 0).then_some((req.anchor_sequence, req.anchor_hash.as_str()));
                let verification = audit::verify(&self.store.db(), anchor).await?;
                Ok(pb::VerifyAuditLogResponse { verification: Some(verification.into()) })
            }
            .await,
        )
    }
}
}
