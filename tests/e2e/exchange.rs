//! The exchange service and the registry, each on its own socket, over real gRPC, against both
//! backends: a whole phase from lists to completion, and the ways it goes wrong (a list version
//! submitted against a stale one, a substitution, a refusal to return, a cancel, a person
//! offered in two phases, either process stopping in the middle of a registry step, replays).

use std::time::Duration;

use homeward_e2e::{Backend, Client, Database, ExchangeClient, RunningExchange, RunningRegistry};
use homeward_kit::auth::Role;
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    exchange::v1::{self as ex, list_entry::Subject},
    registry::v1 as reg,
};
use tonic::Code;
use tonic_types::StatusExt;

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

const UA_NAMES: &[(&str, &str, &str, &str)] = &[
    ("Коваленко", "Олександр", "Kovalenko", "Oleksandr"),
    ("Шевченко", "Андрій", "Shevchenko", "Andrii"),
    ("Бондаренко", "Микола", "Bondarenko", "Mykola"),
    ("Ткаченко", "Сергій", "Tkachenko", "Serhii"),
    ("Кравчук", "Василь", "Kravchuk", "Vasyl"),
    ("Олійник", "Дмитро", "Oliinyk", "Dmytro"),
];

const RU_NAMES: &[(&str, &str, &str, &str)] = &[
    ("Смирнов", "Алексей", "Smirnov", "Aleksei"),
    ("Кузнецов", "Дмитрий", "Kuznetsov", "Dmitrii"),
    ("Попов", "Сергей", "Popov", "Sergei"),
    ("Соколов", "Иван", "Sokolov", "Ivan"),
    ("Лебедев", "Михаил", "Lebedev", "Mikhail"),
    ("Новиков", "Павел", "Novikov", "Pavel"),
];

/// Someone held, as the registry knows them.
fn held(
    family: &str,
    given: &str,
    year: i32,
    affiliated: &str,
    holding: &str,
    civilian: bool,
) -> reg::Person {
    reg::Person {
        category: if civilian {
            common::PersonCategory::Civilian
        } else {
            common::PersonCategory::ServiceMember
        } as i32,
        sex: common::Sex::Male as i32,
        names: vec![PersonName {
            script: Script::Cyrillic as i32,
            given: given.into(),
            family: family.into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year,
            month: 5,
            day: 17,
        }),
        affiliated_party: affiliated.into(),
        holding_party: holding.into(),
        service_number: if civilian {
            String::new()
        } else {
            format!("{affiliated}-{family}-{year}")
        },
        ..Default::default()
    }
}

/// The same person as the other party writes them: Latin letters, no service number.
fn as_written(family: &str, given: &str, year: i32, civilian: bool) -> ex::ListedIdentity {
    ex::ListedIdentity {
        names: vec![PersonName {
            script: Script::Latin as i32,
            given: given.into(),
            family: family.into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year,
            month: 5,
            day: 17,
        }),
        sex: common::Sex::Male as i32,
        category: if civilian {
            common::PersonCategory::Civilian
        } else {
            common::PersonCategory::ServiceMember
        } as i32,
        ..Default::default()
    }
}

fn person_entry(reference: String, id: &str) -> ex::ListEntry {
    ex::ListEntry {
        reference,
        subject: Some(Subject::PersonId(id.into())),
        ..Default::default()
    }
}

fn raw_entry(reference: String, identity: ex::ListedIdentity) -> ex::ListEntry {
    ex::ListEntry {
        reference,
        subject: Some(Subject::Identity(identity)),
        ..Default::default()
    }
}

fn quota(count: u32, category: Option<common::PersonCategory>) -> ex::Quota {
    ex::Quota {
        count,
        category: category.map(|c| c as i32).unwrap_or(0),
        ..Default::default()
    }
}

/// The registry and the exchange service, started on their own sockets.
struct World {
    registry_db: Database,
    exchange_db: Database,
    registry: Option<RunningRegistry>,
    exchange: Option<RunningExchange>,
    reg: Client,
    ex: ExchangeClient,
    registry_port: u16,
}

impl World {
    async fn start(backend: Backend) -> Self {
        let registry_db = Database::fresh(backend).await;
        let exchange_db = Database::fresh(backend).await;
        let registry = RunningRegistry::start(&registry_db, 0).await;
        let exchange = RunningExchange::start(&exchange_db, registry.addr, 0).await;
        let reg = registry
            .client_as(&[Role::Registrar, Role::ExchangeOfficer, Role::Auditor])
            .await;
        let ex = exchange.client().await;
        Self {
            registry_port: registry.addr.port(),
            registry_db,
            exchange_db,
            registry: Some(registry),
            exchange: Some(exchange),
            reg,
            ex,
        }
    }

    async fn stop_registry(&mut self) {
        if let Some(r) = self.registry.take() {
            r.stop().await;
        }
    }

    async fn start_registry(&mut self) {
        let registry = RunningRegistry::start(&self.registry_db, self.registry_port).await;
        self.reg = registry
            .client_as(&[Role::Registrar, Role::ExchangeOfficer, Role::Auditor])
            .await;
        self.registry = Some(registry);
    }

    async fn kill_exchange(&mut self) {
        if let Some(e) = self.exchange.take() {
            e.kill().await;
        }
    }

    async fn start_exchange(&mut self) {
        let registry = std::net::SocketAddr::from(([127, 0, 0, 1], self.registry_port));
        let exchange = RunningExchange::start(&self.exchange_db, registry, 0).await;
        self.ex = exchange.client().await;
        self.exchange = Some(exchange);
    }

    async fn register(&mut self, p: reg::Person) -> String {
        self.reg
            .create_person(reg::CreatePersonRequest {
                request_id: rid(),
                person: Some(p),
                ..Default::default()
            })
            .await
            .expect("register")
            .into_inner()
            .person
            .expect("person")
            .id
    }

    async fn person(&mut self, id: &str) -> reg::Person {
        self.reg
            .get_person(reg::GetPersonRequest { id: id.into() })
            .await
            .expect("get")
            .into_inner()
            .person
            .expect("person")
    }

    async fn phase(&mut self, id: &str) -> ex::Phase {
        self.ex
            .get_phase(ex::GetPhaseRequest { id: id.into() })
            .await
            .expect("phase")
            .into_inner()
            .phase
            .expect("phase")
    }
}

/// A phase of `n` for `n` (the last one a civilian on each side), with both parties' lists
/// submitted: UA asks for its people by registry id, RU offers them as it writes them; RU asks
/// for its people as it writes them, UA offers them by registry id.
struct Story {
    agreement: ex::Agreement,
    phase: ex::Phase,
    /// Registry ids of UA people held by RU, and of RU people held by UA.
    ua_people: Vec<String>,
    ru_people: Vec<String>,
}

async fn story(world: &mut World, n: usize, year: i32) -> Story {
    let mut ua_people = Vec::new();
    let mut ru_people = Vec::new();
    for i in 0..n {
        let civilian = i == n - 1;
        let (f, g, _, _) = UA_NAMES[i];
        ua_people.push(
            world
                .register(held(f, g, year + i as i32, "UA", "RU", civilian))
                .await,
        );
        let (f, g, _, _) = RU_NAMES[i];
        ru_people.push(
            world
                .register(held(f, g, year + i as i32, "RU", "UA", civilian))
                .await,
        );
    }
    let agreement = world
        .ex
        .create_agreement(ex::CreateAgreementRequest {
            request_id: rid(),
            agreement: Some(ex::Agreement {
                title: "Istanbul talks".into(),
                parties: vec!["UA".into(), "RU".into()],
                mediators: vec!["TR".into()],
                agreement_date: Some(PartialDate {
                    year: 2025,
                    month: 5,
                    day: 16,
                }),
                quotas: vec![quota(1000, None)],
                one_for_one: true,
                ..Default::default()
            }),
        })
        .await
        .expect("agreement")
        .into_inner()
        .agreement
        .expect("agreement");
    let phase = world
        .ex
        .create_phase(ex::CreatePhaseRequest {
            request_id: rid(),
            phase: Some(ex::Phase {
                agreement_id: agreement.id.clone(),
                title: "phase one".into(),
                place: "Ukrainian-Belarusian border".into(),
                quotas: vec![
                    quota(n as u32, None),
                    quota(n as u32 - 1, Some(common::PersonCategory::ServiceMember)),
                    quota(1, Some(common::PersonCategory::Civilian)),
                ],
                ..Default::default()
            }),
        })
        .await
        .expect("phase")
        .into_inner()
        .phase
        .expect("phase");
    let phase = world
        .ex
        .start_negotiation(ex::StartNegotiationRequest {
            request_id: rid(),
            phase_id: phase.id.clone(),
            etag: phase.etag.clone(),
        })
        .await
        .expect("negotiation")
        .into_inner()
        .phase
        .expect("phase");
    let ua_request = ua_people
        .iter()
        .enumerate()
        .map(|(i, id)| person_entry(format!("UA-R-{i}"), id))
        .collect();
    let ru_offer = (0..n)
        .map(|i| {
            let (_, _, f, g) = UA_NAMES[i];
            raw_entry(
                format!("RU-O-{i}"),
                as_written(f, g, year + i as i32, i == n - 1),
            )
        })
        .collect();
    let ru_request = (0..n)
        .map(|i| {
            let (_, _, f, g) = RU_NAMES[i];
            raw_entry(
                format!("RU-R-{i}"),
                as_written(f, g, year + i as i32, i == n - 1),
            )
        })
        .collect();
    let ua_offer = ru_people
        .iter()
        .enumerate()
        .map(|(i, id)| person_entry(format!("UA-O-{i}"), id))
        .collect();
    for (party, kind, entries) in [
        ("UA", ex::ListKind::Request, ua_request),
        ("RU", ex::ListKind::Offer, ru_offer),
        ("RU", ex::ListKind::Request, ru_request),
        ("UA", ex::ListKind::Offer, ua_offer),
    ] {
        submit(world, &phase.id, party, kind, 0, entries)
            .await
            .expect("list submitted");
    }
    Story {
        agreement,
        phase,
        ua_people,
        ru_people,
    }
}

async fn submit(
    world: &mut World,
    phase: &str,
    party: &str,
    kind: ex::ListKind,
    base: u32,
    entries: Vec<ex::ListEntry>,
) -> Result<ex::ListVersion, tonic::Status> {
    world
        .ex
        .submit_list(ex::SubmitListRequest {
            request_id: rid(),
            phase_id: phase.into(),
            party: party.into(),
            kind: kind as i32,
            base_version: base,
            entries,
            source: common::InformationSource::OtherPartyList as i32,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().list.expect("list"))
}

async fn reconcile(world: &mut World, phase: &str) -> ex::Reconciliation {
    world
        .ex
        .reconcile_phase(ex::ReconcilePhaseRequest {
            request_id: rid(),
            phase_id: phase.into(),
            min_confidence: 0.0,
        })
        .await
        .expect("reconcile")
        .into_inner()
        .reconciliation
        .expect("reconciliation")
}

async fn items(world: &mut World, reconciliation: &str) -> Vec<ex::ReconciliationItem> {
    world
        .ex
        .list_reconciliation_items(ex::ListReconciliationItemsRequest {
            reconciliation_id: reconciliation.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("items")
        .into_inner()
        .items
}

fn freeze_request(
    phase: &ex::Phase,
    reconciliation: &str,
    imbalance: &str,
) -> ex::FreezeListsRequest {
    ex::FreezeListsRequest {
        request_id: rid(),
        phase_id: phase.id.clone(),
        etag: phase.etag.clone(),
        reconciliation_id: reconciliation.into(),
        imbalance_reason: imbalance.into(),
    }
}

async fn freeze(world: &mut World, phase: &str, reconciliation: &str) -> ex::FreezeListsResponse {
    let current = world.phase(phase).await;
    world
        .ex
        .freeze_lists(freeze_request(&current, reconciliation, ""))
        .await
        .expect("freeze")
        .into_inner()
}

fn key(party: &str, reference: &str) -> ex::ListEntryKey {
    ex::ListEntryKey {
        party: party.into(),
        kind: ex::ListKind::Offer as i32,
        reference: reference.into(),
    }
}

async fn consent(
    world: &mut World,
    phase: &str,
    party: &str,
    reference: &str,
    willing: bool,
) -> Result<ex::ConsentRecord, tonic::Status> {
    world
        .ex
        .record_consent(ex::RecordConsentRequest {
            request_id: rid(),
            consent: Some(ex::ConsentRecord {
                phase_id: phase.into(),
                entry: Some(key(party, reference)),
                decision: if willing {
                    ex::ConsentDecision::Willing
                } else {
                    ex::ConsentDecision::Refuses
                } as i32,
                interviewed_by: "ICRC delegate 4".into(),
                interviewer_organisation: "ICRC".into(),
                interviewed_in_private: true,
                language: "uk".into(),
                ..Default::default()
            }),
        })
        .await
        .map(|r| r.into_inner().consent.expect("consent"))
}

async fn check(
    world: &mut World,
    phase: &str,
    party: &str,
    reference: &str,
    result: ex::HandoverCheckResult,
) -> Result<ex::HandoverCheck, tonic::Status> {
    world
        .ex
        .record_handover_check(ex::RecordHandoverCheckRequest {
            request_id: rid(),
            check: Some(ex::HandoverCheck {
                phase_id: phase.into(),
                handing_party: party.into(),
                entry: Some(key(party, reference)),
                result: result as i32,
                methods: vec![
                    ex::IdentityCheckMethod::IdentityDocument as i32,
                    ex::IdentityCheckMethod::Interview as i32,
                ],
                checked_by: "border officer 12".into(),
                ..Default::default()
            }),
        })
        .await
        .map(|r| r.into_inner().check.expect("check"))
}

async fn start_handover(world: &mut World, phase: &str) -> Result<ex::Phase, tonic::Status> {
    let current = world.phase(phase).await;
    world
        .ex
        .start_handover(ex::StartHandoverRequest {
            request_id: rid(),
            phase_id: phase.into(),
            etag: current.etag,
        })
        .await
        .map(|r| r.into_inner().phase.expect("phase"))
}

async fn complete(
    world: &mut World,
    phase: &str,
    allow_partial: bool,
) -> Result<ex::Phase, tonic::Status> {
    let current = world.phase(phase).await;
    world
        .ex
        .complete_phase(ex::CompletePhaseRequest {
            request_id: rid(),
            phase_id: phase.into(),
            etag: current.etag,
            allow_partial,
            note: String::new(),
        })
        .await
        .map(|r| r.into_inner().phase.expect("phase"))
}

/// Consent of everyone on both offer lists, willing.
async fn everyone_willing(world: &mut World, phase: &str, n: usize) {
    for i in 0..n {
        consent(world, phase, "UA", &format!("UA-O-{i}"), true)
            .await
            .expect("consent");
        consent(world, phase, "RU", &format!("RU-O-{i}"), true)
            .await
            .expect("consent");
    }
}

fn status(p: &reg::Person) -> reg::PersonStatus {
    reg::PersonStatus::try_from(p.status).expect("status")
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

async fn a_whole_phase_from_lists_to_repatriation(backend: Backend) {
    let mut world = World::start(backend).await;
    let n = 4;
    let story = story(&mut world, n, 1990).await;
    let pid = story.phase.id.clone();

    let reconciliation = reconcile(&mut world, &pid).await;
    let summary = reconciliation.summary.expect("summary");
    assert_eq!(
        summary.paired,
        2 * n as u32,
        "every entry found its partner across scripts: {summary:?}"
    );
    assert_eq!(summary.open_reviews, 0);
    let all = items(&mut world, &reconciliation.id).await;
    let ua_pair = all
        .iter()
        .find(|i| i.request_reference == "UA-R-0")
        .expect("pair");
    assert_eq!(ua_pair.offer_reference, "RU-O-0");
    assert_eq!(ua_pair.person_id, story.ua_people[0]);
    assert!(!ua_pair.explanation.is_empty());

    let counts = world
        .ex
        .check_phase_counts(ex::CheckPhaseCountsRequest {
            phase_id: pid.clone(),
        })
        .await
        .expect("counts")
        .into_inner();
    let counts = counts.counts.expect("counts");
    assert!(counts.balanced, "{:?}", counts.problems);
    assert_eq!(
        counts.parties.iter().map(|p| p.total).collect::<Vec<_>>(),
        vec![n as u32, n as u32]
    );

    let frozen = freeze(&mut world, &pid, &reconciliation.id).await;
    assert_eq!(frozen.reserved_person_ids.len(), 2 * n);
    assert_eq!(
        frozen.phase.as_ref().unwrap().state,
        ex::PhaseState::ListsFrozen as i32
    );
    let reserved = world.person(&story.ua_people[1]).await;
    assert_eq!(status(&reserved), reg::PersonStatus::ReservedForExchange);
    assert_eq!(reserved.reserved_for_exchange_id, pid);

    // Nobody is put on a bus without a recorded consent.
    let refused = start_handover(&mut world, &pid)
        .await
        .expect_err("no consent yet");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CONSENT_MISSING");
    everyone_willing(&mut world, &pid, n).await;
    start_handover(&mut world, &pid).await.expect("handover");
    for i in 0..n {
        check(
            &mut world,
            &pid,
            "UA",
            &format!("UA-O-{i}"),
            ex::HandoverCheckResult::Verified,
        )
        .await
        .expect("check");
        check(
            &mut world,
            &pid,
            "RU",
            &format!("RU-O-{i}"),
            ex::HandoverCheckResult::Verified,
        )
        .await
        .expect("check");
    }
    let done = complete(&mut world, &pid, false).await.expect("complete");
    assert_eq!(done.state, ex::PhaseState::Completed as i32);

    for id in story.ua_people.iter().chain(&story.ru_people) {
        let p = world.person(id).await;
        let civilian = p.category == common::PersonCategory::Civilian as i32;
        let expected = if civilian {
            reg::PersonStatus::Released
        } else {
            reg::PersonStatus::Repatriated
        };
        assert_eq!(status(&p), expected, "{id}");
        assert!(p.reserved_for_exchange_id.is_empty());
    }
    let report = world
        .ex
        .get_phase_report(ex::GetPhaseReportRequest {
            phase_id: pid.clone(),
        })
        .await
        .expect("report")
        .into_inner()
        .report
        .expect("report");
    assert!(
        report
            .tallies
            .iter()
            .all(|t| t.planned == n as u32 && t.verified == n as u32),
        "{:?}",
        report.tallies
    );
    assert!(report.exceptions.is_empty());
    assert_eq!(
        report.breakdown.iter().map(|b| b.count).sum::<u32>(),
        2 * n as u32
    );
    assert!(report.breakdown.iter().all(|b| b.outcome == "handed over"));
    let civilians: u32 = report
        .breakdown
        .iter()
        .filter(|b| b.category == common::PersonCategory::Civilian as i32)
        .map(|b| b.count)
        .sum();
    assert_eq!(civilians, 2, "one civilian each way");
    assert_eq!(
        report
            .reconciliation
            .as_ref()
            .and_then(|r| r.summary)
            .map(|s| s.paired),
        Some(2 * n as u32)
    );
    assert!(report.handed_over_counts.expect("counts").balanced);
    assert!(report.audit_head_sequence > 0);
    let agreement = world
        .ex
        .get_agreement(ex::GetAgreementRequest {
            id: story.agreement.id.clone(),
        })
        .await
        .expect("agreement")
        .into_inner()
        .agreement
        .expect("agreement");
    assert!(
        agreement
            .progress
            .iter()
            .all(|p| p.handed_over == n as u32 && p.remaining == 1000 - n as u32),
        "{:?}",
        agreement.progress
    );
    let audit = world
        .ex
        .verify_audit_log(ex::VerifyAuditLogRequest::default())
        .await
        .expect("audit")
        .into_inner()
        .verification
        .expect("verification");
    assert!(audit.intact);
}

async fn a_list_submitted_against_a_stale_version_is_refused(backend: Backend) {
    let mut world = World::start(backend).await;
    let story = story(&mut world, 2, 1985).await;
    let pid = story.phase.id.clone();
    let entries = vec![person_entry("UA-R-0".into(), &story.ua_people[0])];
    let moved = submit(
        &mut world,
        &pid,
        "UA",
        ex::ListKind::Request,
        0,
        entries.clone(),
    )
    .await
    .expect_err("version 1 exists");
    assert_eq!(moved.code(), Code::Aborted);
    assert_eq!(reason(&moved), "LIST_VERSION_MOVED");
    let v2 = submit(&mut world, &pid, "UA", ex::ListKind::Request, 1, entries)
        .await
        .expect("amended");
    assert_eq!(v2.list.as_ref().unwrap().version, 2);
    let diff = world
        .ex
        .compare_list_versions(ex::CompareListVersionsRequest {
            phase_id: pid.clone(),
            party: "UA".into(),
            kind: ex::ListKind::Request as i32,
            from_version: 1,
            to_version: 0,
        })
        .await
        .expect("compare")
        .into_inner();
    assert_eq!(diff.removed.len(), 1);
    assert_eq!(diff.removed[0].reference, "UA-R-1");
    // A reconciliation made before the amendment cannot be frozen.
    let bad = submit(
        &mut world,
        &pid,
        "UA",
        ex::ListKind::Request,
        2,
        vec![person_entry("X".into(), &uuid::Uuid::new_v4().to_string())],
    )
    .await
    .expect_err("unknown person");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let versions = world
        .ex
        .list_list_versions(ex::ListListVersionsRequest {
            phase_id: pid.clone(),
            party: "UA".into(),
            ..Default::default()
        })
        .await
        .expect("versions")
        .into_inner();
    assert_eq!(
        versions
            .lists
            .iter()
            .filter(|l| l.list.as_ref().unwrap().kind == ex::ListKind::Request as i32)
            .count(),
        2,
        "the refused list wrote nothing"
    );
}

async fn a_substitution_is_caught_and_blocks_the_freeze_until_reviewed(backend: Backend) {
    let mut world = World::start(backend).await;
    let n = 3;
    let story = story(&mut world, n, 1980).await;
    let pid = story.phase.id.clone();
    // RU amends its offer: under RU-O-1 now stands a namesake born eleven years later.
    let mut offer: Vec<ex::ListEntry> = (0..n)
        .map(|i| {
            let (_, _, f, g) = UA_NAMES[i];
            raw_entry(
                format!("RU-O-{i}"),
                as_written(f, g, 1980 + i as i32, i == n - 1),
            )
        })
        .collect();
    let (_, _, f, g) = UA_NAMES[1];
    offer[1] = raw_entry("RU-O-1".into(), as_written(f, g, 1992, false));
    submit(&mut world, &pid, "RU", ex::ListKind::Offer, 1, offer)
        .await
        .expect("amended offer");
    let diff = world
        .ex
        .compare_list_versions(ex::CompareListVersionsRequest {
            phase_id: pid.clone(),
            party: "RU".into(),
            kind: ex::ListKind::Offer as i32,
            from_version: 1,
            to_version: 2,
        })
        .await
        .expect("compare")
        .into_inner();
    assert_eq!(diff.changed.len(), 1);
    assert!(
        diff.changed[0]
            .changed_fields
            .contains(&"identity.birth_date".to_string())
    );

    let reconciliation = reconcile(&mut world, &pid).await;
    let summary = reconciliation.summary.expect("summary");
    assert_eq!(summary.suspected_substitutions, 1, "{summary:?}");
    assert_eq!(summary.open_reviews, 1);
    let all = items(&mut world, &reconciliation.id).await;
    let suspect = all
        .iter()
        .find(|i| i.outcome == ex::ReconciliationOutcome::SuspectedSubstitution as i32)
        .expect("suspect");
    assert_eq!(
        (
            suspect.request_reference.as_str(),
            suspect.offer_reference.as_str()
        ),
        ("UA-R-1", "RU-O-1")
    );
    assert!(
        suspect.explanation[0].contains("birth date"),
        "{:?}",
        suspect.explanation
    );

    let current = world.phase(&pid).await;
    let refused = world
        .ex
        .freeze_lists(freeze_request(&current, &reconciliation.id, ""))
        .await
        .expect_err("open review");
    assert_eq!(reason(&refused), "OPEN_REVIEWS");

    let reviewed = world
        .ex
        .review_reconciliation_item(ex::ReviewReconciliationItemRequest {
            request_id: rid(),
            reconciliation_id: reconciliation.id.clone(),
            item_id: suspect.id.clone(),
            decision: ex::ReviewDecision::RejectPair as i32,
            note: "birth year differs by eleven years; not our man".into(),
            ..Default::default()
        })
        .await
        .expect("review")
        .into_inner();
    assert_eq!(
        reviewed
            .reconciliation
            .unwrap()
            .summary
            .unwrap()
            .open_reviews,
        0
    );
    // One person fewer each way would break parity: without a reason both parties accepted, no freeze.
    let current = world.phase(&pid).await;
    let unbalanced = world
        .ex
        .freeze_lists(freeze_request(&current, &reconciliation.id, ""))
        .await
        .expect_err("counts");
    assert_eq!(reason(&unbalanced), "COUNTS_DO_NOT_BALANCE");
    let frozen = world
        .ex
        .freeze_lists(freeze_request(
            &current,
            &reconciliation.id,
            "RU to clarify RU-O-1; UA accepts one fewer this phase",
        ))
        .await
        .expect("freeze with a reason")
        .into_inner();
    assert_eq!(frozen.reserved_person_ids.len(), 2 * n - 1);
    assert!(
        !frozen.reserved_person_ids.contains(&story.ua_people[1]),
        "the suspect's pair is not reserved"
    );
}

async fn a_refusal_to_return_takes_the_person_out_and_is_recorded_in_the_registry(
    backend: Backend,
) {
    let mut world = World::start(backend).await;
    let n = 2;
    let story = story(&mut world, n, 1975).await;
    let pid = story.phase.id.clone();
    let reconciliation = reconcile(&mut world, &pid).await;
    freeze(&mut world, &pid, &reconciliation.id).await;
    everyone_willing(&mut world, &pid, n).await;
    // Re-interviewed in private, one RU soldier held by UA refuses to go back.
    consent(&mut world, &pid, "UA", "UA-O-0", false)
        .await
        .expect("refusal");
    let consents = world
        .ex
        .list_consent_records(ex::ListConsentRecordsRequest {
            phase_id: pid.clone(),
            include_superseded: true,
            ..Default::default()
        })
        .await
        .expect("consents")
        .into_inner()
        .consents;
    assert_eq!(consents.len(), 2 * n + 1);
    assert_eq!(
        consents
            .iter()
            .filter(|c| !c.superseded_by.is_empty())
            .count(),
        1
    );
    start_handover(&mut world, &pid).await.expect("handover");
    let refused = check(
        &mut world,
        &pid,
        "UA",
        "UA-O-0",
        ex::HandoverCheckResult::Verified,
    )
    .await
    .expect_err("refused to return");
    assert_eq!(reason(&refused), "NO_CONSENT");
    for (party, reference) in [("UA", "UA-O-1"), ("RU", "RU-O-0"), ("RU", "RU-O-1")] {
        check(
            &mut world,
            &pid,
            party,
            reference,
            ex::HandoverCheckResult::Verified,
        )
        .await
        .expect("check");
    }
    let partial = complete(&mut world, &pid, false)
        .await
        .expect_err("needs allow_partial");
    assert_eq!(reason(&partial), "PARTIAL_HANDOVER");
    let done = complete(&mut world, &pid, true).await.expect("complete");
    assert_eq!(done.state, ex::PhaseState::PartiallyCompleted as i32);
    assert!(
        done.outcome_note.contains("refused"),
        "{}",
        done.outcome_note
    );
    let stayed = world.person(&story.ru_people[0]).await;
    assert_eq!(status(&stayed), reg::PersonStatus::RefusedRepatriation);
    assert!(stayed.reserved_for_exchange_id.is_empty());
    assert_eq!(
        status(&world.person(&story.ru_people[1]).await),
        reg::PersonStatus::Released
    );
    let report = world
        .ex
        .get_phase_report(ex::GetPhaseReportRequest {
            phase_id: pid.clone(),
        })
        .await
        .expect("report")
        .into_inner()
        .report
        .expect("report");
    let ua = report
        .tallies
        .iter()
        .find(|t| t.handing_party == "UA")
        .expect("tally");
    assert_eq!((ua.planned, ua.verified, ua.refused), (2, 1, 1));
    assert_eq!(report.refusals.len(), 1);
}

async fn cancelling_a_frozen_phase_releases_every_reservation(backend: Backend) {
    let mut world = World::start(backend).await;
    let story = story(&mut world, 2, 1970).await;
    let pid = story.phase.id.clone();
    let reconciliation = reconcile(&mut world, &pid).await;
    freeze(&mut world, &pid, &reconciliation.id).await;
    assert_eq!(
        status(&world.person(&story.ua_people[0]).await),
        reg::PersonStatus::ReservedForExchange
    );
    let current = world.phase(&pid).await;
    let cancelled = world
        .ex
        .cancel_phase(ex::CancelPhaseRequest {
            request_id: rid(),
            phase_id: pid.clone(),
            etag: current.etag.clone(),
            reason: "talks broke down".into(),
        })
        .await
        .expect("cancel")
        .into_inner()
        .phase
        .expect("phase");
    assert_eq!(cancelled.state, ex::PhaseState::Cancelled as i32);
    for id in story.ua_people.iter().chain(&story.ru_people) {
        let p = world.person(id).await;
        assert_eq!(status(&p), reg::PersonStatus::Captured, "{id}");
        assert!(p.reserved_for_exchange_id.is_empty());
    }
    // A cancelled phase takes no further step.
    let current = world.phase(&pid).await;
    let refused = world
        .ex
        .start_negotiation(ex::StartNegotiationRequest {
            request_id: rid(),
            phase_id: pid.clone(),
            etag: current.etag,
        })
        .await
        .expect_err("cancelled");
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

async fn a_person_offered_in_two_phases_at_once_is_reserved_only_once(backend: Backend) {
    let mut world = World::start(backend).await;
    let story = story(&mut world, 2, 1965).await;
    let first = story.phase.id.clone();
    let reconciliation = reconcile(&mut world, &first).await;
    freeze(&mut world, &first, &reconciliation.id).await;

    // A second phase of the same agreement lists the same people.
    let second = world
        .ex
        .create_phase(ex::CreatePhaseRequest {
            request_id: rid(),
            phase: Some(ex::Phase {
                agreement_id: story.agreement.id.clone(),
                quotas: vec![quota(2, None)],
                ..Default::default()
            }),
        })
        .await
        .expect("phase")
        .into_inner()
        .phase
        .expect("phase");
    assert_eq!(second.number, 2);
    world
        .ex
        .start_negotiation(ex::StartNegotiationRequest {
            request_id: rid(),
            phase_id: second.id.clone(),
            etag: second.etag.clone(),
        })
        .await
        .expect("negotiate");
    let ua_request = story
        .ua_people
        .iter()
        .enumerate()
        .map(|(i, id)| person_entry(format!("R{i}"), id))
        .collect();
    let ru_offer = (0..2)
        .map(|i| {
            let (_, _, f, g) = UA_NAMES[i];
            raw_entry(format!("O{i}"), as_written(f, g, 1965 + i as i32, i == 1))
        })
        .collect();
    submit(
        &mut world,
        &second.id,
        "UA",
        ex::ListKind::Request,
        0,
        ua_request,
    )
    .await
    .expect("request");
    submit(
        &mut world,
        &second.id,
        "RU",
        ex::ListKind::Offer,
        0,
        ru_offer,
    )
    .await
    .expect("offer");
    let reconciliation = reconcile(&mut world, &second.id).await;
    assert_eq!(reconciliation.summary.as_ref().unwrap().paired, 2);
    let current = world.phase(&second.id).await;
    let refused = world
        .ex
        .freeze_lists(freeze_request(
            &current,
            &reconciliation.id,
            "one-way phase",
        ))
        .await
        .expect_err("already reserved by phase one");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "REGISTRY_REFUSED");
    let after = world.phase(&second.id).await;
    assert_eq!(after.state, ex::PhaseState::Negotiating as i32);
    assert_eq!(
        world
            .person(&story.ua_people[0])
            .await
            .reserved_for_exchange_id,
        first
    );
}

async fn a_freeze_interrupted_by_a_stopped_registry_and_exchange_finishes_after_restart(
    backend: Backend,
) {
    let mut world = World::start(backend).await;
    let story = story(&mut world, 2, 1960).await;
    let pid = story.phase.id.clone();
    let reconciliation = reconcile(&mut world, &pid).await;
    let current = world.phase(&pid).await;
    let request = freeze_request(&current, &reconciliation.id, "");

    world.stop_registry().await;
    let down = world
        .ex
        .freeze_lists(request.clone())
        .await
        .expect_err("registry down");
    assert_eq!(down.code(), Code::Unavailable);
    assert_eq!(
        world.phase(&pid).await.state,
        ex::PhaseState::Negotiating as i32
    );
    // The exchange stops too, with the step written down.
    world.kill_exchange().await;
    world.start_registry().await;
    // As if the registry had reserved them before the exchange service stopped: the resumed
    // step's call is then answered from the registry's record of the first.
    let mut everyone: Vec<String> = story
        .ua_people
        .iter()
        .chain(&story.ru_people)
        .cloned()
        .collect();
    everyone.sort();
    world
        .reg
        .reserve_persons(reg::ReservePersonsRequest {
            request_id: format!("{pid}:freeze:1"),
            exchange_id: pid.clone(),
            person_ids: everyone,
        })
        .await
        .expect("registry's part done");
    world.start_exchange().await;

    // The resumer finishes the step on its own; the caller's retry gets the first result.
    let mut frozen = world.phase(&pid).await;
    for _ in 0..100 {
        if frozen.state == ex::PhaseState::ListsFrozen as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        frozen = world.phase(&pid).await;
    }
    assert_eq!(frozen.state, ex::PhaseState::ListsFrozen as i32);
    let replay = world
        .ex
        .freeze_lists(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(replay.reserved_person_ids.len(), 4);
    let history = world
        .reg
        .get_person_history(reg::GetPersonHistoryRequest {
            person_id: story.ua_people[0].clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .changes;
    let reservations = history
        .iter()
        .filter(|c| c.status == reg::PersonStatus::ReservedForExchange as i32)
        .count();
    assert_eq!(reservations, 1, "reserved exactly once");
}

async fn a_completion_interrupted_halfway_ends_as_an_undisturbed_one(backend: Backend) {
    let mut world = World::start(backend).await;
    let n = 2;
    let story = story(&mut world, n, 1955).await;
    let pid = story.phase.id.clone();
    let reconciliation = reconcile(&mut world, &pid).await;
    freeze(&mut world, &pid, &reconciliation.id).await;
    everyone_willing(&mut world, &pid, n).await;
    start_handover(&mut world, &pid).await.expect("handover");
    // Everyone appears but RU's second person, who is missing.
    for (party, reference) in [("UA", "UA-O-0"), ("UA", "UA-O-1"), ("RU", "RU-O-0")] {
        check(
            &mut world,
            &pid,
            party,
            reference,
            ex::HandoverCheckResult::Verified,
        )
        .await
        .expect("check");
    }
    let last_check = world
        .ex
        .list_handover_checks(ex::ListHandoverChecksRequest {
            phase_id: pid.clone(),
            result: ex::HandoverCheckResult::Verified as i32,
            ..Default::default()
        })
        .await
        .expect("checks")
        .into_inner()
        .checks
        .into_iter()
        .filter_map(|c| c.check_time)
        .max_by_key(|t| (t.seconds, t.nanos));
    let current = world.phase(&pid).await;
    let request = ex::CompletePhaseRequest {
        request_id: rid(),
        phase_id: pid.clone(),
        etag: current.etag,
        allow_partial: true,
        note: "RU-O-1 not brought".into(),
    };

    world.stop_registry().await;
    let down = world
        .ex
        .complete_phase(request.clone())
        .await
        .expect_err("registry down");
    assert_eq!(down.code(), Code::Unavailable);
    world.kill_exchange().await;
    world.start_registry().await;
    // Halfway: the registry got the repatriation before the exchange service stopped.
    let mut verified = vec![
        story.ru_people[0].clone(),
        story.ru_people[1].clone(),
        story.ua_people[0].clone(),
    ];
    verified.sort();
    world
        .reg
        .mark_repatriated(reg::MarkRepatriatedRequest {
            request_id: format!("{pid}:complete:repatriate"),
            exchange_id: pid.clone(),
            person_ids: verified,
            occur_time: last_check,
        })
        .await
        .expect("registry's first part done");
    world.start_exchange().await;
    let done = world
        .ex
        .complete_phase(request.clone())
        .await
        .expect("retry finishes")
        .into_inner()
        .phase
        .expect("phase");
    assert_eq!(done.state, ex::PhaseState::PartiallyCompleted as i32);
    let again = world
        .ex
        .complete_phase(request)
        .await
        .expect("replay")
        .into_inner()
        .phase
        .expect("phase");
    assert_eq!(again.etag, done.etag);

    assert_eq!(
        status(&world.person(&story.ua_people[0]).await),
        reg::PersonStatus::Repatriated
    );
    let missing = world.person(&story.ua_people[1]).await;
    assert_eq!(
        status(&missing),
        reg::PersonStatus::Captured,
        "not handed over: back to what it was"
    );
    assert!(missing.reserved_for_exchange_id.is_empty());
    for id in &story.ru_people {
        let p = world.person(id).await;
        assert_ne!(status(&p), reg::PersonStatus::ReservedForExchange);
        let history = world
            .reg
            .get_person_history(reg::GetPersonHistoryRequest {
                person_id: id.clone(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("history")
            .into_inner()
            .changes;
        let ends = history
            .iter()
            .filter(|c| {
                [
                    reg::PersonStatus::Repatriated as i32,
                    reg::PersonStatus::Released as i32,
                ]
                .contains(&c.status)
            })
            .count();
        assert_eq!(ends, 1, "handed over exactly once: {id}");
    }
    let checks = world
        .ex
        .list_handover_checks(ex::ListHandoverChecksRequest {
            phase_id: pid.clone(),
            result: ex::HandoverCheckResult::Missing as i32,
            ..Default::default()
        })
        .await
        .expect("checks")
        .into_inner()
        .checks;
    assert_eq!(
        checks.len(),
        1,
        "the unchecked entry is recorded as missing once"
    );
}

async fn replayed_request_ids_return_the_first_result_and_write_nothing(backend: Backend) {
    let mut world = World::start(backend).await;
    let request = ex::CreateAgreementRequest {
        request_id: rid(),
        agreement: Some(ex::Agreement {
            title: "T".into(),
            parties: vec!["UA".into(), "RU".into()],
            ..Default::default()
        }),
    };
    let first = world
        .ex
        .create_agreement(request.clone())
        .await
        .expect("first")
        .into_inner();
    let second = world
        .ex
        .create_agreement(request.clone())
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, second);
    let list = world
        .ex
        .list_agreements(ex::ListAgreementsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.agreements.len(), 1);
    let mut other = request;
    other.agreement.as_mut().unwrap().title = "Other".into();
    let reused = world
        .ex
        .create_agreement(other)
        .await
        .expect_err("same id, other request");
    assert_eq!(reused.code(), Code::AlreadyExists);

    let bad = world
        .ex
        .create_agreement(ex::CreateAgreementRequest {
            request_id: rid(),
            agreement: Some(ex::Agreement {
                parties: vec!["UA".into()],
                ..Default::default()
            }),
        })
        .await
        .expect_err("bad");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<String> = bad
        .get_error_details()
        .bad_request()
        .expect("details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert!(
        fields.contains(&"agreement.title".to_string())
            && fields.contains(&"agreement.parties".to_string()),
        "{fields:?}"
    );
    let denied = world
        .exchange
        .as_ref()
        .unwrap()
        .client_as(&[Role::Registrar])
        .await
        .list_agreements(ex::ListAgreementsRequest::default())
        .await
        .expect_err("registrar");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

/// The story `make demo` tells, at a small size: a substitution caught and amended, two
/// refusals, one person who does not appear.
async fn the_demo_story_ends_in_a_partial_completion_with_every_status_right(backend: Backend) {
    let world = World::start(backend).await;
    let registry = world.registry.as_ref().expect("registry").addr;
    let exchange = world.exchange.as_ref().expect("exchange").addr;
    let services = homeward_story::Services::connect(
        &format!("http://{registry}"),
        &format!("http://{exchange}"),
    )
    .await
    .expect("clients");
    let plan = homeward_story::Plan {
        per_party: 24,
        civilians: 8,
        women: 2,
        concurrency: 4,
        ..homeward_story::Plan::may_2025()
    };
    let mut lines = Vec::new();
    let ending = homeward_story::play(&services, &plan, |line| lines.push(line))
        .await
        .expect("the story plays");
    assert_eq!(
        ending.phase.state,
        ex::PhaseState::PartiallyCompleted as i32
    );
    assert_eq!(
        ending.first_reconciliation.suspected_substitutions, 1,
        "{:?}",
        ending.first_reconciliation
    );
    assert_eq!(ending.final_reconciliation.paired, 48);
    assert!(ending.caught.is_some());
    let count = |status: reg::PersonStatus| {
        ending
            .statuses
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    assert_eq!(count(reg::PersonStatus::RefusedRepatriation), 2);
    assert_eq!(
        count(reg::PersonStatus::Captured),
        1,
        "the person who did not appear is back to captured"
    );
    assert_eq!(
        count(reg::PersonStatus::Repatriated) + count(reg::PersonStatus::Released),
        45
    );
    assert_eq!(
        count(reg::PersonStatus::Released),
        16,
        "civilians are released"
    );
    let text = homeward_story::render(&ending);
    assert!(text.contains("substitution caught"), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("lists frozen: 48 people reserved")),
        "{lines:?}"
    );
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
    a_whole_phase_from_lists_to_repatriation,
    a_list_submitted_against_a_stale_version_is_refused,
    a_substitution_is_caught_and_blocks_the_freeze_until_reviewed,
    a_refusal_to_return_takes_the_person_out_and_is_recorded_in_the_registry,
    cancelling_a_frozen_phase_releases_every_reservation,
    a_person_offered_in_two_phases_at_once_is_reserved_only_once,
    a_freeze_interrupted_by_a_stopped_registry_and_exchange_finishes_after_restart,
    a_completion_interrupted_halfway_ends_as_an_undisturbed_one,
    replayed_request_ids_return_the_first_result_and_write_nothing,
    the_demo_story_ends_in_a_partial_completion_with_every_status_right,
);
