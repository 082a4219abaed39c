//! The registry as it runs: the `homeward-registry` binary as an operator starts it (configured
//! from the environment, it serves, and on SIGTERM it drains and exits cleanly), and the
//! library's `Application` on port 0 against a fresh database of either backend, called over
//! real gRPC with signed tokens.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use homeward_kit::auth::{AuthConfig, Role, TokenKeys};
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    registry::v1::{self as pb, registry_service_client::RegistryServiceClient},
};
use homeward_registry::{Application, RegistryConfig};
use prost::Message;
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{
    Code,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use uuid::Uuid;

#[tokio::test]
async fn the_binary_starts_from_the_environment_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let key = homeward_kit::auth::generate_key_pair().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_homeward-registry"))
        .env("HOMEWARD_SERVER__LISTEN", "127.0.0.1:0")
        .env(
            "HOMEWARD_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("r.db").display()),
        )
        .env("HOMEWARD_AUTH__SIGNING_KEY", &key.private_key_pem)
        .env("HOMEWARD_AUTH__SIGNING_KEY_ID", "process-test")
        .env("HOMEWARD_TELEMETRY__LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start homeward-registry");

    // The JSON log line announcing the listener carries the address it got.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the registry announces its address");
        let value: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON");
        if value["message"] == "registry listening" {
            break value["addr"].as_str().unwrap().to_string();
        }
    };

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
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

    // The client keeps its connection open: draining must not wait for it to go away.
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the registry did not stop within its grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    drop(health);
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A registry served from this process on a port of its choosing, over its own fresh database.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

fn dev_auth() -> AuthConfig {
    AuthConfig {
        dev_mode: true,
        ..AuthConfig::default()
    }
}

impl Running {
    async fn start(backend: Backend) -> Self {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("r.db").display());
                (url, Some(dir))
            }
            Backend::Postgres => (
                homeward_kit::db::testing::fresh_postgres_database("hw_process").await,
                None,
            ),
        };
        let mut config = RegistryConfig::default();
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.server.shutdown_grace_ms = 2_000;
        config.database.url = url;
        config.database.max_connections = 4;
        config.auth = dev_auth();
        let app = Application::build(config).await.expect("registry starts");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("registry runs");
        });
        Self {
            addr,
            stop,
            task,
            _dir: dir,
        }
    }

    /// A client whose every request carries a token with `roles`.
    async fn client(&self, roles: &[Role]) -> Client {
        let token = TokenKeys::from_config(&dev_auth())
            .unwrap()
            .mint("process-test", roles, "UA", Duration::from_secs(600))
            .unwrap();
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        RegistryServiceClient::with_interceptor(
            channel,
            Bearer(format!("Bearer {token}").parse().unwrap()),
        )
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the registry stops")
            .expect("the registry task ends cleanly");
    }
}

#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Client = RegistryServiceClient<InterceptedService<Channel, Bearer>>;

fn person(family: &str, category: common::PersonCategory) -> pb::Person {
    pb::Person {
        category: category as i32,
        sex: common::Sex::Male as i32,
        names: vec![PersonName {
            script: Script::Cyrillic as i32,
            given: "Олег".into(),
            family: family.into(),
            language: "uk".into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year: 1990,
            month: 5,
            day: 1,
        }),
        affiliated_party: "UA".into(),
        holding_party: "RU".into(),
        ..Default::default()
    }
}

async fn create(client: &mut Client, family: &str, category: common::PersonCategory) -> pb::Person {
    client
        .create_person(pb::CreatePersonRequest {
            request_id: Uuid::new_v4().to_string(),
            person: Some(person(family, category)),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .person
        .expect("person")
}

async fn batch_get(
    client: &mut Client,
    ids: Vec<String>,
) -> Result<pb::BatchGetPersonsResponse, tonic::Status> {
    client
        .batch_get_persons(pb::BatchGetPersonsRequest { ids })
        .await
        .map(tonic::Response::into_inner)
}

/// The fields named by the `google.rpc.BadRequest` detail of a status.
fn bad_fields(status: &tonic::Status) -> Vec<String> {
    // google.rpc.Status and google.rpc.BadRequest, as far as these tests read them.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(message, repeated, tag = "3")]
        details: Vec<prost_types::Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct BadRequest {
        #[prost(message, repeated, tag = "1")]
        field_violations: Vec<FieldViolation>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct FieldViolation {
        #[prost(string, tag = "1")]
        field: String,
    }
    let details = RpcStatus::decode(status.details()).expect("status details");
    details
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("/google.rpc.BadRequest"))
        .map(|any| BadRequest::decode(any.value.as_slice()).expect("bad request"))
        .flat_map(|b| b.field_violations)
        .map(|v| v.field)
        .collect()
}

fn ids(persons: &[pb::Person]) -> Vec<&str> {
    persons.iter().map(|p| p.id.as_str()).collect()
}

async fn batch_get_returns_persons_in_request_order_and_names_the_missing(backend: Backend) {
    let registry = Running::start(backend).await;
    let mut registrar = registry.client(&[Role::Registrar]).await;
    let a = create(
        &mut registrar,
        "Коваленко",
        common::PersonCategory::ServiceMember,
    )
    .await;
    let b = create(
        &mut registrar,
        "Шевченко",
        common::PersonCategory::ServiceMember,
    )
    .await;
    let c = create(
        &mut registrar,
        "Бондаренко",
        common::PersonCategory::Civilian,
    )
    .await;
    let unknown = Uuid::now_v7().to_string();
    // A family liaison reads but never writes.
    let mut reader = registry.client(&[Role::FamilyLiaison]).await;
    let got = batch_get(
        &mut reader,
        vec![
            c.id.clone(),
            unknown.clone(),
            a.id.clone(),
            // The same person again, differently written: answered once, at the first place.
            c.id.to_uppercase(),
            unknown.clone(),
            b.id.clone(),
        ],
    )
    .await
    .expect("batch get");
    assert_eq!(ids(&got.persons), [&c.id, &a.id, &b.id]);
    assert_eq!(got.missing_ids, [unknown]);
    assert_eq!(
        got.persons[0], c,
        "the full record, as GetPerson returns it"
    );

    // Nothing asked, nothing answered.
    let none = batch_get(&mut reader, vec![])
        .await
        .expect("empty batch get");
    assert!(none.persons.is_empty() && none.missing_ids.is_empty());
    registry.stop().await;
}

async fn batch_get_returns_merged_duplicates_pointing_to_their_survivor(backend: Backend) {
    let registry = Running::start(backend).await;
    let mut registrar = registry.client(&[Role::Registrar]).await;
    let survivor = create(
        &mut registrar,
        "Мельник",
        common::PersonCategory::ServiceMember,
    )
    .await;
    let duplicate = create(
        &mut registrar,
        "Мельник",
        common::PersonCategory::ServiceMember,
    )
    .await;
    registrar
        .merge_persons(pb::MergePersonsRequest {
            request_id: Uuid::new_v4().to_string(),
            survivor_id: survivor.id.clone(),
            duplicate_id: duplicate.id.clone(),
            duplicate_etag: duplicate.etag.clone(),
            reason: "same service record".into(),
        })
        .await
        .expect("merge");
    let got = batch_get(
        &mut registrar,
        vec![duplicate.id.clone(), survivor.id.clone()],
    )
    .await
    .expect("batch get");
    assert_eq!(ids(&got.persons), [&duplicate.id, &survivor.id]);
    assert_eq!(got.persons[0].merged_into_id, survivor.id);
    assert!(got.persons[1].merged_into_id.is_empty());
    assert!(got.missing_ids.is_empty());
    registry.stop().await;
}

async fn batch_get_refuses_more_than_a_thousand_ids(backend: Backend) {
    let registry = Running::start(backend).await;
    let mut client = registry.client(&[Role::Service]).await;
    let many: Vec<String> = (0..1_001).map(|_| Uuid::new_v4().to_string()).collect();
    let err = batch_get(&mut client, many.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["ids"]);

    // A thousand is allowed; none of them is registered.
    let thousand = many[..1_000].to_vec();
    let got = batch_get(&mut client, thousand.clone())
        .await
        .expect("a thousand ids");
    assert!(got.persons.is_empty());
    assert_eq!(got.missing_ids, thousand);
    registry.stop().await;
}

async fn batch_get_refuses_malformed_ids_and_names_each(backend: Backend) {
    let registry = Running::start(backend).await;
    let mut client = registry.client(&[Role::Registrar]).await;
    let a = create(
        &mut client,
        "Ткаченко",
        common::PersonCategory::ServiceMember,
    )
    .await;
    let err = batch_get(
        &mut client,
        vec![
            a.id.clone(),
            "not-an-id".into(),
            String::new(),
            a.id.clone(),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["ids[1]", "ids[2]"]);
    registry.stop().await;
}

async fn repatriating_a_civilian_marks_them_released(backend: Backend) {
    let registry = Running::start(backend).await;
    let mut client = registry
        .client(&[Role::Registrar, Role::ExchangeOfficer])
        .await;
    let civilian = create(&mut client, "Кравченко", common::PersonCategory::Civilian).await;
    let soldier = create(
        &mut client,
        "Олійник",
        common::PersonCategory::ServiceMember,
    )
    .await;
    let both = vec![civilian.id.clone(), soldier.id.clone()];
    client
        .reserve_persons(pb::ReservePersonsRequest {
            request_id: Uuid::new_v4().to_string(),
            exchange_id: "phase-1".into(),
            person_ids: both.clone(),
        })
        .await
        .expect("reserve");
    let handed_over = client
        .mark_repatriated(pb::MarkRepatriatedRequest {
            request_id: Uuid::new_v4().to_string(),
            exchange_id: "phase-1".into(),
            person_ids: both.clone(),
            occur_time: None,
        })
        .await
        .expect("mark repatriated")
        .into_inner()
        .persons;
    let statuses = |persons: &[pb::Person]| -> Vec<(String, i32, String)> {
        persons
            .iter()
            .map(|p| (p.id.clone(), p.status, p.reserved_for_exchange_id.clone()))
            .collect()
    };
    let expected = vec![
        (
            civilian.id.clone(),
            pb::PersonStatus::Released as i32,
            String::new(),
        ),
        (
            soldier.id.clone(),
            pb::PersonStatus::Repatriated as i32,
            String::new(),
        ),
    ];
    assert_eq!(statuses(&handed_over), expected);
    // As stored, not only as answered.
    let stored = batch_get(&mut client, both)
        .await
        .expect("batch get")
        .persons;
    assert_eq!(statuses(&stored), expected);
    let history = client
        .get_person_history(pb::GetPersonHistoryRequest {
            person_id: civilian.id.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .changes;
    let last = history.last().expect("history entries");
    assert_eq!(last.status, pb::PersonStatus::Released as i32);
    assert_eq!(last.exchange_id, "phase-1");
    let statuses_seen: HashSet<i32> = history.iter().map(|c| c.status).collect();
    assert!(
        !statuses_seen.contains(&(pb::PersonStatus::Repatriated as i32)),
        "a civilian is never recorded repatriated"
    );
    registry.stop().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

on_both_backends!(
    batch_get_returns_persons_in_request_order_and_names_the_missing,
    batch_get_returns_merged_duplicates_pointing_to_their_survivor,
    batch_get_refuses_more_than_a_thousand_ids,
    batch_get_refuses_malformed_ids_and_names_each,
    repatriating_a_civilian_marks_them_released,
);
