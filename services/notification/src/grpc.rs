//! `homeward.notification.v1.NotificationService`: inquiries, requester verification, consent,
//! candidates and links, withholding, notifications and deliveries, in-person tasks, and the
//! family's status check. Each handler authorises the caller, reads the request (`convert`),
//! applies the rules (`policy`) and writes one batch; replays of a request id are answered from
//! the stored first response.

use std::{
    collections::HashMap,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex, atomic::AtomicBool},
};

use futures::Stream;
use homeward_delivery::{Backoff, Channels, templates};
use homeward_kit::{
    StoreError,
    audit::{self, AuditEntry},
    auth::{Principal, Role},
    check::Check,
    idempotency::{RequestKey, request_key},
    outbox::{EventFeed, NewEvent},
    page::Page,
    timestamp,
};
use homeward_proto::{
    notification::v1::{self as pb, notification_service_server::NotificationService},
    registry::v1::PersonStatus,
};
use prost::Message;
use rand::Rng;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    config::NotificationConfig,
    convert,
    error::NotifyError,
    follow::effect_docs,
    model::*,
    peers::Peers,
    policy::{self, Wording},
    store::{DocWrite, Filter, Store, Table, WriteBatch},
};

const LIAISON: &[Role] = &[Role::FamilyLiaison, Role::Admin];
const READERS: &[Role] = &[
    Role::FamilyLiaison,
    Role::Auditor,
    Role::TracingAgency,
    Role::Admin,
];
const EVENT_READERS: &[Role] = &[
    Role::Service,
    Role::Admin,
    Role::Auditor,
    Role::TracingAgency,
];
const AUDITORS: &[Role] = &[Role::Auditor, Role::TracingAgency, Role::Admin];
/// A contact shared by this many inquiries about different people is flagged.
const SHARED_CONTACT_FLAG: usize = 3;

pub(crate) type Result<T, E = NotifyError> = std::result::Result<T, E>;

/// A record with its stored version.
pub struct Loaded<T> {
    pub record: T,
    pub version: i64,
}

/// Message texts from the delivery crate's templates.
pub struct Words {
    office_contact: String,
    templates: templates::Templates,
}

impl Wording for Words {
    fn words(&self, kind: Kind, language: &str, reference: &str) -> Option<(String, String)> {
        let kind = match kind {
            Kind::InquiryReceived => templates::MessageKind::InquiryReceived,
            Kind::StatusUpdate => templates::MessageKind::StatusUpdate,
            Kind::Repatriated => templates::MessageKind::Repatriated,
            Kind::Released => templates::MessageKind::Released,
            Kind::InquiryClosed => templates::MessageKind::InquiryClosed,
            Kind::PersonHeld | Kind::Deceased => return None,
        };
        let facts = templates::Facts {
            inquiry_reference: reference.to_string(),
            office_contact: self.office_contact.clone(),
            date: None,
        };
        self.templates
            .render(kind, language, &facts)
            .ok()
            .map(|r| (r.subject, r.body))
    }
}

pub struct Notifications {
    pub(crate) store: Store,
    pub(crate) feed: EventFeed,
    pub(crate) peers: Peers,
    pub(crate) channels: Channels,
    pub(crate) backoff: Backoff,
    pub(crate) wording: Arc<dyn Wording + Send + Sync>,
    pub(crate) config: Arc<NotificationConfig>,
    /// Wakes the delivery worker when deliveries were queued.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Set when the registry registered someone: open inquiries are matched again.
    pub(crate) rematch: AtomicBool,
    /// Failed family status checks per caller address: (window start, failures).
    callers: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

fn parse_id(field: &str, id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| NotifyError::invalid(field, "not an id (UUID)"))
}

fn finish<T>(check: Check, value: T) -> Result<T> {
    check.finish(value).map_err(NotifyError::Invalid)
}

fn check_etag(given: &str, version: i64) -> Result<()> {
    let current = convert::etag(version);
    if given.trim() != current {
        return Err(NotifyError::EtagMismatch {
            given: given.to_string(),
            current,
        });
    }
    Ok(())
}

fn audit_entry(
    who: &Principal,
    action: &str,
    target: &str,
    request_id: &str,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor: who.subject.clone(),
        action: action.to_string(),
        target: target.to_string(),
        request_id: request_id.to_string(),
        details,
    }
}

fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn code_hash(inquiry: Uuid, code: &str) -> String {
    hash(&format!("{inquiry}/{}", code.trim()))
}

/// A reference a family can read over the phone: no 0/O, 1/I.
fn new_reference() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let mut part = || {
        (0..4)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect::<String>()
    };
    format!("HW-{}-{}", part(), part())
}

fn new_access_code() -> String {
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn inquiry_doc(i: &Inquiry) -> DocWrite {
    DocWrite::new(
        Table::Inquiries,
        i.id.to_string(),
        &i.office,
        i.state.tag(),
        i,
    )
}

fn link_doc(l: &Link) -> DocWrite {
    DocWrite::new(
        Table::Links,
        l.id.to_string(),
        l.inquiry_id.to_string(),
        l.person_id.to_string(),
        l,
    )
}

fn task_doc(t: &Task) -> DocWrite {
    DocWrite::new(
        Table::Tasks,
        t.id.to_string(),
        t.inquiry_id.to_string(),
        t.state.tag(),
        t,
    )
}

fn inquiry_event(inquiry: &Inquiry, kind: &str, payload: &impl prost::Name) -> NewEvent {
    NewEvent::new(
        &format!("notification.inquiry.{kind}"),
        &inquiry.id.to_string(),
        payload,
    )
}

fn link_event(l: &Link) -> NewEvent {
    NewEvent::new(
        "notification.link.changed",
        &l.inquiry_id.to_string(),
        &pb::LinkChanged {
            link_id: l.id.to_string(),
            inquiry_id: l.inquiry_id.to_string(),
            person_id: l.person_id.to_string(),
            state: convert::link_state_to_pb(l.state) as i32,
        },
    )
}

impl Notifications {
    pub fn new(
        store: Store,
        feed: EventFeed,
        peers: Peers,
        channels: Channels,
        config: Arc<NotificationConfig>,
    ) -> Self {
        let m = &config.messages;
        Self {
            store,
            feed,
            peers,
            channels,
            backoff: Backoff::new(
                std::time::Duration::from_millis(m.first_retry_ms),
                std::time::Duration::from_millis(m.max_retry_ms),
                m.max_attempts.max(1),
            ),
            wording: Arc::new(Words {
                office_contact: m.office_contact.clone(),
                templates: templates::Templates::new(templates::Signature::default()),
            }),
            config,
            wake: Arc::new(tokio::sync::Notify::new()),
            rematch: AtomicBool::new(true),
            callers: Mutex::new(HashMap::new()),
        }
    }

    async fn replayed<R: Message + Default>(&self, key: &RequestKey) -> Result<Option<R>> {
        Ok(self.store.replayed(key).await?)
    }

    /// Writes the batch and returns `response`, or the first response if the request id was
    /// handled before or in the meantime; wakes the delivery worker for queued deliveries.
    async fn commit<R: Message + Default>(&self, batch: WriteBatch, response: R) -> Result<R> {
        let queued = batch.docs.iter().any(|d| d.table == Table::Deliveries);
        let committed = self.store.commit(batch, response).await?;
        if committed.applied {
            self.feed.wake();
            if queued {
                self.wake.notify_one();
            }
        }
        Ok(committed.response)
    }

    async fn load<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        resource: &'static str,
        field: &str,
        id: &str,
    ) -> Result<Loaded<T>> {
        let uuid = parse_id(field, id)?;
        let stored = self
            .store
            .get(table, &uuid.to_string())
            .await?
            .ok_or_else(|| NotifyError::NotFound {
                resource,
                id: id.trim().to_string(),
            })?;
        Ok(Loaded {
            record: stored.decode()?,
            version: stored.version,
        })
    }

    async fn inquiry(&self, field: &str, id: &str) -> Result<Loaded<Inquiry>> {
        self.load(Table::Inquiries, "inquiry", field, id).await
    }

    async fn links_of(&self, inquiry: Uuid) -> Result<Vec<Loaded<Link>>> {
        self.store
            .list(Table::Links, &Filter::all_of(&inquiry.to_string()))
            .await?
            .iter()
            .map(|s| {
                Ok(Loaded {
                    record: s.decode()?,
                    version: s.version,
                })
            })
            .collect()
    }

    async fn inquiry_pb(&self, i: &Loaded<Inquiry>, reveal: bool) -> Result<pb::Inquiry> {
        let links: Vec<Link> = self
            .links_of(i.record.id)
            .await?
            .into_iter()
            .map(|l| l.record)
            .collect();
        Ok(convert::inquiry_to_pb(&i.record, i.version, &links, reveal))
    }

    /// Writes `next` (replacing `current`) with an event and an audit entry, and answers with
    /// the inquiry.
    #[allow(clippy::too_many_arguments)]
    async fn save_inquiry<R: Message + Default>(
        &self,
        who: &Principal,
        key: RequestKey,
        current: &Loaded<Inquiry>,
        mut next: Inquiry,
        action: &str,
        event: NewEvent,
        extra: Vec<DocWrite>,
        respond: impl FnOnce(pb::Inquiry) -> R,
    ) -> Result<R> {
        next.updated_at_us = timestamp::now_micros();
        let loaded = Loaded {
            record: next,
            version: current.version + 1,
        };
        let out = self.inquiry_pb(&loaded, false).await?;
        let id = loaded.record.id.to_string();
        let mut docs = vec![inquiry_doc(&loaded.record).replacing(current.version)];
        docs.extend(extra);
        let batch = WriteBatch {
            docs,
            events: vec![event],
            audit: vec![audit_entry(
                who,
                action,
                &id,
                &key.request_id,
                serde_json::json!({}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, respond(out)).await
    }
}

// Inquiries.
impl Notifications {
    async fn create_inquiry(
        &self,
        who: &Principal,
        req: pb::CreateInquiryRequest,
    ) -> Result<pb::CreateInquiryResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("create_inquiry", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let i = req.inquiry.unwrap_or_default();
        let mut check = Check::default();
        let requester = convert::requester(&mut check, i.requester.as_ref());
        let sought = convert::sought(&mut check, i.sought_person.as_ref());
        let consents: Vec<Consent> = i
            .consents
            .iter()
            .enumerate()
            .filter_map(|(n, c)| {
                convert::consent(
                    &mut check,
                    &format!("inquiry.consents[{n}]"),
                    c,
                    &who.subject,
                )
            })
            .collect();
        if !consents.iter().any(|c| c.purpose == Purpose::Tracing) {
            check.add(
                "inquiry.consents",
                "consent to tracing is required to open an inquiry",
            );
        }
        let office = check.required("inquiry.office", &i.office, 100);
        let tracing_reference = check.text(
            "inquiry.tracing_agency_reference",
            &i.tracing_agency_reference,
            100,
        );
        finish(check, ())?;
        let now = timestamp::now_micros();
        let id = Uuid::now_v7();
        let code = new_access_code();
        let mut inquiry = Inquiry {
            id,
            reference: new_reference(),
            access_code_hash: code_hash(id, &code),
            requester,
            sought,
            consents,
            verification: VerificationRecord {
                state: Verification::Unverified,
                method: 0,
                decided_by: String::new(),
                decided_at_us: None,
                note: String::new(),
            },
            state: InquiryState::Open,
            close_reason: 0,
            close_note: String::new(),
            duplicate_of: None,
            risk_flags: Vec::new(),
            intake_channel: i.intake_channel,
            office,
            tracing_agency_reference: tracing_reference,
            person_id: None,
            created_at_us: now,
            updated_at_us: now,
        };
        // One phone or email asking about many people is how fraudsters work.
        let mut docs = Vec::new();
        let mut events = Vec::new();
        for contact in &inquiry.requester.contacts {
            let normalized: String = contact
                .address
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_lowercase();
            let contact_id = hash(&normalized);
            let stored = self.store.get(Table::Contacts, &contact_id).await?;
            let mut uses: ContactUse = stored
                .as_ref()
                .map(|s| s.decode())
                .transpose()?
                .unwrap_or_default();
            uses.inquiries.push(id);
            if uses.inquiries.len() >= SHARED_CONTACT_FLAG
                && !inquiry
                    .risk_flags
                    .iter()
                    .any(|f| f.kind == pb::RiskFlagKind::SharedContact as i32)
            {
                inquiry.risk_flags.push(RiskFlag {
                    kind: pb::RiskFlagKind::SharedContact as i32,
                    detail: format!(
                        "a contact of this requester appears in {} inquiries",
                        uses.inquiries.len()
                    ),
                    related: uses
                        .inquiries
                        .iter()
                        .filter(|i| **i != id)
                        .cloned()
                        .collect(),
                    raised_at_us: now,
                });
                events.push(inquiry_event(
                    &inquiry,
                    "risk_flagged",
                    &pb::InquiryRiskFlagged {
                        inquiry_id: id.to_string(),
                        kind: pb::RiskFlagKind::SharedContact as i32,
                    },
                ));
            }
            let doc = DocWrite::new(Table::Contacts, &contact_id, "", "", &uses);
            docs.push(match stored {
                Some(s) => doc.replacing(s.version),
                None => doc,
            });
        }
        docs.insert(0, inquiry_doc(&inquiry));
        // The acknowledgement tells the family nothing about the person.
        let source = format!("inquiry/{id}/received");
        if let Some(effect) = policy::compose(
            &inquiry_for_receipt(&inquiry),
            None,
            &policy::Route::Automated(Kind::InquiryReceived),
            &source,
            now,
            self.wording.as_ref(),
        ) {
            effect_docs(&mut docs, effect, None);
        }
        events.insert(
            0,
            inquiry_event(
                &inquiry,
                "created",
                &pb::InquiryCreated {
                    inquiry_id: id.to_string(),
                    office: inquiry.office.clone(),
                    intake_channel: inquiry.intake_channel,
                },
            ),
        );
        let out = convert::inquiry_to_pb(&inquiry, 1, &[], false);
        let batch = WriteBatch {
            docs,
            events,
            audit: vec![audit_entry(
                who,
                "notification.inquiry.create",
                &id.to_string(),
                &key.request_id,
                serde_json::json!({"office": inquiry.office}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::CreateInquiryResponse {
                inquiry: Some(out),
                access_code: code,
            },
        )
        .await
    }

    async fn get_inquiry(
        &self,
        who: &Principal,
        req: pb::GetInquiryRequest,
    ) -> Result<pb::GetInquiryResponse> {
        who.require_any(READERS)?;
        let i = self.inquiry("id", &req.id).await?;
        // A full read of personal data: on the record, with who read it.
        let batch = WriteBatch {
            audit: vec![audit_entry(
                who,
                "notification.inquiry.read",
                &i.record.id.to_string(),
                "",
                serde_json::json!({}),
            )],
            ..Default::default()
        };
        self.store.write(&batch).await?;
        Ok(pb::GetInquiryResponse {
            inquiry: Some(self.inquiry_pb(&i, true).await?),
        })
    }

    async fn update_inquiry(
        &self,
        who: &Principal,
        req: pb::UpdateInquiryRequest,
    ) -> Result<pb::UpdateInquiryResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("update_inquiry", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let paths: Vec<String> = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(NotifyError::invalid(
                "update_mask",
                "name at least one field to change",
            ));
        }
        let given = req.inquiry.unwrap_or_default();
        let current = self.inquiry("inquiry.id", &given.id).await?;
        check_etag(&given.etag, current.version)?;
        let mut next = current.record.clone();
        let mut check = Check::default();
        for path in &paths {
            match path.as_str() {
                "requester" => next.requester = convert::requester(&mut check, given.requester.as_ref()),
                "sought_person" => next.sought = convert::sought(&mut check, given.sought_person.as_ref()),
                "office" => next.office = check.required("inquiry.office", &given.office, 100),
                "tracing_agency_reference" => next.tracing_agency_reference = check.text("inquiry.tracing_agency_reference", &given.tracing_agency_reference, 100),
                other => check.add("update_mask", format!("`{other}` cannot be changed here (requester, sought_person, office, tracing_agency_reference)")),
            }
        }
        finish(check, ())?;
        let event = inquiry_event(
            &next,
            "updated",
            &pb::InquiryUpdated {
                inquiry_id: next.id.to_string(),
                changed_fields: paths,
            },
        );
        self.save_inquiry(
            who,
            key,
            &current,
            next,
            "notification.inquiry.update",
            event,
            Vec::new(),
            |i| pb::UpdateInquiryResponse { inquiry: Some(i) },
        )
        .await
    }

    async fn list_inquiries(
        &self,
        who: &Principal,
        req: pb::ListInquiriesRequest,
    ) -> Result<pb::ListInquiriesResponse> {
        who.require_any(READERS)?;
        let state = match pb::InquiryState::try_from(req.state) {
            Ok(pb::InquiryState::Open) => Some(InquiryState::Open),
            Ok(pb::InquiryState::Linked) => Some(InquiryState::Linked),
            Ok(pb::InquiryState::Closed) => Some(InquiryState::Closed),
            Ok(pb::InquiryState::Unspecified) => None,
            Err(_) => return Err(NotifyError::invalid("state", "open, linked or closed")),
        };
        let person = if req.person_id.trim().is_empty() {
            None
        } else {
            Some(parse_id("person_id", &req.person_id)?)
        };
        let filter_text = format!(
            "inquiries:{state:?}:{}:{}:{person:?}:{}:{}",
            req.verification_state, req.office, req.flagged_only, req.reference
        );
        let page = Page::from_request(req.page_size, &req.page_token, &filter_text)?;
        let office = req.office.trim().to_string();
        let rows = self
            .store
            .list(
                Table::Inquiries,
                &Filter {
                    parent: &office,
                    tag: state.map(InquiryState::tag),
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut inquiries = Vec::new();
        for row in &rows {
            let i: Inquiry = row.decode()?;
            let verification_ok = match pb::VerificationState::try_from(req.verification_state) {
                Ok(pb::VerificationState::Unverified) => {
                    i.verification.state == Verification::Unverified
                }
                Ok(pb::VerificationState::Verified) => {
                    i.verification.state == Verification::Verified
                }
                Ok(pb::VerificationState::Rejected) => {
                    i.verification.state == Verification::Rejected
                }
                _ => true,
            };
            if verification_ok
                && person.is_none_or(|p| i.person_id == Some(p))
                && (!req.flagged_only || !i.risk_flags.is_empty())
                && (req.reference.trim().is_empty()
                    || i.reference == req.reference.trim().to_uppercase())
            {
                inquiries.push(
                    self.inquiry_pb(
                        &Loaded {
                            record: i,
                            version: row.version,
                        },
                        false,
                    )
                    .await?,
                );
            }
        }
        Ok(pb::ListInquiriesResponse {
            inquiries,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    /// Closing: pending deliveries and open tasks of the inquiry are cancelled with it.
    async fn close_docs(&self, inquiry: Uuid, now: i64) -> Result<Vec<DocWrite>> {
        let mut docs = Vec::new();
        let parent = inquiry.to_string();
        for stored in self
            .store
            .list(Table::Tasks, &Filter::all_of(&parent))
            .await?
        {
            let mut t: Task = stored.decode()?;
            if matches!(t.state, TaskState::Open | TaskState::Assigned) {
                t.state = TaskState::Cancelled;
                t.closed_at_us = Some(now);
                t.updated_at_us = now;
                docs.push(task_doc(&t).replacing(stored.version));
            }
        }
        for stored in self
            .store
            .list(Table::Notifications, &Filter::all_of(&parent))
            .await?
        {
            let mut n: Notification = stored.decode()?;
            if matches!(
                n.state,
                NotificationState::Queued
                    | NotificationState::Embargoed
                    | NotificationState::Withheld
            ) {
                n.state = NotificationState::Cancelled;
                n.note = "the inquiry was closed".into();
                n.updated_at_us = now;
                docs.push(
                    DocWrite::new(
                        Table::Notifications,
                        n.id.to_string(),
                        &parent,
                        n.state.tag(),
                        &n,
                    )
                    .replacing(stored.version),
                );
                for d_id in &n.delivery_ids {
                    if let Some(ds) = self.store.get(Table::Deliveries, &d_id.to_string()).await? {
                        let mut d: Delivery = ds.decode()?;
                        if d.state == DeliveryState::Pending {
                            d.state = DeliveryState::Cancelled;
                            d.next_attempt_at_us = None;
                            d.updated_at_us = now;
                            docs.push(
                                DocWrite::new(
                                    Table::Deliveries,
                                    d.id.to_string(),
                                    n.id.to_string(),
                                    d.state.tag(),
                                    &d,
                                )
                                .replacing(ds.version),
                            );
                        }
                    }
                }
            }
        }
        Ok(docs)
    }

    async fn close_inquiry(
        &self,
        who: &Principal,
        req: pb::CloseInquiryRequest,
    ) -> Result<pb::CloseInquiryResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("close_inquiry", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        if req.reason == 0 || pb::CloseReason::try_from(req.reason).is_err() {
            return Err(NotifyError::invalid(
                "reason",
                "resolved, withdrawn by requester, consent withdrawn, duplicate or fraudulent",
            ));
        }
        let duplicate_of = if req.reason == pb::CloseReason::Duplicate as i32 {
            Some(parse_id("duplicate_of", &req.duplicate_of)?)
        } else {
            None
        };
        let current = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        check_etag(&req.etag, current.version)?;
        if current.record.state == InquiryState::Closed {
            return Err(NotifyError::refused(
                "ALREADY_CLOSED",
                "the inquiry is already closed",
            ));
        }
        let mut next = current.record.clone();
        next.state = InquiryState::Closed;
        next.close_reason = req.reason;
        next.close_note = req.note.trim().chars().take(1_000).collect();
        next.duplicate_of = duplicate_of;
        let extra = self.close_docs(next.id, timestamp::now_micros()).await?;
        let event = inquiry_event(
            &next,
            "closed",
            &pb::InquiryClosed {
                inquiry_id: next.id.to_string(),
                reason: req.reason,
            },
        );
        self.save_inquiry(
            who,
            key,
            &current,
            next,
            "notification.inquiry.close",
            event,
            extra,
            |i| pb::CloseInquiryResponse { inquiry: Some(i) },
        )
        .await
    }

    async fn reissue_access_code(
        &self,
        who: &Principal,
        req: pb::ReissueAccessCodeRequest,
    ) -> Result<pb::ReissueAccessCodeResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("reissue_access_code", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let current = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        check_etag(&req.etag, current.version)?;
        let code = new_access_code();
        let mut next = current.record.clone();
        next.access_code_hash = code_hash(next.id, &code);
        let event = inquiry_event(
            &next,
            "updated",
            &pb::InquiryUpdated {
                inquiry_id: next.id.to_string(),
                changed_fields: vec!["access_code".into()],
            },
        );
        self.save_inquiry(
            who,
            key,
            &current,
            next,
            "notification.inquiry.reissue_code",
            event,
            Vec::new(),
            |i| pb::ReissueAccessCodeResponse {
                inquiry: Some(i),
                access_code: code,
            },
        )
        .await
    }

    async fn verify_requester(
        &self,
        who: &Principal,
        req: pb::VerifyRequesterRequest,
    ) -> Result<pb::VerifyRequesterResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("verify_requester", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let state = match pb::VerificationState::try_from(req.state) {
            Ok(pb::VerificationState::Verified) => Verification::Verified,
            Ok(pb::VerificationState::Rejected) => Verification::Rejected,
            _ => return Err(NotifyError::invalid("state", "verified or rejected")),
        };
        if req.method == 0 || pb::VerificationMethod::try_from(req.method).is_err() {
            return Err(NotifyError::invalid(
                "method",
                "how the requester's identity and relationship were checked",
            ));
        }
        let current = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        check_etag(&req.etag, current.version)?;
        if current.record.state == InquiryState::Closed {
            return Err(NotifyError::refused(
                "INQUIRY_CLOSED",
                "the inquiry is closed",
            ));
        }
        let now = timestamp::now_micros();
        let mut next = current.record.clone();
        let previous = next.verification.state;
        next.verification = VerificationRecord {
            state,
            method: req.method,
            decided_by: who.subject.clone(),
            decided_at_us: Some(now),
            note: req.note.trim().chars().take(1_000).collect(),
        };
        let mut extra = Vec::new();
        if state == Verification::Rejected {
            next.state = InquiryState::Closed;
            next.close_reason = pb::CloseReason::Fraudulent as i32;
            extra = self.close_docs(next.id, now).await?;
        }
        let to_pb = |v: Verification| match v {
            Verification::Unverified => pb::VerificationState::Unverified,
            Verification::Verified => pb::VerificationState::Verified,
            Verification::Rejected => pb::VerificationState::Rejected,
        } as i32;
        let event = inquiry_event(
            &next,
            "verification_changed",
            &pb::RequesterVerificationChanged {
                inquiry_id: next.id.to_string(),
                state: to_pb(state),
                previous_state: to_pb(previous),
            },
        );
        self.save_inquiry(
            who,
            key,
            &current,
            next,
            "notification.inquiry.verify",
            event,
            extra,
            |i| pb::VerifyRequesterResponse { inquiry: Some(i) },
        )
        .await
    }

    async fn record_consent(
        &self,
        who: &Principal,
        req: pb::RecordConsentRequest,
    ) -> Result<pb::RecordConsentResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("record_consent", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let mut check = Check::default();
        let consent = req
            .consent
            .as_ref()
            .and_then(|c| convert::consent(&mut check, "consent", c, &who.subject));
        if req.consent.is_none() {
            check.add("consent", "required");
        }
        let consent =
            finish(check, consent)?.ok_or_else(|| NotifyError::invalid("consent", "required"))?;
        let current = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        check_etag(&req.etag, current.version)?;
        let mut next = current.record.clone();
        next.consents.push(consent);
        let event = inquiry_event(
            &next,
            "consent_changed",
            &pb::ConsentChanged {
                inquiry_id: next.id.to_string(),
                purpose: req.consent.map(|c| c.purpose).unwrap_or(0),
                withdrawn: false,
            },
        );
        self.save_inquiry(
            who,
            key,
            &current,
            next,
            "notification.inquiry.consent",
            event,
            Vec::new(),
            |i| pb::RecordConsentResponse { inquiry: Some(i) },
        )
        .await
    }

    async fn withdraw_consent(
        &self,
        who: &Principal,
        req: pb::WithdrawConsentRequest,
    ) -> Result<pb::WithdrawConsentResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("withdraw_consent", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let purpose = convert::purpose_from_pb(req.purpose);
        let current = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        check_etag(&req.etag, current.version)?;
        let now = timestamp::now_micros();
        let at = req
            .withdraw_time
            .as_ref()
            .and_then(timestamp::proto_to_micros)
            .unwrap_or(now);
        let mut next = current.record.clone();
        let mut changed = false;
        for c in next
            .consents
            .iter_mut()
            .filter(|c| c.withdrawn_at_us.is_none() && purpose.is_none_or(|p| p == c.purpose))
        {
            c.withdrawn_at_us = Some(at);
            c.withdraw_note = req.note.trim().chars().take(1_000).collect();
            changed = true;
        }
        if !changed {
            return Err(NotifyError::refused(
                "NO_SUCH_CONSENT",
                "no consent for that purpose is in force",
            ));
        }
        let mut extra = Vec::new();
        if !next.consented(Purpose::Tracing) && next.state != InquiryState::Closed {
            next.state = InquiryState::Closed;
            next.close_reason = pb::CloseReason::ConsentWithdrawn as i32;
            extra = self.close_docs(next.id, now).await?;
        }
        let event = inquiry_event(
            &next,
            "consent_changed",
            &pb::ConsentChanged {
                inquiry_id: next.id.to_string(),
                purpose: req.purpose,
                withdrawn: true,
            },
        );
        self.save_inquiry(
            who,
            key,
            &current,
            next,
            "notification.inquiry.withdraw_consent",
            event,
            extra,
            |i| pb::WithdrawConsentResponse { inquiry: Some(i) },
        )
        .await
    }
}

/// The acknowledgement goes out whatever the verification (it says nothing of the person), if
/// the family consented to be contacted.
fn inquiry_for_receipt(i: &Inquiry) -> Inquiry {
    let mut copy = i.clone();
    copy.verification.state = Verification::Verified;
    copy
}

// Candidates and links.
impl Notifications {
    async fn find_candidates(
        &self,
        who: &Principal,
        req: pb::FindCandidatesRequest,
    ) -> Result<pb::FindCandidatesResponse> {
        who.require_any(LIAISON)?;
        let inquiry = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        if !(0.0..=1.0).contains(&req.min_confidence) || req.min_confidence.is_nan() {
            return Err(NotifyError::invalid("min_confidence", "from 0 to 1"));
        }
        let matches = self
            .peers
            .match_persons(
                vec![convert::sought_to_candidate(
                    "sought",
                    &inquiry.record.sought,
                )],
                if req.min_confidence == 0.0 {
                    0.3
                } else {
                    req.min_confidence
                },
                req.max_candidates.clamp(0, 20),
            )
            .await?;
        let links = self.links_of(inquiry.record.id).await?;
        let candidates = matches
            .into_iter()
            .flat_map(|m| m.candidates)
            .map(|c| pb::Candidate {
                link_id: links
                    .iter()
                    .find(|l| l.record.person_id.to_string() == c.person_id)
                    .map(|l| l.record.id.to_string())
                    .unwrap_or_default(),
                person_id: c.person_id,
                confidence: c.confidence,
                explanation: c.explanation,
            })
            .collect();
        let batch = WriteBatch {
            audit: vec![audit_entry(
                who,
                "notification.inquiry.find_candidates",
                &inquiry.record.id.to_string(),
                "",
                serde_json::json!({}),
            )],
            ..Default::default()
        };
        self.store.write(&batch).await?;
        Ok(pb::FindCandidatesResponse { candidates })
    }

    async fn propose_link(
        &self,
        who: &Principal,
        req: pb::ProposeLinkRequest,
    ) -> Result<pb::ProposeLinkResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("propose_link", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let person = parse_id("person_id", &req.person_id)?;
        let inquiry = self.inquiry("inquiry_id", &req.inquiry_id).await?;
        if inquiry.record.state == InquiryState::Closed {
            return Err(NotifyError::refused(
                "INQUIRY_CLOSED",
                "the inquiry is closed",
            ));
        }
        if self.peers.person(person).await?.is_none() {
            return Err(NotifyError::invalid(
                "person_id",
                "no such person in the registry",
            ));
        }
        let link = self.new_link(
            inquiry.record.id,
            person,
            req.confidence.clamp(0.0, 1.0),
            req.explanation.clone(),
            req.evidence_note.trim().chars().take(1_000).collect(),
            &who.subject,
        );
        if let Some(existing) = self
            .links_of(inquiry.record.id)
            .await?
            .into_iter()
            .find(|l| l.record.person_id == person)
        {
            return match existing.record.state {
                // Matching proposed the same person already: that proposal is the one to decide.
                LinkState::Proposed => Ok(pb::ProposeLinkResponse {
                    link: Some(convert::link_to_pb(&existing.record, existing.version)),
                }),
                LinkState::Confirmed => Err(NotifyError::refused(
                    "ALREADY_LINKED",
                    "this inquiry is already linked to that person",
                )),
                LinkState::Rejected => Err(NotifyError::refused(
                    "LINK_REJECTED",
                    "a link to that person was rejected; take it up with the officer who rejected it",
                )),
            };
        }
        let out = convert::link_to_pb(&link, 1);
        let batch = WriteBatch {
            docs: vec![link_doc(&link)],
            events: vec![link_event(&link)],
            audit: vec![audit_entry(
                who,
                "notification.link.propose",
                &link.id.to_string(),
                &key.request_id,
                serde_json::json!({"inquiry": link.inquiry_id, "person": person}),
            )],
            key: Some(key),
            ..Default::default()
        };
        let id = link.id.to_string();
        match self
            .commit(batch, pb::ProposeLinkResponse { link: Some(out) })
            .await
        {
            // Matching proposed the same person at the same moment: answer with its proposal.
            Err(NotifyError::Store(StoreError::UniqueViolation(c))) if c.contains("links") => {
                let existing = self.link(&id).await?;
                Ok(pb::ProposeLinkResponse {
                    link: Some(convert::link_to_pb(&existing.record, existing.version)),
                })
            }
            other => other,
        }
    }

    fn new_link(
        &self,
        inquiry: Uuid,
        person: Uuid,
        confidence: f64,
        explanation: Vec<String>,
        evidence: String,
        by: &str,
    ) -> Link {
        Link {
            id: policy::notification_id(inquiry, &format!("link/{person}")),
            inquiry_id: inquiry,
            person_id: person,
            state: LinkState::Proposed,
            confidence,
            explanation,
            evidence_note: evidence,
            proposed_by: by.to_string(),
            proposed_at_us: timestamp::now_micros(),
            decided_by: String::new(),
            decided_at_us: None,
            decision_note: String::new(),
            withholding: None,
        }
    }

    async fn link(&self, id: &str) -> Result<Loaded<Link>> {
        self.load(Table::Links, "link", "link_id", id).await
    }

    async fn confirm_link(
        &self,
        who: &Principal,
        req: pb::ConfirmLinkRequest,
    ) -> Result<pb::ConfirmLinkResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("confirm_link", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let current = self.link(&req.link_id).await?;
        check_etag(&req.etag, current.version)?;
        if current.record.state != LinkState::Proposed {
            return Err(NotifyError::refused(
                "LINK_DECIDED",
                "only a proposed link can be confirmed",
            ));
        }
        if current.record.proposed_by == who.subject {
            return Err(NotifyError::refused(
                "SAME_OFFICER",
                "a link is confirmed by another officer than the one who proposed it",
            ));
        }
        let inquiry = self
            .inquiry("inquiry_id", &current.record.inquiry_id.to_string())
            .await?;
        if !inquiry.record.verified() {
            return Err(NotifyError::refused(
                "REQUESTER_NOT_VERIFIED",
                "verify the requester first: nothing about a detainee is told to an unverified requester",
            ));
        }
        if inquiry.record.state != InquiryState::Open {
            return Err(NotifyError::refused(
                "INQUIRY_NOT_OPEN",
                "the inquiry is closed or already linked",
            ));
        }
        let person = self.peers.person(current.record.person_id).await?;
        let status = person
            .as_ref()
            .map(|p| PersonStatus::try_from(p.status).unwrap_or_default())
            .unwrap_or_default();
        let now = timestamp::now_micros();
        let mut link = current.record.clone();
        link.state = LinkState::Confirmed;
        link.decided_by = who.subject.clone();
        link.decided_at_us = Some(now);
        link.decision_note = req.note.trim().chars().take(1_000).collect();
        let mut next = inquiry.record.clone();
        next.state = InquiryState::Linked;
        next.person_id = Some(link.person_id);
        next.updated_at_us = now;
        let mut docs = vec![
            link_doc(&link).replacing(current.version),
            inquiry_doc(&next).replacing(inquiry.version),
        ];
        // The family learns where the person stands now (in person when grave).
        let route = policy::confirmation_route(status);
        let source = format!("link/{}/confirmed", link.id);
        if let Some(effect) = policy::compose(
            &next,
            Some(&link),
            &route,
            &source,
            now,
            self.wording.as_ref(),
        ) {
            effect_docs(&mut docs, effect, None);
        }
        let out = convert::link_to_pb(&link, current.version + 1);
        let batch = WriteBatch {
            docs,
            events: vec![link_event(&link)],
            audit: vec![audit_entry(
                who,
                "notification.link.confirm",
                &link.id.to_string(),
                &key.request_id,
                serde_json::json!({"inquiry": link.inquiry_id, "person": link.person_id}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::ConfirmLinkResponse { link: Some(out) })
            .await
    }

    async fn reject_link(
        &self,
        who: &Principal,
        req: pb::RejectLinkRequest,
    ) -> Result<pb::RejectLinkResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("reject_link", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let current = self.link(&req.link_id).await?;
        check_etag(&req.etag, current.version)?;
        if current.record.state == LinkState::Rejected {
            return Err(NotifyError::refused(
                "LINK_DECIDED",
                "the link is already rejected",
            ));
        }
        let now = timestamp::now_micros();
        let mut link = current.record.clone();
        let was_confirmed = link.state == LinkState::Confirmed;
        link.state = LinkState::Rejected;
        link.decided_by = who.subject.clone();
        link.decided_at_us = Some(now);
        link.decision_note = req.note.trim().chars().take(1_000).collect();
        let mut docs = vec![link_doc(&link).replacing(current.version)];
        if was_confirmed {
            let inquiry = self
                .inquiry("inquiry_id", &link.inquiry_id.to_string())
                .await?;
            let mut next = inquiry.record.clone();
            next.state = InquiryState::Open;
            next.person_id = None;
            next.updated_at_us = now;
            docs.push(inquiry_doc(&next).replacing(inquiry.version));
        }
        let out = convert::link_to_pb(&link, current.version + 1);
        let batch = WriteBatch {
            docs,
            events: vec![link_event(&link)],
            audit: vec![audit_entry(
                who,
                "notification.link.reject",
                &link.id.to_string(),
                &key.request_id,
                serde_json::json!({}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::RejectLinkResponse { link: Some(out) })
            .await
    }

    async fn list_links(
        &self,
        who: &Principal,
        req: pb::ListLinksRequest,
    ) -> Result<pb::ListLinksResponse> {
        who.require_any(READERS)?;
        let inquiry = if req.inquiry_id.trim().is_empty() {
            String::new()
        } else {
            parse_id("inquiry_id", &req.inquiry_id)?.to_string()
        };
        let person = if req.person_id.trim().is_empty() {
            None
        } else {
            Some(parse_id("person_id", &req.person_id)?.to_string())
        };
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!(
                "links:{inquiry}:{person:?}:{}:{}",
                req.state, req.withholding_pending_only
            ),
        )?;
        let rows = self
            .store
            .list(
                Table::Links,
                &Filter {
                    parent: &inquiry,
                    tag: person.as_deref(),
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut links = Vec::new();
        for row in &rows {
            let l: Link = row.decode()?;
            let state_ok = req.state == 0 || convert::link_state_to_pb(l.state) as i32 == req.state;
            let pending_ok = !req.withholding_pending_only
                || l.withholding
                    .as_ref()
                    .is_some_and(|w| w.decision == Withholding::Pending);
            if state_ok && pending_ok {
                links.push(convert::link_to_pb(&l, row.version));
            }
        }
        Ok(pb::ListLinksResponse {
            links,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    async fn flag_withholding(
        &self,
        who: &Principal,
        req: pb::FlagWithholdingRequest,
    ) -> Result<pb::FlagWithholdingResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("flag_withholding", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 1_000 {
            return Err(NotifyError::invalid(
                "reason",
                "required: why telling the family could harm the person or them",
            ));
        }
        let current = self.link(&req.link_id).await?;
        check_etag(&req.etag, current.version)?;
        let now = timestamp::now_micros();
        let mut link = current.record.clone();
        link.withholding = Some(WithholdingFlag {
            decision: Withholding::Pending,
            reason: reason.into(),
            raised_by: who.subject.clone(),
            raised_at_us: now,
            decided_by: String::new(),
            decided_at_us: None,
            note: String::new(),
        });
        let inquiry = self
            .inquiry("inquiry_id", &link.inquiry_id.to_string())
            .await?;
        let task = Task {
            id: policy::notification_id(link.id, &format!("withholding/{now}")),
            inquiry_id: link.inquiry_id,
            notification_id: None,
            person_id: Some(link.person_id),
            kind: TaskKind::WithholdingReview,
            state: TaskState::Open,
            office: inquiry.record.office.clone(),
            assignee: String::new(),
            due_at_us: Some(now + 86_400_000_000),
            attempts: Vec::new(),
            created_at_us: now,
            updated_at_us: now,
            closed_at_us: None,
        };
        let out = convert::link_to_pb(&link, current.version + 1);
        let batch = WriteBatch {
            docs: vec![link_doc(&link).replacing(current.version), task_doc(&task)],
            events: vec![NewEvent::new(
                "notification.link.withholding_changed",
                &link.inquiry_id.to_string(),
                &pb::WithholdingChanged {
                    link_id: link.id.to_string(),
                    inquiry_id: link.inquiry_id.to_string(),
                    decision: pb::WithholdingDecision::Pending as i32,
                },
            )],
            audit: vec![audit_entry(
                who,
                "notification.link.flag_withholding",
                &link.id.to_string(),
                &key.request_id,
                serde_json::json!({}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, pb::FlagWithholdingResponse { link: Some(out) })
            .await
    }

    async fn review_withholding(
        &self,
        who: &Principal,
        req: pb::ReviewWithholdingRequest,
    ) -> Result<pb::ReviewWithholdingResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("review_withholding", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let decision = match pb::WithholdingDecision::try_from(req.decision) {
            Ok(pb::WithholdingDecision::Withhold) => Withholding::Withhold,
            Ok(pb::WithholdingDecision::Release) => Withholding::Release,
            _ => return Err(NotifyError::invalid("decision", "withhold or release")),
        };
        let current = self.link(&req.link_id).await?;
        check_etag(&req.etag, current.version)?;
        let Some(flag) = current.record.withholding.clone() else {
            return Err(NotifyError::refused(
                "NOT_FLAGGED",
                "the link has no withholding flag",
            ));
        };
        let now = timestamp::now_micros();
        let mut link = current.record.clone();
        link.withholding = Some(WithholdingFlag {
            decision,
            decided_by: who.subject.clone(),
            decided_at_us: Some(now),
            note: req.note.trim().chars().take(1_000).collect(),
            ..flag
        });
        let mut docs = vec![link_doc(&link).replacing(current.version)];
        let mut released = Vec::new();
        if decision == Withholding::Release {
            let inquiry = self.inquiry_record(link.inquiry_id).await?;
            let parent = link.inquiry_id.to_string();
            let filter = Filter {
                tag: Some(NotificationState::Withheld.tag()),
                ..Filter::all_of(&parent)
            };
            for stored in self.store.list(Table::Notifications, &filter).await? {
                let n: Notification = stored.decode()?;
                if n.link_id != Some(link.id) {
                    continue;
                }
                released.push(n.id.to_string());
                if let Some(effect) = policy::release(n, &inquiry, Some(&link), now) {
                    effect_docs(&mut docs, effect, Some(stored.version));
                }
            }
        }
        let out = pb::ReviewWithholdingResponse {
            link: Some(convert::link_to_pb(&link, current.version + 1)),
            released_notification_ids: released,
        };
        let batch = WriteBatch {
            docs,
            events: vec![NewEvent::new(
                "notification.link.withholding_changed",
                &link.inquiry_id.to_string(),
                &pb::WithholdingChanged {
                    link_id: link.id.to_string(),
                    inquiry_id: link.inquiry_id.to_string(),
                    decision: convert::withholding_to_pb(decision) as i32,
                },
            )],
            audit: vec![audit_entry(
                who,
                "notification.link.review_withholding",
                &link.id.to_string(),
                &key.request_id,
                serde_json::json!({"decision": decision}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, out).await
    }
}

// Notifications, deliveries, tasks.
impl Notifications {
    async fn deliveries_of(&self, n: &Notification) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for id in &n.delivery_ids {
            if let Some(s) = self.store.get(Table::Deliveries, &id.to_string()).await? {
                out.push(s.decode()?);
            }
        }
        Ok(out)
    }

    async fn get_notification(
        &self,
        who: &Principal,
        req: pb::GetNotificationRequest,
    ) -> Result<pb::GetNotificationResponse> {
        who.require_any(READERS)?;
        let n: Loaded<Notification> = self
            .load(Table::Notifications, "notification", "id", &req.id)
            .await?;
        let deliveries = self.deliveries_of(&n.record).await?;
        Ok(pb::GetNotificationResponse {
            notification: Some(convert::notification_to_pb(&n.record, &deliveries)),
        })
    }

    async fn list_notifications(
        &self,
        who: &Principal,
        req: pb::ListNotificationsRequest,
    ) -> Result<pb::ListNotificationsResponse> {
        who.require_any(READERS)?;
        let inquiry = if req.inquiry_id.trim().is_empty() {
            String::new()
        } else {
            parse_id("inquiry_id", &req.inquiry_id)?.to_string()
        };
        let state = match req.state {
            0 => None,
            s => Some(
                convert::notification_state_from_pb(s)
                    .ok_or_else(|| NotifyError::invalid("state", "not a notification state"))?,
            ),
        };
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("notifications:{inquiry}:{state:?}:{}", req.kind),
        )?;
        let rows = self
            .store
            .list(
                Table::Notifications,
                &Filter {
                    parent: &inquiry,
                    tag: state.map(NotificationState::tag),
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut notifications = Vec::new();
        for row in &rows {
            let n: Notification = row.decode()?;
            if req.kind == 0 || convert::kind_to_pb(n.kind) as i32 == req.kind {
                let deliveries = self.deliveries_of(&n).await?;
                notifications.push(convert::notification_to_pb(&n, &deliveries));
            }
        }
        Ok(pb::ListNotificationsResponse {
            notifications,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    async fn list_deliveries(
        &self,
        who: &Principal,
        req: pb::ListDeliveriesRequest,
    ) -> Result<pb::ListDeliveriesResponse> {
        who.require_any(READERS)?;
        let notification = if req.notification_id.trim().is_empty() {
            String::new()
        } else {
            parse_id("notification_id", &req.notification_id)?.to_string()
        };
        let state = match req.state {
            0 => None,
            s => Some(
                convert::delivery_state_from_pb(s)
                    .ok_or_else(|| NotifyError::invalid("state", "not a delivery state"))?,
            ),
        };
        let channel =
            match req.channel {
                0 => None,
                c => Some(convert::channel_from_pb(c).ok_or_else(|| {
                    NotifyError::invalid("channel", "email, sms, messenger or file")
                })?),
            };
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("deliveries:{notification}:{state:?}:{channel:?}"),
        )?;
        let rows = self
            .store
            .list(
                Table::Deliveries,
                &Filter {
                    parent: &notification,
                    tag: state.map(DeliveryState::tag),
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut deliveries = Vec::new();
        for row in &rows {
            let d: Delivery = row.decode()?;
            if channel.is_none_or(|c| c == d.channel) {
                deliveries.push(convert::delivery_to_pb(&d));
            }
        }
        Ok(pb::ListDeliveriesResponse {
            deliveries,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    async fn retry_delivery(
        &self,
        who: &Principal,
        req: pb::RetryDeliveryRequest,
    ) -> Result<pb::RetryDeliveryResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("retry_delivery", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let current: Loaded<Delivery> = self
            .load(
                Table::Deliveries,
                "delivery",
                "delivery_id",
                &req.delivery_id,
            )
            .await?;
        if current.record.state != DeliveryState::DeadLetter {
            return Err(NotifyError::refused(
                "NOT_DEAD_LETTER",
                "only a dead-lettered delivery is put back in the queue",
            ));
        }
        let notification: Loaded<Notification> = self
            .load(
                Table::Notifications,
                "notification",
                "notification_id",
                &current.record.notification_id.to_string(),
            )
            .await?;
        let now = timestamp::now_micros();
        let mut d = current.record.clone();
        d.state = DeliveryState::Pending;
        d.attempts = 0;
        d.next_attempt_at_us = Some(now);
        d.history.push(Attempt {
            at_us: now,
            outcome: format!(
                "requeued by an officer: {}",
                req.note.trim().chars().take(200).collect::<String>()
            ),
        });
        d.updated_at_us = now;
        let mut n = notification.record.clone();
        if n.state == NotificationState::Failed {
            n.state = NotificationState::Queued;
        }
        n.updated_at_us = now;
        let batch = WriteBatch {
            docs: vec![
                DocWrite::new(
                    Table::Deliveries,
                    d.id.to_string(),
                    d.notification_id.to_string(),
                    d.state.tag(),
                    &d,
                )
                .replacing(current.version)
                .due(Some(now)),
                DocWrite::new(
                    Table::Notifications,
                    n.id.to_string(),
                    n.inquiry_id.to_string(),
                    n.state.tag(),
                    &n,
                )
                .replacing(notification.version),
            ],
            audit: vec![audit_entry(
                who,
                "notification.delivery.retry",
                &d.id.to_string(),
                &key.request_id,
                serde_json::json!({}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(
            batch,
            pb::RetryDeliveryResponse {
                delivery: Some(convert::delivery_to_pb(&d)),
            },
        )
        .await
    }

    async fn list_tasks(
        &self,
        who: &Principal,
        req: pb::ListTasksRequest,
    ) -> Result<pb::ListTasksResponse> {
        who.require_any(READERS)?;
        let state = match pb::TaskState::try_from(req.state) {
            Ok(pb::TaskState::Open) => Some(TaskState::Open),
            Ok(pb::TaskState::Assigned) => Some(TaskState::Assigned),
            Ok(pb::TaskState::Done) => Some(TaskState::Done),
            Ok(pb::TaskState::Cancelled) => Some(TaskState::Cancelled),
            Ok(pb::TaskState::Unspecified) => None,
            Err(_) => {
                return Err(NotifyError::invalid(
                    "state",
                    "open, assigned, done or cancelled",
                ));
            }
        };
        let page = Page::from_request(
            req.page_size,
            &req.page_token,
            &format!("tasks:{state:?}:{}:{}", req.assignee, req.office),
        )?;
        let rows = self
            .store
            .list(
                Table::Tasks,
                &Filter {
                    parent: "",
                    tag: state.map(TaskState::tag),
                    after: page.after,
                    limit: page.limit(),
                },
            )
            .await?;
        let mut tasks = Vec::new();
        for row in &rows {
            let t: Task = row.decode()?;
            if (req.assignee.is_empty() || t.assignee == req.assignee)
                && (req.office.is_empty() || t.office == req.office)
            {
                tasks.push(convert::task_to_pb(&t, row.version));
            }
        }
        Ok(pb::ListTasksResponse {
            tasks,
            next_page_token: page.next_token(rows.len(), rows.last().map(|r| r.seq)),
        })
    }

    async fn assign_task(
        &self,
        who: &Principal,
        req: pb::AssignTaskRequest,
    ) -> Result<pb::AssignTaskResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("assign_task", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let assignee = req.assignee.trim();
        if assignee.is_empty() || assignee.len() > 200 {
            return Err(NotifyError::invalid(
                "assignee",
                "the officer who will deliver the news",
            ));
        }
        let current: Loaded<Task> = self
            .load(Table::Tasks, "task", "task_id", &req.task_id)
            .await?;
        check_etag(&req.etag, current.version)?;
        if matches!(current.record.state, TaskState::Done | TaskState::Cancelled) {
            return Err(NotifyError::refused("TASK_CLOSED", "the task is closed"));
        }
        let mut t = current.record.clone();
        t.assignee = assignee.into();
        t.state = TaskState::Assigned;
        if let Some(due) = req.due_time.as_ref() {
            t.due_at_us = timestamp::proto_to_micros(due);
        }
        t.updated_at_us = timestamp::now_micros();
        self.save_task(who, key, &current, t, "notification.task.assign", |t| {
            pb::AssignTaskResponse { task: Some(t) }
        })
        .await
    }

    async fn record_task_attempt(
        &self,
        who: &Principal,
        req: pb::RecordTaskAttemptRequest,
    ) -> Result<pb::RecordTaskAttemptResponse> {
        who.require_any(LIAISON)?;
        let key = request_key("record_task_attempt", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let attempt = req.attempt.clone().unwrap_or_default();
        let outcome = pb::TaskAttemptOutcome::try_from(attempt.outcome)
            .unwrap_or(pb::TaskAttemptOutcome::Unspecified);
        if outcome == pb::TaskAttemptOutcome::Unspecified {
            return Err(NotifyError::invalid(
                "attempt.outcome",
                "delivered, not reached or referred",
            ));
        }
        let officer = attempt.officer.trim();
        if officer.is_empty() {
            return Err(NotifyError::invalid(
                "attempt.officer",
                "who made the visit or call",
            ));
        }
        let current: Loaded<Task> = self
            .load(Table::Tasks, "task", "task_id", &req.task_id)
            .await?;
        check_etag(&req.etag, current.version)?;
        if matches!(current.record.state, TaskState::Done | TaskState::Cancelled) {
            return Err(NotifyError::refused("TASK_CLOSED", "the task is closed"));
        }
        let now = timestamp::now_micros();
        let mut t = current.record.clone();
        t.attempts.push(TaskAttempt {
            outcome: attempt.outcome,
            at_us: attempt
                .occur_time
                .as_ref()
                .and_then(timestamp::proto_to_micros)
                .unwrap_or(now),
            officer: officer.into(),
            note: attempt.note.trim().chars().take(2_000).collect(),
            support_offered: attempt.support_offered,
            referred_to: attempt.referred_to.trim().chars().take(200).collect(),
        });
        if outcome != pb::TaskAttemptOutcome::NotReached {
            t.state = TaskState::Done;
            t.closed_at_us = Some(now);
        }
        t.updated_at_us = now;
        self.save_task(who, key, &current, t, "notification.task.attempt", |t| {
            pb::RecordTaskAttemptResponse { task: Some(t) }
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn save_task<R: Message + Default>(
        &self,
        who: &Principal,
        key: RequestKey,
        current: &Loaded<Task>,
        t: Task,
        action: &str,
        respond: impl FnOnce(pb::Task) -> R,
    ) -> Result<R> {
        let out = convert::task_to_pb(&t, current.version + 1);
        let batch = WriteBatch {
            docs: vec![task_doc(&t).replacing(current.version)],
            events: vec![NewEvent::new(
                "notification.task.changed",
                &t.inquiry_id.to_string(),
                &pb::TaskChanged {
                    task_id: t.id.to_string(),
                    inquiry_id: t.inquiry_id.to_string(),
                    kind: convert::task_kind_to_pb(t.kind) as i32,
                    state: convert::task_state_to_pb(t.state) as i32,
                },
            )],
            audit: vec![audit_entry(
                who,
                action,
                &t.id.to_string(),
                &key.request_id,
                serde_json::json!({"state": t.state}),
            )],
            key: Some(key),
            ..Default::default()
        };
        self.commit(batch, respond(out)).await
    }
}

// The family's status check.
impl Notifications {
    fn caller_allowed(&self, ip: Option<IpAddr>, now: i64) -> bool {
        let Some(ip) = ip else { return true };
        let window = self.config.family_check.window_s as i64 * 1_000_000;
        let callers = self.callers.lock().unwrap_or_else(|p| p.into_inner());
        callers.get(&ip).is_none_or(|(start, n)| {
            now - start > window || *n < self.config.family_check.failures_per_caller
        })
    }

    fn caller_failed(&self, ip: Option<IpAddr>, now: i64) {
        let Some(ip) = ip else { return };
        let window = self.config.family_check.window_s as i64 * 1_000_000;
        let mut callers = self.callers.lock().unwrap_or_else(|p| p.into_inner());
        let entry = callers.entry(ip).or_insert((now, 0));
        if now - entry.0 > window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if callers.len() > 100_000 {
            callers.retain(|_, (start, _)| now - *start <= window);
        }
    }

    async fn check_status(
        &self,
        ip: Option<IpAddr>,
        req: pb::CheckInquiryStatusRequest,
    ) -> Result<pb::CheckInquiryStatusResponse> {
        let reference = req.reference.trim().to_uppercase();
        let code = req.access_code.trim();
        if reference.is_empty() || reference.len() > 32 || code.is_empty() || code.len() > 32 {
            return Err(NotifyError::invalid(
                "reference",
                "the inquiry reference and access code given by the office",
            ));
        }
        let now = timestamp::now_micros();
        let not_found = || NotifyError::NotFound {
            resource: "inquiry",
            id: "with that reference and code".into(),
        };
        if !self.caller_allowed(ip, now) {
            return Err(NotifyError::refused(
                "TOO_MANY_ATTEMPTS",
                "too many failed attempts; try again later or call the office",
            ));
        }
        // Failures are counted per reference whether or not it exists, so the count says
        // nothing about which references are real.
        let counter_id = hash(&format!("status/{reference}"));
        let counter = self.store.get(Table::StatusChecks, &counter_id).await?;
        let window = self.config.family_check.window_s as i64 * 1_000_000;
        let mut failed: FailedChecks = counter
            .as_ref()
            .map(|s| s.decode())
            .transpose()?
            .unwrap_or_default();
        if now - failed.window_start_us > window {
            failed = FailedChecks {
                window_start_us: now,
                failures: 0,
            };
        }
        if failed.failures >= self.config.family_check.failures_per_reference {
            return Err(NotifyError::refused(
                "TOO_MANY_ATTEMPTS",
                "too many failed attempts for this reference; try again later or call the office",
            ));
        }
        let filter = Filter::all_of("");
        let mut found = None;
        for stored in self.store.list(Table::Inquiries, &filter).await? {
            let inquiry: Inquiry = stored.decode()?;
            if inquiry.reference == reference {
                found = Some(inquiry);
                break;
            }
        }
        let matched = found.filter(|i| i.access_code_hash == code_hash(i.id, code));
        let Some(inquiry) = matched else {
            failed.failures += 1;
            let doc = DocWrite::new(Table::StatusChecks, &counter_id, "", "", &failed);
            let doc = match counter {
                Some(s) => doc.replacing(s.version),
                None => doc,
            };
            let _ = self
                .store
                .write(&WriteBatch {
                    docs: vec![doc],
                    ..Default::default()
                })
                .await;
            self.caller_failed(ip, now);
            return Err(not_found());
        };
        let status = self.family_status(&inquiry).await?;
        Ok(pb::CheckInquiryStatusResponse {
            status: status as i32,
            status_time: convert::micros(inquiry.updated_at_us),
            office_contact: self.config.messages.office_contact.clone(),
        })
    }

    /// Coarse on purpose: it must not itself break grave news or reveal withheld news.
    async fn family_status(&self, inquiry: &Inquiry) -> Result<pb::FamilyStatus> {
        if inquiry.state == InquiryState::Closed {
            return Ok(pb::FamilyStatus::Closed);
        }
        if !inquiry.verified() {
            return Ok(pb::FamilyStatus::Received);
        }
        let parent = inquiry.id.to_string();
        let tasks = self
            .store
            .list(Table::Tasks, &Filter::all_of(&parent))
            .await?;
        for t in &tasks {
            let t: Task = t.decode()?;
            if t.kind != TaskKind::WithholdingReview && t.state != TaskState::Cancelled {
                return Ok(pb::FamilyStatus::OfficerContact);
            }
        }
        let notifications = self
            .store
            .list(Table::Notifications, &Filter::all_of(&parent))
            .await?;
        for n in &notifications {
            let n: Notification = n.decode()?;
            if n.kind != Kind::InquiryReceived && n.state == NotificationState::Delivered {
                return Ok(pb::FamilyStatus::NewsSent);
            }
        }
        Ok(pb::FamilyStatus::Searching)
    }
}

fn respond<T>(result: Result<T>) -> std::result::Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

fn principal<T>(request: &Request<T>) -> std::result::Result<Principal, Status> {
    Principal::of(request).map_err(|e| e.into_status(crate::error::DOMAIN))
}

type EventStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::WatchEventsResponse, Status>> + Send>>;

macro_rules! service {
    ($($name:ident => $handler:ident($req:ty) -> $resp:ty;)* { $($rest:tt)* }) => {
        #[tonic::async_trait]
        impl NotificationService for Notifications {
            $(
                #[tracing::instrument(skip_all)]
                async fn $name(&self, r: Request<$req>) -> std::result::Result<Response<$resp>, Status> {
                    let who = principal(&r)?;
                    respond(self.$handler(&who, r.into_inner()).await)
                }
            )*
            $($rest)*
        }
    };
}

service! {
    create_inquiry => create_inquiry(pb::CreateInquiryRequest) -> pb::CreateInquiryResponse;
    get_inquiry => get_inquiry(pb::GetInquiryRequest) -> pb::GetInquiryResponse;
    update_inquiry => update_inquiry(pb::UpdateInquiryRequest) -> pb::UpdateInquiryResponse;
    list_inquiries => list_inquiries(pb::ListInquiriesRequest) -> pb::ListInquiriesResponse;
    close_inquiry => close_inquiry(pb::CloseInquiryRequest) -> pb::CloseInquiryResponse;
    reissue_access_code => reissue_access_code(pb::ReissueAccessCodeRequest) -> pb::ReissueAccessCodeResponse;
    verify_requester => verify_requester(pb::VerifyRequesterRequest) -> pb::VerifyRequesterResponse;
    record_consent => record_consent(pb::RecordConsentRequest) -> pb::RecordConsentResponse;
    withdraw_consent => withdraw_consent(pb::WithdrawConsentRequest) -> pb::WithdrawConsentResponse;
    find_candidates => find_candidates(pb::FindCandidatesRequest) -> pb::FindCandidatesResponse;
    propose_link => propose_link(pb::ProposeLinkRequest) -> pb::ProposeLinkResponse;
    confirm_link => confirm_link(pb::ConfirmLinkRequest) -> pb::ConfirmLinkResponse;
    reject_link => reject_link(pb::RejectLinkRequest) -> pb::RejectLinkResponse;
    list_links => list_links(pb::ListLinksRequest) -> pb::ListLinksResponse;
    flag_withholding => flag_withholding(pb::FlagWithholdingRequest) -> pb::FlagWithholdingResponse;
    review_withholding => review_withholding(pb::ReviewWithholdingRequest) -> pb::ReviewWithholdingResponse;
    get_notification => get_notification(pb::GetNotificationRequest) -> pb::GetNotificationResponse;
    list_notifications => list_notifications(pb::ListNotificationsRequest) -> pb::ListNotificationsResponse;
    list_deliveries => list_deliveries(pb::ListDeliveriesRequest) -> pb::ListDeliveriesResponse;
    retry_delivery => retry_delivery(pb::RetryDeliveryRequest) -> pb::RetryDeliveryResponse;
    list_tasks => list_tasks(pb::ListTasksRequest) -> pb::ListTasksResponse;
    assign_task => assign_task(pb::AssignTaskRequest) -> pb::AssignTaskResponse;
    record_task_attempt => record_task_attempt(pb::RecordTaskAttemptRequest) -> pb::RecordTaskAttemptResponse;
    {
        #[tracing::instrument(skip_all)]
        async fn get_task(&self, r: Request<pb::GetTaskRequest>) -> std::result::Result<Response<pb::GetTaskResponse>, Status> {
            let who = principal(&r)?;
            respond(
                async {
                    who.require_any(READERS)?;
                    let t: Loaded<Task> = self.load(Table::Tasks, "task", "id", &r.get_ref().id).await?;
                    Ok(pb::GetTaskResponse { task: Some(convert::task_to_pb(&t.record, t.version)) })
                }
                .await,
            )
        }

        /// The family's call: no token, reference and code only.
        #[tracing::instrument(skip_all)]
        async fn check_inquiry_status(&self, r: Request<pb::CheckInquiryStatusRequest>) -> std::result::Result<Response<pb::CheckInquiryStatusResponse>, Status> {
            let ip = r.remote_addr().map(|a| a.ip());
            respond(self.check_status(ip, r.into_inner()).await)
        }

        type WatchEventsStream = EventStream;

        #[tracing::instrument(skip_all)]
        async fn watch_events(&self, r: Request<pb::WatchEventsRequest>) -> std::result::Result<Response<Self::WatchEventsStream>, Status> {
            let who = principal(&r)?;
            let req = r.into_inner();
            let stream = async {
                who.require_any(EVENT_READERS)?;
                Ok::<_, NotifyError>(self.feed.watch(&req.after_cursor, req.types)?)
            }
            .await
            .map_err(Status::from)?;
            let stream = futures::StreamExt::map(stream, |item| item.map(|event| pb::WatchEventsResponse { event: Some(event) }));
            Ok(Response::new(Box::pin(stream)))
        }

        #[tracing::instrument(skip_all)]
        async fn verify_audit_log(&self, r: Request<pb::VerifyAuditLogRequest>) -> std::result::Result<Response<pb::VerifyAuditLogResponse>, Status> {
            let who = principal(&r)?;
            let req = r.into_inner();
            respond(
                async {
                    who.require_any(AUDITORS)?;
                    let anchor = (req.anchor_sequence > 0).then_some((req.anchor_sequence, req.anchor_hash.as_str()));
                    let verification = audit::verify(&self.store.db(), anchor).await?;
                    Ok(pb::VerifyAuditLogResponse { verification: Some(verification.into()) })
                }
                .await,
            )
        }
    }
}
