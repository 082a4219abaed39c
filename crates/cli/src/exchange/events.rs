//! `homewardctl exchange events`: the exchange service's event stream, from a cursor. The
//! service never ends the stream (it follows new events as they happen), so without --follow
//! the command stops once no event has come for --idle, and names the cursor to go on from.
//!
//! Until a phase completes, events carry ids, references and counts, never names; the summaries
//! shown here are read from those payloads and add nothing to them.

use std::time::Duration;

use clap::Args;
use homeward_proto::{common::v1 as common, exchange::v1 as pb};
use prost::Message;

use super::text;
use crate::{
    Context, args,
    error::CliError,
    output::{self, OutputFormat},
    view::{
        check_result_word, consent_word,
        exchange::{EventView, EventsView},
        hold_back_reason_word, list_kind_word, phase_state_word, review_decision_word,
    },
};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Start after this cursor, as printed by an earlier run [default: the beginning].
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
    /// Only events of this type, such as exchange.phase.state_changed; repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Keep printing new events as they happen, one per line, until interrupted.
    #[arg(long)]
    follow: bool,
    /// Without --follow, stop once no event has come for this long.
    #[arg(long, default_value = "2s", value_parser = args::duration, conflicts_with = "follow")]
    idle: Duration,
}

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
    let mut stream = ctx
        .exchange()?
        .watch_events(pb::WatchEventsRequest {
            after_cursor: text(a.after.clone()),
            types: a.types.iter().map(|t| t.trim().to_string()).collect(),
        })
        .await?
        .into_inner();
    let mut last_cursor = text(a.after);
    if a.follow {
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let message = tokio::select! {
                message = stream.message() => message,
                _ = &mut interrupted => break,
            };
            let event = match message {
                Ok(Some(response)) => response.event.unwrap_or_default(),
                Ok(None) => {
                    output::note("the exchange service ended the stream");
                    break;
                }
                Err(status) => {
                    resume_note(&last_cursor);
                    return Err(status.into());
                }
            };
            let view = EventView::new(&event, summary(&event));
            let line = match ctx.output {
                OutputFormat::Table => view.line(),
                // One object per line, so a script can read events as they come.
                OutputFormat::Json => serde_json::to_string(&view)
                    .map_err(|e| CliError::Failed(format!("could not write JSON: {e}")))?,
            };
            output::print(&line)?;
            last_cursor = view.cursor;
        }
        resume_note(&last_cursor);
        return Ok(());
    }
    let mut events = Vec::new();
    loop {
        let event = match tokio::time::timeout(a.idle, stream.message()).await {
            // Quiet for --idle: caught up.
            Err(_) | Ok(Ok(None)) => break,
            Ok(Ok(Some(response))) => response.event.unwrap_or_default(),
            Ok(Err(status)) => return Err(status.into()),
        };
        events.push(EventView::new(&event, summary(&event)));
    }
    if let Some(last) = events.last() {
        last_cursor = last.cursor.clone();
    }
    output::show(
        ctx.output,
        &EventsView {
            events,
            last_cursor: last_cursor.clone(),
        },
    )?;
    if ctx.output == OutputFormat::Table {
        resume_note(&last_cursor);
    }
    Ok(())
}

fn resume_note(cursor: &str) {
    if !cursor.is_empty() {
        output::note(&format!(
            "go on from here with `homewardctl exchange events --after {cursor}`"
        ));
    }
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
        let view = EventView::new(&e, summary(&e));
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
