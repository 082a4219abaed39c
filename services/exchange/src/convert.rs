//! Between the contract and the records: incoming messages become records here, and this is the
//! one place where "missing" and "invalid" are decided (every problem is collected, with the
//! field it concerns); records become messages on the way out.

use homeward_kit::timestamp;
use homeward_proto::{common::v1 as common, exchange::v1 as pb, registry::v1 as registry};
use uuid::Uuid;

use crate::{
    domain::{AgeBand, Category, PhaseState, Quota, Sex},
    model::*,
};

pub const MAX_ENTRIES: usize = 5_000;
const MAX_TEXT: usize = 1_000;
const MAX_SHORT: usize = 200;
const MAX_NAMES: usize = 8;
const MAX_DOCUMENTS: usize = 8;
const MAX_QUOTAS: usize = 50;

pub use homeward_kit::check::Check;

pub fn micros(us: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp::micros_to_proto(us))
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

pub fn state_to_pb(state: PhaseState) -> pb::PhaseState {
    match state {
        PhaseState::Draft => pb::PhaseState::Draft,
        PhaseState::Negotiating => pb::PhaseState::Negotiating,
        PhaseState::ListsFrozen => pb::PhaseState::ListsFrozen,
        PhaseState::InHandover => pb::PhaseState::InHandover,
        PhaseState::Completed => pb::PhaseState::Completed,
        PhaseState::PartiallyCompleted => pb::PhaseState::PartiallyCompleted,
        PhaseState::Cancelled => pb::PhaseState::Cancelled,
    }
}

pub fn state_from_pb(state: i32) -> Option<PhaseState> {
    Some(match pb::PhaseState::try_from(state).ok()? {
        pb::PhaseState::Unspecified => return None,
        pb::PhaseState::Draft => PhaseState::Draft,
        pb::PhaseState::Negotiating => PhaseState::Negotiating,
        pb::PhaseState::ListsFrozen => PhaseState::ListsFrozen,
        pb::PhaseState::InHandover => PhaseState::InHandover,
        pb::PhaseState::Completed => PhaseState::Completed,
        pb::PhaseState::PartiallyCompleted => PhaseState::PartiallyCompleted,
        pb::PhaseState::Cancelled => PhaseState::Cancelled,
    })
}

pub fn state_tag(state: PhaseState) -> &'static str {
    match state {
        PhaseState::Draft => "draft",
        PhaseState::Negotiating => "negotiating",
        PhaseState::ListsFrozen => "lists_frozen",
        PhaseState::InHandover => "in_handover",
        PhaseState::Completed => "completed",
        PhaseState::PartiallyCompleted => "partially_completed",
        PhaseState::Cancelled => "cancelled",
    }
}

pub fn kind_from_pb(check: &mut Check, field: &str, kind: i32) -> ListKind {
    match pb::ListKind::try_from(kind) {
        Ok(pb::ListKind::Request) => ListKind::Request,
        Ok(pb::ListKind::Offer) => ListKind::Offer,
        _ => {
            check.add(field, "request or offer");
            ListKind::Request
        }
    }
}

pub fn kind_to_pb(kind: ListKind) -> pb::ListKind {
    match kind {
        ListKind::Request => pb::ListKind::Request,
        ListKind::Offer => pb::ListKind::Offer,
    }
}

fn category_from_pb(category: i32) -> Option<Category> {
    match common::PersonCategory::try_from(category).ok()? {
        common::PersonCategory::ServiceMember => Some(Category::ServiceMember),
        common::PersonCategory::Civilian => Some(Category::Civilian),
        common::PersonCategory::Unspecified => None,
    }
}

pub fn category_to_pb(category: Option<Category>) -> i32 {
    match category {
        Some(Category::ServiceMember) => common::PersonCategory::ServiceMember as i32,
        Some(Category::Civilian) => common::PersonCategory::Civilian as i32,
        None => 0,
    }
}

pub fn sex_from_pb(sex: i32) -> Sex {
    match common::Sex::try_from(sex) {
        Ok(common::Sex::Male) => Sex::Male,
        Ok(common::Sex::Female) => Sex::Female,
        _ => Sex::Unknown,
    }
}

pub fn sex_to_pb(sex: Sex) -> i32 {
    match sex {
        Sex::Male => common::Sex::Male as i32,
        Sex::Female => common::Sex::Female as i32,
        Sex::Unknown => 0,
    }
}

pub fn date_from_pb(
    check: &mut Check,
    field: &str,
    date: Option<&common::PartialDate>,
) -> Option<PartialDate> {
    let d = date?;
    if d.year == 0 && d.month == 0 && d.day == 0 {
        return None;
    }
    let valid_day = d.day == 0
        || (d.month != 0
            && time::Month::try_from(d.month as u8)
                .ok()
                .and_then(|m| time::Date::from_calendar_date(d.year, m, d.day as u8).ok())
                .is_some());
    if !(1850..=2200).contains(&d.year)
        || !(0..=12).contains(&d.month)
        || !(0..=31).contains(&d.day)
        || !valid_day
    {
        check.add(
            field,
            "a date with a year, optionally month and day (0 for unknown)",
        );
        return None;
    }
    Some(PartialDate {
        year: d.year,
        month: d.month as u8,
        day: d.day as u8,
    })
}

pub fn date_to_pb(date: Option<PartialDate>) -> Option<common::PartialDate> {
    date.map(|d| common::PartialDate {
        year: d.year,
        month: i32::from(d.month),
        day: i32::from(d.day),
    })
}

pub fn quotas_from_pb(
    check: &mut Check,
    field: &str,
    quotas: &[pb::Quota],
    parties: Option<&[String; 2]>,
) -> Vec<Quota> {
    if quotas.len() > MAX_QUOTAS {
        check.add(field, format!("at most {MAX_QUOTAS} lines"));
        return Vec::new();
    }
    quotas
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let f = format!("{field}[{i}]");
            let party = q.party.trim();
            let party = (!party.is_empty()).then(|| check.party(&format!("{f}.party"), party));
            if let (Some(p), Some(parties)) = (&party, parties)
                && !parties.contains(p)
            {
                check.add(format!("{f}.party"), "not one of the agreement's parties");
            }
            if q.count == 0 {
                check.add(format!("{f}.count"), "at least 1");
            }
            let age_band = q.age_band.as_ref().map(|b| {
                if b.min_age > 150 || b.max_age > 150 || (b.max_age != 0 && b.max_age < b.min_age) {
                    check.add(
                        format!("{f}.age_band"),
                        "ages from 0 to 150, max at least min (0: no upper bound)",
                    );
                }
                AgeBand {
                    min: b.min_age.min(150) as u8,
                    max: (b.max_age != 0).then_some(b.max_age.min(150) as u8),
                }
            });
            let sex = match sex_from_pb(q.sex) {
                Sex::Unknown => None,
                s => Some(s),
            };
            Quota {
                party,
                category: category_from_pb(q.category),
                sex,
                age_band,
                count: q.count,
            }
        })
        .collect()
}

pub fn quota_to_pb(q: &Quota) -> pb::Quota {
    pb::Quota {
        party: q.party.clone().unwrap_or_default(),
        category: category_to_pb(q.category),
        sex: q.sex.map(sex_to_pb).unwrap_or_default(),
        age_band: q.age_band.map(|b| pb::AgeBand {
            min_age: u32::from(b.min),
            max_age: b.max.map(u32::from).unwrap_or(0),
        }),
        count: q.count,
    }
}

pub fn agreement_to_pb(
    a: &Agreement,
    version: i64,
    progress: Vec<pb::PartyProgress>,
) -> pb::Agreement {
    pb::Agreement {
        id: a.id.to_string(),
        etag: etag(version),
        title: a.title.clone(),
        parties: a.parties.to_vec(),
        mediators: a.mediators.clone(),
        agreement_date: date_to_pb(a.date),
        place: a.place.clone(),
        quotas: a.quotas.iter().map(quota_to_pb).collect(),
        one_for_one: a.one_for_one,
        document_reference: a.document_reference.clone(),
        progress,
        create_time: micros(a.created_at_us),
        update_time: micros(a.updated_at_us),
    }
}

pub fn list_ref_to_pb(r: &ListRef) -> pb::ListVersionRef {
    pb::ListVersionRef {
        party: r.party.clone(),
        kind: kind_to_pb(r.kind) as i32,
        version: r.version,
    }
}

pub fn phase_to_pb(p: &Phase, version: i64) -> pb::Phase {
    pb::Phase {
        id: p.id.to_string(),
        etag: etag(version),
        agreement_id: p.agreement_id.to_string(),
        number: p.number,
        title: p.title.clone(),
        planned_time: p.planned_at_us.and_then(micros),
        place: p.place.clone(),
        quotas: p.quotas.iter().map(quota_to_pb).collect(),
        state: state_to_pb(p.state) as i32,
        state_time: micros(p.state_at_us),
        latest_reconciliation_id: p
            .latest_reconciliation
            .map(|r| r.to_string())
            .unwrap_or_default(),
        frozen_lists: p.frozen_lists.iter().map(list_ref_to_pb).collect(),
        frozen_reconciliation_id: p
            .frozen_reconciliation
            .map(|r| r.to_string())
            .unwrap_or_default(),
        imbalance_reason: p.imbalance_reason.clone(),
        outcome_note: p.outcome_note.clone(),
        create_time: micros(p.created_at_us),
        update_time: micros(p.updated_at_us),
    }
}

fn name_from_pb(check: &mut Check, field: &str, n: &common::PersonName) -> Name {
    let name = Name {
        script: n.script,
        given: check.text(&format!("{field}.given"), &n.given, MAX_SHORT),
        family: check.text(&format!("{field}.family"), &n.family, MAX_SHORT),
        patronymic: check.text(&format!("{field}.patronymic"), &n.patronymic, MAX_SHORT),
        source: n.source,
        language: check.text(&format!("{field}.language"), &n.language, 35),
    };
    if name.given.is_empty() && name.family.is_empty() {
        check.add(field, "a family or given name is required");
    }
    name
}

fn name_to_pb(n: &Name) -> common::PersonName {
    common::PersonName {
        script: n.script,
        given: n.given.clone(),
        family: n.family.clone(),
        patronymic: n.patronymic.clone(),
        source: n.source,
        language: n.language.clone(),
    }
}

pub fn listed_from_pb(check: &mut Check, field: &str, i: &pb::ListedIdentity) -> Listed {
    if i.names.is_empty() {
        check.add(format!("{field}.names"), "at least one name");
    }
    if i.names.len() > MAX_NAMES {
        check.add(format!("{field}.names"), format!("at most {MAX_NAMES}"));
    }
    if i.documents.len() > MAX_DOCUMENTS {
        check.add(
            format!("{field}.documents"),
            format!("at most {MAX_DOCUMENTS}"),
        );
    }
    Listed {
        names: i
            .names
            .iter()
            .take(MAX_NAMES)
            .enumerate()
            .map(|(k, n)| name_from_pb(check, &format!("{field}.names[{k}]"), n))
            .collect(),
        birth_date: date_from_pb(check, &format!("{field}.birth_date"), i.birth_date.as_ref()),
        birth_place: check.text(&format!("{field}.birth_place"), &i.birth_place, MAX_SHORT),
        sex: match sex_from_pb(i.sex) {
            Sex::Unknown => None,
            s => Some(s),
        },
        category: category_from_pb(i.category),
        rank: check.text(&format!("{field}.rank"), &i.rank, MAX_SHORT),
        unit: check.text(&format!("{field}.unit"), &i.unit, MAX_SHORT),
        service_number: check.text(&format!("{field}.service_number"), &i.service_number, 64),
        documents: i
            .documents
            .iter()
            .take(MAX_DOCUMENTS)
            .enumerate()
            .map(|(k, d)| Document {
                kind: d.r#type,
                number: check.required(&format!("{field}.documents[{k}].number"), &d.number, 64),
                issuing_country: check.text(
                    &format!("{field}.documents[{k}].issuing_country"),
                    &d.issuing_country,
                    8,
                ),
            })
            .collect(),
        citizenship: check.text(&format!("{field}.citizenship"), &i.citizenship, 8),
        detention_place: check.text(
            &format!("{field}.detention_place"),
            &i.detention_place,
            MAX_SHORT,
        ),
        original_text: check.text(
            &format!("{field}.original_text"),
            &i.original_text,
            MAX_TEXT,
        ),
    }
}

pub fn listed_to_pb(l: &Listed) -> pb::ListedIdentity {
    pb::ListedIdentity {
        names: l.names.iter().map(name_to_pb).collect(),
        birth_date: date_to_pb(l.birth_date),
        birth_place: l.birth_place.clone(),
        sex: l.sex.map(sex_to_pb).unwrap_or_default(),
        category: category_to_pb(l.category),
        rank: l.rank.clone(),
        unit: l.unit.clone(),
        service_number: l.service_number.clone(),
        documents: l
            .documents
            .iter()
            .map(|d| common::IdentityDocument {
                r#type: d.kind,
                number: d.number.clone(),
                issuing_country: d.issuing_country.clone(),
            })
            .collect(),
        citizenship: l.citizenship.clone(),
        detention_place: l.detention_place.clone(),
        original_text: l.original_text.clone(),
    }
}

/// The identity as the registry's matcher takes it.
pub fn listed_to_candidate(reference: &str, l: &Listed) -> registry::CandidateIdentity {
    let i = listed_to_pb(l);
    registry::CandidateIdentity {
        reference: reference.to_string(),
        names: i.names,
        birth_date: i.birth_date,
        sex: i.sex,
        category: i.category,
        unit: i.unit,
        service_number: i.service_number,
        documents: i.documents,
    }
}

pub fn entries_from_pb(check: &mut Check, entries: &[pb::ListEntry]) -> Vec<Entry> {
    if entries.len() > MAX_ENTRIES {
        check.add("entries", format!("at most {MAX_ENTRIES} per list"));
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let field = format!("entries[{i}]");
            let reference = check.required(&format!("{field}.reference"), &e.reference, 64);
            if !reference.is_empty() && !seen.insert(reference.clone()) {
                check.add(
                    format!("{field}.reference"),
                    "used by another entry of this list",
                );
            }
            let subject = match &e.subject {
                Some(pb::list_entry::Subject::PersonId(id)) => Subject::Person(
                    check
                        .uuid(&format!("{field}.person_id"), id)
                        .unwrap_or_default(),
                ),
                Some(pb::list_entry::Subject::Identity(identity)) => Subject::Identity(Box::new(
                    listed_from_pb(check, &format!("{field}.identity"), identity),
                )),
                None => {
                    check.add(
                        format!("{field}.subject"),
                        "a person_id or an identity is required",
                    );
                    Subject::Person(Uuid::nil())
                }
            };
            Entry {
                reference,
                subject,
                seriously_ill: e.seriously_ill,
                wounded: e.wounded,
                source_line: check.text(&format!("{field}.source_line"), &e.source_line, 64),
                note: check.text(&format!("{field}.note"), &e.note, MAX_TEXT),
            }
        })
        .collect()
}

pub fn entry_to_pb(e: &Entry) -> pb::ListEntry {
    pb::ListEntry {
        reference: e.reference.clone(),
        subject: Some(match &e.subject {
            Subject::Person(id) => pb::list_entry::Subject::PersonId(id.to_string()),
            Subject::Identity(l) => pb::list_entry::Subject::Identity(listed_to_pb(l)),
        }),
        seriously_ill: e.seriously_ill,
        wounded: e.wounded,
        source_line: e.source_line.clone(),
        note: e.note.clone(),
    }
}

pub fn list_version_to_pb(v: &ListVersion, with_entries: bool) -> pb::ListVersion {
    pb::ListVersion {
        phase_id: v.phase_id.to_string(),
        list: Some(list_ref_to_pb(&v.list)),
        entries: if with_entries {
            v.entries.iter().map(entry_to_pb).collect()
        } else {
            Vec::new()
        },
        entry_count: v.entries.len() as u32,
        source: v.source,
        receive_time: v.received_at_us.and_then(micros),
        note: v.note.clone(),
        submitted_by: v.submitted_by.clone(),
        submit_time: micros(v.submitted_at_us),
        content_hash: v.content_hash.clone(),
    }
}

pub fn outcome_to_pb(o: Outcome) -> pb::ReconciliationOutcome {
    match o {
        Outcome::Paired => pb::ReconciliationOutcome::Paired,
        Outcome::UnmatchedRequest => pb::ReconciliationOutcome::UnmatchedRequest,
        Outcome::UnmatchedOffer => pb::ReconciliationOutcome::UnmatchedOffer,
        Outcome::SuspectedSubstitution => pb::ReconciliationOutcome::SuspectedSubstitution,
        Outcome::NeedsReview => pb::ReconciliationOutcome::NeedsReview,
    }
}

pub fn outcome_from_pb(o: i32) -> Option<Outcome> {
    Some(match pb::ReconciliationOutcome::try_from(o).ok()? {
        pb::ReconciliationOutcome::Unspecified => return None,
        pb::ReconciliationOutcome::Paired => Outcome::Paired,
        pb::ReconciliationOutcome::UnmatchedRequest => Outcome::UnmatchedRequest,
        pb::ReconciliationOutcome::UnmatchedOffer => Outcome::UnmatchedOffer,
        pb::ReconciliationOutcome::SuspectedSubstitution => Outcome::SuspectedSubstitution,
        pb::ReconciliationOutcome::NeedsReview => Outcome::NeedsReview,
    })
}

pub fn decision_to_pb(d: Decision) -> pb::ReviewDecision {
    match d {
        Decision::ConfirmPair => pb::ReviewDecision::ConfirmPair,
        Decision::RejectPair => pb::ReviewDecision::RejectPair,
        Decision::PairWith | Decision::PairedElsewhere => pb::ReviewDecision::PairWith,
        Decision::AcceptUnmatched => pb::ReviewDecision::AcceptUnmatched,
    }
}

pub fn summary_to_pb(s: &Summary) -> pb::ReconciliationSummary {
    pb::ReconciliationSummary {
        paired: s.paired,
        unmatched_requests: s.unmatched_requests,
        unmatched_offers: s.unmatched_offers,
        suspected_substitutions: s.suspected_substitutions,
        needs_review: s.needs_review,
        open_reviews: s.open_reviews,
    }
}

pub fn reconciliation_to_pb(r: &Reconciliation, stale: bool) -> pb::Reconciliation {
    pb::Reconciliation {
        id: r.id.to_string(),
        phase_id: r.phase_id.to_string(),
        lists: r.lists.iter().map(list_ref_to_pb).collect(),
        summary: Some(summary_to_pb(&r.summary)),
        stale,
        created_by: r.created_by.clone(),
        create_time: micros(r.created_at_us),
    }
}

pub fn item_to_pb(i: &Item) -> pb::ReconciliationItem {
    pb::ReconciliationItem {
        id: i.number.to_string(),
        reconciliation_id: i.reconciliation_id.to_string(),
        receiving_party: i.receiving_party.clone(),
        handing_party: i.handing_party.clone(),
        outcome: outcome_to_pb(i.outcome) as i32,
        request_reference: i.request_reference.clone(),
        offer_reference: i.offer_reference.clone(),
        person_id: i.person_id.map(|p| p.to_string()).unwrap_or_default(),
        confidence: i.confidence,
        explanation: i.explanation.clone(),
        alternative_references: i.alternatives.clone(),
        review: i.review.as_ref().map(|r| pb::Review {
            decision: decision_to_pb(r.decision) as i32,
            counterpart_reference: r.counterpart_reference.clone(),
            person_id: r.person_id.map(|p| p.to_string()).unwrap_or_default(),
            note: r.note.clone(),
            reviewed_by: r.reviewed_by.clone(),
            review_time: micros(r.reviewed_at_us),
        }),
    }
}

pub fn entry_key_from_pb(
    check: &mut Check,
    field: &str,
    key: Option<&pb::ListEntryKey>,
) -> EntryKey {
    let Some(key) = key else {
        check.add(
            field,
            "required: party, kind and reference of the list entry",
        );
        return EntryKey {
            party: String::new(),
            kind: ListKind::Offer,
            reference: String::new(),
        };
    };
    EntryKey {
        party: check.party(&format!("{field}.party"), &key.party),
        kind: kind_from_pb(check, &format!("{field}.kind"), key.kind),
        reference: check.required(&format!("{field}.reference"), &key.reference, 64),
    }
}

pub fn entry_key_to_pb(key: &EntryKey) -> pb::ListEntryKey {
    pb::ListEntryKey {
        party: key.party.clone(),
        kind: kind_to_pb(key.kind) as i32,
        reference: key.reference.clone(),
    }
}

fn id_or_empty(id: Option<Uuid>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

pub fn consent_to_pb(c: &Consent) -> pb::ConsentRecord {
    pb::ConsentRecord {
        id: c.id.to_string(),
        phase_id: c.phase_id.to_string(),
        entry: Some(entry_key_to_pb(&c.entry)),
        person_id: id_or_empty(c.person_id),
        decision: if c.willing {
            pb::ConsentDecision::Willing
        } else {
            pb::ConsentDecision::Refuses
        } as i32,
        interviewed_by: c.interviewed_by.clone(),
        interviewer_organisation: c.interviewer_organisation.clone(),
        interview_time: c.interviewed_at_us.and_then(micros),
        interview_place: c.interview_place.clone(),
        language: c.language.clone(),
        interpreter_present: c.interpreter_present,
        interviewed_in_private: c.interviewed_in_private,
        note: c.note.clone(),
        recorded_by: c.recorded_by.clone(),
        record_time: micros(c.recorded_at_us),
        superseded_by: id_or_empty(c.superseded_by),
    }
}

pub fn reason_from_pb(reason: i32) -> Option<HoldBackReason> {
    Some(match pb::HoldBackReason::try_from(reason).ok()? {
        pb::HoldBackReason::Unspecified => return None,
        pb::HoldBackReason::CriminalProceedings => HoldBackReason::CriminalProceedings,
        pb::HoldBackReason::UnfitToTravel => HoldBackReason::UnfitToTravel,
        pb::HoldBackReason::NotAvailable => HoldBackReason::NotAvailable,
        pb::HoldBackReason::Other => HoldBackReason::Other,
    })
}

fn reason_to_pb(reason: HoldBackReason) -> pb::HoldBackReason {
    match reason {
        HoldBackReason::CriminalProceedings => pb::HoldBackReason::CriminalProceedings,
        HoldBackReason::UnfitToTravel => pb::HoldBackReason::UnfitToTravel,
        HoldBackReason::NotAvailable => pb::HoldBackReason::NotAvailable,
        HoldBackReason::Other => pb::HoldBackReason::Other,
    }
}

pub fn hold_back_to_pb(h: &HoldBack, version: i64) -> pb::HoldBack {
    pb::HoldBack {
        id: h.id.to_string(),
        etag: etag(version),
        phase_id: h.phase_id.to_string(),
        entry: Some(entry_key_to_pb(&h.entry)),
        person_id: id_or_empty(h.person_id),
        reason: reason_to_pb(h.reason) as i32,
        reason_detail: h.reason_detail.clone(),
        other_side_informed: h.other_side_informed,
        inform_time: h.informed_at_us.and_then(micros),
        informed_via: h.informed_via.clone(),
        lifted: h.lifted,
        recorded_by: h.recorded_by.clone(),
        create_time: micros(h.created_at_us),
        update_time: micros(h.updated_at_us),
    }
}

pub fn result_from_pb(result: i32) -> Option<CheckResult> {
    Some(match pb::HandoverCheckResult::try_from(result).ok()? {
        pb::HandoverCheckResult::Unspecified => return None,
        pb::HandoverCheckResult::Verified => CheckResult::Verified,
        pb::HandoverCheckResult::Mismatch => CheckResult::Mismatch,
        pb::HandoverCheckResult::NotOnList => CheckResult::NotOnList,
        pb::HandoverCheckResult::Missing => CheckResult::Missing,
    })
}

fn result_to_pb(result: CheckResult) -> pb::HandoverCheckResult {
    match result {
        CheckResult::Verified => pb::HandoverCheckResult::Verified,
        CheckResult::Mismatch => pb::HandoverCheckResult::Mismatch,
        CheckResult::NotOnList => pb::HandoverCheckResult::NotOnList,
        CheckResult::Missing => pb::HandoverCheckResult::Missing,
    }
}

pub fn check_to_pb(c: &HandoverCheck) -> pb::HandoverCheck {
    pb::HandoverCheck {
        id: c.id.to_string(),
        phase_id: c.phase_id.to_string(),
        handing_party: c.handing_party.clone(),
        entry: c.entry.as_ref().map(entry_key_to_pb),
        person_id: id_or_empty(c.person_id),
        result: result_to_pb(c.result) as i32,
        presented_identity: c.presented.as_ref().map(listed_to_pb),
        methods: c.methods.clone(),
        checked_by: c.checked_by.clone(),
        check_time: micros(c.checked_at_us),
        note: c.note.clone(),
        superseded_by: id_or_empty(c.superseded_by),
    }
}

pub fn tally_to_pb(t: &Tally) -> pb::PartyHandoverTally {
    pb::PartyHandoverTally {
        handing_party: t.handing_party.clone(),
        planned: t.planned,
        verified: t.verified,
        mismatched: t.mismatched,
        missing: t.missing,
        not_on_list: t.not_on_list,
        refused: t.refused,
        held_back: t.held_back,
        seriously_ill_or_wounded: t.seriously_ill_or_wounded,
    }
}

/// What the counts know of a registry person.
pub fn traits_of_person(p: &registry::Person) -> (Option<Category>, Sex, Option<PartialDate>) {
    let mut ignore = Check::default();
    (
        category_from_pb(p.category),
        sex_from_pb(p.sex),
        date_from_pb(&mut ignore, "", p.birth_date.as_ref()),
    )
}
