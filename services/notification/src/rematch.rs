//! New registrations may be someone a family is looking for: while the registry registers people,
//! open inquiries are matched against it again and new candidates are proposed as links for an
//! officer to confirm or reject. A proposal is never a confirmation: only an officer links a
//! family to a person.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use homeward_kit::timestamp;
use tokio_util::sync::CancellationToken;

use crate::{
    convert,
    grpc::Notifications,
    model::*,
    store::{DocWrite, Filter, Table, WriteBatch},
};

/// Candidates at least this sure are proposed.
const PROPOSE_FROM: f64 = 0.6;
const EVERY: Duration = Duration::from_secs(2);

pub fn spawn(service: Arc<Notifications>, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(EVERY) => {}
            }
            if service.rematch.swap(false, Ordering::Relaxed)
                && let Err(e) = service.rematch_open_inquiries().await
            {
                service.rematch.store(true, Ordering::Relaxed);
                tracing::debug!(error = %e, "re-matching open inquiries failed; trying again later");
            }
        }
    });
}

impl Notifications {
    /// Proposes links for open inquiries to newly matching registry persons.
    pub async fn rematch_open_inquiries(&self) -> Result<usize, crate::error::NotifyError> {
        let filter = Filter {
            tag: Some(InquiryState::Open.tag()),
            ..Filter::all_of("")
        };
        let open: Vec<Inquiry> = self
            .store
            .list(Table::Inquiries, &filter)
            .await?
            .iter()
            .map(|s| s.decode())
            .collect::<Result<_, _>>()?;
        if open.is_empty() {
            return Ok(0);
        }
        let identities = open
            .iter()
            .map(|i| convert::sought_to_candidate(&i.id.to_string(), &i.sought))
            .collect();
        let matches = self
            .peers
            .match_persons(identities, PROPOSE_FROM, 3)
            .await?;
        let now = timestamp::now_micros();
        let mut proposed = 0;
        for (inquiry, found) in open.iter().zip(matches) {
            let existing: Vec<Link> = self
                .store
                .list(Table::Links, &Filter::all_of(&inquiry.id.to_string()))
                .await?
                .iter()
                .map(|s| s.decode())
                .collect::<Result<_, _>>()?;
            let mut docs = Vec::new();
            for candidate in found.candidates {
                let Ok(person) = uuid::Uuid::parse_str(&candidate.person_id) else {
                    continue;
                };
                if existing.iter().any(|l| l.person_id == person) {
                    continue;
                }
                let link = Link {
                    id: crate::policy::notification_id(inquiry.id, &format!("link/{person}")),
                    inquiry_id: inquiry.id,
                    person_id: person,
                    state: LinkState::Proposed,
                    confidence: candidate.confidence,
                    explanation: candidate.explanation,
                    evidence_note: "proposed by matching after a new registration".into(),
                    proposed_by: "matcher".into(),
                    proposed_at_us: now,
                    decided_by: String::new(),
                    decided_at_us: None,
                    decision_note: String::new(),
                    withholding: None,
                };
                docs.push(DocWrite::new(
                    Table::Links,
                    link.id.to_string(),
                    inquiry.id.to_string(),
                    person.to_string(),
                    &link,
                ));
            }
            if docs.is_empty() {
                continue;
            }
            proposed += docs.len();
            // A link written meanwhile by an officer makes this batch fail; the next round
            // sees it.
            let _ = self
                .store
                .write(&WriteBatch {
                    docs,
                    ..Default::default()
                })
                .await;
        }
        Ok(proposed)
    }
}
