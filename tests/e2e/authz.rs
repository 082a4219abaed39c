//! Who may do what. Every RPC of the three services, called by every role (and by nobody), against the written
//! authorization matrix (docs/SECURITY.md): a role the matrix does not allow is refused with
//! PERMISSION_DENIED (or UNAUTHENTICATED without a token) before anything else — not told that
//! its request was malformed, not told whether a record exists. The methods are read from the
//! contracts themselves, so an RPC added without a row in the matrix fails this test.
//!
//! Each call sends an empty message, a valid encoding of every request type: allowed roles then
//! get whatever the handler answers to an empty request (usually INVALID_ARGUMENT), which is
//! enough to know they were let through.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes};
use homeward_e2e::{Backend, Database, RunningExchange, RunningNotification, RunningRegistry};
use homeward_kit::auth::Role;
use homeward_proto::{common::v1 as common, registry::v1 as reg};
use prost::Message;
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};

/// Passes message bytes through as they are.
#[derive(Clone, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Self::Encoder {
        Raw
    }

    fn decoder(&mut self) -> Self::Decoder {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// One RPC as the contracts describe it.
struct Method {
    service: String,
    name: String,
    client_streaming: bool,
    server_streaming: bool,
}

impl Method {
    fn path(&self) -> String {
        format!("/{}/{}", self.service, self.name)
    }
}

fn methods() -> Vec<Method> {
    let set = prost_types::FileDescriptorSet::decode(homeward_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut methods = Vec::new();
    for file in set.file {
        let package = file.package().to_string();
        for service in file.service {
            let name = format!("{package}.{}", service.name());
            for method in service.method {
                methods.push(Method {
                    service: name.clone(),
                    name: method.name().to_string(),
                    client_streaming: method.client_streaming(),
                    server_streaming: method.server_streaming(),
                });
            }
        }
    }
    methods
}

/// The matrix: who may call what. `anyone` is the family-facing status check, which needs no
/// token. Mirrors the tables in docs/SECURITY.md.
fn matrix() -> BTreeMap<String, BTreeSet<&'static str>> {
    // Registry.
    const PERSON_READERS: &[&str] = &[
        "registrar",
        "exchange_officer",
        "family_liaison",
        "auditor",
        "tracing_agency",
        "admin",
        "service",
    ];
    const REGISTRARS: &[&str] = &["registrar", "admin"];
    const STATUS_WRITERS: &[&str] = &["registrar", "admin", "service"];
    const RESERVERS: &[&str] = &["exchange_officer", "admin", "service"];
    const DUPLICATE_READERS: &[&str] = &["registrar", "auditor", "tracing_agency", "admin"];
    // Exchange.
    const EXCHANGE_READERS: &[&str] = &[
        "exchange_officer",
        "auditor",
        "tracing_agency",
        "admin",
        "service",
    ];
    const EXCHANGE_OFFICERS: &[&str] = &["exchange_officer", "admin"];
    // Notification.
    const LIAISON_READERS: &[&str] = &["family_liaison", "auditor", "tracing_agency", "admin"];
    const LIAISON: &[&str] = &["family_liaison", "admin"];
    const ANYONE: &[&str] = &[
        "anyone",
        "registrar",
        "exchange_officer",
        "family_liaison",
        "auditor",
        "tracing_agency",
        "admin",
        "service",
    ];
    // Every service.
    const EVENT_READERS: &[&str] = &["service", "auditor", "tracing_agency", "admin"];
    const AUDITORS: &[&str] = &["auditor", "tracing_agency", "admin"];

    let registry: &[(&str, &[&str])] = &[
        ("CreatePerson", REGISTRARS),
        ("UpdatePerson", REGISTRARS),
        ("ImportPersons", REGISTRARS),
        ("MergePersons", REGISTRARS),
        ("UnmergePersons", REGISTRARS),
        ("RecordStatusChange", STATUS_WRITERS),
        ("GetPerson", PERSON_READERS),
        ("BatchGetPersons", PERSON_READERS),
        ("GetPersonHistory", PERSON_READERS),
        ("ListPersons", PERSON_READERS),
        ("SearchPersons", PERSON_READERS),
        ("MatchPersons", PERSON_READERS),
        ("FindDuplicates", DUPLICATE_READERS),
        ("ReservePersons", RESERVERS),
        ("ReleasePersons", RESERVERS),
        ("MarkRepatriated", RESERVERS),
        ("WatchEvents", EVENT_READERS),
        ("VerifyAuditLog", AUDITORS),
    ];
    let exchange: &[(&str, &[&str])] = &[
        ("CreateAgreement", EXCHANGE_OFFICERS),
        ("UpdateAgreement", EXCHANGE_OFFICERS),
        ("GetAgreement", EXCHANGE_READERS),
        ("ListAgreements", EXCHANGE_READERS),
        ("CreatePhase", EXCHANGE_OFFICERS),
        ("UpdatePhase", EXCHANGE_OFFICERS),
        ("GetPhase", EXCHANGE_READERS),
        ("ListPhases", EXCHANGE_READERS),
        ("StartNegotiation", EXCHANGE_OFFICERS),
        ("SubmitList", EXCHANGE_OFFICERS),
        ("GetListVersion", EXCHANGE_READERS),
        ("ListListVersions", EXCHANGE_READERS),
        ("CompareListVersions", EXCHANGE_READERS),
        ("ReconcilePhase", EXCHANGE_OFFICERS),
        ("GetReconciliation", EXCHANGE_READERS),
        ("ListReconciliationItems", EXCHANGE_READERS),
        ("ReviewReconciliationItem", EXCHANGE_OFFICERS),
        ("CheckPhaseCounts", EXCHANGE_READERS),
        ("RecordConsent", EXCHANGE_OFFICERS),
        ("ListConsentRecords", EXCHANGE_READERS),
        ("HoldBackPerson", EXCHANGE_OFFICERS),
        ("UpdateHoldBack", EXCHANGE_OFFICERS),
        ("ListHoldBacks", EXCHANGE_READERS),
        ("FreezeLists", EXCHANGE_OFFICERS),
        ("UnfreezeLists", EXCHANGE_OFFICERS),
        ("StartHandover", EXCHANGE_OFFICERS),
        ("RecordHandoverCheck", EXCHANGE_OFFICERS),
        ("ListHandoverChecks", EXCHANGE_READERS),
        ("CompletePhase", EXCHANGE_OFFICERS),
        ("CancelPhase", EXCHANGE_OFFICERS),
        ("GetPhaseReport", EXCHANGE_READERS),
        ("WatchEvents", EVENT_READERS),
        ("VerifyAuditLog", AUDITORS),
    ];
    let notification: &[(&str, &[&str])] = &[
        ("CreateInquiry", LIAISON),
        ("UpdateInquiry", LIAISON),
        ("GetInquiry", LIAISON_READERS),
        ("ListInquiries", LIAISON_READERS),
        ("CloseInquiry", LIAISON),
        ("ReissueAccessCode", LIAISON),
        ("VerifyRequester", LIAISON),
        ("RecordConsent", LIAISON),
        ("WithdrawConsent", LIAISON),
        ("FindCandidates", LIAISON),
        ("ProposeLink", LIAISON),
        ("ConfirmLink", LIAISON),
        ("RejectLink", LIAISON),
        ("ListLinks", LIAISON_READERS),
        ("FlagWithholding", LIAISON),
        ("ReviewWithholding", LIAISON),
        ("GetNotification", LIAISON_READERS),
        ("ListNotifications", LIAISON_READERS),
        ("ListDeliveries", LIAISON_READERS),
        ("RetryDelivery", LIAISON),
        ("GetTask", LIAISON_READERS),
        ("ListTasks", LIAISON_READERS),
        ("AssignTask", LIAISON),
        ("RecordTaskAttempt", LIAISON),
        ("CheckInquiryStatus", ANYONE),
        ("WatchEvents", EVENT_READERS),
        ("VerifyAuditLog", AUDITORS),
    ];
    let mut matrix = BTreeMap::new();
    for (service, rows) in [
        ("homeward.registry.v1.RegistryService", registry),
        ("homeward.exchange.v1.ExchangeService", exchange),
        ("homeward.notification.v1.NotificationService", notification),
    ] {
        for (method, roles) in rows {
            matrix.insert(
                format!("{service}/{method}"),
                roles.iter().copied().collect::<BTreeSet<_>>(),
            );
        }
    }
    matrix
}

fn role_name(role: Role) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Calls `method` with an empty message as `token`'s holder; the status code it ends with.
async fn call(channel: Channel, method: &Method, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    if grpc.ready().await.is_err() {
        return Code::Unavailable;
    }
    let path: http::uri::PathAndQuery = method.path().parse().expect("path");
    fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = token {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("header"),
            );
        }
        request.set_timeout(std::time::Duration::from_secs(10));
        request
    }
    let outcome: Result<(), Status> = match (method.client_streaming, method.server_streaming) {
        (false, false) => grpc
            .unary(with_token(Bytes::new(), token), path, Raw)
            .await
            .map(|_| ()),
        (false, true) => match grpc
            .server_streaming(with_token(Bytes::new(), token), path, Raw)
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                // A stream that was let through either sends or waits; either way it was not
                // refused. Only a refusal ends it at once.
                match tokio::time::timeout(std::time::Duration::from_millis(300), stream.message())
                    .await
                {
                    Ok(Err(status)) => Err(status),
                    _ => Ok(()),
                }
            }
            Err(status) => Err(status),
        },
        (true, _) => {
            let stream = tokio_stream::iter(Vec::<Bytes>::new());
            grpc.client_streaming(with_token(stream, token), path, Raw)
                .await
                .map(|_| ())
        }
    };
    match outcome {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_every_role_the_matrix_does_not_allow() {
    let (registry_db, exchange_db, notification_db) = (
        Database::fresh(Backend::Sqlite).await,
        Database::fresh(Backend::Sqlite).await,
        Database::fresh(Backend::Sqlite).await,
    );
    let letters = tempfile::tempdir().expect("letters");
    let registry = RunningRegistry::start(&registry_db, 0).await;
    let exchange = RunningExchange::start(&exchange_db, registry.addr, 0).await;
    let notification = RunningNotification::start(
        &notification_db,
        registry.addr,
        exchange.addr,
        letters.path(),
        |_| {},
    )
    .await;
    let channels: BTreeMap<&str, Channel> = [
        (
            "homeward.registry.v1.RegistryService",
            registry.channel().await,
        ),
        (
            "homeward.exchange.v1.ExchangeService",
            Channel::from_shared(format!("http://{}", exchange.addr))
                .expect("url")
                .connect()
                .await
                .expect("exchange"),
        ),
        (
            "homeward.notification.v1.NotificationService",
            Channel::from_shared(format!("http://{}", notification.addr))
                .expect("url")
                .connect()
                .await
                .expect("notification"),
        ),
    ]
    .into_iter()
    .collect();
    let tokens: Vec<(String, String)> = Role::ALL
        .iter()
        .map(|r| (role_name(*r), homeward_e2e::token("matrix", &[*r])))
        .collect();

    let matrix = matrix();
    let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    let methods = methods();
    for method in &methods {
        let channel = channels[method.service.as_str()].clone();
        let key = method.path()[1..].to_string();
        let mut allowed = BTreeSet::new();
        let anonymous = call(channel.clone(), method, None).await;
        if anonymous != Code::Unauthenticated {
            allowed.insert("anyone".to_string());
        }
        for (role, token) in &tokens {
            let code = call(channel.clone(), method, Some(token)).await;
            if code != Code::PermissionDenied && code != Code::Unauthenticated {
                allowed.insert(role.clone());
            }
        }
        if let Some(expected) = matrix.get(&key) {
            let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
            if expected != allowed {
                wrong.push(format!("{key}: matrix {expected:?}, service {allowed:?}"));
            }
        } else {
            wrong.push(format!(
                "{key}: no row in the matrix; the service allows {allowed:?}"
            ));
        }
        actual.insert(key, allowed);
    }
    if std::env::var("HOMEWARD_PRINT_MATRIX").is_ok() {
        for (method, roles) in &actual {
            println!(
                "{method}\t{}",
                roles.iter().cloned().collect::<Vec<_>>().join(",")
            );
        }
    }
    assert!(
        methods.len() > 60,
        "{} methods read from the contracts",
        methods.len()
    );
    assert!(
        wrong.is_empty(),
        "{} methods differ from the matrix:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    notification.stop().await;
    exchange.stop().await;
    registry.stop().await;
}

fn person(family: &str, given: &str, affiliated: &str, holding: &str) -> reg::Person {
    reg::Person {
        category: common::PersonCategory::ServiceMember as i32,
        sex: common::Sex::Male as i32,
        names: vec![common::PersonName {
            script: common::Script::Latin as i32,
            family: family.into(),
            given: given.into(),
            ..Default::default()
        }],
        birth_date: Some(common::PartialDate {
            year: 1991,
            month: 4,
            day: 17,
        }),
        affiliated_party: affiliated.into(),
        holding_party: holding.into(),
        ..Default::default()
    }
}

fn not_found<T>(outcome: Result<T, tonic::Status>, what: &str) {
    match outcome {
        Ok(_) => panic!("{what}: answered"),
        Err(status) => assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}"),
    }
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn create(client: &mut homeward_e2e::Client, p: reg::Person) -> reg::Person {
    client
        .create_person(reg::CreatePersonRequest {
            request_id: rid(),
            person: Some(p),
            source: common::InformationSource::OwnReport as i32,
            reliability: common::Reliability::UsuallyReliable as i32,
        })
        .await
        .expect("create")
        .into_inner()
        .person
        .expect("person")
}

/// Officers of one party see the people of their party and those it holds; someone else's
/// person — even with a valid id swapped in — is not found, until an exchange's frozen list
/// shares them. The tracing agency sees everyone and writes nothing. Every read is in the access
/// log with who, what and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_see_the_other_partys_people_only_once_an_exchange_shares_them() {
    let db = Database::fresh(Backend::Postgres).await;
    let registry = RunningRegistry::start(&db, 0).await;
    let mut ua = registry.client_of(&[Role::Registrar], "UA").await;
    let mut ru = registry.client_of(&[Role::Registrar], "RU").await;
    let mut ua_exchange = registry.client_of(&[Role::ExchangeOfficer], "UA").await;
    let mut tracing = registry.client_of(&[Role::TracingAgency], "").await;
    let mut partyless = registry.client_of(&[Role::Registrar], "").await;
    let mut service = registry.client_of(&[Role::Service], "").await;

    let held_by_ru = create(&mut ua, person("Hnatiuk", "Taras", "UA", "RU")).await;
    let held_by_ua = create(&mut ua, person("Sidorov", "Pavel", "RU", "UA")).await;
    // RU's own record of one of its soldiers it holds for discipline: nothing to do with UA.
    let theirs = create(&mut ru, person("Zvyagintsev", "Gleb", "RU", "RU")).await;

    // A UA officer cannot record a person who is neither of UA nor held by UA.
    let refused = ua
        .create_person(reg::CreatePersonRequest {
            request_id: rid(),
            person: Some(person("Other", "Person", "RU", "RU")),
            source: common::InformationSource::OwnReport as i32,
            reliability: common::Reliability::UsuallyReliable as i32,
        })
        .await
        .expect_err("another party's person");
    assert_eq!(refused.code(), Code::InvalidArgument);

    for own in [&held_by_ru, &held_by_ua] {
        ua.get_person(reg::GetPersonRequest { id: own.id.clone() })
            .await
            .expect("UA's own or held");
    }
    // Swapping in the id of someone else's person.
    not_found(
        ua.get_person(reg::GetPersonRequest {
            id: theirs.id.clone(),
        })
        .await,
        "GetPerson",
    );
    not_found(
        ua.get_person_history(reg::GetPersonHistoryRequest {
            person_id: theirs.id.clone(),
            ..Default::default()
        })
        .await,
        "GetPersonHistory",
    );
    let mut swapped = theirs.clone();
    swapped.unit = "changed".into();
    not_found(
        ua.update_person(reg::UpdatePersonRequest {
            request_id: rid(),
            person: Some(swapped),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["unit".into()],
            }),
        })
        .await,
        "UpdatePerson",
    );
    not_found(
        ua.record_status_change(reg::RecordStatusChangeRequest {
            request_id: rid(),
            person_id: theirs.id.clone(),
            change: Some(reg::StatusChange {
                status: reg::PersonStatus::Deceased as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await,
        "RecordStatusChange",
    );
    not_found(
        ua_exchange
            .reserve_persons(reg::ReservePersonsRequest {
                request_id: rid(),
                exchange_id: "phase-1".into(),
                person_ids: vec![held_by_ua.id.clone(), theirs.id.clone()],
            })
            .await,
        "ReservePersons",
    );
    let batch = ua
        .batch_get_persons(reg::BatchGetPersonsRequest {
            ids: vec![held_by_ru.id.clone(), theirs.id.clone()],
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(batch.persons.len(), 1);
    assert_eq!(batch.missing_ids, vec![theirs.id.clone()]);
    let listed: Vec<String> = ua
        .list_persons(reg::ListPersonsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .persons
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert!(listed.contains(&held_by_ru.id) && !listed.contains(&theirs.id));
    let found = ua
        .search_persons(reg::SearchPersonsRequest {
            query: "Zvyagintsev Gleb".into(),
            ..Default::default()
        })
        .await
        .expect("search")
        .into_inner();
    assert!(
        found
            .results
            .iter()
            .all(|r| r.person.as_ref().map(|p| &p.id) != Some(&theirs.id))
    );
    let matched = ua
        .match_persons(reg::MatchPersonsRequest {
            identities: vec![reg::CandidateIdentity {
                reference: "x".into(),
                names: theirs.names.clone(),
                birth_date: theirs.birth_date,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("match")
        .into_inner();
    assert!(matched.matches[0].candidates.is_empty(), "{matched:?}");
    // An officer token without a party sees nobody.
    not_found(
        partyless
            .get_person(reg::GetPersonRequest {
                id: held_by_ru.id.clone(),
            })
            .await,
        "a token without a party",
    );

    // The tracing agency sees everyone, RU's officers their own.
    tracing
        .get_person(reg::GetPersonRequest {
            id: theirs.id.clone(),
        })
        .await
        .expect("tracing agency");
    ru.get_person(reg::GetPersonRequest {
        id: theirs.id.clone(),
    })
    .await
    .expect("RU's own");

    // Once the exchange service reserves the person for a phase (a frozen, shared list), UA's
    // officers see them.
    service
        .reserve_persons(reg::ReservePersonsRequest {
            request_id: rid(),
            exchange_id: "phase-1".into(),
            person_ids: vec![theirs.id.clone()],
        })
        .await
        .expect("reserved by the exchange service");
    ua.get_person(reg::GetPersonRequest {
        id: theirs.id.clone(),
    })
    .await
    .expect("shared by the exchange's list");

    // Reads are in the access log, with who, what and why; names never.
    let mut request = tonic::Request::new(reg::GetPersonRequest {
        id: held_by_ru.id.clone(),
    });
    request.metadata_mut().insert(
        "homeward-purpose",
        "inquiry HW-TEST-0001".parse().expect("header"),
    );
    ua.get_person(request).await.expect("read with a purpose");
    ua.search_persons(reg::SearchPersonsRequest {
        query: "Hnatiuk Taras".into(),
        ..Default::default()
    })
    .await
    .expect("search");
    let pool = sqlx::PgPool::connect(&db.url).await.expect("database");
    let mut logged: Vec<(String, String, String)> = Vec::new();
    for _ in 0..50 {
        logged = sqlx::query_as(
            "SELECT actor, action, details FROM audit_log WHERE action LIKE 'person%' ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .expect("audit log");
        if logged
            .iter()
            .any(|(_, a, d)| a == "persons.search" && d.contains(&held_by_ru.id))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let read = logged
        .iter()
        .find(|(_, action, details)| {
            action == "person.read" && details.contains("inquiry HW-TEST-0001")
        })
        .unwrap_or_else(|| panic!("the read with its purpose is logged: {logged:?}"));
    assert_eq!(read.0, "e2e-user");
    assert!(read.2.contains(&held_by_ru.id) && read.2.contains("\"party\":\"UA\""));
    let search = logged
        .iter()
        .rfind(|(_, action, _)| action == "persons.search")
        .expect("the search is logged");
    assert!(search.2.contains(&held_by_ru.id) && search.2.contains("(none given)"));
    assert!(
        logged
            .iter()
            .all(|(_, _, d)| !d.contains("Hnatiuk") && !d.contains("Taras")),
        "no names in the access log"
    );
    let verification = tracing
        .verify_audit_log(reg::VerifyAuditLogRequest::default())
        .await
        .expect("audit")
        .into_inner()
        .verification
        .expect("verification");
    assert!(verification.intact);
    registry.stop().await;
}
