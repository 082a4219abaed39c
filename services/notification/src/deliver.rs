//! The delivery worker: sends due deliveries through their channels, retries transient failures
//! with exponential backoff and jitter, and puts the rest in the dead-letter queue.
//!
//! A delivery is claimed before it is sent (its due time moved past a lease, written against the
//! version read, so one replica wins), then its outcome is written with the notification's new
//! state. A process that dies between sending and writing leaves the claim to expire and the
//! delivery is sent again under the same delivery id, which every channel passes on as its
//! idempotency key (Message-ID, Idempotency-Key header, file name): the family's provider sees
//! one message. Addresses and texts are never logged.
//!
//! The worker reports each attempt's outcome by channel, and a sampler the depth of the queue
//! (`DeliveryMetrics`); neither ever labels a metric with an address or a delivery id.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use homeward_delivery::{ChannelKind as Wire, Outgoing, SendError};
use homeward_kit::{
    StoreError,
    db::Db,
    metrics::{IntCounterVec, IntGauge, IntGaugeVec, ServiceMetrics},
    outbox::NewEvent,
    timestamp,
};
use homeward_proto::notification::v1 as pb;
use tokio_util::sync::CancellationToken;

use crate::{
    convert,
    grpc::Notifications,
    model::*,
    store::{DocWrite, Table, WriteBatch},
};

const BATCH: i64 = 256;
const SENDERS: usize = 32;

/// What the delivery worker reports.
#[derive(Clone)]
pub struct DeliveryMetrics {
    queued: IntGaugeVec,
    due: IntGauge,
    attempts: IntCounterVec,
}

/// The states whose deliveries are counted: the queue, and what it gave up on.
const COUNTED_STATES: [DeliveryState; 2] = [DeliveryState::Pending, DeliveryState::DeadLetter];

impl DeliveryMetrics {
    pub fn new(metrics: &ServiceMetrics) -> Self {
        Self {
            queued: metrics.gauge_vec(
                "homeward_notification_deliveries",
                "Deliveries still to be sent (pending, claimed ones included) or given up \
                 (dead_letter), by state",
                &["state"],
            ),
            due: metrics.gauge(
                "homeward_notification_deliveries_due",
                "Pending deliveries whose next attempt is due",
            ),
            attempts: metrics.counter_vec(
                "homeward_notification_delivery_attempts_total",
                "Delivery attempts by channel and outcome: accepted, retry (failed, tried again \
                 later) or dead_letter (failed for good)",
                &["channel", "outcome"],
            ),
        }
    }

    fn attempted(&self, channel: Option<Wire>, outcome: &str) {
        // No channel: the notification was cancelled before anything was sent.
        if let Some(channel) = channel {
            self.attempts
                .with_label_values(&[channel.as_str(), outcome])
                .inc();
        }
    }
}

/// Samples the depth of the delivery queue every `every` until `stop`.
pub fn spawn_sampler(
    service: Arc<Notifications>,
    metrics: DeliveryMetrics,
    every: Duration,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match queue_depth(&service.store.db(), timestamp::now_micros()).await {
                Ok((by_state, due)) => {
                    failing = false;
                    for state in COUNTED_STATES {
                        let count = by_state
                            .iter()
                            .find(|(tag, _)| tag == state.tag())
                            .map_or(0, |(_, n)| *n);
                        metrics.queued.with_label_values(&[state.tag()]).set(count);
                    }
                    metrics.due.set(due);
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "delivery queue depth not sampled");
                    }
                    failing = true;
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Deliveries per counted state, and the pending ones due at `now`: reads of the state and
/// due-time indexes, never of the records.
async fn queue_depth(db: &Db, now: i64) -> Result<(Vec<(String, i64)>, i64), StoreError> {
    const BY_STATE: &str =
        "SELECT tag, COUNT(*) FROM deliveries WHERE tag IN ($1, $2) GROUP BY tag";
    const DUE: &str = "SELECT COUNT(*) FROM deliveries WHERE due_us <= $1 AND tag = $2";
    let [first, second] = COUNTED_STATES.map(DeliveryState::tag);
    let pending = DeliveryState::Pending.tag();
    Ok(match db {
        Db::Postgres(pool) => (
            sqlx::query_as(BY_STATE)
                .bind(first)
                .bind(second)
                .fetch_all(pool)
                .await?,
            sqlx::query_scalar(DUE)
                .bind(now)
                .bind(pending)
                .fetch_one(pool)
                .await?,
        ),
        Db::Sqlite(pool) => (
            sqlx::query_as(BY_STATE)
                .bind(first)
                .bind(second)
                .fetch_all(pool)
                .await?,
            sqlx::query_scalar(DUE)
                .bind(now)
                .bind(pending)
                .fetch_one(pool)
                .await?,
        ),
    })
}

pub fn spawn(service: Arc<Notifications>, metrics: DeliveryMetrics, stop: CancellationToken) {
    tokio::spawn(async move {
        let poll = Duration::from_millis(service.config.messages.poll_ms.max(10));
        loop {
            let busy = match service.deliver_due(&metrics).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery round failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = service.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    });
}

fn wire(kind: ChannelKind) -> Wire {
    match kind {
        ChannelKind::Email => Wire::Email,
        ChannelKind::Sms => Wire::Sms,
        ChannelKind::Messenger => Wire::Messenger,
        ChannelKind::File => Wire::File,
    }
}

impl Notifications {
    /// One round: claims and sends what is due. Returns how many were attempted.
    pub async fn deliver_due(&self, metrics: &DeliveryMetrics) -> Result<usize, StoreError> {
        let now = timestamp::now_micros();
        let due = self.store.due(Table::Deliveries, now, BATCH).await?;
        // Claimed together in one write; if another replica took one of them meanwhile, each is
        // claimed on its own and the taken ones are left.
        let mut candidates = Vec::new();
        for stored in due {
            let mut delivery: Delivery = stored.decode()?;
            if delivery.state != DeliveryState::Pending {
                continue;
            }
            delivery.attempts += 1;
            delivery.updated_at_us = now;
            let claim = DocWrite::new(
                Table::Deliveries,
                stored.id.clone(),
                delivery.notification_id.to_string(),
                delivery.state.tag(),
                &delivery,
            )
            .replacing(stored.version)
            .due(Some(now + self.config.messages.claim_ms as i64 * 1_000));
            candidates.push((delivery, stored.version + 1, claim));
        }
        if candidates.is_empty() {
            return Ok(0);
        }
        let together = WriteBatch {
            docs: candidates.iter().map(|(_, _, c)| c.clone()).collect(),
            ..Default::default()
        };
        let mut claimed = Vec::new();
        match self.store.write(&together).await {
            Ok(_) => claimed.extend(candidates.into_iter().map(|(d, v, _)| (d, v))),
            Err(StoreError::Conflict) => {
                for (delivery, version, claim) in candidates {
                    match self
                        .store
                        .write(&WriteBatch {
                            docs: vec![claim],
                            ..Default::default()
                        })
                        .await
                    {
                        Ok(_) => claimed.push((delivery, version)),
                        Err(StoreError::Conflict) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
        let attempted = claimed.len();
        let mut outcomes = Vec::with_capacity(attempted);
        for chunk in claimed.chunks(SENDERS) {
            let mut running = futures::stream::FuturesOrdered::new();
            for (delivery, version) in chunk {
                running.push_back(self.attempt(delivery.clone(), *version, metrics));
            }
            while let Some(done) = running.next().await {
                match done {
                    Ok(Some(outcome)) => outcomes.push(outcome),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery not attempted; it is retried when its claim expires")
                    }
                }
            }
        }
        // Outcomes of notifications with one delivery are recorded together; the others (and
        // all of them, if something changed meanwhile) one by one.
        let (single, several): (Vec<Outcome>, Vec<Outcome>) = outcomes
            .into_iter()
            .partition(|o| o.notification.0.delivery_ids.len() == 1);
        let mut one_by_one = several;
        if !single.is_empty() {
            let mut batch = WriteBatch::default();
            for o in &single {
                let mut notification = o.notification.0.clone();
                let previous = notification.state;
                settle_notification(
                    &mut notification,
                    &[o.delivery.state],
                    o.delivery.updated_at_us,
                );
                record_docs(
                    &mut batch,
                    &o.delivery,
                    o.version,
                    o.due,
                    &notification,
                    o.notification.1,
                    previous,
                );
            }
            match self.store.write(&batch).await {
                Ok(_) => self.feed.wake(),
                Err(StoreError::Conflict) => one_by_one.extend(single),
                Err(e) => return Err(e),
            }
        }
        for o in one_by_one {
            if let Err(e) = self.record_one(o).await {
                tracing::warn!(error = %e, "delivery outcome not recorded; it is retried when its claim expires");
            }
        }
        Ok(attempted)
    }

    /// Sends one claimed delivery and works out its new state (not yet written).
    async fn attempt(
        &self,
        mut delivery: Delivery,
        version: i64,
        metrics: &DeliveryMetrics,
    ) -> Result<Option<Outcome>, StoreError> {
        let notification: Option<(Notification, i64)> = match self
            .store
            .get(Table::Notifications, &delivery.notification_id.to_string())
            .await?
        {
            Some(s) => Some((s.decode()?, s.version)),
            None => None,
        };
        let Some((notification, read_version)) = notification else {
            return Ok(None);
        };
        let message = Outgoing {
            delivery_id: delivery.id.to_string(),
            to: delivery.address.clone(),
            messenger: delivery.messenger.clone(),
            subject: notification.subject.clone(),
            body: notification.body.clone(),
            language: notification.language.clone(),
        };
        let (outcome, channel) = if notification.state == NotificationState::Cancelled {
            (
                Err(SendError::Permanent(
                    "the notification was cancelled".into(),
                )),
                None,
            )
        } else {
            // Where a channel is not set up (a field office without a mail relay), the letter
            // is written to the file sink for the office to send by hand.
            let kind = wire(delivery.channel);
            let kind =
                if !self.channels.is_available(kind) && self.channels.is_available(Wire::File) {
                    Wire::File
                } else {
                    kind
                };
            (self.channels.send(kind, &message).await, Some(kind))
        };
        let now = timestamp::now_micros();
        let mut due = None;
        match outcome {
            Ok(sent) => {
                // A written letter is as far as it goes, whether asked for or fallen back to.
                delivery.state = if channel == Some(Wire::File) {
                    DeliveryState::Delivered
                } else {
                    DeliveryState::Sent
                };
                delivery.provider_message_id = sent.provider_message_id;
                delivery.delivered_at_us = Some(now);
                delivery.last_error.clear();
                delivery.history.push(Attempt {
                    at_us: now,
                    outcome: "accepted".into(),
                });
                metrics.attempted(channel, "accepted");
                tracing::info!(delivery = %delivery.id, attempts = delivery.attempts, "delivery accepted");
            }
            Err(e) => {
                delivery.last_error = e.reason().chars().take(300).collect();
                delivery.history.push(Attempt {
                    at_us: now,
                    outcome: e.to_string().chars().take(300).collect(),
                });
                if e.is_transient() && !self.backoff.exhausted(delivery.attempts) {
                    let delay = self.backoff.delay(delivery.attempts, &mut rand::rng());
                    let next = now + delay.as_micros() as i64;
                    delivery.next_attempt_at_us = Some(next);
                    due = Some(next);
                    metrics.attempted(channel, "retry");
                    tracing::info!(delivery = %delivery.id, attempts = delivery.attempts, "delivery failed, retrying later");
                } else {
                    delivery.state = DeliveryState::DeadLetter;
                    delivery.next_attempt_at_us = None;
                    metrics.attempted(channel, "dead_letter");
                    tracing::warn!(delivery = %delivery.id, attempts = delivery.attempts, "delivery dead-lettered");
                }
            }
        }
        delivery.updated_at_us = now;
        Ok(Some(Outcome {
            delivery,
            version,
            due,
            notification: (notification, read_version),
        }))
    }

    /// Records one outcome with its notification's new state, re-reading the notification (and
    /// its other deliveries) when something changed it meanwhile.
    async fn record_one(&self, outcome: Outcome) -> Result<(), StoreError> {
        let Outcome {
            delivery,
            version,
            due,
            notification,
        } = outcome;
        // The notification as read before sending serves the first try.
        let mut first_read = Some(notification);
        for _ in 0..5 {
            let (mut notification, stored_version) = match first_read.take() {
                Some(read) => read,
                None => match self
                    .store
                    .get(Table::Notifications, &delivery.notification_id.to_string())
                    .await?
                {
                    Some(stored) => (stored.decode()?, stored.version),
                    None => return Ok(()),
                },
            };
            let mut siblings = Vec::new();
            for id in &notification.delivery_ids {
                if *id == delivery.id {
                    siblings.push(delivery.state);
                } else if let Some(s) = self.store.get(Table::Deliveries, &id.to_string()).await? {
                    siblings.push(s.decode::<Delivery>()?.state);
                }
            }
            let previous = notification.state;
            settle_notification(&mut notification, &siblings, delivery.updated_at_us);
            let mut batch = WriteBatch::default();
            record_docs(
                &mut batch,
                &delivery,
                version,
                due,
                &notification,
                stored_version,
                previous,
            );
            match self.store.write(&batch).await {
                Ok(_) => {
                    self.feed.wake();
                    return Ok(());
                }
                Err(StoreError::Conflict) => {
                    // Either a sibling delivery moved the notification (retry), or this
                    // delivery was changed meanwhile (RetryDelivery, a cancel): then stop.
                    let current = self
                        .store
                        .get(Table::Deliveries, &delivery.id.to_string())
                        .await?;
                    if current.is_none_or(|c| c.version != version) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }
}

/// A sent (or failed) delivery, not yet recorded.
pub(crate) struct Outcome {
    delivery: Delivery,
    /// The delivery's version as claimed.
    version: i64,
    /// When to try again, for a transient failure.
    due: Option<i64>,
    /// The notification as read before sending, with its version.
    notification: (Notification, i64),
}

/// The notification follows its deliveries: delivered once any reached the family, failed
/// once all are dead letters.
fn settle_notification(notification: &mut Notification, deliveries: &[DeliveryState], now: i64) {
    if matches!(
        notification.state,
        NotificationState::Queued | NotificationState::Failed
    ) {
        notification.state = if deliveries
            .iter()
            .any(|s| matches!(s, DeliveryState::Sent | DeliveryState::Delivered))
        {
            NotificationState::Delivered
        } else if deliveries.iter().all(|s| *s == DeliveryState::DeadLetter) {
            NotificationState::Failed
        } else {
            NotificationState::Queued
        };
    }
    notification.updated_at_us = now;
}

/// The writes and events that record one delivery's outcome.
fn record_docs(
    batch: &mut WriteBatch,
    delivery: &Delivery,
    version: i64,
    due: Option<i64>,
    notification: &Notification,
    notification_version: i64,
    previous: NotificationState,
) {
    batch.docs.push(
        DocWrite::new(
            Table::Deliveries,
            delivery.id.to_string(),
            delivery.notification_id.to_string(),
            delivery.state.tag(),
            delivery,
        )
        .replacing(version)
        .due(due),
    );
    batch.docs.push(
        DocWrite::new(
            Table::Notifications,
            notification.id.to_string(),
            notification.inquiry_id.to_string(),
            notification.state.tag(),
            notification,
        )
        .replacing(notification_version),
    );
    batch.events.push(NewEvent::new(
        "notification.delivery.changed",
        &notification.inquiry_id.to_string(),
        &pb::DeliveryChanged {
            delivery_id: delivery.id.to_string(),
            notification_id: notification.id.to_string(),
            channel: convert::channel_to_pb(delivery.channel) as i32,
            state: convert::delivery_state_to_pb(delivery.state) as i32,
            attempts: delivery.attempts,
        },
    ));
    if previous != notification.state {
        batch.events.push(NewEvent::new(
            "notification.notification.changed",
            &notification.inquiry_id.to_string(),
            &pb::NotificationChanged {
                notification_id: notification.id.to_string(),
                inquiry_id: notification.inquiry_id.to_string(),
                kind: convert::kind_to_pb(notification.kind) as i32,
                state: convert::notification_state_to_pb(notification.state) as i32,
            },
        ));
    }
}
