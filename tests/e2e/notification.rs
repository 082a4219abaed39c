//! The notification service with the registry and the exchange service, each on its own socket,
//! over real gRPC, on both backends: the two-family story, news embargoed by an exchange and
//! released or dropped, grave news that only an officer may give, an unverified requester who
//! learns nothing, delivery over SMTP to a real SMTP server (refusing, then accepting; and
//! gone), and a notification service killed while it works.

use std::{path::Path, time::Duration};

use homeward_e2e::{
    Backend, Client, Database, NotificationClient, RunningExchange, RunningNotification,
    RunningRegistry, smtp::SmtpServer,
};
use homeward_kit::auth::Role;
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    notification::v1 as nt,
    registry::v1 as reg,
};
use tonic::Code;
use tonic_types::StatusExt;

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

struct World {
    registry: RunningRegistry,
    exchange: RunningExchange,
    notification: Option<RunningNotification>,
    notification_db: Database,
    _registry_db: Database,
    _exchange_db: Database,
    letters: tempfile::TempDir,
    reg: Client,
    first: NotificationClient,
    second: NotificationClient,
}

impl World {
    async fn start(
        backend: Backend,
        tweak: impl FnOnce(&mut homeward_notification::NotificationConfig),
    ) -> Self {
        let registry_db = Database::fresh(backend).await;
        let exchange_db = Database::fresh(backend).await;
        let notification_db = Database::fresh(backend).await;
        let letters = tempfile::tempdir().expect("letters");
        let registry = RunningRegistry::start(&registry_db, 0).await;
        let exchange = RunningExchange::start(&exchange_db, registry.addr, 0).await;
        let notification = RunningNotification::start(
            &notification_db,
            registry.addr,
            exchange.addr,
            letters.path(),
            tweak,
        )
        .await;
        let reg = registry
            .client_as(&[Role::Registrar, Role::ExchangeOfficer])
            .await;
        let first = notification
            .client_as("liaison-1", &[Role::FamilyLiaison, Role::Auditor])
            .await;
        let second = notification
            .client_as("liaison-2", &[Role::FamilyLiaison])
            .await;
        Self {
            registry,
            exchange,
            notification: Some(notification),
            notification_db,
            _registry_db: registry_db,
            _exchange_db: exchange_db,
            letters,
            reg,
            first,
            second,
        }
    }

    async fn restart_notification(&mut self, kill: bool) {
        if let Some(n) = self.notification.take() {
            if kill {
                n.kill().await;
            } else {
                n.stop().await;
            }
        }
        let n = RunningNotification::start(
            &self.notification_db,
            self.registry.addr,
            self.exchange.addr,
            self.letters.path(),
            |_| {},
        )
        .await;
        self.first = n
            .client_as("liaison-1", &[Role::FamilyLiaison, Role::Auditor])
            .await;
        self.second = n.client_as("liaison-2", &[Role::FamilyLiaison]).await;
        self.notification = Some(n);
    }

    async fn register(&mut self, family: &str, given: &str, year: i32) -> String {
        self.reg
            .create_person(reg::CreatePersonRequest {
                request_id: rid(),
                person: Some(reg::Person {
                    category: common::PersonCategory::ServiceMember as i32,
                    sex: common::Sex::Male as i32,
                    names: vec![PersonName {
                        script: Script::Cyrillic as i32,
                        family: family.into(),
                        given: given.into(),
                        ..Default::default()
                    }],
                    birth_date: Some(PartialDate {
                        year,
                        month: 4,
                        day: 2,
                    }),
                    affiliated_party: "UA".into(),
                    holding_party: "RU".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("register")
            .into_inner()
            .person
            .expect("person")
            .id
    }

    /// A mother's inquiry about a son; verified and linked when asked.
    async fn inquiry(
        &mut self,
        son: (&str, &str, i32),
        email: &str,
        verify: bool,
    ) -> (nt::Inquiry, String) {
        let created = self
            .first
            .create_inquiry(nt::CreateInquiryRequest {
                request_id: rid(),
                inquiry: Some(nt::Inquiry {
                    requester: Some(nt::Requester {
                        names: vec![PersonName {
                            family: son.0.into(),
                            given: "Олена".into(),
                            ..Default::default()
                        }],
                        relationship: nt::Relationship::Parent as i32,
                        contacts: vec![nt::ContactChannel {
                            channel: nt::Channel::Email as i32,
                            address: email.into(),
                            preferred: true,
                            ..Default::default()
                        }],
                        preferred_language: "uk".into(),
                        ..Default::default()
                    }),
                    sought_person: Some(nt::SoughtPerson {
                        names: vec![PersonName {
                            family: son.0.into(),
                            given: son.1.into(),
                            ..Default::default()
                        }],
                        birth_date: Some(PartialDate {
                            year: son.2,
                            month: 4,
                            day: 2,
                        }),
                        ..Default::default()
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
                    office: "Kyiv".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("inquiry")
            .into_inner();
        let mut inquiry = created.inquiry.expect("inquiry");
        if verify {
            inquiry = self
                .first
                .verify_requester(nt::VerifyRequesterRequest {
                    request_id: rid(),
                    inquiry_id: inquiry.id.clone(),
                    etag: inquiry.etag.clone(),
                    state: nt::VerificationState::Verified as i32,
                    method: nt::VerificationMethod::IdentityDocumentInPerson as i32,
                    note: String::new(),
                })
                .await
                .expect("verify")
                .into_inner()
                .inquiry
                .expect("inquiry");
        }
        (inquiry, created.access_code)
    }

    async fn link(&mut self, inquiry: &str, person: &str) -> Result<nt::Link, tonic::Status> {
        let link = self
            .first
            .propose_link(nt::ProposeLinkRequest {
                request_id: rid(),
                inquiry_id: inquiry.into(),
                person_id: person.into(),
                confidence: 0.97,
                ..Default::default()
            })
            .await?
            .into_inner()
            .link
            .expect("link");
        self.second
            .confirm_link(nt::ConfirmLinkRequest {
                request_id: rid(),
                link_id: link.id,
                etag: link.etag,
                note: String::new(),
            })
            .await
            .map(|r| r.into_inner().link.expect("link"))
    }

    async fn notifications(&mut self, inquiry: &str) -> Vec<nt::Notification> {
        self.first
            .list_notifications(nt::ListNotificationsRequest {
                inquiry_id: inquiry.into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("notifications")
            .into_inner()
            .notifications
    }

    /// Waits until `done` holds for the inquiry's notifications.
    async fn until(
        &mut self,
        inquiry: &str,
        what: &str,
        done: impl Fn(&[nt::Notification]) -> bool,
    ) -> Vec<nt::Notification> {
        for _ in 0..200 {
            let list = self.notifications(inquiry).await;
            if done(&list) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: {:?}", self.notifications(inquiry).await);
    }

    async fn status(
        &mut self,
        reference: &str,
        code: &str,
    ) -> Result<nt::FamilyStatus, tonic::Status> {
        let anonymous = self
            .notification
            .as_ref()
            .expect("running")
            .client_as("", &[])
            .await;
        let mut anonymous = anonymous;
        anonymous
            .check_inquiry_status(nt::CheckInquiryStatusRequest {
                reference: reference.into(),
                access_code: code.into(),
            })
            .await
            .map(|r| nt::FamilyStatus::try_from(r.into_inner().status).unwrap_or_default())
    }

    async fn set_status(&mut self, person: &str, status: reg::PersonStatus) {
        self.reg
            .record_status_change(reg::RecordStatusChangeRequest {
                request_id: rid(),
                person_id: person.into(),
                etag: String::new(),
                change: Some(reg::StatusChange {
                    status: status as i32,
                    source: common::InformationSource::OwnReport as i32,
                    reliability: common::Reliability::CompletelyReliable as i32,
                    ..Default::default()
                }),
            })
            .await
            .expect("status change");
    }

    fn letters(&self) -> Vec<String> {
        letters_in(self.letters.path())
    }
}

fn letters_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn kinds(list: &[nt::Notification]) -> Vec<(i32, i32)> {
    list.iter().map(|n| (n.kind, n.state)).collect()
}

fn has(
    list: &[nt::Notification],
    kind: nt::NotificationKind,
    state: nt::NotificationState,
) -> bool {
    list.iter()
        .any(|n| n.kind == kind as i32 && n.state == state as i32)
}

async fn the_two_families_of_the_story_are_told_what_they_should_be(backend: Backend) {
    let world = World::start(backend, |_| {}).await;
    let services = homeward_story::Services::connect(
        &format!("http://{}", world.registry.addr),
        &format!("http://{}", world.exchange.addr),
    )
    .await
    .expect("clients")
    .with_office(&format!(
        "http://{}",
        world.notification.as_ref().unwrap().addr
    ))
    .await
    .expect("office");
    let plan = homeward_story::Plan {
        per_party: 20,
        civilians: 6,
        women: 2,
        concurrency: 4,
        ..homeward_story::Plan::may_2025()
    };
    let ending = homeward_story::play(&services, &plan, |_| {})
        .await
        .expect("the story plays");
    assert_eq!(ending.cases.len(), 2);
    let home = &ending.cases[0];
    assert!(home.family.in_phase);
    assert_eq!(home.status, nt::FamilyStatus::NewsSent);
    assert!(
        home.notifications
            .iter()
            .any(|(k, s, _)| *k == nt::NotificationKind::Repatriated
                && *s == nt::NotificationState::Delivered)
    );
    assert!(home.latency.is_some());
    assert!(
        home.open_tasks.is_empty(),
        "the capture notice is moot once he is home"
    );
    let away = &ending.cases[1];
    assert!(!away.family.in_phase);
    assert_eq!(away.status, nt::FamilyStatus::OfficerContact);
    assert!(
        !away
            .notifications
            .iter()
            .any(|(k, _, _)| *k == nt::NotificationKind::Repatriated)
    );
    assert_eq!(
        away.open_tasks,
        vec![nt::TaskKind::CaptureNotice],
        "nothing automated: an officer tells them he is held"
    );
    let letters = world.letters();
    assert_eq!(
        letters.iter().filter(|l| l.contains("Delivery-Id")).count(),
        3,
        "two acknowledgements and one homecoming"
    );
    assert!(letters.iter().all(|l| !l.contains(&plan.seed.to_string())));
}

async fn news_of_a_cancelled_exchange_is_dropped_and_death_goes_to_an_officer(backend: Backend) {
    let mut world = World::start(backend, |_| {}).await;
    let son = world.register("Гнатюк", "Тарас", 1999).await;
    let (inquiry, code) = world
        .inquiry(("Гнатюк", "Тарас", 1999), "olena@example.org", true)
        .await;
    world.link(&inquiry.id, &son).await.expect("linked");
    // Reserved for an exchange: the news waits.
    world
        .reg
        .reserve_persons(reg::ReservePersonsRequest {
            request_id: rid(),
            exchange_id: "phase-x".into(),
            person_ids: vec![son.clone()],
        })
        .await
        .expect("reserve");
    world
        .until(&inquiry.id, "embargoed", |l| {
            has(
                l,
                nt::NotificationKind::Repatriated,
                nt::NotificationState::Embargoed,
            )
        })
        .await;
    // The exchange falls through: released from the reservation, the news is dropped.
    world
        .reg
        .release_persons(reg::ReleasePersonsRequest {
            request_id: rid(),
            exchange_id: "phase-x".into(),
            person_ids: vec![],
            reason: "cancelled".into(),
        })
        .await
        .expect("release");
    let list = world
        .until(&inquiry.id, "dropped", |l| {
            has(
                l,
                nt::NotificationKind::Repatriated,
                nt::NotificationState::Cancelled,
            )
        })
        .await;
    assert!(!has(
        &list,
        nt::NotificationKind::Repatriated,
        nt::NotificationState::Delivered
    ));
    assert!(
        !world.letters().iter().any(|l| l.contains("Добрі новини")),
        "{:?}",
        world.letters()
    );
    // Death: an officer's task, no message.
    world.set_status(&son, reg::PersonStatus::Deceased).await;
    let list = world
        .until(&inquiry.id, "death task", |l| {
            has(
                l,
                nt::NotificationKind::Deceased,
                nt::NotificationState::InPerson,
            )
        })
        .await;
    let death = list
        .iter()
        .find(|n| n.kind == nt::NotificationKind::Deceased as i32)
        .expect("death");
    assert!(death.deliveries.is_empty());
    assert!(death.body.is_empty());
    let task = world
        .first
        .get_task(nt::GetTaskRequest {
            id: death.task_id.clone(),
        })
        .await
        .expect("task")
        .into_inner()
        .task
        .expect("task");
    assert_eq!(task.kind, nt::TaskKind::DeathNotice as i32);
    assert_eq!(
        world
            .status(&inquiry.reference, &code)
            .await
            .expect("status"),
        nt::FamilyStatus::OfficerContact
    );
    let letters = world.letters();
    assert_eq!(
        letters.len(),
        1,
        "only the acknowledgement was written: {letters:?}"
    );
}

async fn an_unverified_requester_learns_nothing_and_guessing_codes_is_stopped(backend: Backend) {
    let mut world = World::start(backend, |_| {}).await;
    let son = world.register("Руденко", "Петро", 1990).await;
    let (inquiry, code) = world
        .inquiry(("Руденко", "Петро", 1990), "someone@example.org", false)
        .await;
    let refused = world
        .link(&inquiry.id, &son)
        .await
        .expect_err("not verified");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        refused
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default(),
        "REQUESTER_NOT_VERIFIED"
    );
    world.set_status(&son, reg::PersonStatus::Transferred).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let list = world.notifications(&inquiry.id).await;
    assert_eq!(kinds(&list).len(), 1, "only the acknowledgement: {list:?}");
    assert_eq!(
        world
            .status(&inquiry.reference, &code)
            .await
            .expect("status"),
        nt::FamilyStatus::Received
    );
    // A wrong code and an unknown reference look the same, and guessing is cut off.
    let wrong = world
        .status(&inquiry.reference, "0000000000")
        .await
        .expect_err("wrong code");
    let unknown = world
        .status("HW-AAAA-BBBB", "0000000000")
        .await
        .expect_err("unknown");
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message())
    );
    for _ in 0..5 {
        let _ = world.status(&inquiry.reference, "1111111111").await;
    }
    let locked = world
        .status(&inquiry.reference, &code)
        .await
        .expect_err("locked after failures");
    assert_eq!(locked.code(), Code::FailedPrecondition);
    // Nothing but the status check works without a token.
    let mut anonymous = world
        .notification
        .as_ref()
        .unwrap()
        .client_as("", &[])
        .await;
    let denied = anonymous
        .get_inquiry(nt::GetInquiryRequest {
            id: inquiry.id.clone(),
        })
        .await
        .expect_err("no token");
    assert_eq!(denied.code(), Code::Unauthenticated);
}

async fn email_is_retried_when_the_server_refuses_and_dead_lettered_when_it_is_gone(
    backend: Backend,
) {
    let server = SmtpServer::start(1).await;
    let port = server.port();
    let mut world = World::start(backend, move |c| {
        c.delivery = serde_json::from_value(serde_json::json!({
            "smtp": {"host": "127.0.0.1", "port": port, "tls": "none", "from": "bureau@example.org"},
            "timeout_ms": 2000
        }))
        .expect("smtp config");
        c.messages.max_attempts = 3;
    })
    .await;
    let (inquiry, _) = world
        .inquiry(("Мороз", "Іван", 1995), "mother@example.org", true)
        .await;
    let list = world
        .until(&inquiry.id, "acknowledgement delivered", |l| {
            has(
                l,
                nt::NotificationKind::InquiryReceived,
                nt::NotificationState::Delivered,
            )
        })
        .await;
    let delivery = &list[0].deliveries[0];
    assert_eq!(delivery.attempts, 2, "refused once, accepted on the retry");
    let received = server.messages();
    assert_eq!(received.len(), 1, "sent once");
    assert!(
        received[0]
            .recipients
            .iter()
            .any(|r| r.contains("mother@example.org"))
    );
    server.stop().await;

    let (other, _) = world
        .inquiry(("Мороз", "Степан", 1996), "father@example.org", true)
        .await;
    let list = world
        .until(&other.id, "dead letter", |l| {
            has(
                l,
                nt::NotificationKind::InquiryReceived,
                nt::NotificationState::Failed,
            )
        })
        .await;
    let dead = &list[0].deliveries[0];
    assert_eq!(dead.state, nt::DeliveryState::DeadLetter as i32);
    assert_eq!(dead.attempts, 3);
    let queue = world
        .first
        .list_deliveries(nt::ListDeliveriesRequest {
            state: nt::DeliveryState::DeadLetter as i32,
            ..Default::default()
        })
        .await
        .expect("dead letters")
        .into_inner()
        .deliveries;
    assert_eq!(queue.len(), 1);
    assert!(!queue[0].masked_address.contains("father@example.org"));
    // Once the relay is back, an officer puts it back in the queue.
    let server = SmtpServer::start_on(port, 0).await;
    world
        .first
        .retry_delivery(nt::RetryDeliveryRequest {
            request_id: rid(),
            delivery_id: dead.id.clone(),
            note: "relay back".into(),
        })
        .await
        .expect("retry");
    world
        .until(&other.id, "delivered after retry", |l| {
            has(
                l,
                nt::NotificationKind::InquiryReceived,
                nt::NotificationState::Delivered,
            )
        })
        .await;
    assert_eq!(server.messages().len(), 1);
}

async fn a_killed_notification_service_loses_and_repeats_nothing(backend: Backend) {
    let mut world = World::start(backend, |_| {}).await;
    let mut families = Vec::new();
    for i in 0..12 {
        let family = format!("Ткаченко{i}");
        let son = world.register(&family, "Олег", 1980 + i).await;
        let (inquiry, _) = world
            .inquiry(
                (&family, "Олег", 1980 + i),
                &format!("m{i}@example.org"),
                true,
            )
            .await;
        world.link(&inquiry.id, &son).await.expect("linked");
        families.push((inquiry.id, son));
    }
    world
        .until(&families[11].0, "settled", |l| l.len() >= 2)
        .await;
    // Transferred in a burst, while the service is killed and restarted mid-way.
    for (_, son) in &families {
        world.set_status(son, reg::PersonStatus::Transferred).await;
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    world.restart_notification(true).await;
    for (inquiry, _) in families.clone() {
        let list = world
            .until(&inquiry, "update delivered", |l| {
                has(
                    l,
                    nt::NotificationKind::StatusUpdate,
                    nt::NotificationState::Delivered,
                )
            })
            .await;
        let updates = list
            .iter()
            .filter(|n| n.kind == nt::NotificationKind::StatusUpdate as i32)
            .count();
        assert_eq!(updates, 1, "each family told once");
    }
    world.restart_notification(false).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let letters = world.letters();
    // One acknowledgement and one update per family, no more.
    assert_eq!(letters.len(), 24, "{}", letters.len());
}

async fn a_withholding_flag_holds_the_news_until_reviewed_and_a_shared_phone_is_flagged(
    backend: Backend,
) {
    let mut world = World::start(backend, |_| {}).await;
    let son = world.register("Савченко", "Роман", 1993).await;
    let (inquiry, _) = world
        .inquiry(("Савченко", "Роман", 1993), "a@example.org", true)
        .await;
    let link = world.link(&inquiry.id, &son).await.expect("linked");
    let flagged = world
        .first
        .flag_withholding(nt::FlagWithholdingRequest {
            request_id: rid(),
            link_id: link.id.clone(),
            etag: link.etag.clone(),
            reason: "the family's contact may be read by the other party".into(),
        })
        .await
        .expect("flag")
        .into_inner()
        .link
        .expect("link");
    let tasks = world
        .first
        .list_tasks(nt::ListTasksRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("tasks")
        .into_inner()
        .tasks;
    assert!(tasks.iter().any(|t| t.kind == nt::TaskKind::WithholdingReview as i32 && t.inquiry_id == inquiry.id));
    world.set_status(&son, reg::PersonStatus::Transferred).await;
    world
        .until(&inquiry.id, "withheld", |l| {
            has(
                l,
                nt::NotificationKind::StatusUpdate,
                nt::NotificationState::Withheld,
            )
        })
        .await;
    assert_eq!(world.letters().len(), 1, "only the acknowledgement");
    let released = world
        .second
        .review_withholding(nt::ReviewWithholdingRequest {
            request_id: rid(),
            link_id: link.id.clone(),
            etag: flagged.etag,
            decision: nt::WithholdingDecision::Release as i32,
            note: "checked with the family".into(),
        })
        .await
        .expect("review")
        .into_inner();
    assert_eq!(released.released_notification_ids.len(), 1);
    world
        .until(&inquiry.id, "released and delivered", |l| {
            has(
                l,
                nt::NotificationKind::StatusUpdate,
                nt::NotificationState::Delivered,
            )
        })
        .await;

    // One phone asking about three unrelated people is flagged.
    let mut last = None;
    for (family, given) in [("Бойко", "Юрій"), ("Лисенко", "Ігор"), ("Марченко", "Влад")]
    {
        last = Some(
            world
                .inquiry((family, given, 1991), "same.person@example.org", false)
                .await
                .0,
        );
    }
    let last = last.expect("inquiry");
    assert!(
        last.risk_flags
            .iter()
            .any(|f| f.kind == nt::RiskFlagKind::SharedContact as i32),
        "{:?}",
        last.risk_flags
    );
    let flagged_list = world
        .first
        .list_inquiries(nt::ListInquiriesRequest {
            flagged_only: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .inquiries;
    assert_eq!(flagged_list.len(), 1);
    assert!(
        flagged_list[0]
            .requester
            .as_ref()
            .unwrap()
            .contacts
            .iter()
            .all(|c| !c.address.contains("same.person")),
        "addresses are masked in lists"
    );
}

async fn a_new_registration_puts_a_candidate_up_for_review(backend: Backend) {
    let mut world = World::start(backend, |_| {}).await;
    let (inquiry, _) = world
        .inquiry(("Клименко", "Артем", 2001), "k@example.org", true)
        .await;
    let none = world
        .first
        .list_links(nt::ListLinksRequest {
            inquiry_id: inquiry.id.clone(),
            ..Default::default()
        })
        .await
        .expect("links")
        .into_inner()
        .links;
    assert!(none.is_empty());
    let son = world.register("Клименко", "Артем", 2001).await;
    let mut proposed = Vec::new();
    for _ in 0..100 {
        proposed = world
            .first
            .list_links(nt::ListLinksRequest {
                inquiry_id: inquiry.id.clone(),
                ..Default::default()
            })
            .await
            .expect("links")
            .into_inner()
            .links;
        if !proposed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(proposed.len(), 1, "matching proposed the new registration");
    assert_eq!(proposed[0].person_id, son);
    assert_eq!(
        proposed[0].state,
        nt::LinkState::Proposed as i32,
        "a person decides, not the matcher"
    );
    assert_eq!(proposed[0].proposed_by, "matcher");
}

/// Past their time, a closed inquiry's family data and old message texts are removed by the
/// sweeper, which leaves open inquiries alone and records what it did in the audit chain.
async fn retention_removes_a_closed_inquirys_family_data_and_old_message_texts(backend: Backend) {
    let mut world = World::start(backend, |c| {
        c.retention.closed_inquiry_days = 0;
        c.retention.message_days = 0;
        c.retention.sweep_interval_s = 1;
    })
    .await;
    let (closing, _) = world
        .inquiry(("Коваль", "Петро", 1990), "olena.koval@example.org", true)
        .await;
    let (open, _) = world
        .inquiry(("Гнатюк", "Тарас", 1992), "maria.hnatiuk@example.org", true)
        .await;
    // The acknowledgement is delivered before the inquiry closes.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let delivered = world
            .first
            .list_notifications(nt::ListNotificationsRequest {
                inquiry_id: closing.id.clone(),
                state: nt::NotificationState::Delivered as i32,
                ..Default::default()
            })
            .await
            .expect("notifications")
            .into_inner()
            .notifications;
        if !delivered.is_empty() || std::time::Instant::now() > deadline {
            assert!(!delivered.is_empty(), "the acknowledgement was delivered");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let current = world
        .first
        .get_inquiry(nt::GetInquiryRequest {
            id: closing.id.clone(),
        })
        .await
        .expect("inquiry")
        .into_inner()
        .inquiry
        .expect("inquiry");
    world
        .first
        .close_inquiry(nt::CloseInquiryRequest {
            request_id: rid(),
            inquiry_id: closing.id.clone(),
            etag: current.etag.clone(),
            reason: nt::CloseReason::WithdrawnByRequester as i32,
            ..Default::default()
        })
        .await
        .expect("closed");

    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let swept = loop {
        let inquiry = world
            .first
            .get_inquiry(nt::GetInquiryRequest {
                id: closing.id.clone(),
            })
            .await
            .expect("inquiry")
            .into_inner()
            .inquiry
            .expect("inquiry");
        let requester = inquiry.requester.clone().unwrap_or_default();
        if (requester.names.is_empty() && requester.contacts.is_empty())
            || std::time::Instant::now() > deadline
        {
            break inquiry;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let requester = swept.requester.clone().unwrap_or_default();
    assert!(requester.names.is_empty(), "{requester:?}");
    assert!(requester.contacts.is_empty(), "{requester:?}");
    assert_eq!(
        swept.reference, closing.reference,
        "the record itself stays"
    );
    assert_eq!(
        swept.sought_person.as_ref().map(|s| s.names.len()),
        Some(1),
        "the sought person stays, as the registry's subject"
    );

    // The open inquiry keeps everything; only message texts go once they are old enough.
    let kept = world
        .first
        .get_inquiry(nt::GetInquiryRequest {
            id: open.id.clone(),
        })
        .await
        .expect("inquiry")
        .into_inner()
        .inquiry
        .expect("inquiry")
        .requester
        .unwrap_or_default();
    assert_eq!(kept.names.len(), 1);
    assert_eq!(kept.contacts.len(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let texts = loop {
        let texts: Vec<String> = world
            .first
            .list_notifications(nt::ListNotificationsRequest {
                inquiry_id: closing.id.clone(),
                ..Default::default()
            })
            .await
            .expect("notifications")
            .into_inner()
            .notifications
            .into_iter()
            .filter(|n| n.state == nt::NotificationState::Delivered as i32)
            .map(|n| n.body)
            .collect();
        if texts.iter().all(String::is_empty) || std::time::Instant::now() > deadline {
            break texts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        !texts.is_empty() && texts.iter().all(String::is_empty),
        "{texts:?}"
    );
    let verification = world
        .first
        .verify_audit_log(nt::VerifyAuditLogRequest::default())
        .await
        .expect("audit")
        .into_inner()
        .verification
        .expect("verification");
    assert!(verification.intact, "{}", verification.problem);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(homeward_e2e::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(homeward_e2e::Backend::Postgres).await })*
        }
    };
}

on_both_backends!(
    the_two_families_of_the_story_are_told_what_they_should_be,
    news_of_a_cancelled_exchange_is_dropped_and_death_goes_to_an_officer,
    an_unverified_requester_learns_nothing_and_guessing_codes_is_stopped,
    email_is_retried_when_the_server_refuses_and_dead_lettered_when_it_is_gone,
    a_killed_notification_service_loses_and_repeats_nothing,
    a_withholding_flag_holds_the_news_until_reviewed_and_a_shared_phone_is_flagged,
    a_new_registration_puts_a_candidate_up_for_review,
    retention_removes_a_closed_inquirys_family_data_and_old_message_texts,
);
