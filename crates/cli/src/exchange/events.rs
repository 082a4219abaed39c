//! `homewardctl exchange events`: the exchange service's event stream, from a cursor, read and
//! printed as `crate::events` does for every service.
//!
//! Until a phase completes, events carry ids, references and counts, never names; the summaries
//! shown here are read from those payloads and add nothing to them.

use homeward_proto::{common::v1 as common, exchange::v1 as pb};
use prost::Message;

pub use crate::events::EventsArgs;
use crate::{
    Context,
    error::{CliError, Service},
    events::{self, Feed},
    view::{
        check_result_word, consent_word, hold_back_reason_word, list_kind_word, phase_state_word,
        review_decision_word,
    },
};

/// What an event says, in a few words, for the event types this client knows; empty for the
/// others and for payloads it cannot read.
pub fn summary(event: &common::Event) -> String {
    let Some(payload) = event.payload.as_ref() else {
        return String::new();
    };
    let bytes = payload.value.as_slice();
    let key = |k: &Option<pb::ListEntryKey>| {
        k.as_ref()
            .map(|k| format!("{} {} {}", k.party, list_kind_word(k.kind), k.reference))
            .unwrap_or_default()
    };
    let text = match event.r#type.as_str() {
        "exchange.agreement.created" => pb::AgreementCreated::decode(bytes)
            .ok()
            .map(|e| e.agreement.unwrap_or_default().title),
        "exchange.phase.created" => pb::PhaseCreated::decode(bytes).ok().map(|e| {
            let phase = e.phase.unwrap_or_default();
            format!("phase {} of agreement {}", phase.number, phase.agreement_id)
        }),
        "exchange.phase.updated" | "exchange.agreement.updated" => {
            let fields = if event.r#type == "exchange.phase.updated" {
                pb::PhaseUpdated::decode(bytes)
                    .ok()
                    .map(|e| e.changed_fields)
            } else {
                pb::AgreementUpdated::decode(bytes)
                    .ok()
                    .map(|e| e.changed_fields)
            };
            fields.map(|f| format!("changed: {}", f.join(", ")))
        }
        "exchange.phase.state_changed" => pb::PhaseStateChanged::decode(bytes).ok().map(|e| {
            let state = e.phase.map(|p| p.state).unwrap_or_default();
            let mut s = format!(
                "{} -> {}",
                phase_state_word(e.previous_state),
                phase_state_word(state)
            );
            if !e.reason.is_empty() {
                s.push_str(&format!(": {}", e.reason));
            }
            s
        }),
        "exchange.phase.completed" => pb::PhaseCompleted::decode(bytes).ok().map(|e| {
            format!(
                "{}: {} repatriated, {} refused, {} not handed over",
                phase_state_word(e.phase.map(|p| p.state).unwrap_or_default()),
                e.repatriated_person_ids.len(),
                e.refused_person_ids.len(),
                e.not_handed_over_person_ids.len()
            )
        }),
        "exchange.list.submitted" => pb::ListSubmitted::decode(bytes).ok().map(|e| {
            let list = e.list.unwrap_or_default();
            format!(
                "{} {} v{}, {} entries",
                list.party,
                list_kind_word(list.kind),
                list.version,
                e.entry_count
            )
        }),
        "exchange.reconciliation.created" => {
            pb::ReconciliationCreated::decode(bytes).ok().map(|e| {
                let s = e.reconciliation.and_then(|r| r.summary).unwrap_or_default();
                format!("{} paired, {} reviews open", s.paired, s.open_reviews)
            })
        }
        "exchange.reconciliation.item_reviewed" => {
            pb::ReconciliationItemReviewed::decode(bytes).ok().map(|e| {
                format!(
                    "item {}: {}, {} reviews open",
                    e.item_id,
                    review_decision_word(e.decision),
                    e.summary.unwrap_or_default().open_reviews
                )
            })
        }
        "exchange.consent.recorded" => pb::ConsentRecorded::decode(bytes)
            .ok()
            .map(|e| format!("{}: {}", key(&e.entry), consent_word(e.decision))),
        "exchange.hold_back.recorded" | "exchange.hold_back.updated" => {
            pb::HoldBackChanged::decode(bytes).ok().map(|e| {
                let mut s = format!("{}: {}", key(&e.entry), hold_back_reason_word(e.reason));
                if e.other_side_informed {
                    s.push_str(", other side informed");
                }
                if e.lifted {
                    s.push_str(", lifted");
                }
                s
            })
        }
        "exchange.handover.checked" => pb::HandoverChecked::decode(bytes).ok().map(|e| {
            // Someone on no list has no entry to name; the party that presented them is known.
            let who = match key(&e.entry) {
                k if k.is_empty() => format!("presented by {}", e.handing_party),
                k => k,
            };
            format!("{who}: {}", check_result_word(e.result))
        }),
        _ => None,
    };
    text.unwrap_or_default()
}

pub async fn events(a: EventsArgs, ctx: &Context) -> Result<(), CliError> {
    let stream = ctx
        .exchange()?
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
        service: Service::Exchange,
        command: "exchange events",
    };
    events::show(feed, a, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payload: impl Message, type_name: &str) -> common::Event {
        common::Event {
            cursor: "c9".into(),
            r#type: kind.into(),
            aggregate_id: "ph1".into(),
            payload: Some(prost_types::Any {
                type_url: format!("type.googleapis.com/homeward.exchange.v1.{type_name}"),
                value: payload.encode_to_vec(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn known_events_are_summarised_from_their_payloads() {
        let e = event(
            "exchange.phase.state_changed",
            pb::PhaseStateChanged {
                phase: Some(pb::Phase {
                    state: pb::PhaseState::ListsFrozen as i32,
                    ..Default::default()
                }),
                previous_state: pb::PhaseState::Negotiating as i32,
                reason: String::new(),
            },
            "PhaseStateChanged",
        );
        assert_eq!(summary(&e), "negotiating -> lists-frozen");
        let e = event(
            "exchange.list.submitted",
            pb::ListSubmitted {
                phase_id: "ph1".into(),
                list: Some(pb::ListVersionRef {
                    party: "RU".into(),
                    kind: pb::ListKind::Offer as i32,
                    version: 3,
                }),
                entry_count: 390,
                content_hash: String::new(),
            },
            "ListSubmitted",
        );
        assert_eq!(summary(&e), "RU offer v3, 390 entries");
        let view = crate::view::EventView::new(&e, summary(&e));
        assert!(
            view.line().contains("exchange.list.submitted"),
            "{}",
            view.line()
        );
        assert!(view.line().ends_with("(cursor c9)"), "{}", view.line());
    }

    #[test]
    fn an_unknown_type_or_an_unreadable_payload_gives_no_summary_and_no_panic() {
        let mut e = event("exchange.something.new", pb::PhaseCreated::default(), "X");
        assert_eq!(summary(&e), "");
        e.r#type = "exchange.list.submitted".into();
        e.payload.as_mut().unwrap().value = vec![0xff, 0xff, 0xff];
        assert_eq!(summary(&e), "");
        e.payload = None;
        assert_eq!(summary(&e), "");
    }
}
