//! The families in the story: mothers who ask the liaison office about their sons. Each inquiry
//! is recorded, the mother's identity checked, and the inquiry linked to her son in the registry
//! by one officer and confirmed by another. After the exchange, the story reads what each family
//! was told and how long the news took from the completed handover to the family's channel.
//! When the son carries canary values, so does everything the mother tells the office.

use std::time::Duration;

use homeward_proto::{
    common::v1::{PartialDate, PersonName, Script},
    notification::v1::{self as nt, notification_service_client::NotificationServiceClient},
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::{Bearer, Detainee, Result, StoryError, at, cast::Canary, rid};

pub type Notification = NotificationServiceClient<InterceptedService<Channel, Bearer>>;

/// The liaison office: two officers, because a link is confirmed by someone other than the
/// officer who proposed it.
#[derive(Clone)]
pub struct Office {
    pub first: Notification,
    pub second: Notification,
}

/// One family's inquiry as the story made it.
#[derive(Debug, Clone)]
pub struct Family {
    pub inquiry_id: String,
    pub reference: String,
    pub access_code: String,
    pub person_id: String,
    /// Whether the son is in the exchange phase.
    pub in_phase: bool,
}

/// What a family was told, after the exchange.
#[derive(Debug, Clone)]
pub struct Case {
    pub family: Family,
    pub status: nt::FamilyStatus,
    /// Kind and state of every notification, in order.
    pub notifications: Vec<(nt::NotificationKind, nt::NotificationState, String)>,
    pub open_tasks: Vec<nt::TaskKind>,
    /// From the phase's completion to the family's channel accepting the news.
    pub latency: Option<Duration>,
}

/// Records a mother's inquiry about `son`, verifies her, and links the inquiry to him.
pub async fn ask(
    office: &Office,
    son: &Detainee,
    person_id: &str,
    in_phase: bool,
    n: usize,
) -> Result<Family> {
    let first = office.first.clone();
    let canary = son.canary;
    // Free text is marked too when the son is a canary: officers write names into notes.
    let text = |what: &str| canary.map_or_else(|| what.to_string(), |c| c.text(what));
    let mut contacts = vec![nt::ContactChannel {
        channel: nt::Channel::Email as i32,
        address: canary.map_or_else(|| format!("family{n}@example.org"), Canary::email),
        preferred: true,
        ..Default::default()
    }];
    if let Some(c) = canary {
        contacts.push(nt::ContactChannel {
            channel: nt::Channel::Sms as i32,
            address: c.phone(),
            ..Default::default()
        });
    }
    let sought = match canary {
        Some(c) => nt::SoughtPerson {
            birth_place: c.text("born in"),
            unit: c.unit(),
            service_number: son.service_number.clone(),
            last_contact_place: c.text("last call from"),
            circumstances: c.text("captured with his unit"),
            distinguishing_features: c.text("scar on the left hand"),
            ..Default::default()
        },
        None => nt::SoughtPerson::default(),
    };
    let created = call!(
        first,
        create_inquiry,
        nt::CreateInquiryRequest {
            request_id: rid(),
            inquiry: Some(nt::Inquiry {
                requester: Some(nt::Requester {
                    names: vec![PersonName {
                        script: Script::Cyrillic as i32,
                        family: son.family.clone(),
                        given: canary.map_or_else(|| "Наталія".into(), Canary::mother),
                        ..Default::default()
                    }],
                    relationship: nt::Relationship::Parent as i32,
                    relationship_detail: canary.map(|c| c.text("mother")).unwrap_or_default(),
                    contacts,
                    preferred_language: "uk".into(),
                }),
                sought_person: Some(nt::SoughtPerson {
                    names: vec![PersonName {
                        script: Script::Cyrillic as i32,
                        family: son.family.clone(),
                        given: son.given.clone(),
                        patronymic: son.patronymic.clone(),
                        ..Default::default()
                    }],
                    birth_date: Some(PartialDate {
                        year: son.birth.0,
                        month: son.birth.1,
                        day: son.birth.2,
                    }),
                    ..sought
                }),
                consents: vec![
                    nt::Consent {
                        purpose: nt::ConsentPurpose::Tracing as i32,
                        method: nt::ConsentMethod::Written as i32,
                        ..Default::default()
                    },
                    nt::Consent {
                        purpose: nt::ConsentPurpose::Contact as i32,
                        method: nt::ConsentMethod::Written as i32,
                        ..Default::default()
                    },
                ],
                intake_channel: nt::IntakeChannel::InPerson as i32,
                office: "Kyiv".into(),
                ..Default::default()
            }),
        }
    )
    .map_err(at("record an inquiry"))?
    .into_inner();
    let inquiry = created
        .inquiry
        .ok_or_else(|| StoryError::Unexpected("no inquiry".into()))?;
    call!(
        first,
        verify_requester,
        nt::VerifyRequesterRequest {
            request_id: rid(),
            inquiry_id: inquiry.id.clone(),
            etag: inquiry.etag.clone(),
            state: nt::VerificationState::Verified as i32,
            method: nt::VerificationMethod::IdentityDocumentInPerson as i32,
            note: text("passport and birth certificate of the son seen"),
        }
    )
    .map_err(at("verify the requester"))?;
    let link = call!(
        first,
        propose_link,
        nt::ProposeLinkRequest {
            request_id: rid(),
            inquiry_id: inquiry.id.clone(),
            person_id: person_id.to_string(),
            confidence: 1.0,
            evidence_note: text("name, patronymic and birth date agree"),
            ..Default::default()
        }
    )
    .map_err(at("propose a link"))?
    .into_inner()
    .link
    .ok_or_else(|| StoryError::Unexpected("no link".into()))?;
    call!(
        office.second,
        confirm_link,
        nt::ConfirmLinkRequest {
            request_id: rid(),
            link_id: link.id.clone(),
            etag: link.etag.clone(),
            note: String::new(),
        }
    )
    .map_err(at("confirm a link"))?;
    Ok(Family {
        inquiry_id: inquiry.id,
        reference: inquiry.reference,
        access_code: created.access_code,
        person_id: person_id.to_string(),
        in_phase,
    })
}

/// What `family` has been told; waits up to `wait` for news of the exchange when the son was in
/// it. `completed` is the phase's completion time (seconds, nanos).
pub async fn case(
    office: &Office,
    family: &Family,
    completed: Option<&prost_types::Timestamp>,
    wait: Duration,
) -> Result<Case> {
    let client = office.first.clone();
    let deadline = std::time::Instant::now() + wait;
    let (notifications, latency) = loop {
        let list = call!(
            client,
            list_notifications,
            nt::ListNotificationsRequest {
                inquiry_id: family.inquiry_id.clone(),
                page_size: 100,
                ..Default::default()
            }
        )
        .map_err(at("list a family's notifications"))?
        .into_inner()
        .notifications;
        let home = list.iter().find(|n| {
            (n.kind == nt::NotificationKind::Repatriated as i32
                || n.kind == nt::NotificationKind::Released as i32)
                && n.state == nt::NotificationState::Delivered as i32
        });
        let latency = home.and_then(|n| {
            let delivered = n
                .deliveries
                .iter()
                .filter_map(|d| d.deliver_time.as_ref())
                .min_by_key(|t| (t.seconds, t.nanos))?;
            let done = completed?;
            let micros = (delivered.seconds - done.seconds) * 1_000_000
                + i64::from(delivered.nanos - done.nanos) / 1_000;
            Some(Duration::from_micros(micros.max(0) as u64))
        });
        if !family.in_phase || home.is_some() || std::time::Instant::now() >= deadline {
            break (list, latency);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let tasks = call!(
        client,
        list_tasks,
        nt::ListTasksRequest {
            page_size: 1000,
            ..Default::default()
        }
    )
    .map_err(at("list tasks"))?
    .into_inner()
    .tasks;
    let status = call!(
        office.first,
        check_inquiry_status,
        nt::CheckInquiryStatusRequest {
            reference: family.reference.clone(),
            access_code: family.access_code.clone(),
        }
    )
    .map_err(at("check a family's status"))?
    .into_inner();
    Ok(Case {
        family: family.clone(),
        status: nt::FamilyStatus::try_from(status.status).unwrap_or_default(),
        notifications: notifications
            .iter()
            .map(|n| {
                (
                    nt::NotificationKind::try_from(n.kind).unwrap_or_default(),
                    nt::NotificationState::try_from(n.state).unwrap_or_default(),
                    n.id.clone(),
                )
            })
            .collect(),
        open_tasks: tasks
            .iter()
            .filter(|t| {
                t.inquiry_id == family.inquiry_id
                    && matches!(
                        nt::TaskState::try_from(t.state),
                        Ok(nt::TaskState::Open | nt::TaskState::Assigned)
                    )
            })
            .map(|t| nt::TaskKind::try_from(t.kind).unwrap_or_default())
            .collect(),
        latency,
    })
}
