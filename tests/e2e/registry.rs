//! The registry over real gRPC on a real socket, against both backends.

use std::time::Duration;

use futures::StreamExt;
use homeward_e2e::{Backend, Client, Database, RunningRegistry};
use homeward_kit::auth::Role;
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    registry::v1::{self as pb, import_persons_request::Item},
};
use tonic::Code;
use tonic_types::StatusExt;

fn person(family: &str, given: &str, year: i32) -> pb::Person {
    pb::Person {
        category: common::PersonCategory::ServiceMember as i32,
        sex: common::Sex::Male as i32,
        names: vec![PersonName {
            script: Script::Cyrillic as i32,
            given: given.into(),
            family: family.into(),
            patronymic: "Іванович".into(),
            language: "uk".into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year,
            month: 3,
            day: 14,
        }),
        affiliated_party: "UA".into(),
        holding_party: "RU".into(),
        unit: "36 OBrMP".into(),
        service_number: format!("SN-{family}-{year}"),
        ..Default::default()
    }
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn create(client: &mut Client, p: pb::Person) -> pb::Person {
    client
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(p),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .person
        .expect("person")
}

async fn count(client: &mut Client) -> usize {
    let mut total = 0;
    let mut token = String::new();
    loop {
        let page = client
            .list_persons(pb::ListPersonsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        total += page.persons.len();
        if page.next_page_token.is_empty() {
            return total;
        }
        token = page.next_page_token;
    }
}

async fn creating_reading_and_updating_a_person(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;

    let created = create(&mut client, person("Коваленко", "Олександр", 1998)).await;
    assert_eq!(created.status, pb::PersonStatus::Captured as i32);
    assert_eq!(created.names[0].family, "Коваленко");

    let got = client
        .get_person(pb::GetPersonRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(got, created);

    // A fresh update goes through and changes the etag.
    let mut change = got.clone();
    change.unit = "Azov".into();
    let updated = client
        .update_person(pb::UpdatePersonRequest {
            request_id: rid(),
            person: Some(change.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["unit".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(updated.unit, "Azov");
    assert_ne!(updated.etag, got.etag);

    // The same old etag now is stale: ABORTED, and nothing changes.
    change.unit = "Other".into();
    let err = client
        .update_person(pb::UpdatePersonRequest {
            request_id: rid(),
            person: Some(change),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["unit".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "ETAG_MISMATCH"
    );
    let now = client
        .get_person(pb::GetPersonRequest { id: created.id })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(now.unit, "Azov");
    registry.stop().await;
}

async fn listing_while_inserting_skips_and_repeats_nothing(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let mut before = Vec::new();
    for i in 0..25 {
        before.push(
            create(&mut client, person("Шевченко", "Тарас", 1970 + i))
                .await
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_persons(pb::ListPersonsRequest {
                page_size: 4,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(page.persons.into_iter().map(|p| p.id));
        // Someone registers a person between every two pages.
        create(&mut client, person("Бондаренко", "Петро", 1980)).await;
        if page.next_page_token.is_empty() || pages > 100 {
            break;
        }
        token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a person was listed twice");
    for id in &before {
        assert!(
            seen.contains(id),
            "a person registered before listing was skipped"
        );
    }
    // A token used with other filters is refused.
    let page = client
        .list_persons(pb::ListPersonsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = client
        .list_persons(pb::ListPersonsRequest {
            page_size: 2,
            page_token: page.next_page_token,
            holding_party: "UA".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    registry.stop().await;
}

async fn import_reports_bad_rows_and_keeps_the_good_ones(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let request_id = rid();
    let rows = |request_id: String| {
        let mut messages = vec![pb::ImportPersonsRequest {
            item: Some(Item::Header(pb::ImportHeader {
                request_id,
                ..Default::default()
            })),
        }];
        for i in 0..1_200u64 {
            let mut p = person("Мельник", "Андрій", 1960 + (i % 40) as i32);
            if i == 7 {
                p.names.clear();
            }
            if i == 100 || i == 101 {
                // The second use of a file reference is refused; the rest of its chunk is kept.
                p.file_reference = "UA-2025-0100".into();
            }
            if i == 900 {
                p.birth_date = Some(PartialDate {
                    year: 1991,
                    month: 2,
                    day: 30,
                });
            }
            messages.push(pb::ImportPersonsRequest {
                item: Some(Item::Row(pb::ImportRow {
                    row_number: i + 2,
                    person: Some(p),
                })),
            });
        }
        tokio_stream::iter(messages)
    };
    let summary = client
        .import_persons(rows(request_id.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rows_received, 1_200);
    assert_eq!(summary.rows_imported, 1_197);
    assert_eq!(summary.rows_rejected, 3);
    let bad: Vec<u64> = summary.errors.iter().map(|e| e.row_number).collect();
    assert_eq!(bad, vec![9, 103, 902]);
    assert_eq!(summary.errors[0].field, "person.names");
    assert_eq!(summary.errors[1].field, "person.file_reference");
    assert_eq!(count(&mut client).await, 1_197);

    // Sending the same import again writes nothing new.
    let again = client
        .import_persons(rows(request_id))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.rows_imported, 1_197);
    assert_eq!(count(&mut client).await, 1_197);
    registry.stop().await;
}

async fn replaying_a_request_id_returns_the_first_result(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let request = pb::CreatePersonRequest {
        request_id: "create-kovalenko-1".into(),
        person: Some(person("Коваленко", "Олександр", 1998)),
        ..Default::default()
    };
    let first = client
        .create_person(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = client
        .create_person(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second);
    assert_eq!(count(&mut client).await, 1);

    let mut other = request;
    other.person.as_mut().unwrap().unit = "different".into();
    let err = client.create_person(other).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(count(&mut client).await, 1);
    registry.stop().await;
}

async fn bad_input_gets_details_and_writes_nothing(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let mut p = person("", "", 1990);
    p.holding_party = "russia".into();
    p.birth_date = Some(PartialDate {
        year: 1990,
        month: 13,
        day: 0,
    });
    let err = client
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(p),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.get_error_details();
    let fields: Vec<String> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert!(
        fields.contains(&"person.names[0].family".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"person.holding_party".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"person.birth_date".to_string()),
        "{fields:?}"
    );
    let err = client
        .get_person(pb::GetPersonRequest {
            id: "not-a-uuid".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .get_person(pb::GetPersonRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .list_persons(pb::ListPersonsRequest {
            page_size: -5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(count(&mut client).await, 0);
    registry.stop().await;
}

async fn status_changes_follow_the_rules_and_keep_history(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry
        .client_as(&[Role::Registrar, Role::ExchangeOfficer])
        .await;
    let p = create(&mut client, person("Ткаченко", "Іван", 1985)).await;
    let change =
        |status: pb::PersonStatus, capture: Option<pb::Capture>| pb::RecordStatusChangeRequest {
            request_id: rid(),
            person_id: p.id.clone(),
            etag: String::new(),
            change: Some(pb::StatusChange {
                status: status as i32,
                capture,
                source: homeward_proto::common::v1::InformationSource::OtherPartyList as i32,
                ..Default::default()
            }),
        };
    client
        .record_status_change(change(pb::PersonStatus::Interned, None))
        .await
        .unwrap();
    // Reserve for an exchange, then repatriate through the exchange call.
    let reserved = client
        .reserve_persons(pb::ReservePersonsRequest {
            request_id: rid(),
            exchange_id: "phase-1".into(),
            person_ids: vec![p.id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reserved.persons[0].status,
        pb::PersonStatus::ReservedForExchange as i32
    );
    let err = client
        .reserve_persons(pb::ReservePersonsRequest {
            request_id: rid(),
            exchange_id: "phase-2".into(),
            person_ids: vec![p.id.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    client
        .mark_repatriated(pb::MarkRepatriatedRequest {
            request_id: rid(),
            exchange_id: "phase-1".into(),
            person_ids: vec![p.id.clone()],
            occur_time: None,
        })
        .await
        .unwrap();
    // Repatriated → captured needs a new capture record.
    let err = client
        .record_status_change(change(pb::PersonStatus::Captured, None))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let capture = pb::Capture {
        date: Some(PartialDate {
            year: 2025,
            month: 6,
            day: 1,
        }),
        place: "Pokrovsk".into(),
    };
    client
        .record_status_change(change(pb::PersonStatus::Captured, Some(capture)))
        .await
        .unwrap();
    client
        .record_status_change(change(pb::PersonStatus::Deceased, None))
        .await
        .unwrap();
    let err = client
        .record_status_change(change(pb::PersonStatus::Interned, None))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let history = client
        .get_person_history(pb::GetPersonHistoryRequest {
            person_id: p.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let statuses: Vec<i32> = history.iter().map(|c| c.status).collect();
    use pb::PersonStatus as S;
    assert_eq!(
        statuses,
        [
            S::Captured,
            S::Interned,
            S::ReservedForExchange,
            S::Repatriated,
            S::Captured,
            S::Deceased
        ]
        .map(|s| s as i32)
    );
    assert_eq!(
        history[1].source,
        homeward_proto::common::v1::InformationSource::OtherPartyList as i32
    );
    assert_eq!(history[3].exchange_id, "phase-1");
    registry.stop().await;
}

async fn reservations_are_all_or_nothing_and_release_restores_status(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry
        .client_as(&[Role::Registrar, Role::ExchangeOfficer])
        .await;
    let a = create(&mut client, person("Гончаренко", "Віктор", 1991)).await;
    let b = create(&mut client, person("Савченко", "Ігор", 1993)).await;
    let reserve = |exchange: &str, ids: Vec<String>, request_id: &str| pb::ReservePersonsRequest {
        request_id: request_id.into(),
        exchange_id: exchange.into(),
        person_ids: ids,
    };
    client
        .reserve_persons(reserve("phase-2", vec![b.id.clone()], "r-b"))
        .await
        .unwrap();
    // a is free, b is taken: neither is reserved for phase-1.
    let err = client
        .reserve_persons(reserve("phase-1", vec![a.id.clone(), b.id.clone()], "r-ab"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "RESERVED_FOR_ANOTHER_EXCHANGE"
    );
    let get = |id: &str| pb::GetPersonRequest { id: id.into() };
    let a_now = client
        .get_person(get(&a.id))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(a_now.status, pb::PersonStatus::Captured as i32);
    assert!(a_now.reserved_for_exchange_id.is_empty());

    // Replaying a reservation returns the first answer and reserves nothing new.
    let first = client
        .reserve_persons(reserve("phase-1", vec![a.id.clone()], "r-a"))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .reserve_persons(reserve("phase-1", vec![a.id.clone()], "r-a"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(first.persons[0].reserved_for_exchange_id, "phase-1");

    // Cancelling phase-1 releases everyone it reserved, back to where they were.
    let released = client
        .release_persons(pb::ReleasePersonsRequest {
            request_id: rid(),
            exchange_id: "phase-1".into(),
            person_ids: vec![],
            reason: "phase cancelled".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.persons.len(), 1);
    assert_eq!(
        released.persons[0].status,
        pb::PersonStatus::Captured as i32
    );
    assert!(released.persons[0].reserved_for_exchange_id.is_empty());
    // b stays with phase-2, and cannot be marked repatriated by phase-1.
    let err = client
        .mark_repatriated(pb::MarkRepatriatedRequest {
            request_id: rid(),
            exchange_id: "phase-1".into(),
            person_ids: vec![b.id.clone()],
            occur_time: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let b_now = client
        .get_person(get(&b.id))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(b_now.reserved_for_exchange_id, "phase-2");
    // A registrar alone may not reserve.
    let mut registrar = registry.client_as(&[Role::Registrar]).await;
    let err = registrar
        .reserve_persons(reserve("phase-3", vec![a.id.clone()], "r-x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    registry.stop().await;
}

async fn watch_resumes_after_a_restart_without_gaps_or_duplicates(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let port = registry.addr.port();
    let mut client = registry.client().await;
    for i in 0..5 {
        create(&mut client, person("Литвиненко", "Денис", 1990 + i)).await;
    }
    let mut stream = client
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut events = Vec::new();
    while events.len() < 5 {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        events.push(e.event.unwrap());
    }
    // The server stops: the stream ends cleanly.
    registry.stop().await;
    let rest = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("stream ends");
    assert!(rest.is_none() || rest.unwrap().is_err());

    // Restarted on the same database and port, with more writes: resume from the cursor.
    let registry = RunningRegistry::start(&db, port).await;
    let mut client = registry.client().await;
    for i in 0..3 {
        create(&mut client, person("Литвиненко", "Денис", 2000 + i)).await;
    }
    let cursor = events.last().unwrap().cursor.clone();
    let mut stream = client
        .watch_events(pb::WatchEventsRequest {
            after_cursor: cursor,
            types: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    while events.len() < 8 {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        events.push(e.event.unwrap());
    }
    let mut ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "an event was delivered twice");
    assert!(events.iter().all(|e| e.r#type == "registry.person.created"));
    let created: pb::PersonCreated = events[7].payload.as_ref().unwrap().to_msg().unwrap();
    assert_eq!(created.person.unwrap().birth_date.unwrap().year, 2002);
    // Nothing more than what was written.
    assert!(
        tokio::time::timeout(Duration::from_millis(700), stream.next())
            .await
            .is_err()
    );
    let err = client
        .watch_events(pb::WatchEventsRequest {
            after_cursor: "garbage".into(),
            types: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    registry.stop().await;
}

async fn requests_without_a_valid_token_are_refused(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut anonymous = registry.anonymous().await;
    let err = anonymous
        .list_persons(pb::ListPersonsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = anonymous
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(person("Коваленко", "Олександр", 1998)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // A family liaison officer may read but not register.
    let mut liaison = registry.client_as(&[Role::FamilyLiaison]).await;
    let err = liaison
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(person("Коваленко", "Олександр", 1998)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut registrar = registry.client().await;
    assert_eq!(count(&mut registrar).await, 0);
    registry.stop().await;
}

async fn search_finds_a_person_across_scripts_and_audit_verifies(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let target = create(&mut client, person("Коваленко", "Олег", 1998)).await;
    create(&mut client, person("Ковальчук", "Олег", 1998)).await;
    let results = client
        .search_persons(pb::SearchPersonsRequest {
            query: "Oleh Kovalenko".into(),
            birth_date: Some(PartialDate {
                year: 1998,
                month: 0,
                day: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results[0].person.as_ref().unwrap().id, target.id);
    assert!(results[0].score > 0.8);
    assert!(!results[0].explanation.is_empty());
    assert!(results.iter().all(
        |r| r.person.as_ref().unwrap().names[0].family != "Ковальчук" || r.score < results[0].score
    ));

    // Another form of the given name, in another script, still finds him; the namesake with a
    // different surname does not come first.
    let results = client
        .search_persons(pb::SearchPersonsRequest {
            query: "Олег Коваленко".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results[0].person.as_ref().unwrap().id, target.id);
    let alexander = create(&mut client, person("Бондаренко", "Олександр", 1987)).await;
    let results = client
        .search_persons(pb::SearchPersonsRequest {
            query: "Alexander Bondarenko".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results[0].person.as_ref().unwrap().id, alexander.id);
    assert!(
        results[0]
            .explanation
            .iter()
            .any(|e| e.contains("forms of the same name")),
        "{:?}",
        results[0].explanation
    );
    // Given names alone are looked up in all their forms.
    let results = client
        .search_persons(pb::SearchPersonsRequest {
            query: "Aleksandr".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(
        results
            .iter()
            .any(|r| r.person.as_ref().unwrap().id == alexander.id)
    );

    // Entries are chained moments after their commit: three records created, and the four
    // searches in the access log.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let verification = loop {
        let v = client
            .verify_audit_log(pb::VerifyAuditLogRequest::default())
            .await
            .unwrap()
            .into_inner()
            .verification
            .unwrap();
        if v.entries == 7 || tokio::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(verification.intact, "{}", verification.problem);
    assert_eq!(verification.entries, 7);
    registry.stop().await;
}

async fn health_and_reflection_are_served(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(registry.channel().await);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "homeward.registry.v1.RegistryService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(registry.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply");
    };
    let mut listed: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    listed.sort_unstable();
    // What this server serves, and nothing it does not.
    assert_eq!(
        listed,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "homeward.registry.v1.RegistryService",
        ]
    );
    registry.stop().await;
}

async fn trace_context_travels_from_the_request_into_its_events(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(pb::CreatePersonRequest {
        request_id: rid(),
        person: Some(person("Кравченко", "Сергій", 1979)),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    client.create_person(request).await.unwrap();
    let mut stream = client
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .event
        .unwrap();
    assert!(
        event.traceparent.contains(trace_id),
        "event traceparent {:?}",
        event.traceparent
    );
    registry.stop().await;
}

async fn shutdown_reports_not_serving_before_the_listener_closes(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start_with(&db, 0, |c| c.server.drain_delay_ms = 1_500).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(registry.channel().await);
    let mut watch = health
        .watch(tonic_health::pb::HealthCheckRequest {
            service: "homeward.registry.v1.RegistryService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    use tonic_health::pb::health_check_response::ServingStatus;
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let stopping = tokio::spawn(registry.stop());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    stopping.await.unwrap();
}

async fn oversized_requests_are_refused_and_write_nothing(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry =
        RunningRegistry::start_with(&db, 0, |c| c.server.max_message_bytes = 64 * 1024).await;
    let mut client = registry.client().await;
    let mut p = person("Коваленко", "Олександр", 1998);
    p.birth_place = "x".repeat(200 * 1024);
    let err = client
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(p),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{err:?}"
    );
    // Within the limit but over the field's bound: a clear field error.
    let mut p = person("Коваленко", "Олександр", 1998);
    p.unit = "x".repeat(1_000);
    let err = client
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(p),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(count(&mut client).await, 0);
    registry.stop().await;
}

async fn the_same_reservation_sent_twice_at_once_answers_both_alike(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry
        .client_as(&[Role::Registrar, Role::ExchangeOfficer])
        .await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            create(&mut client, person("Мельник", "Тарас", 1960 + i))
                .await
                .id,
        );
    }
    // A retry racing the original: same request id, same body, sent together several times.
    let request = pb::ReservePersonsRequest {
        request_id: "phase-7:freeze:1".into(),
        exchange_id: "phase-7".into(),
        person_ids: ids.clone(),
    };
    let calls = (0..4).map(|_| {
        let mut c = client.clone();
        let r = request.clone();
        async move { c.reserve_persons(r).await.map(|r| r.into_inner()) }
    });
    let answers = futures::future::join_all(calls).await;
    let first = answers[0].as_ref().expect("reserved").clone();
    for answer in &answers {
        assert_eq!(answer.as_ref().expect("every copy answered"), &first);
    }
    let history = client
        .get_person_history(pb::GetPersonHistoryRequest {
            person_id: ids[0].clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .changes;
    let reserved = history
        .iter()
        .filter(|c| c.status == pb::PersonStatus::ReservedForExchange as i32)
        .count();
    assert_eq!(reserved, 1, "reserved once");
    registry.stop().await;
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

fn named(
    family: &str,
    given: &str,
    patronymic: &str,
    script: Script,
    born: (i32, i32, i32),
) -> pb::Person {
    let mut p = person(family, given, born.0);
    p.names[0].patronymic = patronymic.into();
    p.names[0].script = script as i32;
    p.birth_date = Some(PartialDate {
        year: born.0,
        month: born.1,
        day: born.2,
    });
    p.service_number.clear();
    p
}

async fn duplicates_are_flagged_merged_and_unmerged(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let first = create(
        &mut client,
        named(
            "Коваленко",
            "Олександр",
            "Петрович",
            Script::Cyrillic,
            (1990, 4, 12),
        ),
    )
    .await;
    // The same man as the passport spells him: the registration says so.
    let created = client
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(named(
                "Kovalenko",
                "Oleksandr",
                "Petrovych",
                Script::Latin,
                (1990, 4, 12),
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = created.person.unwrap();
    assert_eq!(created.possible_duplicates.len(), 1);
    assert_eq!(created.possible_duplicates[0].person_id, first.id);
    assert!(created.possible_duplicates[0].confidence >= 0.8);
    // His son is not flagged.
    let son = client
        .create_person(pb::CreatePersonRequest {
            request_id: rid(),
            person: Some(named(
                "Коваленко",
                "Іван",
                "Олександрович",
                Script::Cyrillic,
                (2004, 9, 1),
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        son.possible_duplicates.is_empty(),
        "{:?}",
        son.possible_duplicates
    );

    let found = client
        .find_duplicates(pb::FindDuplicatesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let pairs: Vec<(String, String)> = found
        .pairs
        .iter()
        .map(|p| (p.first_person_id.clone(), p.second_person_id.clone()))
        .collect();
    assert_eq!(pairs, vec![(first.id.clone(), second.id.clone())]);
    assert!(found.next_page_token.is_empty());

    let stale = client
        .merge_persons(pb::MergePersonsRequest {
            request_id: rid(),
            survivor_id: first.id.clone(),
            duplicate_id: second.id.clone(),
            duplicate_etag: "v0".into(),
            reason: "same passport".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let itself = client
        .merge_persons(pb::MergePersonsRequest {
            request_id: rid(),
            survivor_id: first.id.clone(),
            duplicate_id: first.id.clone(),
            duplicate_etag: first.etag.clone(),
            reason: "same passport".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(itself.code(), Code::FailedPrecondition);
    let merge = pb::MergePersonsRequest {
        request_id: rid(),
        survivor_id: first.id.clone(),
        duplicate_id: second.id.clone(),
        duplicate_etag: second.etag.clone(),
        reason: "same passport number".into(),
    };
    let merged = client
        .merge_persons(merge.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.duplicate.as_ref().unwrap().merged_into_id, first.id);
    let replayed = client.merge_persons(merge).await.unwrap().into_inner();
    assert_eq!(replayed, merged);

    let search = |query: &str| pb::SearchPersonsRequest {
        query: query.into(),
        ..Default::default()
    };
    let ids = |r: pb::SearchPersonsResponse| -> Vec<String> {
        r.results
            .into_iter()
            .map(|r| r.person.unwrap().id)
            .collect()
    };
    let hits = ids(client
        .search_persons(search("Kovalenko Oleksandr"))
        .await
        .unwrap()
        .into_inner());
    assert!(
        hits.contains(&first.id) && !hits.contains(&second.id),
        "{hits:?}"
    );
    let read = client
        .get_person(pb::GetPersonRequest {
            id: second.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(read.merged_into_id, first.id);
    // Changes go to the survivor.
    let refused = client
        .record_status_change(pb::RecordStatusChangeRequest {
            request_id: rid(),
            person_id: second.id.clone(),
            change: Some(pb::StatusChange {
                status: pb::PersonStatus::Transferred as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    // Merged duplicates leave the index at once, and no older change of theirs that the event
    // stream brings later puts them back.
    for _ in 0..6 {
        let pairs = client
            .find_duplicates(pb::FindDuplicatesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .pairs;
        assert!(pairs.is_empty(), "{pairs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let restored = client
        .unmerge_persons(pb::UnmergePersonsRequest {
            request_id: rid(),
            person_id: second.id.clone(),
            reason: "different passport series after all".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert!(restored.merged_into_id.is_empty());
    let hits = ids(client
        .search_persons(search("Kovalenko Oleksandr"))
        .await
        .unwrap()
        .into_inner());
    assert!(hits.contains(&second.id), "{hits:?}");
    let again = client
        .unmerge_persons(pb::UnmergePersonsRequest {
            request_id: rid(),
            person_id: second.id.clone(),
            reason: "twice".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    let audit = client
        .verify_audit_log(pb::VerifyAuditLogRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(audit.verification.unwrap().intact);
    registry.stop().await;
}

async fn matching_a_list_finds_each_person_and_doubts_substitutes(backend: Backend) {
    let db = Database::fresh(backend).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut client = registry.client().await;
    let olena = create(
        &mut client,
        named(
            "Шевченко",
            "Олена",
            "Миколаївна",
            Script::Cyrillic,
            (1988, 2, 3),
        ),
    )
    .await;
    let mykola = create(
        &mut client,
        named(
            "Бондаренко",
            "Микола",
            "Іванович",
            Script::Cyrillic,
            (1979, 11, 30),
        ),
    )
    .await;
    for (i, given) in ["Петро", "Андрій", "Василь", "Сергій"].iter().enumerate()
    {
        create(
            &mut client,
            named(
                "Бондаренко",
                given,
                "Іванович",
                Script::Cyrillic,
                (1980 + i as i32, 1, 1),
            ),
        )
        .await;
    }
    let identity =
        |reference: &str, family: &str, given: &str, patronymic: &str, born: (i32, i32, i32)| {
            pb::CandidateIdentity {
                reference: reference.into(),
                names: vec![PersonName {
                    script: Script::Cyrillic as i32,
                    family: family.into(),
                    given: given.into(),
                    patronymic: patronymic.into(),
                    language: "ru".into(),
                    ..Default::default()
                }],
                birth_date: Some(PartialDate {
                    year: born.0,
                    month: born.1,
                    day: born.2,
                }),
                ..Default::default()
            }
        };
    let response = client
        .match_persons(pb::MatchPersonsRequest {
            identities: vec![
                // As the other side writes them: Russian forms, day and month swapped.
                identity("o1", "Шевченко", "Елена", "Николаевна", (1988, 3, 2)),
                identity("o2", "Бондаренко", "Николай", "Иванович", (1979, 11, 30)),
                // A namesake born twenty years later: not him.
                identity("o3", "Бондаренко", "Николай", "Петрович", (1999, 5, 5)),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let best = |i: usize| {
        response.matches[i]
            .candidates
            .first()
            .map(|c| c.person_id.clone())
    };
    assert_eq!(response.matches[0].reference, "o1");
    assert_eq!(best(0), Some(olena.id));
    assert_eq!(best(1), Some(mykola.id));
    assert!(response.matches[1].candidates[0].confidence > 0.9);
    assert_eq!(
        response.matches[1].candidates[0].band,
        pb::ConfidenceBand::High as i32
    );
    assert!(response.matches[1].candidates[0].conflicts.is_empty());
    assert_eq!(best(2), None, "{:?}", response.matches[2]);
    registry.stop().await;
}

async fn a_second_replica_finds_what_the_first_registered(backend: Backend) {
    let db = Database::fresh(backend).await;
    let first = RunningRegistry::start(&db, 0).await;
    let second = RunningRegistry::start(&db, 0).await;
    let mut writer = first.client().await;
    let mut reader = second.client().await;
    let target = create(
        &mut writer,
        named(
            "Гнатюк",
            "Тарас",
            "Богданович",
            Script::Cyrillic,
            (1995, 6, 6),
        ),
    )
    .await;
    let mut found = false;
    for _ in 0..100 {
        let results = reader
            .search_persons(pb::SearchPersonsRequest {
                query: "Taras Hnatiuk".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        if results
            .first()
            .and_then(|r| r.person.as_ref())
            .map(|p| &p.id)
            == Some(&target.id)
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "the second replica never indexed the registration");
    first.stop().await;
    second.stop().await;
}

on_both_backends!(
    creating_reading_and_updating_a_person,
    listing_while_inserting_skips_and_repeats_nothing,
    import_reports_bad_rows_and_keeps_the_good_ones,
    replaying_a_request_id_returns_the_first_result,
    bad_input_gets_details_and_writes_nothing,
    status_changes_follow_the_rules_and_keep_history,
    reservations_are_all_or_nothing_and_release_restores_status,
    the_same_reservation_sent_twice_at_once_answers_both_alike,
    watch_resumes_after_a_restart_without_gaps_or_duplicates,
    requests_without_a_valid_token_are_refused,
    search_finds_a_person_across_scripts_and_audit_verifies,
    health_and_reflection_are_served,
    trace_context_travels_from_the_request_into_its_events,
    shutdown_reports_not_serving_before_the_listener_closes,
    oversized_requests_are_refused_and_write_nothing,
    duplicates_are_flagged_merged_and_unmerged,
    matching_a_list_finds_each_person_and_doubts_substitutes,
    a_second_replica_finds_what_the_first_registered,
);
