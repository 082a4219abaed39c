//! What a family is told, how and when: event kind × sensitivity decides the route.
//!
//! - Grave news (capture confirmed, death, serious injury, escape, a refusal to return) becomes a
//!   task for a trained officer to deliver in person; it is never sent by a machine.
//! - Inclusion in a pending exchange is embargoed until that phase completes: then it is sent if
//!   the person was handed over, and dropped otherwise.
//! - Routine updates are sent automatically, unless a withholding flag holds the news, the family
//!   gave no consent to be contacted, or the inquiry is closed.
//!
//! Everything here is a pure function of the facts given, so the rules are tested on their own.

use homeward_proto::registry::v1::PersonStatus;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::*;

/// How a piece of news travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A message through the family's channels.
    Automated(Kind),
    /// An officer tells the family.
    InPerson(Kind, TaskKind),
    /// Held until the exchange phase completes.
    Embargo(Kind, String),
    /// Nothing to tell (or told by another event).
    Nothing,
}

/// The route of a registry status change for a linked person.
pub fn registry_route(status: PersonStatus, exchange_id: &str) -> Route {
    use PersonStatus::*;
    match status {
        Captured | Interned => Route::InPerson(Kind::PersonHeld, TaskKind::CaptureNotice),
        Deceased => Route::InPerson(Kind::Deceased, TaskKind::DeathNotice),
        Hospitalised | Escaped | Missing | RefusedRepatriation => {
            Route::InPerson(Kind::StatusUpdate, TaskKind::OtherGraveNews)
        }
        Transferred => Route::Automated(Kind::StatusUpdate),
        ReservedForExchange if !exchange_id.is_empty() => {
            Route::Embargo(Kind::Repatriated, exchange_id.to_string())
        }
        // Handed over in an exchange: told when the exchange confirms the handover.
        Repatriated | Released if !exchange_id.is_empty() => Route::Nothing,
        Repatriated => Route::Automated(Kind::Repatriated),
        Released => Route::Automated(Kind::Released),
        ReservedForExchange | Unspecified => Route::Nothing,
    }
}

/// What the family is told when a link to a registry person is confirmed: where the person
/// stands now.
pub fn confirmation_route(status: PersonStatus) -> Route {
    match registry_route(status, "") {
        Route::Nothing => Route::InPerson(Kind::PersonHeld, TaskKind::CaptureNotice),
        other => other,
    }
}

/// A stable id for the notification one event causes for one inquiry, so that the same event
/// can never notify the same family twice, whatever replays it.
pub fn notification_id(inquiry: Uuid, source_event: &str) -> Uuid {
    let digest = Sha256::digest(format!("{inquiry}/{source_event}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Version 8 (custom) UUID.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// The text of a message; grave news has none (it is never written for a machine to send).
pub trait Wording {
    fn words(&self, kind: Kind, language: &str, reference: &str) -> Option<(String, String)>;
}

/// What one piece of news for one inquiry becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub notification: Notification,
    pub deliveries: Vec<Delivery>,
    pub task: Option<Task>,
}

/// The notification (and its deliveries or task) that `route` makes for `inquiry`, linked to
/// its person by `link`. `None` when there is nothing to tell.
pub fn compose(
    inquiry: &Inquiry,
    link: Option<&Link>,
    route: &Route,
    source_event: &str,
    now_us: i64,
    wording: &dyn Wording,
) -> Option<Effect> {
    let (kind, task_kind, embargo) = match route {
        Route::Nothing => return None,
        Route::Automated(kind) => (*kind, None, None),
        Route::InPerson(kind, task) => (*kind, Some(*task), None),
        Route::Embargo(kind, phase) => (*kind, None, Some(phase.clone())),
    };
    let id = notification_id(inquiry.id, source_event);
    let language = inquiry.requester.preferred_language.clone();
    let mut notification = Notification {
        id,
        inquiry_id: inquiry.id,
        link_id: link.map(|l| l.id),
        person_id: link.map(|l| l.person_id),
        kind,
        state: NotificationState::Queued,
        language: language.clone(),
        subject: String::new(),
        body: String::new(),
        source_event_id: source_event.to_string(),
        embargo_phase: embargo.clone(),
        delivery_ids: Vec::new(),
        task_id: None,
        note: String::new(),
        created_at_us: now_us,
        updated_at_us: now_us,
    };
    if inquiry.state == InquiryState::Closed {
        return None;
    }
    if let Some(task_kind) = task_kind {
        let task = Task {
            id: notification_id(id, "task"),
            inquiry_id: inquiry.id,
            notification_id: Some(id),
            person_id: notification.person_id,
            kind: task_kind,
            state: TaskState::Open,
            office: inquiry.office.clone(),
            assignee: String::new(),
            due_at_us: Some(now_us + 2 * 86_400_000_000),
            attempts: Vec::new(),
            created_at_us: now_us,
            updated_at_us: now_us,
            closed_at_us: None,
        };
        notification.state = NotificationState::InPerson;
        notification.task_id = Some(task.id);
        notification.note = "grave news: an officer tells the family in person".into();
        return Some(Effect {
            notification,
            deliveries: Vec::new(),
            task: Some(task),
        });
    }
    if let Some((subject, body)) = wording.words(kind, &language, &inquiry.reference) {
        notification.subject = subject;
        notification.body = body;
    }
    if embargo.is_some() {
        notification.state = NotificationState::Embargoed;
        notification.note = "waits for the exchange phase to complete".into();
        return Some(Effect {
            notification,
            deliveries: Vec::new(),
            task: None,
        });
    }
    release(notification, inquiry, link, now_us)
}

/// Sends a notification that may now go: checks the gates again and makes its deliveries.
pub fn release(
    mut notification: Notification,
    inquiry: &Inquiry,
    link: Option<&Link>,
    now_us: i64,
) -> Option<Effect> {
    notification.updated_at_us = now_us;
    if inquiry.state == InquiryState::Closed {
        notification.state = NotificationState::Cancelled;
        notification.note = "the inquiry is closed".into();
        return Some(Effect {
            notification,
            deliveries: Vec::new(),
            task: None,
        });
    }
    if link.is_some_and(Link::holds_news) {
        notification.state = NotificationState::Withheld;
        notification.note = "held by a withholding flag until it is reviewed".into();
        return Some(Effect {
            notification,
            deliveries: Vec::new(),
            task: None,
        });
    }
    if !inquiry.verified() || !inquiry.consented(Purpose::Contact) {
        notification.state = NotificationState::Cancelled;
        notification.note = if inquiry.verified() {
            "the family gave no consent to be contacted".into()
        } else {
            "the requester is not verified".into()
        };
        return Some(Effect {
            notification,
            deliveries: Vec::new(),
            task: None,
        });
    }
    let mut contacts: Vec<&Contact> = inquiry
        .requester
        .contacts
        .iter()
        .filter(|c| c.preferred)
        .collect();
    if contacts.is_empty() {
        contacts = inquiry.requester.contacts.iter().take(1).collect();
    }
    if contacts.is_empty() {
        notification.state = NotificationState::Cancelled;
        notification.note = "the family gave no way to reach them".into();
        return Some(Effect {
            notification,
            deliveries: Vec::new(),
            task: None,
        });
    }
    let deliveries: Vec<Delivery> = contacts
        .iter()
        .map(|c| Delivery {
            id: notification_id(notification.id, &format!("{:?}/{}", c.channel, c.address)),
            notification_id: notification.id,
            channel: c.channel,
            address: c.address.clone(),
            messenger: c.messenger.clone(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at_us: Some(now_us),
            last_error: String::new(),
            provider_message_id: String::new(),
            history: Vec::new(),
            created_at_us: now_us,
            updated_at_us: now_us,
            delivered_at_us: None,
        })
        .collect();
    notification.state = NotificationState::Queued;
    notification.delivery_ids = deliveries.iter().map(|d| d.id).collect();
    Some(Effect {
        notification,
        deliveries,
        task: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;

    impl Wording for Plain {
        fn words(&self, kind: Kind, _: &str, reference: &str) -> Option<(String, String)> {
            (!kind.grave()).then(|| ("news".to_string(), format!("about {reference}")))
        }
    }

    fn inquiry(verified: bool, contact: bool) -> Inquiry {
        let consent = |purpose| Consent {
            purpose,
            method: 1,
            granted_at_us: 1,
            recorded_by: "o".into(),
            withdrawn_at_us: None,
            withdraw_note: String::new(),
        };
        let mut consents = vec![consent(Purpose::Tracing)];
        if contact {
            consents.push(consent(Purpose::Contact));
        }
        Inquiry {
            id: Uuid::new_v4(),
            reference: "HW-TEST".into(),
            access_code_hash: String::new(),
            requester: Requester {
                names: Vec::new(),
                relationship: 1,
                relationship_detail: String::new(),
                contacts: vec![Contact {
                    channel: ChannelKind::Email,
                    address: "n@example.org".into(),
                    messenger: String::new(),
                    preferred: true,
                    verified: true,
                }],
                preferred_language: "uk".into(),
            },
            sought: Sought::default(),
            consents,
            verification: VerificationRecord {
                state: if verified {
                    Verification::Verified
                } else {
                    Verification::Unverified
                },
                method: 1,
                decided_by: String::new(),
                decided_at_us: None,
                note: String::new(),
            },
            state: InquiryState::Linked,
            close_reason: 0,
            close_note: String::new(),
            duplicate_of: None,
            risk_flags: Vec::new(),
            intake_channel: 1,
            office: "Kyiv".into(),
            tracing_agency_reference: String::new(),
            person_id: None,
            created_at_us: 0,
            updated_at_us: 0,
        }
    }

    #[test]
    fn death_and_capture_become_tasks_and_are_never_sent() {
        for status in [
            PersonStatus::Deceased,
            PersonStatus::Captured,
            PersonStatus::Interned,
        ] {
            let effect = compose(
                &inquiry(true, true),
                None,
                &registry_route(status, ""),
                "e1",
                10,
                &Plain,
            )
            .expect("effect");
            assert_eq!(effect.notification.state, NotificationState::InPerson);
            assert!(effect.deliveries.is_empty(), "{status:?} must not be sent");
            assert!(effect.task.is_some());
            assert!(effect.notification.body.is_empty());
        }
    }

    #[test]
    fn a_reservation_waits_for_its_exchange_and_a_handover_within_it_says_nothing_itself() {
        let route = registry_route(PersonStatus::ReservedForExchange, "phase-1");
        assert_eq!(route, Route::Embargo(Kind::Repatriated, "phase-1".into()));
        let effect = compose(&inquiry(true, true), None, &route, "e2", 10, &Plain).expect("effect");
        assert_eq!(effect.notification.state, NotificationState::Embargoed);
        assert!(effect.deliveries.is_empty());
        assert_eq!(
            registry_route(PersonStatus::Repatriated, "phase-1"),
            Route::Nothing
        );
        assert_eq!(
            registry_route(PersonStatus::Released, ""),
            Route::Automated(Kind::Released)
        );
    }

    #[test]
    fn routine_news_goes_out_only_to_a_verified_family_that_consented_to_contact() {
        let route = Route::Automated(Kind::StatusUpdate);
        let sent = compose(&inquiry(true, true), None, &route, "e3", 10, &Plain).unwrap();
        assert_eq!(sent.notification.state, NotificationState::Queued);
        assert_eq!(sent.deliveries.len(), 1);
        let unverified = compose(&inquiry(false, true), None, &route, "e3", 10, &Plain).unwrap();
        assert_eq!(unverified.notification.state, NotificationState::Cancelled);
        assert!(unverified.deliveries.is_empty());
        let no_contact = compose(&inquiry(true, false), None, &route, "e3", 10, &Plain).unwrap();
        assert_eq!(no_contact.notification.state, NotificationState::Cancelled);
    }

    #[test]
    fn a_withholding_flag_holds_routine_news() {
        let i = inquiry(true, true);
        let link = Link {
            id: Uuid::new_v4(),
            inquiry_id: i.id,
            person_id: Uuid::new_v4(),
            state: LinkState::Confirmed,
            confidence: 1.0,
            explanation: Vec::new(),
            evidence_note: String::new(),
            proposed_by: "a".into(),
            proposed_at_us: 0,
            decided_by: "b".into(),
            decided_at_us: Some(1),
            decision_note: String::new(),
            withholding: Some(WithholdingFlag {
                decision: Withholding::Pending,
                reason: "r".into(),
                raised_by: "a".into(),
                raised_at_us: 0,
                decided_by: String::new(),
                decided_at_us: None,
                note: String::new(),
            }),
        };
        let effect = compose(
            &i,
            Some(&link),
            &Route::Automated(Kind::Released),
            "e4",
            10,
            &Plain,
        )
        .unwrap();
        assert_eq!(effect.notification.state, NotificationState::Withheld);
        assert!(effect.deliveries.is_empty());
    }

    #[test]
    fn the_same_event_gives_the_same_notification_id_for_an_inquiry_and_another_for_another() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        assert_eq!(notification_id(a, "ev"), notification_id(a, "ev"));
        assert_ne!(notification_id(a, "ev"), notification_id(b, "ev"));
        assert_ne!(notification_id(a, "ev"), notification_id(a, "ev2"));
    }
}
