//! Following the registry's and the exchange service's event streams, exactly once.
//!
//! Each event is handled in one transaction that holds its effects (notifications, deliveries,
//! tasks), the record that it was handled, and the stream's new cursor. The cursor is written
//! against the version read, so two replicas following the same stream cannot both apply an
//! event: the second one's write fails, and it starts again from the stored cursor. A process
//! killed anywhere resumes from the last event whose effects were committed, so each family
//! gets each piece of news once. Replicas take turns through a lease (`Db::try_lease`): one
//! follows each stream, the others stand by; the versioned cursor keeps it exact even when a
//! lease is lost unnoticed.
//!
//! Each follower reports how many events it handled and how far behind it is
//! (`homeward_kit::metrics::ConsumerMetrics`).

use std::{collections::HashSet, sync::Arc, time::Duration};

use futures::StreamExt;
use homeward_kit::{StoreError, metrics::ConsumerMetrics, timestamp};
use homeward_proto::{
    common::v1::Event,
    exchange::v1 as exchange,
    registry::v1::{self as registry, PersonStatus},
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    error::NotifyError,
    grpc::{Loaded, Notifications},
    model::*,
    policy::{self, Effect, Route},
    store::{DocWrite, Filter, Table, WriteBatch},
};

/// Events applied in one transaction at most.
const BATCH: usize = 200;
/// How long a batch waits for more events to arrive.
const GATHER: Duration = Duration::from_millis(5);
/// Events of a batch worked out at once.
const PREPARERS: usize = 8;

/// The streams followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Registry,
    Exchange,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Registry => "registry",
            Stream::Exchange => "exchange",
        }
    }

    fn types(self) -> Vec<String> {
        match self {
            Stream::Registry => vec![
                "registry.person.status_changed".into(),
                "registry.person.created".into(),
            ],
            Stream::Exchange => vec![
                "exchange.phase.completed".into(),
                "exchange.phase.state_changed".into(),
            ],
        }
    }
}

type Result<T> = std::result::Result<T, NotifyError>;

/// Follows `stream` until `stop`, reconnecting after every break.
pub fn spawn(
    service: Arc<Notifications>,
    stream: Stream,
    metrics: ConsumerMetrics,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let pause = Duration::from_millis(service.config.peers.reconnect_ms.max(50));
        let key = homeward_kit::db::lease_key(&format!("notification:follow:{}", stream.name()));
        loop {
            // One replica follows each stream; the others wait for its lease (its process or
            // connection gone) instead of working out the same events to lose the race.
            let lease = match service.store.db().try_lease(key).await {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
                Err(e) => {
                    tracing::debug!(stream = stream.name(), error = %e, "lease not taken, retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                outcome = service.follow(stream, &metrics) => outcome,
            };
            drop(lease);
            if let Err(e) = outcome {
                tracing::debug!(stream = stream.name(), error = %e, "event stream interrupted, resuming");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    });
}

impl Notifications {
    async fn cursor(&self, stream: Stream) -> Result<Option<Loaded<Cursor>>> {
        Ok(match self.store.get(Table::Cursors, stream.name()).await? {
            None => None,
            Some(stored) => Some(Loaded {
                record: stored.decode()?,
                version: stored.version,
            }),
        })
    }

    /// Reads the stream from the stored cursor until it breaks.
    async fn follow(&self, stream: Stream, metrics: &ConsumerMetrics) -> Result<()> {
        let mut cursor = self.cursor(stream).await?;
        let after = cursor
            .as_ref()
            .map(|c| c.record.cursor.clone())
            .unwrap_or_default();
        let mut events = match stream {
            Stream::Registry => {
                let request = self.peers.request(
                    registry::WatchEventsRequest {
                        after_cursor: after,
                        types: stream.types(),
                    },
                    false,
                )?;
                let mut client = self.peers.registry.clone();
                let inner = client
                    .watch_events(request)
                    .await
                    .map_err(|s| NotifyError::from_registry(&s))?
                    .into_inner();
                EventSource::Registry(inner)
            }
            Stream::Exchange => {
                let request = self.peers.request(
                    exchange::WatchEventsRequest {
                        after_cursor: after,
                        types: stream.types(),
                    },
                    false,
                )?;
                let mut client = self.peers.exchange.clone();
                let inner = client
                    .watch_events(request)
                    .await
                    .map_err(|s| NotifyError::from_registry(&s))?
                    .into_inner();
                EventSource::Exchange(inner)
            }
        };
        // Events are applied in batches: as many as arrive together, up to `BATCH`, as long as
        // each concerns another aggregate (person or phase) than the others in the batch, so
        // their effects cannot depend on each other and can be worked out concurrently. A batch
        // is written in one transaction with the cursor after its last event.
        let mut carried: Option<Event> = None;
        loop {
            let first = match carried.take() {
                Some(event) => event,
                None => match events.next().await? {
                    Some(event) => event,
                    None => return Ok(()),
                },
            };
            let mut batch = vec![first];
            let mut aggregates: HashSet<String> =
                batch.iter().map(|e| e.aggregate_id.clone()).collect();
            while batch.len() < BATCH {
                match tokio::time::timeout(GATHER, events.next()).await {
                    Ok(Ok(Some(event))) => {
                        if aggregates.insert(event.aggregate_id.clone()) {
                            batch.push(event);
                        } else {
                            carried = Some(event);
                            break;
                        }
                    }
                    Ok(Ok(None)) | Err(_) => break,
                    Ok(Err(e)) => return Err(e),
                }
            }
            let mut prepared: Vec<(Vec<DocWrite>, u32)> = Vec::with_capacity(batch.len());
            for chunk in batch.chunks(PREPARERS) {
                let mut running = futures::stream::FuturesOrdered::new();
                for event in chunk {
                    let span = homeward_kit::telemetry::event_span(
                        "notification",
                        &event.r#type,
                        &event.event_id,
                        &event.traceparent,
                    );
                    running.push_back(self.prepare(stream, event).instrument(span));
                }
                while let Some(done) = running.next().await {
                    prepared.push(done?);
                }
            }
            let notifications = prepared.iter().map(|(_, n)| n).sum();
            let docs = prepared.into_iter().flat_map(|(d, _)| d).collect();
            let last = batch.last().expect("a batch holds at least one event");
            cursor = Some(
                self.commit_events(stream, docs, last, cursor, notifications)
                    .await?,
            );
            metrics.handled(
                batch.len(),
                last.occur_time
                    .as_ref()
                    .and_then(timestamp::proto_to_micros),
            );
        }
    }

    /// What one event writes: its effects and the record that it was handled.
    async fn prepare(&self, stream: Stream, event: &Event) -> Result<(Vec<DocWrite>, u32)> {
        let now = timestamp::now_micros();
        let handled_id = format!("{}/{}", stream.name(), event.event_id);
        let already = self.store.get(Table::Handled, &handled_id).await?.is_some();
        let mut docs = Vec::new();
        let mut notifications = 0;
        if !already {
            for (effect, replaces) in self.effects(stream, event, now).await? {
                notifications += 1;
                if matches!(effect.notification.kind, Kind::Repatriated | Kind::Released)
                    && effect.notification.state == NotificationState::Queued
                {
                    docs.extend(self.superseded_tasks(&effect.notification, now).await?);
                }
                effect_docs(&mut docs, effect, replaces);
            }
            docs.push(DocWrite::new(
                Table::Handled,
                &handled_id,
                stream.name(),
                &event.r#type,
                &Handled {
                    stream: stream.name().into(),
                    event_id: event.event_id.clone(),
                    event_type: event.r#type.clone(),
                    notifications,
                    at_us: now,
                },
            ));
        }
        Ok((docs, notifications))
    }

    /// Writes events' records with the cursor after `event`, in one transaction.
    async fn commit_events(
        &self,
        stream: Stream,
        mut docs: Vec<DocWrite>,
        event: &Event,
        cursor: Option<Loaded<Cursor>>,
        notifications: u32,
    ) -> Result<Loaded<Cursor>> {
        let now = timestamp::now_micros();
        let counted = docs.iter().filter(|d| d.table == Table::Handled).count() as u64;
        let next = Cursor {
            stream: stream.name().into(),
            cursor: event.cursor.clone(),
            events: cursor.as_ref().map(|c| c.record.events).unwrap_or(0) + counted,
            updated_at_us: now,
        };
        let doc = DocWrite::new(Table::Cursors, stream.name(), "", "", &next);
        let version = match &cursor {
            Some(c) => {
                docs.push(doc.replacing(c.version));
                c.version + 1
            }
            None => {
                docs.push(doc);
                1
            }
        };
        let batch = WriteBatch {
            docs,
            ..Default::default()
        };
        match self.store.write(&batch).await {
            Ok(_) => {}
            // Another replica moved the cursor or handled the event first: start again from
            // the stored cursor.
            Err(StoreError::Conflict | StoreError::UniqueViolation(_)) => {
                return Err(NotifyError::refused(
                    "CURSOR_MOVED",
                    "another replica follows this stream",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if notifications > 0 {
            self.wake.notify_one();
            self.feed.wake();
        }
        Ok(Loaded {
            record: next,
            version,
        })
    }

    /// What one event changes: each effect with the version of the notification it replaces
    /// (`None` for a new one).
    async fn effects(
        &self,
        stream: Stream,
        event: &Event,
        now: i64,
    ) -> Result<Vec<(Effect, Option<i64>)>> {
        let payload = event
            .payload
            .as_ref()
            .map(|p| p.value.as_slice())
            .unwrap_or_default();
        let source = format!("{}/{}", stream.name(), event.event_id);
        let unreadable = |e: prost::DecodeError| {
            NotifyError::Store(StoreError::Other(format!(
                "unreadable event {}: {e}",
                event.event_id
            )))
        };
        match event.r#type.as_str() {
            "registry.person.created" => {
                self.rematch
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(Vec::new())
            }
            "registry.person.status_changed" => {
                let changed = registry::PersonStatusChanged::decode(payload).map_err(unreadable)?;
                let Some(person) = changed
                    .person
                    .as_ref()
                    .and_then(|p| Uuid::parse_str(&p.id).ok())
                else {
                    return Ok(Vec::new());
                };
                let change = changed.change.unwrap_or_default();
                let status = PersonStatus::try_from(change.status).unwrap_or_default();
                let previous = PersonStatus::try_from(changed.previous_status).unwrap_or_default();
                if previous == PersonStatus::ReservedForExchange
                    && status != PersonStatus::Repatriated
                    && status != PersonStatus::Released
                {
                    // Taken out of an exchange (unfrozen, cancelled, not handed over): the
                    // embargoed news is dropped, and going back to where they were is no news.
                    return self
                        .settle_embargo_of(
                            Some(person),
                            &change.exchange_id,
                            |p| (p == person).then_some(false),
                            now,
                        )
                        .await;
                }
                if previous == status {
                    return Ok(Vec::new());
                }
                if matches!(status, PersonStatus::Repatriated | PersonStatus::Released)
                    && !change.exchange_id.is_empty()
                {
                    // Handed over: the registry marks it when the exchange confirms the handover,
                    // in the same stream as the reservation, so the embargoed news is released
                    // here in order. News nobody embargoed (a link confirmed after the
                    // reservation) is composed now, unless the exchange's own event told it.
                    let released = self
                        .settle_embargo_of(
                            Some(person),
                            &change.exchange_id,
                            |p| (p == person).then_some(true),
                            now,
                        )
                        .await?;
                    if !released.is_empty() {
                        return Ok(released);
                    }
                    let kind = if status == PersonStatus::Released {
                        Kind::Released
                    } else {
                        Kind::Repatriated
                    };
                    let mut fresh = self
                        .for_linked(person, &Route::Automated(kind), &source, now)
                        .await?;
                    let mut out = Vec::new();
                    for (effect, replaces) in fresh.drain(..) {
                        if !self
                            .told_of_phase(effect.notification.inquiry_id, &change.exchange_id)
                            .await?
                        {
                            out.push((effect, replaces));
                        }
                    }
                    return Ok(out);
                }
                let route = policy::registry_route(status, &change.exchange_id);
                self.for_linked(person, &route, &source, now).await
            }
            "exchange.phase.completed" => {
                let completed = exchange::PhaseCompleted::decode(payload).map_err(unreadable)?;
                let phase = completed
                    .phase
                    .as_ref()
                    .map(|p| p.id.clone())
                    .unwrap_or_default();
                let home: HashSet<Uuid> = completed
                    .repatriated_person_ids
                    .iter()
                    .filter_map(|i| Uuid::parse_str(i).ok())
                    .collect();
                self.settle_embargo(&phase, |p| Some(home.contains(&p)), now)
                    .await
            }
            "exchange.phase.state_changed" => {
                let changed = exchange::PhaseStateChanged::decode(payload).map_err(unreadable)?;
                let phase = changed.phase.unwrap_or_default();
                let state = exchange::PhaseState::try_from(phase.state).unwrap_or_default();
                if matches!(
                    state,
                    exchange::PhaseState::Cancelled | exchange::PhaseState::Negotiating
                ) && changed.previous_state != exchange::PhaseState::Draft as i32
                {
                    return self.settle_embargo(&phase.id, |_| Some(false), now).await;
                }
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The news `route` makes for every inquiry with a confirmed link to `person`.
    pub(crate) async fn for_linked(
        &self,
        person: Uuid,
        route: &Route,
        source: &str,
        now: i64,
    ) -> Result<Vec<(Effect, Option<i64>)>> {
        let person_tag = person.to_string();
        let filter = Filter {
            tag: Some(&person_tag),
            ..Filter::all_of("")
        };
        let mut out = Vec::new();
        for stored in self.store.list(Table::Links, &filter).await? {
            let link: Link = stored.decode()?;
            if link.state != LinkState::Confirmed {
                continue;
            }
            let inquiry = self.inquiry_record(link.inquiry_id).await?;
            let id = policy::notification_id(inquiry.id, source);
            if self
                .store
                .get(Table::Notifications, &id.to_string())
                .await?
                .is_some()
            {
                continue;
            }
            if let Some(effect) = policy::compose(
                &inquiry,
                Some(&link),
                route,
                source,
                now,
                self.wording.as_ref(),
            ) {
                out.push((effect, None));
            }
        }
        Ok(out)
    }

    /// Embargoed news of an exchange phase: released for the persons `decide` says were handed
    /// over (`Some(true)`), cancelled for those it says were not, left for the others.
    async fn settle_embargo(
        &self,
        phase: &str,
        decide: impl Fn(Uuid) -> Option<bool>,
        now: i64,
    ) -> Result<Vec<(Effect, Option<i64>)>> {
        self.settle_embargo_of(None, phase, decide, now).await
    }

    /// `settle_embargo` for the families asking about `person` only (through their links), or
    /// for every embargoed notification when `person` is `None`.
    async fn settle_embargo_of(
        &self,
        person: Option<Uuid>,
        phase: &str,
        decide: impl Fn(Uuid) -> Option<bool>,
        now: i64,
    ) -> Result<Vec<(Effect, Option<i64>)>> {
        if phase.is_empty() {
            return Ok(Vec::new());
        }
        let embargoed = Some(NotificationState::Embargoed.tag());
        let candidates = match person {
            None => {
                self.store
                    .list(
                        Table::Notifications,
                        &Filter {
                            tag: embargoed,
                            ..Filter::all_of("")
                        },
                    )
                    .await?
            }
            Some(person) => {
                let person_tag = person.to_string();
                let mut found = Vec::new();
                for stored in self
                    .store
                    .list(
                        Table::Links,
                        &Filter {
                            tag: Some(&person_tag),
                            ..Filter::all_of("")
                        },
                    )
                    .await?
                {
                    let link: Link = stored.decode()?;
                    let parent = link.inquiry_id.to_string();
                    found.extend(
                        self.store
                            .list(
                                Table::Notifications,
                                &Filter {
                                    tag: embargoed,
                                    ..Filter::all_of(&parent)
                                },
                            )
                            .await?,
                    );
                }
                found
            }
        };
        let mut out = Vec::new();
        for stored in candidates {
            let notification: Notification = stored.decode()?;
            if notification.embargo_phase.as_deref() != Some(phase) {
                continue;
            }
            let Some(person) = notification.person_id else {
                continue;
            };
            let Some(handed_over) = decide(person) else {
                continue;
            };
            if handed_over {
                let inquiry = self.inquiry_record(notification.inquiry_id).await?;
                let link = match notification.link_id {
                    Some(l) => self
                        .store
                        .get(Table::Links, &l.to_string())
                        .await?
                        .map(|s| s.decode::<Link>())
                        .transpose()?,
                    None => None,
                };
                if let Some(effect) = policy::release(notification, &inquiry, link.as_ref(), now) {
                    out.push((effect, Some(stored.version)));
                }
            } else {
                let mut dropped = notification;
                dropped.state = NotificationState::Cancelled;
                dropped.embargo_phase = None;
                dropped.note = "the person was not handed over in that exchange".into();
                dropped.updated_at_us = now;
                out.push((
                    Effect {
                        notification: dropped,
                        deliveries: Vec::new(),
                        task: None,
                    },
                    Some(stored.version),
                ));
            }
        }
        Ok(out)
    }

    /// Whether the inquiry already has news of the exchange phase.
    async fn told_of_phase(&self, inquiry: Uuid, phase: &str) -> Result<bool> {
        for stored in self
            .store
            .list(Table::Notifications, &Filter::all_of(&inquiry.to_string()))
            .await?
        {
            let n: Notification = stored.decode()?;
            if n.embargo_phase.as_deref() == Some(phase) && n.state != NotificationState::Cancelled
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A capture notice not yet given is moot once the family is told their son is home: the
    /// officer's visit would bring old news.
    async fn superseded_tasks(&self, news: &Notification, now: i64) -> Result<Vec<DocWrite>> {
        let parent = news.inquiry_id.to_string();
        let mut docs = Vec::new();
        for stored in self
            .store
            .list(Table::Tasks, &Filter::all_of(&parent))
            .await?
        {
            let mut task: Task = stored.decode()?;
            if task.kind == TaskKind::CaptureNotice
                && task.person_id == news.person_id
                && matches!(task.state, TaskState::Open | TaskState::Assigned)
            {
                task.state = TaskState::Cancelled;
                task.closed_at_us = Some(now);
                task.updated_at_us = now;
                docs.push(
                    DocWrite::new(
                        Table::Tasks,
                        task.id.to_string(),
                        &parent,
                        task.state.tag(),
                        &task,
                    )
                    .replacing(stored.version),
                );
            }
        }
        Ok(docs)
    }

    pub(crate) async fn inquiry_record(&self, id: Uuid) -> Result<Inquiry> {
        self.store
            .get(Table::Inquiries, &id.to_string())
            .await?
            .ok_or_else(|| NotifyError::NotFound {
                resource: "inquiry",
                id: id.to_string(),
            })?
            .decode()
            .map_err(Into::into)
    }
}

/// The writes of one effect.
pub(crate) fn effect_docs(docs: &mut Vec<DocWrite>, effect: Effect, replaces: Option<i64>) {
    let n = &effect.notification;
    let doc = DocWrite::new(
        Table::Notifications,
        n.id.to_string(),
        n.inquiry_id.to_string(),
        n.state.tag(),
        n,
    );
    docs.push(match replaces {
        Some(v) => doc.replacing(v),
        None => doc,
    });
    for d in &effect.deliveries {
        docs.push(
            DocWrite::new(
                Table::Deliveries,
                d.id.to_string(),
                d.notification_id.to_string(),
                d.state.tag(),
                d,
            )
            .due(d.next_attempt_at_us),
        );
    }
    if let Some(t) = &effect.task {
        docs.push(DocWrite::new(
            Table::Tasks,
            t.id.to_string(),
            t.inquiry_id.to_string(),
            t.state.tag(),
            t,
        ));
    }
}

/// Either service's event stream.
enum EventSource {
    Registry(tonic::Streaming<registry::WatchEventsResponse>),
    Exchange(tonic::Streaming<exchange::WatchEventsResponse>),
}

impl EventSource {
    async fn next(&mut self) -> Result<Option<Event>> {
        let item = match self {
            EventSource::Registry(s) => s.message().await.map(|m| m.and_then(|m| m.event)),
            EventSource::Exchange(s) => s.message().await.map(|m| m.and_then(|m| m.event)),
        };
        item.map_err(|s| NotifyError::from_registry(&s))
    }
}
