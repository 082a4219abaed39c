//! `homewardctl notification events`: the notification service's event stream, from a cursor,
//! read and printed as `crate::events` does for every service.
//!
//! The events carry ids and states, never a family's personal data; the summaries shown here are
//! read from those payloads and add nothing to them.

use homeward_proto::{common::v1 as common, notification::v1 as pb};
use prost::Message;

use crate::{
    Context,
    error::{CliError, Service},
    events::{self, EventsArgs, Feed},
    view::{
        channel_word, close_reason_word, consent_purpose_word, delivery_state_word, intake_word,
        link_state_word, notification_kind_word, notification_state_word, risk_flag_word,
        task_kind_word, task_state_word, verification_state_word, withholding_word,
    },
};

/// What an event says, in a few words, for the event types this client knows; empty for the
/// others and for payloads it cannot read.
pub fn summary(event: &common::Event) -> String {
    let Some(payload) = event.payload.as_ref() else {
        return String::new();
    };
    let bytes = payload.value.as_slice();
    let text = match event.r#type.as_str() {
        "notification.inquiry.created" => pb::InquiryCreated::decode(bytes).ok().map(|e| {
            let office = if e.office.is_empty() {
                String::new()
            } else {
                format!(", office {}", e.office)
            };
            format!("intake {}{office}", intake_word(e.intake_channel))
        }),
        "notification.inquiry.updated" => pb::InquiryUpdated::decode(bytes)
            .ok()
            .map(|e| format!("changed: {}", e.changed_fields.join(", "))),
        "notification.inquiry.verification_changed" => {
            pb::RequesterVerificationChanged::decode(bytes)
                .ok()
                .map(|e| {
                    format!(
                        "requester {} -> {}",
                        verification_state_word(e.previous_state),
                        verification_state_word(e.state)
                    )
                })
        }
        "notification.inquiry.consent_changed" => pb::ConsentChanged::decode(bytes).ok().map(|e| {
            let purpose = if e.purpose == 0 {
                "every purpose".to_string()
            } else {
                consent_purpose_word(e.purpose)
            };
            let what = if e.withdrawn { "withdrawn" } else { "given" };
            format!("consent {what}: {purpose}")
        }),
        "notification.inquiry.risk_flagged" => pb::InquiryRiskFlagged::decode(bytes)
            .ok()
            .map(|e| format!("risk: {}", risk_flag_word(e.kind))),
        "notification.inquiry.closed" => pb::InquiryClosed::decode(bytes)
            .ok()
            .map(|e| format!("closed: {}", close_reason_word(e.reason))),
        "notification.link.proposed"
        | "notification.link.confirmed"
        | "notification.link.rejected" => pb::LinkChanged::decode(bytes).ok().map(|e| {
            format!(
                "inquiry {} - person {}: {}",
                e.inquiry_id,
                e.person_id,
                link_state_word(e.state)
            )
        }),
        "notification.link.withholding_changed" => pb::WithholdingChanged::decode(bytes)
            .ok()
            .map(|e| format!("withholding: {}", withholding_word(e.decision))),
        "notification.notification.created" | "notification.notification.state_changed" => {
            pb::NotificationChanged::decode(bytes).ok().map(|e| {
                format!(
                    "{}: {}",
                    notification_kind_word(e.kind),
                    notification_state_word(e.state)
                )
            })
        }
        "notification.delivery.state_changed" => pb::DeliveryChanged::decode(bytes).ok().map(|e| {
            format!(
                "{}: {} after {} attempts",
                channel_word(e.channel),
                delivery_state_word(e.state),
                e.attempts
            )
        }),
        "notification.task.created" | "notification.task.state_changed" => {
            pb::TaskChanged::decode(bytes)
                .ok()
                .map(|e| format!("{}: {}", task_kind_word(e.kind), task_state_word(e.state)))
        }
        _ => None,
    };
    text.unwrap_or_default()
}

pub async fn events(a: EventsArgs, ctx: &Context) -> Result<(), CliError> {
    let stream = ctx
        .notification()?
        .watch_events(pb::WatchEventsRequest {
            after_cursor: a.after(),
            types: a.types(),
        })
        .await?
        .into_inner();
    let feed = Feed {
        stream,
        event: |r: pb::WatchEventsResponse| r.event.unwrap_or_default(),
        summary,
        service: Service::Notification,
        command: "notification events",
    };
    events::show(feed, a, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payload: impl Message) -> common::Event {
        common::Event {
            cursor: "c3".into(),
            r#type: kind.into(),
            aggregate_id: "i1".into(),
            payload: Some(prost_types::Any {
                type_url: "type.googleapis.com/homeward.notification.v1.X".into(),
                value: payload.encode_to_vec(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn known_events_are_summarised_from_their_payloads() {
        let e = event(
            "notification.inquiry.verification_changed",
            pb::RequesterVerificationChanged {
                inquiry_id: "i1".into(),
                state: pb::VerificationState::Verified as i32,
                previous_state: pb::VerificationState::Unverified as i32,
            },
        );
        assert_eq!(summary(&e), "requester unverified -> verified");
        let e = event(
            "notification.notification.state_changed",
            pb::NotificationChanged {
                notification_id: "n1".into(),
                inquiry_id: "i1".into(),
                kind: pb::NotificationKind::Repatriated as i32,
                state: crate::args::NOTIFICATION_STATE_EMBARGOED,
            },
        );
        assert_eq!(summary(&e), "repatriated: embargoed");
        let e = event(
            "notification.inquiry.consent_changed",
            pb::ConsentChanged {
                inquiry_id: "i1".into(),
                purpose: 0,
                withdrawn: true,
            },
        );
        assert_eq!(summary(&e), "consent withdrawn: every purpose");
    }

    #[test]
    fn an_unknown_type_or_an_unreadable_payload_gives_no_summary_and_no_panic() {
        let mut e = event("notification.something.new", pb::InquiryClosed::default());
        assert_eq!(summary(&e), "");
        e.r#type = "notification.task.created".into();
        e.payload.as_mut().unwrap().value = vec![0xff, 0xff, 0xff];
        assert_eq!(summary(&e), "");
        e.payload = None;
        assert_eq!(summary(&e), "");
    }
}
