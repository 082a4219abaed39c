//! Retention: how long the notification service keeps what families told it and what it sent
//! them, and the sweeper that removes it when its time is up.
//!
//! | data | kept | then |
//! |---|---|---|
//! | the requester's names, contacts and relationship detail, and the inquiry's free text (birth place, last contact place, circumstances, distinguishing features) | while the inquiry is open or linked, and `closed_inquiry_days` after it closed | removed; the inquiry keeps its reference, state, consents, verification record and the sought person's names (the registry's subject) |
//! | message texts (subject and body) of notifications that were delivered, cancelled, failed or given in person | `message_days` after the last change | removed; kind, state, times and the delivery record stay |
//! | delivery addresses of deliveries that are over (sent, delivered, dead-lettered, cancelled) | as long as their notification's text | removed |
//! | the audit log, consents, links, tasks | for good | — |
//!
//! The sweeper runs every `sweep_interval_s` on one replica at a time (a lease) and records what
//! it did — counts, never contents — in the audit chain.

use std::{sync::Arc, time::Duration};

use homeward_kit::{StoreError, audit::AuditEntry, timestamp};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    grpc::Notifications,
    model::*,
    store::{DocWrite, Filter, Table, WriteBatch},
};

const PAGE: i64 = 500;
const DAY_US: i64 = 86_400_000_000;
/// What removed text is replaced with.
const REMOVED: &str = "";

/// How long data is kept (see the module's table).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Retention {
    pub closed_inquiry_days: u32,
    pub message_days: u32,
    pub sweep_interval_s: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            closed_inquiry_days: 365,
            message_days: 180,
            sweep_interval_s: 3_600,
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub inquiries: usize,
    pub messages: usize,
    pub addresses: usize,
}

/// Sweeps on schedule until `stop`.
pub fn spawn(service: Arc<Notifications>, stop: CancellationToken) {
    tokio::spawn(async move {
        let every = Duration::from_secs(service.config.retention.sweep_interval_s.max(1));
        let key = homeward_kit::db::lease_key("notification:retention");
        loop {
            match service.store.db().try_lease(key).await {
                Ok(Some(_lease)) => match service.sweep(timestamp::now_micros()).await {
                    Ok(swept) if swept == Swept::default() => {}
                    Ok(swept) => tracing::info!(
                        inquiries = swept.inquiries,
                        messages = swept.messages,
                        addresses = swept.addresses,
                        "retention sweep done"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "retention sweep failed; next round retries")
                    }
                },
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "retention lease not taken"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

impl Notifications {
    /// Removes what is past its time as of `now_us`, and records the counts in the audit log.
    pub async fn sweep(&self, now_us: i64) -> Result<Swept, StoreError> {
        let retention = &self.config.retention;
        let mut swept = Swept::default();
        let inquiry_cutoff = now_us - i64::from(retention.closed_inquiry_days) * DAY_US;
        let message_cutoff = now_us - i64::from(retention.message_days) * DAY_US;

        let mut after = 0;
        loop {
            let page = self
                .store
                .list(
                    Table::Inquiries,
                    &Filter {
                        parent: "",
                        tag: Some(InquiryState::Closed.tag()),
                        after,
                        limit: PAGE,
                    },
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let mut batch = WriteBatch::default();
            let mut anonymised_here = 0;
            for stored in &page {
                let mut inquiry: Inquiry = stored.decode()?;
                if inquiry.updated_at_us > inquiry_cutoff || anonymised(&inquiry) {
                    continue;
                }
                anonymise(&mut inquiry, now_us);
                batch.docs.push(
                    DocWrite::new(
                        Table::Inquiries,
                        inquiry.id.to_string(),
                        &inquiry.office,
                        inquiry.state.tag(),
                        &inquiry,
                    )
                    .replacing(stored.version),
                );
                anonymised_here += 1;
            }
            if self.write_swept(batch).await? {
                swept.inquiries += anonymised_here;
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }

        for state in [
            NotificationState::Delivered,
            NotificationState::Cancelled,
            NotificationState::Failed,
            NotificationState::InPerson,
        ] {
            let mut after = 0;
            loop {
                let page = self
                    .store
                    .list(
                        Table::Notifications,
                        &Filter {
                            parent: "",
                            tag: Some(state.tag()),
                            after,
                            limit: PAGE,
                        },
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                let mut batch = WriteBatch::default();
                let (mut messages, mut addresses) = (0, 0);
                for stored in &page {
                    let mut notification: Notification = stored.decode()?;
                    if notification.updated_at_us > message_cutoff
                        || (notification.subject.is_empty() && notification.body.is_empty())
                    {
                        continue;
                    }
                    for id in &notification.delivery_ids {
                        let Some(stored) =
                            self.store.get(Table::Deliveries, &id.to_string()).await?
                        else {
                            continue;
                        };
                        let mut delivery: Delivery = stored.decode()?;
                        if delivery.state == DeliveryState::Pending || delivery.address.is_empty() {
                            continue;
                        }
                        delivery.address = REMOVED.into();
                        delivery.messenger = REMOVED.into();
                        batch.docs.push(
                            DocWrite::new(
                                Table::Deliveries,
                                delivery.id.to_string(),
                                delivery.notification_id.to_string(),
                                delivery.state.tag(),
                                &delivery,
                            )
                            .replacing(stored.version),
                        );
                        addresses += 1;
                    }
                    notification.subject = REMOVED.into();
                    notification.body = REMOVED.into();
                    batch.docs.push(
                        DocWrite::new(
                            Table::Notifications,
                            notification.id.to_string(),
                            notification.inquiry_id.to_string(),
                            notification.state.tag(),
                            &notification,
                        )
                        .replacing(stored.version),
                    );
                    messages += 1;
                }
                if self.write_swept(batch).await? {
                    swept.messages += messages;
                    swept.addresses += addresses;
                }
                if (page.len() as i64) < PAGE {
                    break;
                }
            }
        }

        if swept != Swept::default() {
            let batch = WriteBatch {
                audit: vec![AuditEntry {
                    actor: "homeward-notification".into(),
                    action: "retention.sweep".into(),
                    target: String::new(),
                    request_id: String::new(),
                    details: serde_json::json!({
                        "inquiries_anonymised": swept.inquiries,
                        "message_texts_removed": swept.messages,
                        "delivery_addresses_removed": swept.addresses,
                        "closed_inquiry_days": retention.closed_inquiry_days,
                        "message_days": retention.message_days,
                    }),
                }],
                ..Default::default()
            };
            self.store.write(&batch).await?;
            self.feed.wake();
        }
        Ok(swept)
    }

    /// Writes one page of removals. A page with a record changed meanwhile is left whole for
    /// the next sweep (false).
    async fn write_swept(&self, batch: WriteBatch) -> Result<bool, StoreError> {
        if batch.docs.is_empty() {
            return Ok(false);
        }
        match self.store.write(&batch).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn anonymised(inquiry: &Inquiry) -> bool {
    inquiry.requester.names.is_empty() && inquiry.requester.contacts.is_empty()
}

fn anonymise(inquiry: &mut Inquiry, now_us: i64) {
    inquiry.requester.names.clear();
    inquiry.requester.contacts.clear();
    inquiry.requester.relationship_detail = REMOVED.into();
    inquiry.sought.birth_place = REMOVED.into();
    inquiry.sought.last_contact_place = REMOVED.into();
    inquiry.sought.circumstances = REMOVED.into();
    inquiry.sought.distinguishing_features = REMOVED.into();
    inquiry.close_note = REMOVED.into();
    inquiry.updated_at_us = now_us;
}
