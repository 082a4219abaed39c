//! The people of a phase as the handover sees them: who would be transferred (the reviewed
//! reconciliation), their consent, hold-backs and handover checks, the counts against the
//! quotas, and the phase report.

use std::collections::HashMap;

use homeward_kit::{
    audit, auth::Principal, idempotency::request_key, outbox::NewEvent, page::Page, timestamp,
};
use homeward_proto::exchange::v1 as pb;
use uuid::Uuid;

use crate::{
    convert::{self, Check},
    domain::{self, Counted, EntryOutcome, PhaseState},
    error::ExchangeError,
    grpc::{Exchange, Loaded, OFFICERS, Result, audit_entry, check_etag, parse_id},
    model::*,
    store::{DocWrite, Filter, Table, WriteBatch},
};

/// One person a party would hand over: a reviewed pair of the phase's reconciliation.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub item: Item,
    pub offer: EntryKey,
    pub request: EntryKey,
}

/// Everything recorded about the people of a phase, latest first where it matters.
pub struct Ledger {
    pub transfers: Vec<Transfer>,
    /// Latest consent per entry.
    pub consents: HashMap<EntryKey, Consent>,
    pub hold_backs: Vec<Loaded<HoldBack>>,
    /// Latest check per entry.
    pub checks: HashMap<EntryKey, HandoverCheck>,
    pub unlisted: Vec<HandoverCheck>,
}

impl Ledger {
    pub fn consent(&self, t: &Transfer) -> Option<&Consent> {
        self.consents
            .get(&t.offer)
            .or_else(|| self.consents.get(&t.request))
    }

    pub fn held_back(&self, t: &Transfer) -> Option<&HoldBack> {
        self.hold_backs
            .iter()
            .map(|h| &h.record)
            .find(|h| !h.lifted && h.entry == t.offer)
    }

    /// Where the person stands now.
    pub fn outcome(&self, t: &Transfer) -> EntryOutcome {
        if let Some(check) = self.checks.get(&t.offer) {
            return check.result.outcome();
        }
        if self.consent(t).is_some_and(|c| !c.willing) {
            return EntryOutcome::RefusedToReturn;
        }
        if self.held_back(t).is_some() {
            return EntryOutcome::HeldBack;
        }
        EntryOutcome::Pending
    }

    /// Counting form of the people who would be handed over now (refusals and hold-backs
    /// taken out).
    pub fn counted(
        &self,
        planned_at_us: Option<i64>,
        only: impl Fn(EntryOutcome) -> bool,
    ) -> Vec<(Counted, bool)> {
        let on = planned_at_us
            .map(timestamp::from_micros)
            .unwrap_or_else(time::OffsetDateTime::now_utc)
            .date();
        self.transfers
            .iter()
            .filter(|t| only(self.outcome(t)))
            .filter_map(|t| {
                let traits = t.item.traits.clone()?;
                let counted = Counted {
                    party: t.item.handing_party.clone(),
                    category: traits.category?,
                    sex: traits.sex,
                    age: traits.birth_date.and_then(|d| d.age_on(on)),
                    seriously_ill: traits.seriously_ill,
                    wounded: traits.wounded,
                };
                Some((counted, traits.birth_date.is_some_and(|d| d.day != 0)))
            })
            .collect()
    }
}

fn transfer(item: Item) -> Transfer {
    Transfer {
        offer: EntryKey {
            party: item.handing_party.clone(),
            kind: ListKind::Offer,
            reference: item.offer_reference.clone(),
        },
        request: EntryKey {
            party: item.receiving_party.clone(),
            kind: ListKind::Request,
            reference: item.request_reference.clone(),
        },
        item,
    }
}

impl Exchange {
    /// The reconciliation a phase's transfers come from: the frozen one once lists are frozen,
    /// the latest one before.
    fn ledger_reconciliation(phase: &Phase) -> Option<Uuid> {
        phase.frozen_reconciliation.or(phase.latest_reconciliation)
    }

    pub(crate) async fn ledger(&self, phase: &Phase) -> Result<Ledger> {
        let transfers = match Self::ledger_reconciliation(phase) {
            None => Vec::new(),
            Some(r) => self
                .items(r)
                .await?
                .into_iter()
                .map(|l| l.record)
                .filter(Item::transfers)
                .map(transfer)
                .collect(),
        };
        let pid = phase.id.to_string();
        let mut consents = HashMap::new();
        for stored in self
            .store
            .list(Table::Consents, &Filter::all_of(&pid))
            .await?
        {
            let c: Consent = stored.decode()?;
            if c.superseded_by.is_none() {
                consents.insert(c.entry.clone(), c);
            }
        }
        let hold_backs = self
            .store
            .list(Table::HoldBacks, &Filter::all_of(&pid))
            .await?
            .iter()
            .map(|s| {
                Ok(Loaded {
                    record: s.decode()?,
                    version: s.version,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut checks = HashMap::new();
        let mut unlisted = Vec::new();
        for stored in self
            .store
            .list(Table::HandoverChecks, &Filter::all_of(&pid))
            .await?
        {
            let c: HandoverCheck = stored.decode()?;
            if c.superseded_by.is_some() {
                continue;
            }
            match &c.entry {
                Some(entry) => {
                    checks.insert(entry.clone(), c);
                }
                None => unlisted.push(c),
            }
        }
        Ok(Ledger {
            transfers,
            consents,
            hold_backs,
            checks,
            unlisted,
        })
    }

    /// The counts of `people` against the phase's quotas and the agreement's parity.
    pub(crate) async fn count(
        &self,
        phase: &Phase,
        people: &[(Counted, bool)],
    ) -> Result<pb::CountCheck> {
        let agreement = self
            .agreement(&phase.agreement_id.to_string())
            .await?
            .record;
        let parties = [agreement.parties[0].as_str(), agreement.parties[1].as_str()];
        let counted: Vec<Counted> = people.iter().map(|(c, _)| c.clone()).collect();
        let check = domain::check_counts(&phase.quotas, parties, &counted, agreement.one_for_one);
        let mut out = pb::CountCheck {
            balanced: check.balanced(),
            problems: check.imbalances.clone(),
            ..Default::default()
        };
        for party in parties {
            let own: Vec<&(Counted, bool)> =
                people.iter().filter(|(c, _)| c.party == party).collect();
            let quotas = check
                .lines
                .iter()
                .filter(|l| l.party == party)
                .map(|l| {
                    let quota = &phase.quotas[l.quota];
                    let undetermined = own
                        .iter()
                        .filter(|(c, exact)| {
                            !c.outside_quotas()
                                && (quota.sex.is_some() && c.sex == domain::Sex::Unknown
                                    || quota.age_band.is_some() && (c.age.is_none() || !exact))
                        })
                        .count() as u32;
                    pb::QuotaCount {
                        quota: Some(convert::quota_to_pb(quota)),
                        counted: l.counted,
                        difference: l.counted as i32 - l.target as i32,
                        undetermined,
                    }
                })
                .collect();
            out.parties.push(pb::PartyCount {
                handing_party: party.to_string(),
                total: own.len() as u32,
                seriously_ill_or_wounded: own.iter().filter(|(c, _)| c.outside_quotas()).count()
                    as u32,
                quotas,
            });
        }
        Ok(out)
    }

    pub(crate) async fn check_phase_counts(
        &self,
        who: &Principal,
        req: pb::CheckPhaseCountsRequest,
    ) -> Result<pb::CheckPhaseCountsResponse> {
        who.require_any(crate::grpc::READERS)?;
        let phase = self.phase(&req.phase_id).await?.record;
        let Some(reconciliation) = Self::ledger_reconciliation(&phase) else {
            return Err(ExchangeError::refused(
                "NOT_RECONCILED",
                "the phase has no reconciliation yet: reconcile its lists first",
            ));
        };
        let ledger = self.ledger(&phase).await?;
        let people = ledger.counted(phase.planned_at_us, |o| {
            !matches!(o, EntryOutcome::RefusedToReturn | EntryOutcome::HeldBack)
        });
        Ok(pb::CheckPhaseCountsResponse {
            counts: Some(self.count(&phase, &people).await?),
            reconciliation_id: reconciliation.to_string(),
        })
    }

    /// The list entry `key` names, in the phase's frozen or latest lists.
    async fn find_entry(&self, phase: &Phase, key: &EntryKey) -> Result<Entry> {
        let version = match phase
            .frozen_lists
            .iter()
            .find(|l| l.party == key.party && l.kind == key.kind)
        {
            Some(frozen) => Some(frozen.version),
            None => self
                .latest_list(phase.id, &key.party, key.kind)
                .await?
                .map(|l| l.list.version),
        };
        let list = match version {
            Some(v) => Some(self.latest_or(phase.id, key, v).await?),
            None => None,
        };
        list.and_then(|l| l.entries.into_iter().find(|e| e.reference == key.reference))
            .ok_or_else(|| ExchangeError::NotFound {
                resource: "list entry",
                id: key.tag(),
            })
    }

    async fn latest_or(&self, phase: Uuid, key: &EntryKey, version: u32) -> Result<ListVersion> {
        let id = crate::grpc::list_id(
            phase,
            &ListRef {
                party: key.party.clone(),
                kind: key.kind,
                version,
            },
        );
        self.store
            .get(Table::ListVersions, &id)
            .await?
            .ok_or_else(|| ExchangeError::NotFound {
                resource: "list version",
                id: id.clone(),
            })?
            .decode()
            .map_err(Into::into)
    }

    /// The reviewed pair an entry belongs to, in the phase's frozen or latest reconciliation.
    pub(crate) async fn transfer_of(
        &self,
        phase: &Phase,
        key: &EntryKey,
    ) -> Result<Option<Transfer>> {
        let Some(reconciliation) = Self::ledger_reconciliation(phase) else {
            return Ok(None);
        };
        let rid = reconciliation.to_string();
        let tag = key.tag();
        let filter = Filter {
            tag: Some(&tag),
            ..Filter::all_of(&rid)
        };
        for stored in self.store.list(Table::ReconciliationItems, &filter).await? {
            let item: Item = stored.decode()?;
            if item.transfers() {
                return Ok(Some(transfer(item)));
            }
        }
        Ok(None)
    }

    /// The entry `key` names and the registry person it resolves to. A paired entry is found
    /// through its pair; any other is looked up in its list.
    async fn resolve_entry(&self, phase: &Phase, key: &EntryKey) -> Result<Option<Uuid>> {
        if let Some(t) = self.transfer_of(phase, key).await? {
            return Ok(t.item.person_id);
        }
        let entry = self.find_entry(phase, key).await?;
        Ok(match entry.subject {
            Subject::Person(p) => Some(p),
            Subject::Identity(_) => None,
        })
    }

    /// The consent that counts for a transfer: recorded against its offer entry, or else its
    /// request entry.
    async fn latest_consent(&self, phase: Uuid, t: &Transfer) -> Result<Option<Consent>> {
        for key in [&t.offer, &t.request] {
            let found = self
                .latest_about(Table::Consents, phase, key, |c: &Consent| {
                    c.superseded_by.is_none()
                })
                .await?;
            if let Some(c) = found {
                return Ok(Some(c.record));
            }
        }
        Ok(None)
    }

    /// The hold-back of an entry, unless lifted.
    async fn active_hold_back(&self, phase: Uuid, key: &EntryKey) -> Result<Option<HoldBack>> {
        let pid = phase.to_string();
        let filter = Filter {
            tag: Some("active"),
            ..Filter::all_of(&pid)
        };
        for stored in self.store.list(Table::HoldBacks, &filter).await? {
            let h: HoldBack = stored.decode()?;
            if h.entry == *key {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    /// The newest record of `table` about `key` that nothing superseded.
    async fn latest_about<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        phase: Uuid,
        key: &EntryKey,
        current: impl Fn(&T) -> bool,
    ) -> Result<Option<Loaded<T>>> {
        let pid = phase.to_string();
        let tag = key.tag();
        let filter = Filter {
            tag: Some(&tag),
            ..Filter::all_of(&pid)
        };
        let mut found = None;
        for stored in self.store.list(table, &filter).await? {
            let record: T = stored.decode()?;
            if current(&record) {
                found = Some(Loaded {
                    record,
                    version: stored.version,
                });
            }
        }
        Ok(found)
    }

    pub(crate) async fn record_consent(
        &self,
        who: &Principal,
        req: pb::RecordConsentRequest,
    ) -> Result<pb::RecordConsentResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("record_consent", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let c = req.consent.unwrap_or_default();
        let mut check = Check::default();
        let entry_key = convert::entry_key_from_pb(&mut check, "consent.entry", c.entry.as_ref());
        let willing = match pb::ConsentDecision::try_from(c.decision) {
            Ok(pb::ConsentDecision::Willing) => true,
            Ok(pb::ConsentDecision::Refuses) => false,
            _ => {
                check.add("consent.decision", "willing or refuses");
                false
            }
        };
        let interviewed_by = check.required("consent.interviewed_by", &c.interviewed_by, 200);
        let organisation = check.text(
            "consent.interviewer_organisation",
            &c.interviewer_organisation,
            200,
        );
        let interviewed_at_us = check.time("consent.interview_time", c.interview_time.as_ref());
        if interviewed_at_us.is_some_and(|t| t > timestamp::now_micros() + 3_600_000_000) {
            check.add("consent.interview_time", "in the future");
        }
        let place = check.text("consent.interview_place", &c.interview_place, 200);
        let language = check.text("consent.language", &c.language, 35);
        let note = check.text("consent.note", &c.note, 1_000);
        let phase_id = parse_id("consent.phase_id", &c.phase_id);
        check.finish(()).map_err(ExchangeError::Invalid)?;
        let phase = self.phase(&phase_id?.to_string()).await?.record;
        if matches!(phase.state, PhaseState::Draft) || phase.state.is_terminal() {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!(
                    "consent is recorded for a phase with lists; this one is {}",
                    phase.state.name()
                ),
            ));
        }
        let person_id = self.resolve_entry(&phase, &entry_key).await?;
        let pid = phase.id.to_string();
        let previous: Option<Loaded<Consent>> = self
            .latest_about(Table::Consents, phase.id, &entry_key, |c: &Consent| {
                c.superseded_by.is_none()
            })
            .await?;
        let consent = Consent {
            id: Uuid::now_v7(),
            phase_id: phase.id,
            entry: entry_key.clone(),
            person_id,
            willing,
            interviewed_by,
            interviewer_organisation: organisation,
            interviewed_at_us,
            interview_place: place,
            language,
            interpreter_present: c.interpreter_present,
            interviewed_in_private: c.interviewed_in_private,
            note,
            recorded_by: who.subject.clone(),
            recorded_at_us: timestamp::now_micros(),
            superseded_by: None,
        };
        let tag = entry_key.tag();
        let mut docs = vec![DocWrite::new(
            Table::Consents,
            consent.id.to_string(),
            &pid,
            &tag,
            &consent,
        )];
        if let Some(prev) = previous {
            let mut old = prev.record.clone();
            old.superseded_by = Some(consent.id);
            docs.push(
                DocWrite::new(Table::Consents, old.id.to_string(), &pid, &tag, &old)
                    .replacing(prev.version),
            );
        }
        let out = convert::consent_to_pb(&consent);
        let batch = WriteBatch {
            docs,
            events: vec![NewEvent::new(
                "exchange.consent.recorded",
                &pid,
                &pb::ConsentRecorded {
                    phase_id: pid.clone(),
                    consent_id: consent.id.to_string(),
                    entry: Some(convert::entry_key_to_pb(&entry_key)),
                    person_id: person_id.map(|p| p.to_string()).unwrap_or_default(),
                    decision: out.decision,
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.consent.record",
                &pid,
                &key.request_id,
                serde_json::json!({"entry": entry_key.tag(), "willing": willing}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::RecordConsentResponse { consent: Some(out) })
            .await
    }

    pub(crate) async fn list_consent_records(
        &self,
        who: &Principal,
        req: pb::ListConsentRecordsRequest,
    ) -> Result<pb::ListConsentRecordsResponse> {
        who.require_any(crate::grpc::READERS)?;
        let pid = parse_id("phase_id", &req.phase_id)?.to_string();
        let willing = match pb::ConsentDecision::try_from(req.decision) {
            Ok(pb::ConsentDecision::Unspecified) => None,
            Ok(pb::ConsentDecision::Willing) => Some(true),
            Ok(pb::ConsentDecision::Refuses) => Some(false),
            Err(_) => return Err(ExchangeError::invalid("decision", "willing or refuses")),
        };
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("consents:{pid}:{willing:?}:{}", req.include_superseded),
        )?;
        let rows = self
            .store
            .list(
                Table::Consents,
                &Filter {
                    parent: &pid,
                    tag: None,
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut consents = Vec::new();
        for row in &rows {
            let c: Consent = row.decode()?;
            if (req.include_superseded || c.superseded_by.is_none())
                && willing.is_none_or(|w| w == c.willing)
            {
                consents.push(convert::consent_to_pb(&c));
            }
        }
        Ok(pb::ListConsentRecordsResponse {
            consents,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    fn hold_back_event(h: &HoldBack) -> pb::HoldBackChanged {
        pb::HoldBackChanged {
            phase_id: h.phase_id.to_string(),
            hold_back_id: h.id.to_string(),
            entry: Some(convert::entry_key_to_pb(&h.entry)),
            person_id: h.person_id.map(|p| p.to_string()).unwrap_or_default(),
            reason: convert::hold_back_to_pb(h, 1).reason,
            other_side_informed: h.other_side_informed,
            lifted: h.lifted,
        }
    }

    pub(crate) async fn hold_back_person(
        &self,
        who: &Principal,
        req: pb::HoldBackPersonRequest,
    ) -> Result<pb::HoldBackPersonResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("hold_back_person", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let h = req.hold_back.unwrap_or_default();
        let mut check = Check::default();
        let entry_key = convert::entry_key_from_pb(&mut check, "hold_back.entry", h.entry.as_ref());
        if entry_key.kind != ListKind::Offer {
            check.add(
                "hold_back.entry.kind",
                "a hold-back concerns an entry of the holding party's offer list",
            );
        }
        let reason = convert::reason_from_pb(h.reason);
        if reason.is_none() {
            check.add(
                "hold_back.reason",
                "criminal proceedings, unfit to travel, not available or other",
            );
        }
        let detail = check.text("hold_back.reason_detail", &h.reason_detail, 1_000);
        let via = check.text("hold_back.informed_via", &h.informed_via, 200);
        let informed_at_us = check.time("hold_back.inform_time", h.inform_time.as_ref());
        let phase_id = parse_id("hold_back.phase_id", &h.phase_id);
        check.finish(()).map_err(ExchangeError::Invalid)?;
        let phase = self.phase(&phase_id?.to_string()).await?.record;
        if !matches!(
            phase.state,
            PhaseState::Negotiating | PhaseState::ListsFrozen | PhaseState::InHandover
        ) {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!(
                    "hold-backs are recorded while lists exist and before completion; the phase is {}",
                    phase.state.name()
                ),
            ));
        }
        let person_id = self.resolve_entry(&phase, &entry_key).await?;
        if self.active_hold_back(phase.id, &entry_key).await?.is_some() {
            return Err(ExchangeError::refused(
                "ALREADY_HELD_BACK",
                "this entry is already held back; update that hold-back instead",
            ));
        }
        let now = timestamp::now_micros();
        let record = HoldBack {
            id: Uuid::now_v7(),
            phase_id: phase.id,
            entry: entry_key.clone(),
            person_id,
            reason: reason.unwrap_or(HoldBackReason::Other),
            reason_detail: detail,
            other_side_informed: h.other_side_informed,
            informed_at_us: informed_at_us.or(h.other_side_informed.then_some(now)),
            informed_via: via,
            lifted: false,
            recorded_by: who.subject.clone(),
            created_at_us: now,
            updated_at_us: now,
        };
        let pid = phase.id.to_string();
        let out = convert::hold_back_to_pb(&record, 1);
        let batch = WriteBatch {
            docs: vec![DocWrite::new(
                Table::HoldBacks,
                record.id.to_string(),
                &pid,
                "active",
                &record,
            )],
            events: vec![NewEvent::new(
                "exchange.hold_back.recorded",
                &pid,
                &Self::hold_back_event(&record),
            )],
            audit: vec![audit_entry(
                who,
                "exchange.hold_back.record",
                &pid,
                &key.request_id,
                serde_json::json!({"entry": entry_key.tag(), "reason": record.reason}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::HoldBackPersonResponse {
                hold_back: Some(out),
            },
        )
        .await
    }

    pub(crate) async fn update_hold_back(
        &self,
        who: &Principal,
        req: pb::UpdateHoldBackRequest,
    ) -> Result<pb::UpdateHoldBackResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("update_hold_back", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let paths: Vec<String> = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(ExchangeError::invalid(
                "update_mask",
                "name at least one field to change",
            ));
        }
        let given = req.hold_back.unwrap_or_default();
        let id = parse_id("hold_back.id", &given.id)?.to_string();
        let stored = self
            .store
            .get(Table::HoldBacks, &id)
            .await?
            .ok_or_else(|| ExchangeError::NotFound {
                resource: "hold-back",
                id: id.clone(),
            })?;
        check_etag(&given.etag, stored.version)?;
        let current: HoldBack = stored.decode()?;
        let phase = self.phase(&current.phase_id.to_string()).await?.record;
        if phase.state.is_terminal() {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!("the phase is {}", phase.state.name()),
            ));
        }
        let mut next = current.clone();
        let mut check = Check::default();
        for path in &paths {
            match path.as_str() {
                "other_side_informed" => next.other_side_informed = given.other_side_informed,
                "inform_time" => next.informed_at_us = check.time("hold_back.inform_time", given.inform_time.as_ref()),
                "informed_via" => next.informed_via = check.text("hold_back.informed_via", &given.informed_via, 200),
                "reason_detail" => next.reason_detail = check.text("hold_back.reason_detail", &given.reason_detail, 1_000),
                "lifted" => next.lifted = given.lifted,
                other => check.add("update_mask", format!("`{other}` cannot be changed (other_side_informed, inform_time, informed_via, reason_detail, lifted)")),
            }
        }
        check.finish(()).map_err(ExchangeError::Invalid)?;
        let now = timestamp::now_micros();
        if next.other_side_informed && next.informed_at_us.is_none() {
            next.informed_at_us = Some(now);
        }
        next.updated_at_us = now;
        let pid = phase.id.to_string();
        let out = convert::hold_back_to_pb(&next, stored.version + 1);
        let batch = WriteBatch {
            docs: vec![
                DocWrite::new(
                    Table::HoldBacks,
                    &id,
                    &pid,
                    if next.lifted { "lifted" } else { "active" },
                    &next,
                )
                .replacing(stored.version),
            ],
            events: vec![NewEvent::new(
                "exchange.hold_back.updated",
                &pid,
                &Self::hold_back_event(&next),
            )],
            audit: vec![audit_entry(
                who,
                "exchange.hold_back.update",
                &pid,
                &key.request_id,
                serde_json::json!({"hold_back": id, "fields": paths}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::UpdateHoldBackResponse {
                hold_back: Some(out),
            },
        )
        .await
    }

    pub(crate) async fn list_hold_backs(
        &self,
        who: &Principal,
        req: pb::ListHoldBacksRequest,
    ) -> Result<pb::ListHoldBacksResponse> {
        who.require_any(crate::grpc::READERS)?;
        let pid = parse_id("phase_id", &req.phase_id)?.to_string();
        let tag = (!req.include_lifted).then_some("active");
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("hold_backs:{pid}:{tag:?}"),
        )?;
        let rows = self
            .store
            .list(
                Table::HoldBacks,
                &Filter {
                    parent: &pid,
                    tag,
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let hold_backs = rows
            .iter()
            .map(|r| Ok(convert::hold_back_to_pb(&r.decode()?, r.version)))
            .collect::<Result<Vec<_>>>()?;
        Ok(pb::ListHoldBacksResponse {
            hold_backs,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    pub(crate) async fn start_negotiation(
        &self,
        who: &Principal,
        req: pb::StartNegotiationRequest,
    ) -> Result<pb::StartNegotiationResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("start_negotiation", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let phase = self
            .plain_step(
                who,
                key,
                &req.phase_id,
                &req.etag,
                domain::Step::StartNegotiation,
                "terms set",
                async |_| Ok(()),
            )
            .await?;
        Ok(pb::StartNegotiationResponse { phase: Some(phase) })
    }

    pub(crate) async fn start_handover(
        &self,
        who: &Principal,
        req: pb::StartHandoverRequest,
    ) -> Result<pb::StartHandoverResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("start_handover", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let phase = self
            .plain_step(who, key, &req.phase_id, &req.etag, domain::Step::StartHandover, "handover begins", async |phase| {
                let ledger = self.ledger(phase).await?;
                let uninformed = ledger.hold_backs.iter().filter(|h| !h.record.lifted && !h.record.other_side_informed).count();
                if uninformed > 0 {
                    return Err(ExchangeError::refused(
                        "HOLD_BACK_NOT_INFORMED",
                        format!("{uninformed} hold-backs have not been told to the other side; record that they were informed first"),
                    ));
                }
                let without: Vec<&str> = ledger
                    .transfers
                    .iter()
                    .filter(|t| ledger.held_back(t).is_none() && ledger.consent(t).is_none())
                    .map(|t| t.offer.reference.as_str())
                    .collect();
                if !without.is_empty() {
                    return Err(ExchangeError::refused(
                        "CONSENT_MISSING",
                        format!(
                            "{} people to be handed over have no recorded consent (e.g. {}): nobody is transferred without one",
                            without.len(),
                            without.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                Ok(())
            })
            .await?;
        Ok(pb::StartHandoverResponse { phase: Some(phase) })
    }

    pub(crate) async fn record_handover_check(
        &self,
        who: &Principal,
        req: pb::RecordHandoverCheckRequest,
    ) -> Result<pb::RecordHandoverCheckResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("record_handover_check", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let c = req.check.unwrap_or_default();
        let mut check = Check::default();
        let result = convert::result_from_pb(c.result);
        if result.is_none() {
            check.add("check.result", "verified, mismatch, not on list or missing");
        }
        let result = result.unwrap_or(CheckResult::Missing);
        let handing_party = check.party("check.handing_party", &c.handing_party);
        let entry_key = (result != CheckResult::NotOnList)
            .then(|| convert::entry_key_from_pb(&mut check, "check.entry", c.entry.as_ref()));
        if entry_key
            .as_ref()
            .is_some_and(|k| k.kind != ListKind::Offer || k.party != handing_party)
        {
            check.add(
                "check.entry",
                "the entry on the handing party's frozen offer list",
            );
        }
        let presented = c
            .presented_identity
            .as_ref()
            .map(|p| convert::listed_from_pb(&mut check, "check.presented_identity", p));
        if matches!(result, CheckResult::Mismatch | CheckResult::NotOnList) && presented.is_none() {
            check.add(
                "check.presented_identity",
                "required: who was actually presented must be on record",
            );
        }
        if c.methods.iter().any(|m| !matches!(pb::IdentityCheckMethod::try_from(*m), Ok(m) if m != pb::IdentityCheckMethod::Unspecified)) {
            check.add("check.methods", "known identity check methods only");
        }
        if result == CheckResult::Verified && c.methods.is_empty() {
            check.add(
                "check.methods",
                "how identity was established is required to verify",
            );
        }
        let checked_by = check.text("check.checked_by", &c.checked_by, 200);
        let note = check.text("check.note", &c.note, 1_000);
        let checked_at_us = check.time("check.check_time", c.check_time.as_ref());
        let phase_id = parse_id("check.phase_id", &c.phase_id);
        check.finish(()).map_err(ExchangeError::Invalid)?;
        let phase = self.phase(&phase_id?.to_string()).await?.record;
        if phase.state != PhaseState::InHandover {
            return Err(ExchangeError::refused(
                "PHASE_STATE",
                format!(
                    "checks are recorded during the handover; the phase is {}",
                    phase.state.name()
                ),
            ));
        }
        let transfer = match &entry_key {
            None => None,
            Some(k) => Some(self.transfer_of(&phase, k).await?.ok_or_else(|| {
                ExchangeError::refused(
                    "NOT_ON_FROZEN_LIST",
                    format!("{} is not a person the frozen lists hand over", k.tag()),
                )
            })?),
        };
        if result == CheckResult::Verified
            && let Some(t) = &transfer
        {
            if !self
                .latest_consent(phase.id, t)
                .await?
                .is_some_and(|c| c.willing)
            {
                return Err(ExchangeError::refused(
                    "NO_CONSENT",
                    "this person has no recorded will to return: nobody is transferred without it",
                ));
            }
            if self.active_hold_back(phase.id, &t.offer).await?.is_some() {
                return Err(ExchangeError::refused(
                    "HELD_BACK",
                    "this person is held back; lift the hold-back first",
                ));
            }
        }
        let record = HandoverCheck {
            id: Uuid::now_v7(),
            phase_id: phase.id,
            handing_party: handing_party.clone(),
            entry: entry_key.clone(),
            person_id: transfer.as_ref().and_then(|t| t.item.person_id),
            result,
            presented,
            methods: c.methods.clone(),
            checked_by: if checked_by.is_empty() {
                who.subject.clone()
            } else {
                checked_by
            },
            checked_at_us: checked_at_us.unwrap_or_else(timestamp::now_micros),
            note,
            superseded_by: None,
        };
        let pid = phase.id.to_string();
        let tag = record.tag();
        let mut docs = vec![DocWrite::new(
            Table::HandoverChecks,
            record.id.to_string(),
            &pid,
            &tag,
            &record,
        )];
        if let Some(k) = &entry_key
            && let Some(previous) = self
                .latest_about(Table::HandoverChecks, phase.id, k, |c: &HandoverCheck| {
                    c.superseded_by.is_none()
                })
                .await?
        {
            let mut old = previous.record;
            old.superseded_by = Some(record.id);
            docs.push(
                DocWrite::new(Table::HandoverChecks, old.id.to_string(), &pid, &tag, &old)
                    .replacing(previous.version),
            );
        }
        let out = convert::check_to_pb(&record);
        let batch = WriteBatch {
            docs,
            events: vec![NewEvent::new(
                "exchange.handover.checked",
                &pid,
                &pb::HandoverChecked {
                    phase_id: pid.clone(),
                    check_id: record.id.to_string(),
                    handing_party,
                    entry: entry_key.as_ref().map(convert::entry_key_to_pb),
                    person_id: record.person_id.map(|p| p.to_string()).unwrap_or_default(),
                    result: out.result,
                },
            )],
            audit: vec![audit_entry(
                who,
                "exchange.handover.check",
                &pid,
                &key.request_id,
                serde_json::json!({"entry": entry_key.map(|k| k.tag()), "result": result.tag()}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::RecordHandoverCheckResponse { check: Some(out) })
            .await
    }

    pub(crate) async fn list_handover_checks(
        &self,
        who: &Principal,
        req: pb::ListHandoverChecksRequest,
    ) -> Result<pb::ListHandoverChecksResponse> {
        who.require_any(crate::grpc::READERS)?;
        let pid = parse_id("phase_id", &req.phase_id)?.to_string();
        let result = match req.result {
            0 => None,
            r => Some(
                convert::result_from_pb(r)
                    .ok_or_else(|| ExchangeError::invalid("result", "not a check result"))?,
            ),
        };
        let party = req.handing_party.trim().to_uppercase();
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("checks:{pid}:{result:?}:{party}:{}", req.include_superseded),
        )?;
        let rows = self
            .store
            .list(
                Table::HandoverChecks,
                &Filter {
                    parent: &pid,
                    tag: None,
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut checks = Vec::new();
        for row in &rows {
            let c: HandoverCheck = row.decode()?;
            if (req.include_superseded || c.superseded_by.is_none())
                && (party.is_empty() || c.handing_party == party)
                && result.is_none_or(|r| r == c.result)
            {
                checks.push(convert::check_to_pb(&c));
            }
        }
        Ok(pb::ListHandoverChecksResponse {
            checks,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    /// Planned against handed over, per handing party.
    pub(crate) fn tallies(&self, agreement: &Agreement, ledger: &Ledger) -> Vec<Tally> {
        agreement
            .parties
            .iter()
            .map(|party| {
                let mut t = Tally {
                    handing_party: party.clone(),
                    ..Default::default()
                };
                for transfer in ledger
                    .transfers
                    .iter()
                    .filter(|x| &x.item.handing_party == party)
                {
                    t.planned += 1;
                    match ledger.outcome(transfer) {
                        EntryOutcome::HandedOver => {
                            t.verified += 1;
                            if transfer
                                .item
                                .traits
                                .as_ref()
                                .is_some_and(|x| x.seriously_ill || x.wounded)
                            {
                                t.seriously_ill_or_wounded += 1;
                            }
                        }
                        EntryOutcome::IdentityMismatch => t.mismatched += 1,
                        EntryOutcome::DidNotAppear | EntryOutcome::Pending => t.missing += 1,
                        EntryOutcome::RefusedToReturn => t.refused += 1,
                        EntryOutcome::HeldBack => t.held_back += 1,
                    }
                }
                t.not_on_list = ledger
                    .unlisted
                    .iter()
                    .filter(|c| &c.handing_party == party)
                    .count() as u32;
                t
            })
            .collect()
    }

    pub(crate) async fn get_phase_report(
        &self,
        who: &Principal,
        req: pb::GetPhaseReportRequest,
    ) -> Result<pb::GetPhaseReportResponse> {
        who.require_any(crate::grpc::READERS)?;
        let phase = self.phase(&req.phase_id).await?;
        let agreement = self
            .agreement(&phase.record.agreement_id.to_string())
            .await?;
        let ledger = self.ledger(&phase.record).await?;
        let tallies = if phase.record.tallies.is_empty() {
            self.tallies(&agreement.record, &ledger)
        } else {
            phase.record.tallies.clone()
        };
        let planned = ledger.counted(phase.record.planned_at_us, |_| true);
        let handed = ledger.counted(phase.record.planned_at_us, |o| {
            o == EntryOutcome::HandedOver
        });
        let head = audit::verify(&self.store.db(), None).await?;
        let reconciliation = match Self::ledger_reconciliation(&phase.record) {
            None => None,
            Some(id) => match self
                .store
                .get(Table::Reconciliations, &id.to_string())
                .await?
            {
                None => None,
                Some(stored) => Some(convert::reconciliation_to_pb(&stored.decode()?, false)),
            },
        };
        let mut exceptions: Vec<pb::HandoverCheck> = ledger
            .checks
            .values()
            .filter(|c| c.result != CheckResult::Verified)
            .chain(ledger.unlisted.iter())
            .map(convert::check_to_pb)
            .collect();
        exceptions.sort_by(|a, b| a.id.cmp(&b.id));
        let mut refusals: Vec<pb::ConsentRecord> = ledger
            .consents
            .values()
            .filter(|c| !c.willing)
            .map(convert::consent_to_pb)
            .collect();
        refusals.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(pb::GetPhaseReportResponse {
            report: Some(pb::PhaseReport {
                phase: Some(convert::phase_to_pb(&phase.record, phase.version)),
                agreement: Some(self.agreement_pb(&agreement).await?),
                tallies: tallies.iter().map(convert::tally_to_pb).collect(),
                planned_counts: Some(self.count(&phase.record, &planned).await?),
                handed_over_counts: Some(self.count(&phase.record, &handed).await?),
                refusals,
                hold_backs: ledger
                    .hold_backs
                    .iter()
                    .filter(|h| !h.record.lifted)
                    .map(|h| convert::hold_back_to_pb(&h.record, h.version))
                    .collect(),
                exceptions,
                generate_time: convert::micros(timestamp::now_micros()),
                audit_head_sequence: head.head_sequence,
                audit_head_hash: head.head_hash,
                reconciliation,
                breakdown: breakdown(&ledger),
            }),
        })
    }
}

/// Everyone on the lists by handing party, category, sex and outcome, in a stable order.
fn breakdown(ledger: &Ledger) -> Vec<pb::ReportBreakdown> {
    let mut cells: std::collections::BTreeMap<(String, i32, i32, &'static str), u32> =
        Default::default();
    for t in &ledger.transfers {
        let traits = t.item.traits.as_ref();
        let key = (
            t.item.handing_party.clone(),
            convert::category_to_pb(traits.and_then(|x| x.category)),
            convert::sex_to_pb(traits.map(|x| x.sex).unwrap_or(domain::Sex::Unknown)),
            ledger.outcome(t).name(),
        );
        *cells.entry(key).or_default() += 1;
    }
    cells
        .into_iter()
        .map(
            |((handing_party, category, sex, outcome), count)| pb::ReportBreakdown {
                handing_party,
                category,
                sex,
                outcome: outcome.to_string(),
                count,
            },
        )
        .collect()
}
