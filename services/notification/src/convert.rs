//! Between the contract and the records: requests are read here (every bad field collected),
//! records are turned into messages here. Contact addresses leave only through `GetInquiry`;
//! everywhere else they are masked.

use homeward_kit::{check::Check, timestamp};
use homeward_proto::{common::v1 as common, notification::v1 as pb, registry::v1 as registry};
use uuid::Uuid;

use crate::model::*;

const SHORT: usize = 200;
const TEXT: usize = 2_000;

pub fn micros(us: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp::micros_to_proto(us))
}

fn opt_micros(us: Option<i64>) -> Option<prost_types::Timestamp> {
    us.and_then(micros)
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

fn id_or_empty(id: Option<Uuid>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

fn names(
    check: &mut Check,
    field: &str,
    names: &[common::PersonName],
    required: bool,
) -> Vec<Name> {
    if required && names.is_empty() {
        check.add(field, "at least one name");
    }
    if names.len() > 8 {
        check.add(field, "at most 8 names");
    }
    names
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, n)| {
            let f = format!("{field}[{i}]");
            let name = Name {
                script: n.script,
                given: check.text(&format!("{f}.given"), &n.given, SHORT),
                family: check.text(&format!("{f}.family"), &n.family, SHORT),
                patronymic: check.text(&format!("{f}.patronymic"), &n.patronymic, SHORT),
                source: n.source,
                language: check.text(&format!("{f}.language"), &n.language, 35),
            };
            if name.given.is_empty() && name.family.is_empty() {
                check.add(f, "a family or given name is required");
            }
            name
        })
        .collect()
}

fn names_to_pb(names: &[Name]) -> Vec<common::PersonName> {
    names
        .iter()
        .map(|n| common::PersonName {
            script: n.script,
            given: n.given.clone(),
            family: n.family.clone(),
            patronymic: n.patronymic.clone(),
            source: n.source,
            language: n.language.clone(),
        })
        .collect()
}

fn date(check: &mut Check, field: &str, d: Option<&common::PartialDate>) -> Option<PartialDate> {
    let d = d?;
    if d.year == 0 && d.month == 0 && d.day == 0 {
        return None;
    }
    if !(1850..=2200).contains(&d.year)
        || !(0..=12).contains(&d.month)
        || !(0..=31).contains(&d.day)
        || (d.day != 0 && d.month == 0)
    {
        check.add(
            field,
            "a date with a year, optionally month and day (0 for unknown)",
        );
        return None;
    }
    Some(PartialDate {
        year: d.year,
        month: d.month,
        day: d.day,
    })
}

fn date_to_pb(d: Option<PartialDate>) -> Option<common::PartialDate> {
    d.map(|d| common::PartialDate {
        year: d.year,
        month: d.month,
        day: d.day,
    })
}

pub fn channel_from_pb(channel: i32) -> Option<ChannelKind> {
    match pb::Channel::try_from(channel).ok()? {
        pb::Channel::Email => Some(ChannelKind::Email),
        pb::Channel::Sms => Some(ChannelKind::Sms),
        pb::Channel::Messenger => Some(ChannelKind::Messenger),
        pb::Channel::File => Some(ChannelKind::File),
        pb::Channel::Unspecified => None,
    }
}

pub fn channel_to_pb(channel: ChannelKind) -> pb::Channel {
    match channel {
        ChannelKind::Email => pb::Channel::Email,
        ChannelKind::Sms => pb::Channel::Sms,
        ChannelKind::Messenger => pb::Channel::Messenger,
        ChannelKind::File => pb::Channel::File,
    }
}

fn contacts(check: &mut Check, field: &str, contacts: &[pb::ContactChannel]) -> Vec<Contact> {
    if contacts.len() > 8 {
        check.add(field, "at most 8 contact channels");
    }
    contacts
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, c)| {
            let f = format!("{field}[{i}]");
            let channel = channel_from_pb(c.channel).unwrap_or_else(|| {
                check.add(format!("{f}.channel"), "email, sms, messenger or file");
                ChannelKind::File
            });
            let address = check.required(&format!("{f}.address"), &c.address, 320);
            let valid = match channel {
                ChannelKind::Email => {
                    address.contains('@') && !address.starts_with('@') && !address.ends_with('@')
                }
                ChannelKind::Sms => {
                    address.starts_with('+')
                        && address.len() >= 8
                        && address[1..].chars().all(|c| c.is_ascii_digit())
                }
                ChannelKind::Messenger | ChannelKind::File => !address.is_empty(),
            };
            if !valid && !address.is_empty() {
                check.add(
                    format!("{f}.address"),
                    "an email address, or a phone number in E.164 (+380...)",
                );
            }
            Contact {
                channel,
                address,
                messenger: check.text(&format!("{f}.messenger"), &c.messenger, 32),
                preferred: c.preferred,
                verified: c.verified,
            }
        })
        .collect()
}

fn contacts_to_pb(contacts: &[Contact], reveal: bool) -> Vec<pb::ContactChannel> {
    contacts
        .iter()
        .map(|c| pb::ContactChannel {
            channel: channel_to_pb(c.channel) as i32,
            address: if reveal {
                c.address.clone()
            } else {
                c.masked()
            },
            messenger: c.messenger.clone(),
            preferred: c.preferred,
            verified: c.verified,
        })
        .collect()
}

pub fn language(check: &mut Check, field: &str, value: &str) -> String {
    let value = value.trim().to_lowercase();
    match value.as_str() {
        "" => "uk".into(),
        "uk" | "ru" | "en" => value,
        _ => {
            check.add(field, "uk, ru or en");
            value
        }
    }
}

pub fn requester(check: &mut Check, r: Option<&pb::Requester>) -> Requester {
    let Some(r) = r else {
        check.add(
            "inquiry.requester",
            "required: who is asking and how to reach them",
        );
        return Requester {
            names: Vec::new(),
            relationship: 0,
            relationship_detail: String::new(),
            contacts: Vec::new(),
            preferred_language: "uk".into(),
        };
    };
    if r.relationship == 0 || pb::Relationship::try_from(r.relationship).is_err() {
        check.add(
            "inquiry.requester.relationship",
            "how the requester is related to the person sought",
        );
    }
    Requester {
        names: names(check, "inquiry.requester.names", &r.names, true),
        relationship: r.relationship,
        relationship_detail: check.text(
            "inquiry.requester.relationship_detail",
            &r.relationship_detail,
            SHORT,
        ),
        contacts: contacts(check, "inquiry.requester.contacts", &r.contacts),
        preferred_language: language(
            check,
            "inquiry.requester.preferred_language",
            &r.preferred_language,
        ),
    }
}

pub fn sought(check: &mut Check, s: Option<&pb::SoughtPerson>) -> Sought {
    let Some(s) = s else {
        check.add(
            "inquiry.sought_person",
            "required: the person the family is looking for",
        );
        return Sought::default();
    };
    let f = |name: &str| format!("inquiry.sought_person.{name}");
    Sought {
        names: names(check, &f("names"), &s.names, true),
        birth_date: date(check, &f("birth_date"), s.birth_date.as_ref()),
        birth_place: check.text(&f("birth_place"), &s.birth_place, SHORT),
        sex: s.sex,
        category: s.category,
        rank: check.text(&f("rank"), &s.rank, SHORT),
        unit: check.text(&f("unit"), &s.unit, SHORT),
        service_number: check.text(&f("service_number"), &s.service_number, 64),
        documents: s
            .documents
            .iter()
            .take(8)
            .map(|d| {
                (
                    d.r#type,
                    check.text(&f("documents.number"), &d.number, 64),
                    d.issuing_country.clone(),
                )
            })
            .collect(),
        last_contact_date: date(check, &f("last_contact_date"), s.last_contact_date.as_ref()),
        last_contact_place: check.text(&f("last_contact_place"), &s.last_contact_place, SHORT),
        circumstances: check.text(&f("circumstances"), &s.circumstances, TEXT),
        distinguishing_features: check.text(
            &f("distinguishing_features"),
            &s.distinguishing_features,
            TEXT,
        ),
    }
}

fn sought_to_pb(s: &Sought) -> pb::SoughtPerson {
    pb::SoughtPerson {
        names: names_to_pb(&s.names),
        birth_date: date_to_pb(s.birth_date),
        birth_place: s.birth_place.clone(),
        sex: s.sex,
        category: s.category,
        rank: s.rank.clone(),
        unit: s.unit.clone(),
        service_number: s.service_number.clone(),
        documents: s
            .documents
            .iter()
            .map(|(t, n, c)| common::IdentityDocument {
                r#type: *t,
                number: n.clone(),
                issuing_country: c.clone(),
            })
            .collect(),
        last_contact_date: date_to_pb(s.last_contact_date),
        last_contact_place: s.last_contact_place.clone(),
        circumstances: s.circumstances.clone(),
        distinguishing_features: s.distinguishing_features.clone(),
    }
}

/// The sought person as the registry's matcher takes it.
pub fn sought_to_candidate(reference: &str, s: &Sought) -> registry::CandidateIdentity {
    let p = sought_to_pb(s);
    registry::CandidateIdentity {
        reference: reference.into(),
        names: p.names,
        birth_date: p.birth_date,
        sex: p.sex,
        category: p.category,
        unit: p.unit,
        service_number: p.service_number,
        documents: p.documents,
    }
}

pub fn purpose_from_pb(purpose: i32) -> Option<Purpose> {
    match pb::ConsentPurpose::try_from(purpose).ok()? {
        pb::ConsentPurpose::Tracing => Some(Purpose::Tracing),
        pb::ConsentPurpose::Contact => Some(Purpose::Contact),
        pb::ConsentPurpose::ShareWithTracingAgency => Some(Purpose::ShareWithTracingAgency),
        pb::ConsentPurpose::ShareWithOtherParty => Some(Purpose::ShareWithOtherParty),
        pb::ConsentPurpose::Unspecified => None,
    }
}

fn purpose_to_pb(purpose: Purpose) -> pb::ConsentPurpose {
    match purpose {
        Purpose::Tracing => pb::ConsentPurpose::Tracing,
        Purpose::Contact => pb::ConsentPurpose::Contact,
        Purpose::ShareWithTracingAgency => pb::ConsentPurpose::ShareWithTracingAgency,
        Purpose::ShareWithOtherParty => pb::ConsentPurpose::ShareWithOtherParty,
    }
}

pub fn consent(check: &mut Check, field: &str, c: &pb::Consent, who: &str) -> Option<Consent> {
    let purpose = purpose_from_pb(c.purpose);
    if purpose.is_none() {
        check.add(
            format!("{field}.purpose"),
            "tracing, contact, share with tracing agency or share with other party",
        );
    }
    if c.method == 0 || pb::ConsentMethod::try_from(c.method).is_err() {
        check.add(format!("{field}.method"), "written, oral or electronic");
    }
    let granted = check.time(&format!("{field}.grant_time"), c.grant_time.as_ref());
    Some(Consent {
        purpose: purpose?,
        method: c.method,
        granted_at_us: granted.unwrap_or_else(timestamp::now_micros),
        recorded_by: who.to_string(),
        withdrawn_at_us: None,
        withdraw_note: String::new(),
    })
}

fn verification_to_pb(v: &VerificationRecord) -> pb::RequesterVerification {
    pb::RequesterVerification {
        state: match v.state {
            Verification::Unverified => pb::VerificationState::Unverified,
            Verification::Verified => pb::VerificationState::Verified,
            Verification::Rejected => pb::VerificationState::Rejected,
        } as i32,
        method: v.method,
        decided_by: v.decided_by.clone(),
        decide_time: opt_micros(v.decided_at_us),
        note: v.note.clone(),
    }
}

pub fn inquiry_state_to_pb(s: InquiryState) -> pb::InquiryState {
    match s {
        InquiryState::Open => pb::InquiryState::Open,
        InquiryState::Linked => pb::InquiryState::Linked,
        InquiryState::Closed => pb::InquiryState::Closed,
    }
}

/// The inquiry as officers see it; `reveal` shows contact addresses (GetInquiry only).
pub fn inquiry_to_pb(i: &Inquiry, version: i64, links: &[Link], reveal: bool) -> pb::Inquiry {
    pb::Inquiry {
        id: i.id.to_string(),
        etag: etag(version),
        reference: i.reference.clone(),
        requester: Some(pb::Requester {
            names: names_to_pb(&i.requester.names),
            relationship: i.requester.relationship,
            relationship_detail: i.requester.relationship_detail.clone(),
            contacts: contacts_to_pb(&i.requester.contacts, reveal),
            preferred_language: i.requester.preferred_language.clone(),
        }),
        sought_person: Some(sought_to_pb(&i.sought)),
        consents: i
            .consents
            .iter()
            .map(|c| pb::Consent {
                purpose: purpose_to_pb(c.purpose) as i32,
                method: c.method,
                grant_time: micros(c.granted_at_us),
                recorded_by: c.recorded_by.clone(),
                withdraw_time: opt_micros(c.withdrawn_at_us),
                withdraw_note: c.withdraw_note.clone(),
            })
            .collect(),
        verification: Some(verification_to_pb(&i.verification)),
        state: inquiry_state_to_pb(i.state) as i32,
        close_reason: i.close_reason,
        close_note: i.close_note.clone(),
        duplicate_of: id_or_empty(i.duplicate_of),
        links: links.iter().map(|l| link_to_pb(l, 0)).collect(),
        risk_flags: i
            .risk_flags
            .iter()
            .map(|f| pb::RiskFlag {
                kind: f.kind,
                detail: f.detail.clone(),
                related_inquiry_ids: f.related.iter().map(Uuid::to_string).collect(),
                raise_time: micros(f.raised_at_us),
            })
            .collect(),
        intake_channel: i.intake_channel,
        office: i.office.clone(),
        tracing_agency_reference: i.tracing_agency_reference.clone(),
        create_time: micros(i.created_at_us),
        update_time: micros(i.updated_at_us),
    }
}

pub fn link_state_to_pb(s: LinkState) -> pb::LinkState {
    match s {
        LinkState::Proposed => pb::LinkState::Proposed,
        LinkState::Confirmed => pb::LinkState::Confirmed,
        LinkState::Rejected => pb::LinkState::Rejected,
    }
}

pub fn withholding_to_pb(w: Withholding) -> pb::WithholdingDecision {
    match w {
        Withholding::Pending => pb::WithholdingDecision::Pending,
        Withholding::Withhold => pb::WithholdingDecision::Withhold,
        Withholding::Release => pb::WithholdingDecision::Release,
    }
}

/// `version` 0 leaves the etag out (links listed inside an inquiry).
pub fn link_to_pb(l: &Link, version: i64) -> pb::Link {
    pb::Link {
        id: l.id.to_string(),
        etag: if version == 0 {
            String::new()
        } else {
            etag(version)
        },
        inquiry_id: l.inquiry_id.to_string(),
        person_id: l.person_id.to_string(),
        state: link_state_to_pb(l.state) as i32,
        confidence: l.confidence,
        explanation: l.explanation.clone(),
        evidence_note: l.evidence_note.clone(),
        proposed_by: l.proposed_by.clone(),
        propose_time: micros(l.proposed_at_us),
        decided_by: l.decided_by.clone(),
        decide_time: opt_micros(l.decided_at_us),
        decision_note: l.decision_note.clone(),
        withholding: l.withholding.as_ref().map(|w| pb::WithholdingFlag {
            decision: withholding_to_pb(w.decision) as i32,
            reason: w.reason.clone(),
            raised_by: w.raised_by.clone(),
            raise_time: micros(w.raised_at_us),
            decided_by: w.decided_by.clone(),
            decide_time: opt_micros(w.decided_at_us),
            decision_note: w.note.clone(),
        }),
    }
}

pub fn kind_to_pb(k: Kind) -> pb::NotificationKind {
    match k {
        Kind::InquiryReceived => pb::NotificationKind::InquiryReceived,
        Kind::PersonHeld => pb::NotificationKind::PersonHeld,
        Kind::StatusUpdate => pb::NotificationKind::StatusUpdate,
        Kind::Repatriated => pb::NotificationKind::Repatriated,
        Kind::Released => pb::NotificationKind::Released,
        Kind::Deceased => pb::NotificationKind::Deceased,
        Kind::InquiryClosed => pb::NotificationKind::InquiryClosed,
    }
}

pub fn notification_state_to_pb(s: NotificationState) -> pb::NotificationState {
    match s {
        NotificationState::Withheld => pb::NotificationState::Withheld,
        NotificationState::Embargoed => pb::NotificationState::Embargoed,
        NotificationState::Queued => pb::NotificationState::Queued,
        NotificationState::Delivered => pb::NotificationState::Delivered,
        NotificationState::Failed => pb::NotificationState::Failed,
        NotificationState::InPerson => pb::NotificationState::InPerson,
        NotificationState::Cancelled => pb::NotificationState::Cancelled,
    }
}

pub fn notification_state_from_pb(s: i32) -> Option<NotificationState> {
    Some(match pb::NotificationState::try_from(s).ok()? {
        pb::NotificationState::Unspecified => return None,
        pb::NotificationState::Withheld => NotificationState::Withheld,
        pb::NotificationState::Embargoed => NotificationState::Embargoed,
        pb::NotificationState::Queued => NotificationState::Queued,
        pb::NotificationState::Delivered => NotificationState::Delivered,
        pb::NotificationState::Failed => NotificationState::Failed,
        pb::NotificationState::InPerson => NotificationState::InPerson,
        pb::NotificationState::Cancelled => NotificationState::Cancelled,
    })
}

pub fn delivery_state_to_pb(s: DeliveryState) -> pb::DeliveryState {
    match s {
        DeliveryState::Pending => pb::DeliveryState::Pending,
        DeliveryState::Sent => pb::DeliveryState::Sent,
        DeliveryState::Delivered => pb::DeliveryState::Delivered,
        DeliveryState::DeadLetter => pb::DeliveryState::DeadLetter,
        DeliveryState::Cancelled => pb::DeliveryState::Cancelled,
    }
}

pub fn delivery_state_from_pb(s: i32) -> Option<DeliveryState> {
    Some(match pb::DeliveryState::try_from(s).ok()? {
        pb::DeliveryState::Unspecified => return None,
        pb::DeliveryState::Pending => DeliveryState::Pending,
        pb::DeliveryState::Sent => DeliveryState::Sent,
        pb::DeliveryState::Delivered => DeliveryState::Delivered,
        pb::DeliveryState::DeadLetter => DeliveryState::DeadLetter,
        pb::DeliveryState::Cancelled => DeliveryState::Cancelled,
    })
}

pub fn delivery_to_pb(d: &Delivery) -> pb::Delivery {
    pb::Delivery {
        id: d.id.to_string(),
        notification_id: d.notification_id.to_string(),
        channel: channel_to_pb(d.channel) as i32,
        masked_address: mask(&d.address),
        state: delivery_state_to_pb(d.state) as i32,
        attempts: d.attempts,
        next_attempt_time: opt_micros(d.next_attempt_at_us),
        last_error: d.last_error.clone(),
        provider_message_id: d.provider_message_id.clone(),
        create_time: micros(d.created_at_us),
        update_time: micros(d.updated_at_us),
        deliver_time: opt_micros(d.delivered_at_us),
    }
}

pub fn notification_to_pb(n: &Notification, deliveries: &[Delivery]) -> pb::Notification {
    pb::Notification {
        id: n.id.to_string(),
        inquiry_id: n.inquiry_id.to_string(),
        link_id: id_or_empty(n.link_id),
        person_id: id_or_empty(n.person_id),
        kind: kind_to_pb(n.kind) as i32,
        state: notification_state_to_pb(n.state) as i32,
        language: n.language.clone(),
        body: n.body.clone(),
        source_event_id: n.source_event_id.clone(),
        deliveries: deliveries.iter().map(delivery_to_pb).collect(),
        task_id: id_or_empty(n.task_id),
        create_time: micros(n.created_at_us),
        update_time: micros(n.updated_at_us),
    }
}

pub fn task_kind_to_pb(k: TaskKind) -> pb::TaskKind {
    match k {
        TaskKind::CaptureNotice => pb::TaskKind::CaptureNotice,
        TaskKind::DeathNotice => pb::TaskKind::DeathNotice,
        TaskKind::OtherGraveNews => pb::TaskKind::OtherGraveNews,
        TaskKind::WithholdingReview => pb::TaskKind::WithholdingReview,
    }
}

pub fn task_state_to_pb(s: TaskState) -> pb::TaskState {
    match s {
        TaskState::Open => pb::TaskState::Open,
        TaskState::Assigned => pb::TaskState::Assigned,
        TaskState::Done => pb::TaskState::Done,
        TaskState::Cancelled => pb::TaskState::Cancelled,
    }
}

pub fn task_to_pb(t: &Task, version: i64) -> pb::Task {
    pb::Task {
        id: t.id.to_string(),
        etag: etag(version),
        inquiry_id: t.inquiry_id.to_string(),
        notification_id: id_or_empty(t.notification_id),
        person_id: id_or_empty(t.person_id),
        kind: task_kind_to_pb(t.kind) as i32,
        state: task_state_to_pb(t.state) as i32,
        office: t.office.clone(),
        assignee: t.assignee.clone(),
        due_time: opt_micros(t.due_at_us),
        attempts: t
            .attempts
            .iter()
            .map(|a| pb::TaskAttempt {
                outcome: a.outcome,
                occur_time: micros(a.at_us),
                officer: a.officer.clone(),
                note: a.note.clone(),
                support_offered: a.support_offered,
                referred_to: a.referred_to.clone(),
            })
            .collect(),
        create_time: micros(t.created_at_us),
        update_time: micros(t.updated_at_us),
        close_time: opt_micros(t.closed_at_us),
    }
}
