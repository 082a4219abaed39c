//! Hostile input over real gRPC, against the registry, the exchange service and the
//! notification service on their own sockets: messages past the size limit, repetition far past
//! the documented limits, bytes that are not UTF-8, control characters, extreme and negative
//! numbers, page tokens and cursors that were never issued, broken import streams, unknown enum
//! values, timestamps out of range, reused request ids, and guessing at families' status checks.
//!
//! Every case asserts a clear refusal (the code, and the field or reason the services name) and
//! that nothing was written: each service's database is compared table by table, row counts and
//! contents, before and after, its audit log entry by entry (reads the services make of each
//! other in the background aside), and each audit chain is verified intact after every case.
//!
//! The import RPC takes rows as protobuf messages, not CSV (files are parsed by `homewardctl`):
//! its hostile cases are broken streams, rows past the size limit and rows that are not UTF-8.

use std::{
    collections::BTreeMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use homeward_e2e::{
    Backend, Client, Database, ExchangeClient, NotificationClient, RunningExchange,
    RunningNotification, RunningRegistry, token,
};
use homeward_kit::auth::Role;
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    exchange::v1::{self as ex, list_entry::Subject},
    notification::v1 as nt,
    registry::v1::{self as reg, import_persons_request::Item},
};
use prost::Message;
use tonic::{Code, Status, codegen::http::uri::PathAndQuery, transport::Channel};
use tonic_types::StatusExt;

/// A family's client: no token.
type Family = nt::notification_service_client::NotificationServiceClient<Channel>;

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------------------------
// What a database holds, so that "nothing changed" can be checked table by table.

enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// One service's database, read directly.
struct Tables(Pool);

impl Tables {
    async fn open(db: &Database) -> Self {
        if db.url.starts_with("sqlite:") {
            Self(Pool::Sqlite(
                sqlx::SqlitePool::connect(&db.url).await.expect("sqlite"),
            ))
        } else {
            Self(Pool::Postgres(
                sqlx::PgPool::connect(&db.url).await.expect("postgres"),
            ))
        }
    }

    /// Every table with its row count and a digest of its rows.
    async fn snapshot(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match &self.0 {
            Pool::Postgres(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for table in tables
                    .into_iter()
                    .filter(|t| !DERIVED.contains(&t.as_str()))
                {
                    let digest: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT count(*)::text || ':' || \
                         coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
                         FROM \"{table}\" t {}",
                        only_own(&table)
                    )))
                    .fetch_one(pool)
                    .await
                    .expect("digest");
                    out.insert(table, digest);
                }
            }
            Pool::Sqlite(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for table in tables
                    .into_iter()
                    .filter(|t| !DERIVED.contains(&t.as_str()))
                {
                    let columns: Vec<String> =
                        sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                            .bind(&table)
                            .fetch_all(pool)
                            .await
                            .expect("columns");
                    let row = columns
                        .iter()
                        .map(|c| format!("quote(\"{c}\")"))
                        .collect::<Vec<_>>()
                        .join(" || ',' || ");
                    let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT count(*) || ':' || coalesce(group_concat(r, '|'), '') \
                         FROM (SELECT {row} AS r FROM \"{table}\" t {} ORDER BY 1)",
                        only_own(&table)
                    )))
                    .fetch_one(pool)
                    .await
                    .expect("digest");
                    let (count, rest) = rows.split_once(':').unwrap_or(("0", ""));
                    out.insert(table, format!("{count}:{:x}", fnv(rest.as_bytes())));
                }
            }
        }
        out
    }
}

/// Tables derived from others: the audit chain links `audit_log` entries in order.
const DERIVED: &[&str] = &["audit_chain", "audit_pending"];

/// The services read each other in the background (following event streams, matching,
/// looking persons up), and every read of a person is in the access log; those entries are
/// left out. Everything else in the audit log is compared, entry by entry.
fn only_own(table: &str) -> &'static str {
    if table == "audit_log" {
        "WHERE t.actor NOT IN ('homeward-exchange', 'homeward-notification', 'homeward-registry')"
    } else {
        ""
    }
}

/// A small stable digest (FNV-1a), enough to tell whether rows changed.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Everything the three services hold, table by table (each audit log checked intact).
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    tables: [BTreeMap<String, String>; 3],
}

const SERVICES: [&str; 3] = ["registry", "exchange", "notification"];

impl State {
    /// The tables that differ, for a readable failure.
    fn diff(&self, other: &State) -> Vec<String> {
        let mut out = Vec::new();
        for ((service, mine), theirs) in SERVICES.iter().zip(&self.tables).zip(&other.tables) {
            for (table, digest) in mine {
                if theirs.get(table) != Some(digest) {
                    out.push(format!(
                        "{service}.{table}: {digest} -> {:?}",
                        theirs.get(table)
                    ));
                }
            }
        }
        out
    }

    /// Entries in one service's audit log, background reads by the other services aside.
    fn audit_entries(&self, service: usize) -> u64 {
        self.tables[service]
            .get("audit_log")
            .and_then(|d| d.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default()
    }

    /// The same state without what the family's status check writes by design: its failure
    /// counters and (as the contract asks) its audit entries.
    fn without_status_checks(mut self) -> Self {
        for table in ["status_checks", "audit_log"] {
            self.tables[2].remove(table);
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// The three services.

struct World {
    registry: RunningRegistry,
    exchange: RunningExchange,
    notification: RunningNotification,
    tables: [Tables; 3],
    reg: Client,
    ex: ExchangeClient,
    nt: NotificationClient,
    _dbs: [Database; 3],
    _letters: tempfile::TempDir,
}

impl World {
    async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut homeward_notification::NotificationConfig),
    ) -> Self {
        let dbs = [
            Database::fresh(backend).await,
            Database::fresh(backend).await,
            Database::fresh(backend).await,
        ];
        let letters = tempfile::tempdir().expect("letters");
        let registry = RunningRegistry::start(&dbs[0], 0).await;
        let exchange = RunningExchange::start(&dbs[1], registry.addr, 0).await;
        let notification = RunningNotification::start(
            &dbs[2],
            registry.addr,
            exchange.addr,
            letters.path(),
            tweak,
        )
        .await;
        let tables = [
            Tables::open(&dbs[0]).await,
            Tables::open(&dbs[1]).await,
            Tables::open(&dbs[2]).await,
        ];
        let reg = registry
            .client_as(&[
                Role::Registrar,
                Role::Auditor,
                Role::Service,
                Role::ExchangeOfficer,
            ])
            .await;
        let ex = exchange.client().await;
        let nt = notification
            .client_as("liaison-1", &[Role::FamilyLiaison, Role::Auditor])
            .await;
        Self {
            registry,
            exchange,
            notification,
            tables,
            reg,
            ex,
            nt,
            _dbs: dbs,
            _letters: letters,
        }
    }

    async fn state(&self) -> State {
        let (mut reg, mut ex, mut nt) = (self.reg.clone(), self.ex.clone(), self.nt.clone());
        let intact = |service: &str, v: Option<common::AuditVerification>| {
            let v = v.expect("verification");
            assert!(v.intact, "{service} audit log broken: {}", v.problem);
        };
        let tables = [
            self.tables[0].snapshot().await,
            self.tables[1].snapshot().await,
            self.tables[2].snapshot().await,
        ];
        intact(
            "registry",
            reg.verify_audit_log(reg::VerifyAuditLogRequest::default())
                .await
                .expect("registry audit")
                .into_inner()
                .verification,
        );
        intact(
            "exchange",
            ex.verify_audit_log(ex::VerifyAuditLogRequest::default())
                .await
                .expect("exchange audit")
                .into_inner()
                .verification,
        );
        intact(
            "notification",
            nt.verify_audit_log(nt::VerifyAuditLogRequest::default())
                .await
                .expect("notification audit")
                .into_inner()
                .verification,
        );
        State { tables }
    }

    /// The state once background work (sequencing, following event streams, the access log's
    /// gathering, delivering acknowledgements) has caught up: unchanged for half a second.
    async fn settled(&self) -> State {
        let mut last = self.state().await;
        let mut since = tokio::time::Instant::now();
        let deadline = since + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let next = self.state().await;
            if next != last {
                last = next;
                since = tokio::time::Instant::now();
            } else if since.elapsed() >= Duration::from_millis(500) {
                return last;
            }
        }
        panic!("the services never settled");
    }

    /// Runs each case in order: each must be refused as expected and write nothing.
    async fn refuse_all(&self, cases: Vec<Case>) {
        let before = self.settled().await;
        let total = cases.len();
        for case in cases {
            let outcome = case.call.await;
            case.expect.check(&case.name, outcome);
            let after = self.state().await;
            assert!(
                after == before,
                "{}: refused, but something was written: {:#?}",
                case.name,
                before.diff(&after)
            );
        }
        eprintln!("{total} hostile requests refused, nothing written");
    }

    /// Runs every case, whatever the others do, and fails listing each case that was not
    /// refused as expected or that wrote something (what later cases are compared against
    /// moves on after such a write).
    async fn refuse_each(&self, cases: Vec<Case>) {
        let mut before = self.settled().await;
        let mut problems = Vec::new();
        for case in cases {
            let outcome = case.call.await;
            if let Err(problem) = case.expect.verdict(&case.name, outcome) {
                problems.push(problem);
            }
            let after = self.settled().await;
            if after != before {
                problems.push(format!("{}: wrote {:?}", case.name, before.diff(&after)));
                before = after;
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    fn channel_to(addr: SocketAddr, from: Option<IpAddr>) -> Channel {
        Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .local_address(from)
            .connect_lazy()
    }

    /// A family's client, without a token, connecting from `from` (any 127.0.0.0/8 address).
    fn family_from(&self, from: IpAddr) -> Family {
        Family::new(Self::channel_to(self.notification.addr, Some(from)))
    }

    async fn register(&self, family: &str, given: &str, year: i32) -> reg::Person {
        let mut reg = self.reg.clone();
        reg.create_person(reg::CreatePersonRequest {
            request_id: rid(),
            person: Some(person(family, given, year)),
            ..Default::default()
        })
        .await
        .expect("register")
        .into_inner()
        .person
        .expect("person")
    }

    /// An agreement between UA and RU with one phase, negotiating.
    async fn negotiating_phase(&self) -> (ex::Agreement, ex::Phase) {
        let mut ex = self.ex.clone();
        let agreement = ex
            .create_agreement(ex::CreateAgreementRequest {
                request_id: rid(),
                agreement: Some(agreement()),
            })
            .await
            .expect("agreement")
            .into_inner()
            .agreement
            .expect("agreement");
        let phase = ex
            .create_phase(ex::CreatePhaseRequest {
                request_id: rid(),
                phase: Some(ex::Phase {
                    agreement_id: agreement.id.clone(),
                    title: "Phase 1".into(),
                    quotas: vec![ex::Quota {
                        count: 10,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            })
            .await
            .expect("phase")
            .into_inner()
            .phase
            .expect("phase");
        let phase = ex
            .start_negotiation(ex::StartNegotiationRequest {
                request_id: rid(),
                phase_id: phase.id.clone(),
                etag: phase.etag.clone(),
            })
            .await
            .expect("negotiating")
            .into_inner()
            .phase
            .expect("phase");
        (agreement, phase)
    }

    /// A mother's inquiry about a son nobody has registered; with its access code.
    async fn inquiry(&self, email: &str) -> (nt::Inquiry, String) {
        let mut nt = self.nt.clone();
        let created = nt
            .create_inquiry(nt::CreateInquiryRequest {
                request_id: rid(),
                inquiry: Some(inquiry(email)),
            })
            .await
            .expect("inquiry")
            .into_inner();
        (created.inquiry.expect("inquiry"), created.access_code)
    }

    async fn stop(self) {
        self.notification.stop().await;
        self.exchange.stop().await;
        self.registry.stop().await;
    }
}

fn person(family: &str, given: &str, year: i32) -> reg::Person {
    reg::Person {
        category: common::PersonCategory::ServiceMember as i32,
        sex: common::Sex::Male as i32,
        names: vec![PersonName {
            script: Script::Cyrillic as i32,
            given: given.into(),
            family: family.into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year,
            month: 3,
            day: 14,
        }),
        affiliated_party: "UA".into(),
        holding_party: "RU".into(),
        ..Default::default()
    }
}

fn name(family: &str, given: &str) -> PersonName {
    PersonName {
        family: family.into(),
        given: given.into(),
        ..Default::default()
    }
}

fn agreement() -> ex::Agreement {
    ex::Agreement {
        title: "Agreement of the spring".into(),
        parties: vec!["UA".into(), "RU".into()],
        quotas: vec![ex::Quota {
            count: 100,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn identity_entry(reference: &str) -> ex::ListEntry {
    ex::ListEntry {
        reference: reference.into(),
        subject: Some(Subject::Identity(ex::ListedIdentity {
            names: vec![name("Smirnov", "Aleksei")],
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn inquiry(email: &str) -> nt::Inquiry {
    nt::Inquiry {
        requester: Some(nt::Requester {
            names: vec![name("Ткаченко", "Ганна")],
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
            names: vec![name("Ткаченко", "Сергій")],
            birth_date: Some(PartialDate {
                year: 1985,
                month: 7,
                day: 9,
            }),
            ..Default::default()
        }),
        consents: vec![nt::Consent {
            purpose: nt::ConsentPurpose::Tracing as i32,
            method: nt::ConsentMethod::Written as i32,
            ..Default::default()
        }],
        office: "Kyiv".into(),
        ..Default::default()
    }
}

fn timestamp(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

// ---------------------------------------------------------------------------------------------
// Cases: a call and the refusal it must get.

type Call = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

struct Case {
    name: String,
    expect: Expect,
    call: Call,
}

/// Builds a case from any call that answers with a response.
fn case<T: Send + 'static>(
    name: impl Into<String>,
    expect: Expect,
    call: impl Future<Output = Result<tonic::Response<T>, Status>> + Send + 'static,
) -> Case {
    Case {
        name: name.into(),
        expect,
        call: Box::pin(async move { call.await.map(drop) }),
    }
}

/// One call on a clone of a client, so cases can be built up front and run later.
macro_rules! call {
    ($client:expr, $method:ident, $request:expr) => {{
        let mut client = $client.clone();
        let request = $request;
        async move { client.$method(request).await }
    }};
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// INVALID_ARGUMENT with a BadRequest naming this field (or a field inside it).
    Invalid(&'static str),
    /// This code with this ErrorInfo reason.
    Reason(Code, &'static str),
    /// This code (the gRPC layer answered before the service's own errors could).
    Code(Code),
    /// Refused by the protobuf decoder: INTERNAL or INVALID_ARGUMENT, never a crash.
    Undecodable,
    /// Over the message size limit: OUT_OF_RANGE or RESOURCE_EXHAUSTED (or the import's own
    /// INVALID_ARGUMENT for a broken stream).
    TooLarge,
}

fn invalid(field: &'static str) -> Expect {
    Expect::Invalid(field)
}

impl Expect {
    fn check(self, name: &str, outcome: Result<(), Status>) {
        if let Err(problem) = self.verdict(name, outcome) {
            panic!("{problem}");
        }
    }

    /// Whether `outcome` is the refusal expected, and if not, what it was instead.
    fn verdict(self, name: &str, outcome: Result<(), Status>) -> Result<(), String> {
        let Err(status) = outcome else {
            return Err(format!("{name}: accepted, expected {self:?}"));
        };
        let code = |expected: &[Code]| {
            if expected.contains(&status.code()) {
                Ok(())
            } else {
                Err(format!(
                    "{name}: expected {self:?}, got {:?}: {}",
                    status.code(),
                    status.message().chars().take(300).collect::<String>()
                ))
            }
        };
        match self {
            Expect::Invalid(field) => {
                code(&[Code::InvalidArgument])?;
                let details = status.get_error_details();
                let fields: Vec<String> = details
                    .bad_request()
                    .ok_or_else(|| format!("{name}: no BadRequest in {status:?}"))?
                    .field_violations
                    .iter()
                    .map(|v| v.field.clone())
                    .collect();
                if !fields.iter().any(|f| {
                    f == field
                        || f.starts_with(&format!("{field}."))
                        || f.starts_with(&format!("{field}["))
                }) {
                    return Err(format!(
                        "{name}: expected a violation of {field}, got {fields:?}"
                    ));
                }
                let info = details
                    .error_info()
                    .ok_or_else(|| format!("{name}: no ErrorInfo"))?;
                if info.reason != "INVALID_ARGUMENT" || !info.domain.starts_with("homeward.") {
                    return Err(format!("{name}: ErrorInfo {info:?}"));
                }
                Ok(())
            }
            Expect::Reason(expected, reason) => {
                code(&[expected])?;
                let info = status
                    .get_error_details()
                    .error_info()
                    .cloned()
                    .ok_or_else(|| format!("{name}: no ErrorInfo in {status:?}"))?;
                if info.reason == reason {
                    Ok(())
                } else {
                    Err(format!("{name}: reason {}, expected {reason}", info.reason))
                }
            }
            Expect::Code(expected) => code(&[expected]),
            Expect::Undecodable => code(&[Code::Internal, Code::InvalidArgument]),
            Expect::TooLarge => code(&[
                Code::OutOfRange,
                Code::ResourceExhausted,
                Code::InvalidArgument,
            ]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw protobuf: bytes sent as they are, so a string field can carry bytes that are not UTF-8.

/// Sends pre-encoded request bytes and decodes the answer as `R`.
struct Raw<R>(std::marker::PhantomData<R>);

struct RawEncoder;
struct RawDecoder<R>(std::marker::PhantomData<R>);

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl<R: Message + Default> tonic::codec::Decoder for RawDecoder<R> {
    type Item = R;
    type Error = Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl<R: Message + Default + Send + 'static> tonic::codec::Codec for Raw<R> {
    type Encode = Vec<u8>;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder<R>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder<R> {
        RawDecoder(std::marker::PhantomData)
    }
}

fn raw<R>() -> Raw<R> {
    Raw(std::marker::PhantomData)
}

fn authorized<T>(message: T, roles: &[Role]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if !roles.is_empty() {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", token("hostile", roles))
                .parse()
                .expect("header"),
        );
    }
    request
}

/// A unary call with a body given as bytes.
async fn raw_unary<R: Message + Default + Send + Sync + 'static>(
    addr: SocketAddr,
    path: &'static str,
    roles: &[Role],
    body: Vec<u8>,
) -> Result<tonic::Response<R>, Status> {
    let mut grpc = tonic::client::Grpc::new(World::channel_to(addr, None));
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        authorized(body, roles),
        PathAndQuery::from_static(path),
        raw::<R>(),
    )
    .await
}

/// A client stream of messages given as bytes.
async fn raw_stream<R: Message + Default + Send + Sync + 'static>(
    addr: SocketAddr,
    path: &'static str,
    roles: &[Role],
    messages: Vec<Vec<u8>>,
) -> Result<tonic::Response<R>, Status> {
    let mut grpc = tonic::client::Grpc::new(World::channel_to(addr, None));
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.client_streaming(
        authorized(tokio_stream::iter(messages), roles),
        PathAndQuery::from_static(path),
        raw::<R>(),
    )
    .await
}

/// One length-delimited field (a string, bytes or an embedded message) as raw protobuf.
fn field(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, &mut buf);
    prost::encoding::encode_varint(value.len() as u64, &mut buf);
    buf.extend_from_slice(value);
    buf
}

/// `message` with one more field appended: a later value of a string replaces the earlier one,
/// and a later embedded message is merged into the earlier one.
fn with_field(message: &impl Message, extra: Vec<u8>) -> Vec<u8> {
    let mut bytes = message.encode_to_vec();
    bytes.extend(extra);
    bytes
}

/// Byte sequences that are not UTF-8: a stray continuation byte, an invalid lead byte, an
/// overlong encoding of '/', a UTF-16 surrogate, a truncated sequence.
const NOT_UTF8: [&[u8]; 5] = [
    b"Kov\x80alenko",
    b"\xff\xfe",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"Kovalenko\xe2\x82",
];

const REGISTRAR: &[Role] = &[Role::Registrar, Role::Auditor, Role::Service];
const OFFICER: &[Role] = &[Role::ExchangeOfficer];
const LIAISON: &[Role] = &[Role::FamilyLiaison];

// ---------------------------------------------------------------------------------------------
// The registry.

async fn the_registry_refuses_hostile_requests_and_writes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    let p = world.register("Коваленко", "Олександр", 1998).await;
    let reg = world.reg.clone();
    let long = "x".repeat(10 * 1024);
    let with_names = |names: Vec<PersonName>| {
        let mut p = person("Бойко", "Олена", 1990);
        p.names = names;
        p
    };
    let create = |p: reg::Person| reg::CreatePersonRequest {
        request_id: rid(),
        person: Some(p),
        ..Default::default()
    };
    let patched = |f: fn(&mut reg::Person)| {
        let mut p = person("Бойко", "Олена", 1990);
        f(&mut p);
        create(p)
    };
    let thousands = |n: usize| -> Vec<PersonName> {
        (0..n)
            .map(|i| name(&format!("Бойко{i}"), "Олена"))
            .collect()
    };
    let header = |request_id: &str| reg::ImportPersonsRequest {
        item: Some(Item::Header(reg::ImportHeader {
            request_id: request_id.into(),
            ..Default::default()
        })),
    };
    let row = |n: u64| reg::ImportPersonsRequest {
        item: Some(Item::Row(reg::ImportRow {
            row_number: n,
            person: Some(person("Мельник", "Андрій", 1970)),
        })),
    };
    let status_change = |change: reg::StatusChange| reg::RecordStatusChangeRequest {
        request_id: rid(),
        person_id: p.id.clone(),
        change: Some(change),
        ..Default::default()
    };
    let transfer_at = |occur_time| reg::StatusChange {
        status: reg::PersonStatus::Transferred as i32,
        occur_time,
        ..Default::default()
    };
    let update = |mask: &[&str], names: Vec<PersonName>| reg::UpdatePersonRequest {
        request_id: rid(),
        person: Some(reg::Person {
            id: p.id.clone(),
            etag: p.etag.clone(),
            names,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: mask.iter().map(|s| s.to_string()).collect(),
        }),
    };
    let list = |page_size| reg::ListPersonsRequest {
        page_size,
        ..Default::default()
    };
    let search = |query: &str, max_results| reg::SearchPersonsRequest {
        query: query.into(),
        max_results,
        ..Default::default()
    };
    let matching = |identities: usize, min_confidence, max_candidates| reg::MatchPersonsRequest {
        identities: (0..identities)
            .map(|i| reg::CandidateIdentity {
                reference: format!("r{i}"),
                names: vec![name("Коваленко", "Олександр")],
                ..Default::default()
            })
            .collect(),
        min_confidence,
        max_candidates,
    };
    let duplicates = |min_confidence, page_size| reg::FindDuplicatesRequest {
        min_confidence,
        page_size,
        ..Default::default()
    };
    let cases = vec![
        // Page sizes and counts: huge, negative, the most negative.
        case(
            "ListPersons page_size i32::MAX",
            invalid("page_size"),
            call!(reg, list_persons, list(i32::MAX)),
        ),
        case(
            "ListPersons page_size -1",
            invalid("page_size"),
            call!(reg, list_persons, list(-1)),
        ),
        case(
            "ListPersons page_size i32::MIN",
            invalid("page_size"),
            call!(reg, list_persons, list(i32::MIN)),
        ),
        case(
            "GetPersonHistory page_size i32::MAX",
            invalid("page_size"),
            call!(
                reg,
                get_person_history,
                reg::GetPersonHistoryRequest {
                    person_id: p.id.clone(),
                    page_size: i32::MAX,
                    ..Default::default()
                }
            ),
        ),
        case(
            "GetPersonHistory page_size -50",
            invalid("page_size"),
            call!(
                reg,
                get_person_history,
                reg::GetPersonHistoryRequest {
                    person_id: p.id.clone(),
                    page_size: -50,
                    ..Default::default()
                }
            ),
        ),
        case(
            "SearchPersons max_results -1",
            invalid("max_results"),
            call!(reg, search_persons, search("Коваленко", -1)),
        ),
        case(
            "SearchPersons max_results i32::MAX",
            invalid("max_results"),
            call!(reg, search_persons, search("Коваленко", i32::MAX)),
        ),
        case(
            "MatchPersons max_candidates -5",
            invalid("max_candidates"),
            call!(reg, match_persons, matching(1, 0.0, -5)),
        ),
        case(
            "MatchPersons max_candidates i32::MAX",
            invalid("max_candidates"),
            call!(reg, match_persons, matching(1, 0.0, i32::MAX)),
        ),
        case(
            "MatchPersons min_confidence NaN",
            invalid("min_confidence"),
            call!(reg, match_persons, matching(1, f64::NAN, 0)),
        ),
        case(
            "MatchPersons min_confidence -0.5",
            invalid("min_confidence"),
            call!(reg, match_persons, matching(1, -0.5, 0)),
        ),
        case(
            "MatchPersons min_confidence infinity",
            invalid("min_confidence"),
            call!(reg, match_persons, matching(1, f64::INFINITY, 0)),
        ),
        case(
            "FindDuplicates page_size -1",
            invalid("page_size"),
            call!(reg, find_duplicates, duplicates(0.0, -1)),
        ),
        case(
            "FindDuplicates page_size i32::MAX",
            invalid("page_size"),
            call!(reg, find_duplicates, duplicates(0.0, i32::MAX)),
        ),
        case(
            "FindDuplicates min_confidence NaN",
            invalid("min_confidence"),
            call!(reg, find_duplicates, duplicates(f64::NAN, 0)),
        ),
        // Repetition far past the documented limits.
        case(
            "MatchPersons 5,001 identities",
            invalid("identities"),
            call!(reg, match_persons, matching(5_001, 0.0, 0)),
        ),
        case(
            "BatchGetPersons 1,001 ids",
            invalid("ids"),
            call!(
                reg,
                batch_get_persons,
                reg::BatchGetPersonsRequest {
                    ids: vec![p.id.clone(); 1_001],
                }
            ),
        ),
        case(
            "CreatePerson 10,000 names",
            invalid("person.names"),
            call!(reg, create_person, create(with_names(thousands(10_000)))),
        ),
        case(
            "CreatePerson 1,000 documents",
            invalid("person.documents"),
            call!(
                reg,
                create_person,
                patched(|p| {
                    p.documents = vec![
                        common::IdentityDocument {
                            r#type: common::DocumentType::Passport as i32,
                            number: "FE123456".into(),
                            issuing_country: "UA".into(),
                        };
                        1_000
                    ]
                })
            ),
        ),
        case(
            "UpdatePerson 10,000 names",
            invalid("person.names"),
            call!(reg, update_person, update(&["names"], thousands(10_000))),
        ),
        case(
            "ReservePersons 5,001 ids",
            invalid("person_ids"),
            call!(
                reg,
                reserve_persons,
                reg::ReservePersonsRequest {
                    request_id: rid(),
                    exchange_id: "phase-1".into(),
                    person_ids: vec![p.id.clone(); 5_001],
                }
            ),
        ),
        // Control characters and overlong text in names and elsewhere.
        case(
            "CreatePerson family name with NUL",
            invalid("person.names[0].family"),
            call!(
                reg,
                create_person,
                create(with_names(vec![name("Кова\u{0}ленко", "Олександр")]))
            ),
        ),
        case(
            "CreatePerson family name with an ANSI escape",
            invalid("person.names[0].family"),
            call!(
                reg,
                create_person,
                create(with_names(vec![name("\u{1b}[31mKovalenko", "Oleksandr")]))
            ),
        ),
        case(
            "CreatePerson given name with a newline",
            invalid("person.names[0].given"),
            call!(
                reg,
                create_person,
                create(with_names(vec![name("Kovalenko", "Olek\nsandr")]))
            ),
        ),
        case(
            "CreatePerson patronymic with DEL",
            invalid("person.names[0].patronymic"),
            call!(
                reg,
                create_person,
                create(with_names(vec![PersonName {
                    patronymic: "Іван\u{7f}ович".into(),
                    ..name("Коваленко", "Олександр")
                }]))
            ),
        ),
        case(
            "CreatePerson family name of 201 characters",
            invalid("person.names[0].family"),
            call!(
                reg,
                create_person,
                create(with_names(vec![name(&"Ко".repeat(101)[..], "Олександр")]))
            ),
        ),
        case(
            "CreatePerson 10 KB unit",
            invalid("person.unit"),
            call!(
                reg,
                create_person,
                patched(|p| p.unit = "x".repeat(10 * 1024))
            ),
        ),
        case(
            "CreatePerson C1 control in rank",
            invalid("person.rank"),
            call!(
                reg,
                create_person,
                patched(|p| p.rank = "сер\u{85}жант".into())
            ),
        ),
        case(
            "CreatePerson names without any name",
            invalid("person.names[0].family"),
            call!(
                reg,
                create_person,
                create(with_names(vec![name("   ", "\t")]))
            ),
        ),
        case(
            "CreatePerson holding party of 10 KB",
            invalid("person.holding_party"),
            call!(
                reg,
                create_person,
                patched(|p| p.holding_party = "R".repeat(10 * 1024))
            ),
        ),
        // Unknown enum values.
        case(
            "CreatePerson sex 999",
            invalid("person.sex"),
            call!(reg, create_person, patched(|p| p.sex = 999)),
        ),
        case(
            "CreatePerson category 999",
            invalid("person.category"),
            call!(reg, create_person, patched(|p| p.category = 999)),
        ),
        case(
            "CreatePerson category -1",
            invalid("person.category"),
            call!(reg, create_person, patched(|p| p.category = -1)),
        ),
        case(
            "CreatePerson script 999",
            invalid("person.names[0].script"),
            call!(reg, create_person, patched(|p| p.names[0].script = 999)),
        ),
        case(
            "CreatePerson name source -7",
            invalid("person.names[0].source"),
            call!(reg, create_person, patched(|p| p.names[0].source = -7)),
        ),
        case(
            "CreatePerson status 999",
            invalid("person.status"),
            call!(reg, create_person, patched(|p| p.status = 999)),
        ),
        case(
            "CreatePerson document type 999",
            invalid("person.documents[0].type"),
            call!(
                reg,
                create_person,
                patched(|p| p.documents = vec![common::IdentityDocument {
                    r#type: 999,
                    number: "1".into(),
                    ..Default::default()
                }])
            ),
        ),
        case(
            "CreatePerson source 999",
            invalid("source"),
            call!(
                reg,
                create_person,
                reg::CreatePersonRequest {
                    source: 999,
                    ..create(person("Бойко", "Олена", 1990))
                }
            ),
        ),
        case(
            "CreatePerson reliability -1",
            invalid("reliability"),
            call!(
                reg,
                create_person,
                reg::CreatePersonRequest {
                    reliability: -1,
                    ..create(person("Бойко", "Олена", 1990))
                }
            ),
        ),
        case(
            "ListPersons status 999",
            invalid("status"),
            call!(
                reg,
                list_persons,
                reg::ListPersonsRequest {
                    status: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "RecordStatusChange status 999",
            invalid("change.status"),
            call!(
                reg,
                record_status_change,
                status_change(reg::StatusChange {
                    status: 999,
                    ..Default::default()
                })
            ),
        ),
        // Dates and timestamps out of range.
        case(
            "CreatePerson birth date i32::MAX",
            invalid("person.birth_date"),
            call!(
                reg,
                create_person,
                patched(|p| p.birth_date = Some(PartialDate {
                    year: i32::MAX,
                    month: i32::MAX,
                    day: i32::MAX
                }))
            ),
        ),
        case(
            "CreatePerson birth date in year -1990",
            invalid("person.birth_date"),
            call!(
                reg,
                create_person,
                patched(|p| p.birth_date = Some(PartialDate {
                    year: -1990,
                    month: 0,
                    day: 0
                }))
            ),
        ),
        case(
            "CreatePerson birth date month -1",
            invalid("person.birth_date"),
            call!(
                reg,
                create_person,
                patched(|p| p.birth_date = Some(PartialDate {
                    year: 1990,
                    month: -1,
                    day: 5
                }))
            ),
        ),
        case(
            "CreatePerson birth date day 256",
            invalid("person.birth_date"),
            call!(
                reg,
                create_person,
                patched(|p| p.birth_date = Some(PartialDate {
                    year: 1990,
                    month: 1,
                    day: 256
                }))
            ),
        ),
        case(
            "CreatePerson capture date 30 February",
            invalid("person.capture.date"),
            call!(
                reg,
                create_person,
                patched(|p| p.capture = Some(reg::Capture {
                    date: Some(PartialDate {
                        year: 2023,
                        month: 2,
                        day: 30
                    }),
                    place: "Mariupol".into()
                }))
            ),
        ),
        case(
            "SearchPersons birth date year 0 with a month",
            invalid("birth_date"),
            call!(
                reg,
                search_persons,
                reg::SearchPersonsRequest {
                    query: "Коваленко".into(),
                    birth_date: Some(PartialDate {
                        year: 0,
                        month: 5,
                        day: 0
                    }),
                    ..Default::default()
                }
            ),
        ),
        case(
            "RecordStatusChange occur_time i64::MAX seconds",
            invalid("change.occur_time"),
            call!(
                reg,
                record_status_change,
                status_change(transfer_at(timestamp(i64::MAX, 0)))
            ),
        ),
        case(
            "RecordStatusChange occur_time i64::MIN seconds",
            invalid("change.occur_time"),
            call!(
                reg,
                record_status_change,
                status_change(transfer_at(timestamp(i64::MIN, 0)))
            ),
        ),
        case(
            "RecordStatusChange occur_time nanos -1",
            invalid("change.occur_time"),
            call!(
                reg,
                record_status_change,
                status_change(transfer_at(timestamp(1_700_000_000, -1)))
            ),
        ),
        case(
            "RecordStatusChange occur_time nanos 1e9",
            invalid("change.occur_time"),
            call!(
                reg,
                record_status_change,
                status_change(transfer_at(timestamp(1_700_000_000, 1_000_000_000)))
            ),
        ),
        case(
            "RecordStatusChange occur_time in 9999",
            invalid("change.occur_time"),
            call!(
                reg,
                record_status_change,
                status_change(transfer_at(timestamp(253_402_300_000, 0)))
            ),
        ),
        // Ids: not UUIDs, empty, 10 KB.
        case(
            "GetPerson id empty",
            invalid("id"),
            call!(reg, get_person, reg::GetPersonRequest { id: String::new() }),
        ),
        case(
            "GetPerson id not a UUID",
            invalid("id"),
            call!(
                reg,
                get_person,
                reg::GetPersonRequest {
                    id: "'; DROP TABLE persons; --".into()
                }
            ),
        ),
        case(
            "GetPerson id of 10 KB",
            invalid("id"),
            call!(reg, get_person, reg::GetPersonRequest { id: long.clone() }),
        ),
        case(
            "BatchGetPersons an empty and a 10 KB id",
            invalid("ids[0]"),
            call!(
                reg,
                batch_get_persons,
                reg::BatchGetPersonsRequest {
                    ids: vec![String::new(), long.clone()]
                }
            ),
        ),
        case(
            "GetPersonHistory person_id not a UUID",
            invalid("person_id"),
            call!(
                reg,
                get_person_history,
                reg::GetPersonHistoryRequest {
                    person_id: "p-1".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "RecordStatusChange person_id of 10 KB",
            invalid("person_id"),
            call!(
                reg,
                record_status_change,
                reg::RecordStatusChangeRequest {
                    person_id: long.clone(),
                    ..status_change(transfer_at(None))
                }
            ),
        ),
        case(
            "ReservePersons exchange_id of 10 KB",
            invalid("exchange_id"),
            call!(
                reg,
                reserve_persons,
                reg::ReservePersonsRequest {
                    request_id: rid(),
                    exchange_id: long.clone(),
                    person_ids: vec![p.id.clone()]
                }
            ),
        ),
        case(
            "ReservePersons exchange_id with a control character",
            invalid("exchange_id"),
            call!(
                reg,
                reserve_persons,
                reg::ReservePersonsRequest {
                    request_id: rid(),
                    exchange_id: "phase\u{0}1".into(),
                    person_ids: vec![p.id.clone()]
                }
            ),
        ),
        case(
            "ReservePersons a person id not a UUID",
            invalid("person_ids[1]"),
            call!(
                reg,
                reserve_persons,
                reg::ReservePersonsRequest {
                    request_id: rid(),
                    exchange_id: "phase-1".into(),
                    person_ids: vec![p.id.clone(), "nope".into()]
                }
            ),
        ),
        case(
            "MergePersons survivor id empty",
            invalid("survivor_id"),
            call!(
                reg,
                merge_persons,
                reg::MergePersonsRequest {
                    request_id: rid(),
                    survivor_id: String::new(),
                    duplicate_id: p.id.clone(),
                    duplicate_etag: p.etag.clone(),
                    reason: "same man".into()
                }
            ),
        ),
        // Request ids.
        case(
            "CreatePerson request_id empty",
            invalid("request_id"),
            call!(
                reg,
                create_person,
                reg::CreatePersonRequest {
                    request_id: String::new(),
                    ..create(person("Бойко", "Олена", 1990))
                }
            ),
        ),
        case(
            "CreatePerson request_id of 129 characters",
            invalid("request_id"),
            call!(
                reg,
                create_person,
                reg::CreatePersonRequest {
                    request_id: "r".repeat(129),
                    ..create(person("Бойко", "Олена", 1990))
                }
            ),
        ),
        case(
            "CreatePerson request_id with a newline",
            invalid("request_id"),
            call!(
                reg,
                create_person,
                reg::CreatePersonRequest {
                    request_id: "r-1\nr-2".into(),
                    ..create(person("Бойко", "Олена", 1990))
                }
            ),
        ),
        // Field masks.
        case(
            "UpdatePerson mask naming status",
            invalid("update_mask"),
            call!(reg, update_person, update(&["status"], vec![])),
        ),
        case(
            "UpdatePerson mask naming an unknown field",
            invalid("update_mask"),
            call!(
                reg,
                update_person,
                update(
                    &["names", "__proto__"],
                    vec![name("Коваленко", "Олександр")]
                )
            ),
        ),
        case(
            "UpdatePerson empty mask",
            invalid("update_mask"),
            call!(reg, update_person, update(&[], vec![])),
        ),
        // Cursors.
        case(
            "WatchEvents cursor not base64",
            invalid("after_cursor"),
            call!(
                reg,
                watch_events,
                reg::WatchEventsRequest {
                    after_cursor: "not a cursor!".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "WatchEvents cursor at a negative position",
            invalid("after_cursor"),
            call!(
                reg,
                watch_events,
                reg::WatchEventsRequest {
                    after_cursor: URL_SAFE_NO_PAD.encode("o1:-5"),
                    ..Default::default()
                }
            ),
        ),
        case(
            "WatchEvents cursor past i64",
            invalid("after_cursor"),
            call!(
                reg,
                watch_events,
                reg::WatchEventsRequest {
                    after_cursor: URL_SAFE_NO_PAD.encode("o1:99999999999999999999"),
                    ..Default::default()
                }
            ),
        ),
        // Import streams that are not an import.
        case(
            "ImportPersons an empty stream",
            invalid("header"),
            call!(
                reg,
                import_persons,
                tokio_stream::iter(Vec::<reg::ImportPersonsRequest>::new())
            ),
        ),
        case(
            "ImportPersons a row before the header",
            invalid("header"),
            call!(
                reg,
                import_persons,
                tokio_stream::iter(vec![row(1), header(&rid())])
            ),
        ),
        case(
            "ImportPersons a second header",
            invalid("header"),
            call!(
                reg,
                import_persons,
                tokio_stream::iter(vec![header(&rid()), row(1), header(&rid())])
            ),
        ),
        case(
            "ImportPersons a message with neither",
            invalid("header"),
            call!(
                reg,
                import_persons,
                tokio_stream::iter(vec![reg::ImportPersonsRequest { item: None }])
            ),
        ),
        case(
            "ImportPersons header without a request id",
            invalid("request_id"),
            call!(
                reg,
                import_persons,
                tokio_stream::iter(vec![header(""), row(1)])
            ),
        ),
    ];
    world.refuse_all(cases).await;
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The exchange service.

async fn the_exchange_refuses_hostile_requests_and_writes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    let (agreement_rec, phase) = world.negotiating_phase().await;
    let ex = world.ex.clone();
    let long = "x".repeat(10 * 1024);
    let create = |a: ex::Agreement| ex::CreateAgreementRequest {
        request_id: rid(),
        agreement: Some(a),
    };
    let patched = |f: fn(&mut ex::Agreement)| {
        let mut a = agreement();
        f(&mut a);
        create(a)
    };
    let submit = |entries: Vec<ex::ListEntry>| ex::SubmitListRequest {
        request_id: rid(),
        phase_id: phase.id.clone(),
        party: "RU".into(),
        kind: ex::ListKind::Offer as i32,
        entries,
        ..Default::default()
    };
    let entries = |n: usize| -> Vec<ex::ListEntry> {
        (0..n).map(|i| identity_entry(&format!("r{i}"))).collect()
    };
    let with_identity = |f: fn(&mut ex::ListedIdentity)| {
        let mut entry = identity_entry("r1");
        if let Some(Subject::Identity(identity)) = entry.subject.as_mut() {
            f(identity);
        }
        submit(vec![entry])
    };
    let new_phase = |f: fn(&mut ex::Phase)| {
        let mut p = ex::Phase {
            agreement_id: agreement_rec.id.clone(),
            title: "Phase 2".into(),
            ..Default::default()
        };
        f(&mut p);
        ex::CreatePhaseRequest {
            request_id: rid(),
            phase: Some(p),
        }
    };
    let entry_key = || ex::ListEntryKey {
        party: "RU".into(),
        kind: ex::ListKind::Offer as i32,
        reference: "r1".into(),
    };
    let consent = |f: fn(&mut ex::ConsentRecord)| {
        let mut c = ex::ConsentRecord {
            phase_id: phase.id.clone(),
            entry: Some(entry_key()),
            decision: ex::ConsentDecision::Willing as i32,
            interviewed_by: "ICRC delegate".into(),
            ..Default::default()
        };
        f(&mut c);
        ex::RecordConsentRequest {
            request_id: rid(),
            consent: Some(c),
        }
    };
    let check = |f: fn(&mut ex::HandoverCheck)| {
        let mut c = ex::HandoverCheck {
            phase_id: phase.id.clone(),
            handing_party: "RU".into(),
            entry: Some(entry_key()),
            result: ex::HandoverCheckResult::Verified as i32,
            methods: vec![ex::IdentityCheckMethod::IdentityDocument as i32],
            ..Default::default()
        };
        f(&mut c);
        ex::RecordHandoverCheckRequest {
            request_id: rid(),
            check: Some(c),
        }
    };
    let review = |decision, item_id: &str| ex::ReviewReconciliationItemRequest {
        request_id: rid(),
        reconciliation_id: uuid::Uuid::new_v4().to_string(),
        item_id: item_id.into(),
        decision,
        ..Default::default()
    };
    let cases = vec![
        // Repetition past the limits.
        case(
            "CreateAgreement three parties",
            invalid("agreement.parties"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.parties.push("PL".into()))
            ),
        ),
        case(
            "CreateAgreement 10,000 parties",
            invalid("agreement.parties"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.parties = (0..10_000).map(|i| format!("P{i}")).collect())
            ),
        ),
        case(
            "CreateAgreement one party twice",
            invalid("agreement.parties"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.parties = vec!["UA".into(), "ua".into()])
            ),
        ),
        case(
            "CreateAgreement 11 mediators",
            invalid("agreement.mediators"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.mediators = vec!["Türkiye".into(); 11])
            ),
        ),
        case(
            "CreateAgreement 51 quota lines",
            invalid("agreement.quotas"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.quotas = vec![
                    ex::Quota {
                        count: 1,
                        ..Default::default()
                    };
                    51
                ])
            ),
        ),
        case(
            "SubmitList 5,001 entries",
            invalid("entries"),
            call!(ex, submit_list, submit(entries(5_001))),
        ),
        case(
            "SubmitList no entries",
            invalid("entries"),
            call!(ex, submit_list, submit(vec![])),
        ),
        case(
            "SubmitList an identity with 1,000 names",
            invalid("entries[0].identity.names"),
            call!(
                ex,
                submit_list,
                with_identity(|i| i.names = vec![name("Smirnov", "Aleksei"); 1_000])
            ),
        ),
        case(
            "SubmitList an identity with 100 documents",
            invalid("entries[0].identity.documents"),
            call!(
                ex,
                submit_list,
                with_identity(|i| i.documents = vec![
                    common::IdentityDocument {
                        number: "1".into(),
                        ..Default::default()
                    };
                    100
                ])
            ),
        ),
        case(
            "SubmitList one reference twice",
            invalid("entries[1].reference"),
            call!(
                ex,
                submit_list,
                submit(vec![identity_entry("r1"), identity_entry("r1")])
            ),
        ),
        // Control characters and overlong text.
        case(
            "CreateAgreement title with NUL",
            invalid("agreement.title"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.title = "Agreement\u{0}".into())
            ),
        ),
        case(
            "CreateAgreement title of 10 KB",
            invalid("agreement.title"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.title = "x".repeat(10 * 1024))
            ),
        ),
        case(
            "CreateAgreement party with a space",
            invalid("agreement.parties[1]"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.parties[1] = "R U".into())
            ),
        ),
        case(
            "SubmitList family name with an ANSI escape",
            invalid("entries[0].identity.names[0].family"),
            call!(
                ex,
                submit_list,
                with_identity(|i| i.names[0].family = "\u{1b}[2JSmirnov".into())
            ),
        ),
        case(
            "SubmitList original text of 10 KB",
            invalid("entries[0].identity.original_text"),
            call!(
                ex,
                submit_list,
                with_identity(|i| i.original_text = "x".repeat(10 * 1024))
            ),
        ),
        case(
            "SubmitList reference of 65 characters",
            invalid("entries[0].reference"),
            call!(
                ex,
                submit_list,
                submit(vec![identity_entry(&"r".repeat(65))])
            ),
        ),
        case(
            "SubmitList an identity without a name",
            invalid("entries[0].identity.names[0]"),
            call!(
                ex,
                submit_list,
                with_identity(|i| i.names = vec![name("", " ")])
            ),
        ),
        // Numbers: zero, negative, huge.
        case(
            "CreateAgreement quota count 0",
            invalid("agreement.quotas[0].count"),
            call!(ex, create_agreement, patched(|a| a.quotas[0].count = 0)),
        ),
        case(
            "CreateAgreement age band of u32::MAX",
            invalid("agreement.quotas[0].age_band"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.quotas[0].age_band = Some(ex::AgeBand {
                    min_age: u32::MAX,
                    max_age: 0
                }))
            ),
        ),
        case(
            "CreateAgreement age band upside down",
            invalid("agreement.quotas[0].age_band"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.quotas[0].age_band = Some(ex::AgeBand {
                    min_age: 60,
                    max_age: 18
                }))
            ),
        ),
        case(
            "CreateAgreement date in year i32::MIN",
            invalid("agreement.agreement_date"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.agreement_date = Some(PartialDate {
                    year: i32::MIN,
                    month: 0,
                    day: 0
                }))
            ),
        ),
        case(
            "CreateAgreement date 31 April",
            invalid("agreement.agreement_date"),
            call!(
                ex,
                create_agreement,
                patched(|a| a.agreement_date = Some(PartialDate {
                    year: 2024,
                    month: 4,
                    day: 31
                }))
            ),
        ),
        case(
            "ListAgreements page_size i32::MAX",
            invalid("page_size"),
            call!(
                ex,
                list_agreements,
                ex::ListAgreementsRequest {
                    page_size: i32::MAX,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListAgreements page_size -1",
            invalid("page_size"),
            call!(
                ex,
                list_agreements,
                ex::ListAgreementsRequest {
                    page_size: -1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListConsentRecords page_size i32::MIN",
            invalid("page_size"),
            call!(
                ex,
                list_consent_records,
                ex::ListConsentRecordsRequest {
                    phase_id: phase.id.clone(),
                    page_size: i32::MIN,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ReconcilePhase min_confidence NaN",
            invalid("min_confidence"),
            call!(
                ex,
                reconcile_phase,
                ex::ReconcilePhaseRequest {
                    request_id: rid(),
                    phase_id: phase.id.clone(),
                    min_confidence: f64::NAN
                }
            ),
        ),
        case(
            "ReconcilePhase min_confidence -1",
            invalid("min_confidence"),
            call!(
                ex,
                reconcile_phase,
                ex::ReconcilePhaseRequest {
                    request_id: rid(),
                    phase_id: phase.id.clone(),
                    min_confidence: -1.0
                }
            ),
        ),
        case(
            "ReviewReconciliationItem item id -1",
            invalid("item_id"),
            call!(
                ex,
                review_reconciliation_item,
                review(ex::ReviewDecision::ConfirmPair as i32, "-1")
            ),
        ),
        case(
            "ReviewReconciliationItem item id past u32",
            invalid("item_id"),
            call!(
                ex,
                review_reconciliation_item,
                review(ex::ReviewDecision::ConfirmPair as i32, "4294967296")
            ),
        ),
        case(
            "SubmitList base_version u32::MAX",
            Expect::Reason(Code::Aborted, "LIST_VERSION_MOVED"),
            call!(
                ex,
                submit_list,
                ex::SubmitListRequest {
                    base_version: u32::MAX,
                    ..submit(entries(1))
                }
            ),
        ),
        case(
            "GetListVersion version u32::MAX",
            Expect::Code(Code::NotFound),
            call!(
                ex,
                get_list_version,
                ex::GetListVersionRequest {
                    phase_id: phase.id.clone(),
                    party: "RU".into(),
                    kind: ex::ListKind::Offer as i32,
                    version: u32::MAX
                }
            ),
        ),
        case(
            "CompareListVersions from_version 0",
            invalid("from_version"),
            call!(
                ex,
                compare_list_versions,
                ex::CompareListVersionsRequest {
                    phase_id: phase.id.clone(),
                    party: "RU".into(),
                    kind: ex::ListKind::Offer as i32,
                    ..Default::default()
                }
            ),
        ),
        // Unknown enum values.
        case(
            "SubmitList kind 999",
            invalid("kind"),
            call!(
                ex,
                submit_list,
                ex::SubmitListRequest {
                    kind: 999,
                    ..submit(entries(1))
                }
            ),
        ),
        case(
            "ListPhases state 999",
            invalid("state"),
            call!(
                ex,
                list_phases,
                ex::ListPhasesRequest {
                    state: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListReconciliationItems outcome -3",
            invalid("outcome"),
            call!(
                ex,
                list_reconciliation_items,
                ex::ListReconciliationItemsRequest {
                    reconciliation_id: uuid::Uuid::new_v4().to_string(),
                    outcome: -3,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ReviewReconciliationItem decision 999",
            invalid("decision"),
            call!(ex, review_reconciliation_item, review(999, "1")),
        ),
        case(
            "RecordConsent decision 999",
            invalid("consent.decision"),
            call!(ex, record_consent, consent(|c| c.decision = 999)),
        ),
        case(
            "RecordConsent entry kind 999",
            invalid("consent.entry.kind"),
            call!(
                ex,
                record_consent,
                consent(|c| c.entry.as_mut().unwrap().kind = 999)
            ),
        ),
        case(
            "HoldBackPerson reason 999",
            invalid("hold_back.reason"),
            call!(
                ex,
                hold_back_person,
                ex::HoldBackPersonRequest {
                    request_id: rid(),
                    hold_back: Some(ex::HoldBack {
                        phase_id: phase.id.clone(),
                        entry: Some(entry_key()),
                        reason: 999,
                        ..Default::default()
                    })
                }
            ),
        ),
        case(
            "RecordHandoverCheck result 999",
            invalid("check.result"),
            call!(ex, record_handover_check, check(|c| c.result = 999)),
        ),
        case(
            "RecordHandoverCheck method 999",
            invalid("check.methods"),
            call!(
                ex,
                record_handover_check,
                check(|c| c.methods = vec![1, 999])
            ),
        ),
        // Timestamps out of range.
        case(
            "CreatePhase planned_time i64::MIN seconds",
            invalid("phase.planned_time"),
            call!(
                ex,
                create_phase,
                new_phase(|p| p.planned_time = timestamp(i64::MIN, 0))
            ),
        ),
        case(
            "CreatePhase planned_time nanos 1e9",
            invalid("phase.planned_time"),
            call!(
                ex,
                create_phase,
                new_phase(|p| p.planned_time = timestamp(1_750_000_000, 1_000_000_000))
            ),
        ),
        case(
            "SubmitList receive_time i64::MAX seconds",
            invalid("receive_time"),
            call!(
                ex,
                submit_list,
                ex::SubmitListRequest {
                    receive_time: timestamp(i64::MAX, 0),
                    ..submit(entries(1))
                }
            ),
        ),
        case(
            "RecordConsent interview in the year 9000",
            invalid("consent.interview_time"),
            call!(
                ex,
                record_consent,
                consent(|c| c.interview_time = timestamp(221_845_392_000, 0))
            ),
        ),
        case(
            "RecordHandoverCheck check_time nanos -1",
            invalid("check.check_time"),
            call!(
                ex,
                record_handover_check,
                check(|c| c.check_time = timestamp(0, -1))
            ),
        ),
        // Ids.
        case(
            "GetAgreement id empty",
            invalid("agreement_id"),
            call!(
                ex,
                get_agreement,
                ex::GetAgreementRequest { id: String::new() }
            ),
        ),
        case(
            "GetPhase id of 10 KB",
            invalid("phase_id"),
            call!(ex, get_phase, ex::GetPhaseRequest { id: long.clone() }),
        ),
        case(
            "CreatePhase agreement id not a UUID",
            invalid("agreement_id"),
            call!(
                ex,
                create_phase,
                new_phase(|p| p.agreement_id = "agreement-1".into())
            ),
        ),
        case(
            "SubmitList phase id of 10 KB",
            invalid("phase_id"),
            call!(
                ex,
                submit_list,
                ex::SubmitListRequest {
                    phase_id: long.clone(),
                    ..submit(entries(1))
                }
            ),
        ),
        case(
            "SubmitList a person id not a UUID",
            invalid("entries[0].person_id"),
            call!(
                ex,
                submit_list,
                submit(vec![ex::ListEntry {
                    reference: "r1".into(),
                    subject: Some(Subject::PersonId("12345".into())),
                    ..Default::default()
                }])
            ),
        ),
        case(
            "SubmitList an entry with no subject",
            invalid("entries[0].subject"),
            call!(
                ex,
                submit_list,
                submit(vec![ex::ListEntry {
                    reference: "r1".into(),
                    ..Default::default()
                }])
            ),
        ),
        case(
            "RecordConsent phase id empty",
            invalid("consent.phase_id"),
            call!(ex, record_consent, consent(|c| c.phase_id.clear())),
        ),
        case(
            "ListPhases agreement id not a UUID",
            invalid("agreement_id"),
            call!(
                ex,
                list_phases,
                ex::ListPhasesRequest {
                    agreement_id: "../agreements".into(),
                    ..Default::default()
                }
            ),
        ),
        // Masks, etags, request ids, cursors.
        case(
            "UpdateAgreement mask naming the parties",
            invalid("update_mask"),
            call!(
                ex,
                update_agreement,
                ex::UpdateAgreementRequest {
                    request_id: rid(),
                    agreement: Some(ex::Agreement {
                        parties: vec!["UA".into(), "PL".into()],
                        ..agreement_rec.clone()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["parties".into()]
                    }),
                }
            ),
        ),
        case(
            "StartNegotiation with a stale etag",
            Expect::Reason(Code::Aborted, "ETAG_MISMATCH"),
            call!(
                ex,
                start_negotiation,
                ex::StartNegotiationRequest {
                    request_id: rid(),
                    phase_id: phase.id.clone(),
                    etag: "\"999999999999\"".into()
                }
            ),
        ),
        case(
            "CreateAgreement request_id of 10 KB",
            invalid("request_id"),
            call!(
                ex,
                create_agreement,
                ex::CreateAgreementRequest {
                    request_id: long.clone(),
                    agreement: Some(agreement())
                }
            ),
        ),
        case(
            "WatchEvents cursor of another kind",
            invalid("after_cursor"),
            call!(
                ex,
                watch_events,
                ex::WatchEventsRequest {
                    after_cursor: URL_SAFE_NO_PAD.encode("p1:0123456789abcdef:5"),
                    ..Default::default()
                }
            ),
        ),
    ];
    world.refuse_all(cases).await;
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The notification service.

async fn the_notification_service_refuses_hostile_requests_and_writes_nothing(backend: Backend) {
    let world = World::start(backend).await;
    let (existing, _code) = world.inquiry("hanna@example.org").await;
    let nt = world.nt.clone();
    let family = world.family_from([127, 0, 0, 1].into());
    let long = "x".repeat(10 * 1024);
    let create = |f: fn(&mut nt::Inquiry)| {
        let mut i = inquiry("mother@example.org");
        f(&mut i);
        nt::CreateInquiryRequest {
            request_id: rid(),
            inquiry: Some(i),
        }
    };
    let status = |reference: &str, access_code: &str| nt::CheckInquiryStatusRequest {
        reference: reference.into(),
        access_code: access_code.into(),
    };
    let list = |page_size| nt::ListInquiriesRequest {
        page_size,
        ..Default::default()
    };
    let record_consent = |consent: nt::Consent| nt::RecordConsentRequest {
        request_id: rid(),
        inquiry_id: existing.id.clone(),
        etag: existing.etag.clone(),
        consent: Some(consent),
    };
    let cases = vec![
        // Repetition past the limits.
        case(
            "CreateInquiry 9 requester names",
            invalid("inquiry.requester.names"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().names =
                    vec![name("Ткаченко", "Ганна"); 9])
            ),
        ),
        case(
            "CreateInquiry 10,000 sought names",
            invalid("inquiry.sought_person.names"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.sought_person.as_mut().unwrap().names =
                    vec![name("Ткаченко", "Сергій"); 10_000])
            ),
        ),
        case(
            "CreateInquiry 9 contacts",
            invalid("inquiry.requester.contacts"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().contacts = (0..9)
                    .map(|n| nt::ContactChannel {
                        channel: nt::Channel::Email as i32,
                        address: format!("m{n}@example.org"),
                        ..Default::default()
                    })
                    .collect())
            ),
        ),
        case(
            "CreateInquiry no consent to tracing",
            invalid("inquiry.consents"),
            call!(nt, create_inquiry, create(|i| i.consents.clear())),
        ),
        // Control characters and overlong text.
        case(
            "CreateInquiry requester name with NUL",
            invalid("inquiry.requester.names[0].family"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().names[0].family = "Ткач\u{0}енко".into())
            ),
        ),
        case(
            "CreateInquiry sought name with a bell",
            invalid("inquiry.sought_person.names[0].given"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.sought_person.as_mut().unwrap().names[0].given = "Сер\u{7}гій".into())
            ),
        ),
        case(
            "CreateInquiry sought name of 201 characters",
            invalid("inquiry.sought_person.names[0].family"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.sought_person.as_mut().unwrap().names[0].family = "Т".repeat(201))
            ),
        ),
        case(
            "CreateInquiry circumstances of 2,001 characters",
            invalid("inquiry.sought_person.circumstances"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.sought_person.as_mut().unwrap().circumstances = "з".repeat(2_001))
            ),
        ),
        case(
            "CreateInquiry office of 10 KB",
            invalid("inquiry.office"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.office = "K".repeat(10 * 1024))
            ),
        ),
        case(
            "CreateInquiry office with an escape",
            invalid("inquiry.office"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.office = "Kyiv\u{1b}[0m".into())
            ),
        ),
        case(
            "CreateInquiry an email address of 10 KB",
            invalid("inquiry.requester.contacts[0].address"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().contacts[0].address =
                    format!("{}@example.org", "m".repeat(10 * 1024)))
            ),
        ),
        case(
            "CreateInquiry a phone number with letters",
            invalid("inquiry.requester.contacts[0].address"),
            call!(
                nt,
                create_inquiry,
                create(
                    |i| i.requester.as_mut().unwrap().contacts = vec![nt::ContactChannel {
                        channel: nt::Channel::Sms as i32,
                        address: "+38050abc4567".into(),
                        ..Default::default()
                    }]
                )
            ),
        ),
        case(
            "CreateInquiry a phone number of Arabic-Indic digits",
            invalid("inquiry.requester.contacts[0].address"),
            call!(
                nt,
                create_inquiry,
                create(
                    |i| i.requester.as_mut().unwrap().contacts = vec![nt::ContactChannel {
                        channel: nt::Channel::Sms as i32,
                        address: "+٣٨٠٥٠١٢٣٤٥٦٧".into(),
                        ..Default::default()
                    }]
                )
            ),
        ),
        case(
            "CreateInquiry preferred language xx",
            invalid("inquiry.requester.preferred_language"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().preferred_language = "xx".into())
            ),
        ),
        // Unknown enum values.
        case(
            "CreateInquiry relationship 999",
            invalid("inquiry.requester.relationship"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().relationship = 999)
            ),
        ),
        case(
            "CreateInquiry contact channel 999",
            invalid("inquiry.requester.contacts[0].channel"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.requester.as_mut().unwrap().contacts[0].channel = 999)
            ),
        ),
        case(
            "CreateInquiry consent purpose 999",
            invalid("inquiry.consents[0].purpose"),
            call!(nt, create_inquiry, create(|i| i.consents[0].purpose = 999)),
        ),
        case(
            "CreateInquiry consent method -1",
            invalid("inquiry.consents[0].method"),
            call!(nt, create_inquiry, create(|i| i.consents[0].method = -1)),
        ),
        case(
            "ListInquiries state 999",
            invalid("state"),
            call!(
                nt,
                list_inquiries,
                nt::ListInquiriesRequest {
                    state: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListNotifications state -1",
            invalid("state"),
            call!(
                nt,
                list_notifications,
                nt::ListNotificationsRequest {
                    state: -1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListDeliveries channel 999",
            invalid("channel"),
            call!(
                nt,
                list_deliveries,
                nt::ListDeliveriesRequest {
                    channel: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListTasks state 999",
            invalid("state"),
            call!(
                nt,
                list_tasks,
                nt::ListTasksRequest {
                    state: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "CloseInquiry reason 999",
            invalid("reason"),
            call!(
                nt,
                close_inquiry,
                nt::CloseInquiryRequest {
                    request_id: rid(),
                    inquiry_id: existing.id.clone(),
                    etag: existing.etag.clone(),
                    reason: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "VerifyRequester state 999",
            invalid("state"),
            call!(
                nt,
                verify_requester,
                nt::VerifyRequesterRequest {
                    request_id: rid(),
                    inquiry_id: existing.id.clone(),
                    etag: existing.etag.clone(),
                    state: 999,
                    method: 1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "VerifyRequester method 999",
            invalid("method"),
            call!(
                nt,
                verify_requester,
                nt::VerifyRequesterRequest {
                    request_id: rid(),
                    inquiry_id: existing.id.clone(),
                    etag: existing.etag.clone(),
                    state: nt::VerificationState::Verified as i32,
                    method: 999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "RecordConsent purpose 999",
            invalid("consent.purpose"),
            call!(
                nt,
                record_consent,
                record_consent(nt::Consent {
                    purpose: 999,
                    method: 1,
                    ..Default::default()
                })
            ),
        ),
        case(
            "RecordTaskAttempt outcome 999",
            invalid("attempt.outcome"),
            call!(
                nt,
                record_task_attempt,
                nt::RecordTaskAttemptRequest {
                    request_id: rid(),
                    task_id: uuid::Uuid::new_v4().to_string(),
                    attempt: Some(nt::TaskAttempt {
                        outcome: 999,
                        officer: "officer-1".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            ),
        ),
        // Numbers.
        case(
            "ListInquiries page_size i32::MAX",
            invalid("page_size"),
            call!(nt, list_inquiries, list(i32::MAX)),
        ),
        case(
            "ListInquiries page_size -1",
            invalid("page_size"),
            call!(nt, list_inquiries, list(-1)),
        ),
        case(
            "ListLinks page_size i32::MIN",
            invalid("page_size"),
            call!(
                nt,
                list_links,
                nt::ListLinksRequest {
                    page_size: i32::MIN,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListTasks page_size 1,001",
            invalid("page_size"),
            call!(
                nt,
                list_tasks,
                nt::ListTasksRequest {
                    page_size: 1_001,
                    ..Default::default()
                }
            ),
        ),
        case(
            "FindCandidates min_confidence NaN",
            invalid("min_confidence"),
            call!(
                nt,
                find_candidates,
                nt::FindCandidatesRequest {
                    inquiry_id: existing.id.clone(),
                    min_confidence: f64::NAN,
                    max_candidates: 5
                }
            ),
        ),
        case(
            "FindCandidates min_confidence 2",
            invalid("min_confidence"),
            call!(
                nt,
                find_candidates,
                nt::FindCandidatesRequest {
                    inquiry_id: existing.id.clone(),
                    min_confidence: 2.0,
                    max_candidates: 5
                }
            ),
        ),
        case(
            "CreateInquiry sought birth year 99,999",
            invalid("inquiry.sought_person.birth_date"),
            call!(
                nt,
                create_inquiry,
                create(
                    |i| i.sought_person.as_mut().unwrap().birth_date = Some(PartialDate {
                        year: 99_999,
                        month: 1,
                        day: 1
                    })
                )
            ),
        ),
        case(
            "CreateInquiry last contact day without a month",
            invalid("inquiry.sought_person.last_contact_date"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.sought_person.as_mut().unwrap().last_contact_date =
                    Some(PartialDate {
                        year: 2024,
                        month: 0,
                        day: 12
                    }))
            ),
        ),
        // Timestamps out of range.
        case(
            "CreateInquiry consent granted at nanos -1",
            invalid("inquiry.consents[0].grant_time"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.consents[0].grant_time = timestamp(1_700_000_000, -1))
            ),
        ),
        case(
            "CreateInquiry consent granted at i64::MIN seconds",
            invalid("inquiry.consents[0].grant_time"),
            call!(
                nt,
                create_inquiry,
                create(|i| i.consents[0].grant_time = timestamp(i64::MIN, 0))
            ),
        ),
        case(
            "RecordConsent granted past the year 9999",
            invalid("consent.grant_time"),
            call!(
                nt,
                record_consent,
                record_consent(nt::Consent {
                    purpose: nt::ConsentPurpose::Contact as i32,
                    method: 1,
                    grant_time: timestamp(253_402_300_800, 0),
                    ..Default::default()
                })
            ),
        ),
        // Ids.
        case(
            "GetInquiry id empty",
            invalid("id"),
            call!(nt, get_inquiry, nt::GetInquiryRequest { id: String::new() }),
        ),
        case(
            "GetInquiry id of 10 KB",
            invalid("id"),
            call!(nt, get_inquiry, nt::GetInquiryRequest { id: long.clone() }),
        ),
        case(
            "ListInquiries person id not a UUID",
            invalid("person_id"),
            call!(
                nt,
                list_inquiries,
                nt::ListInquiriesRequest {
                    person_id: "son".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ProposeLink person id of 10 KB",
            invalid("person_id"),
            call!(
                nt,
                propose_link,
                nt::ProposeLinkRequest {
                    request_id: rid(),
                    inquiry_id: existing.id.clone(),
                    person_id: long.clone(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ConfirmLink link id not a UUID",
            invalid("link_id"),
            call!(
                nt,
                confirm_link,
                nt::ConfirmLinkRequest {
                    request_id: rid(),
                    link_id: "link-1".into(),
                    etag: "\"1\"".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "RetryDelivery delivery id empty",
            invalid("delivery_id"),
            call!(
                nt,
                retry_delivery,
                nt::RetryDeliveryRequest {
                    request_id: rid(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "CloseInquiry as a duplicate of a non-id",
            invalid("duplicate_of"),
            call!(
                nt,
                close_inquiry,
                nt::CloseInquiryRequest {
                    request_id: rid(),
                    inquiry_id: existing.id.clone(),
                    etag: existing.etag.clone(),
                    reason: nt::CloseReason::Duplicate as i32,
                    duplicate_of: "HW-AAAA-BBBB".into(),
                    ..Default::default()
                }
            ),
        ),
        // Etags, request ids, cursors, and the family's check.
        case(
            "UpdateInquiry with a stale etag",
            Expect::Reason(Code::Aborted, "ETAG_MISMATCH"),
            call!(
                nt,
                update_inquiry,
                nt::UpdateInquiryRequest {
                    request_id: rid(),
                    inquiry: Some(nt::Inquiry {
                        id: existing.id.clone(),
                        etag: "\"0\"".into(),
                        office: "Lviv".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["office".into()]
                    })
                }
            ),
        ),
        case(
            "UpdateInquiry mask naming the state",
            invalid("update_mask"),
            call!(
                nt,
                update_inquiry,
                nt::UpdateInquiryRequest {
                    request_id: rid(),
                    inquiry: Some(nt::Inquiry {
                        id: existing.id.clone(),
                        etag: existing.etag.clone(),
                        state: nt::InquiryState::Closed as i32,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["state".into()]
                    })
                }
            ),
        ),
        case(
            "CreateInquiry request_id with a tab",
            invalid("request_id"),
            call!(
                nt,
                create_inquiry,
                nt::CreateInquiryRequest {
                    request_id: "r\t1".into(),
                    ..create(|_| {})
                }
            ),
        ),
        case(
            "WatchEvents cursor of garbage",
            invalid("after_cursor"),
            call!(
                nt,
                watch_events,
                nt::WatchEventsRequest {
                    after_cursor: "////".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "CheckInquiryStatus without a reference",
            invalid("reference"),
            call!(family, check_inquiry_status, status("", "1234567890")),
        ),
        case(
            "CheckInquiryStatus a reference of 10 KB",
            invalid("reference"),
            call!(family, check_inquiry_status, status(&long, "1234567890")),
        ),
        case(
            "CheckInquiryStatus a code of 10 KB",
            invalid("reference"),
            call!(
                family,
                check_inquiry_status,
                status(&existing.reference, &long)
            ),
        ),
        case(
            "CheckInquiryStatus without a code",
            invalid("reference"),
            call!(
                family,
                check_inquiry_status,
                status(&existing.reference, "   ")
            ),
        ),
    ];
    world.refuse_all(cases).await;
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Size, encoding, tokens, request ids: across the three services.

const FIVE_MB: usize = 5 * 1024 * 1024;

async fn oversize_messages_are_refused_and_every_service_keeps_serving(backend: Backend) {
    let world = World::start(backend).await;
    let (reg, ex, nt) = (world.reg.clone(), world.ex.clone(), world.nt.clone());
    let family = world.family_from([127, 0, 0, 1].into());
    let huge = "x".repeat(FIVE_MB);
    let mut big_person = person("Коваленко", "Олександр", 1998);
    big_person.birth_place = huge.clone();
    let mut big_inquiry = inquiry("mother@example.org");
    big_inquiry.sought_person.as_mut().unwrap().circumstances = huge.clone();
    let ten_mb_row = {
        let mut p = person("Мельник", "Андрій", 1970);
        p.unit = "y".repeat(2 * FIVE_MB);
        reg::ImportPersonsRequest {
            item: Some(Item::Row(reg::ImportRow {
                row_number: 2,
                person: Some(p),
            })),
        }
    };
    let header = reg::ImportPersonsRequest {
        item: Some(Item::Header(reg::ImportHeader {
            request_id: rid(),
            ..Default::default()
        })),
    };
    let cases = vec![
        case(
            "CreatePerson with a 5 MB birth place",
            Expect::TooLarge,
            call!(
                reg,
                create_person,
                reg::CreatePersonRequest {
                    request_id: rid(),
                    person: Some(big_person),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ImportPersons with a 10 MB row",
            Expect::TooLarge,
            call!(
                reg,
                import_persons,
                tokio_stream::iter(vec![header, ten_mb_row])
            ),
        ),
        case(
            "BatchGetPersons with 200,000 ids",
            Expect::TooLarge,
            call!(
                reg,
                batch_get_persons,
                reg::BatchGetPersonsRequest {
                    ids: vec![uuid::Uuid::new_v4().to_string(); 200_000]
                }
            ),
        ),
        case(
            "CreateAgreement with a 5 MB title",
            Expect::TooLarge,
            call!(
                ex,
                create_agreement,
                ex::CreateAgreementRequest {
                    request_id: rid(),
                    agreement: Some(ex::Agreement {
                        title: huge.clone(),
                        ..agreement()
                    })
                }
            ),
        ),
        case(
            "SubmitList with 300,000 entries",
            Expect::TooLarge,
            call!(
                ex,
                submit_list,
                ex::SubmitListRequest {
                    request_id: rid(),
                    phase_id: uuid::Uuid::new_v4().to_string(),
                    party: "RU".into(),
                    kind: 2,
                    entries: vec![identity_entry("r"); 300_000],
                    ..Default::default()
                }
            ),
        ),
        case(
            "CreateInquiry with 5 MB of circumstances",
            Expect::TooLarge,
            call!(
                nt,
                create_inquiry,
                nt::CreateInquiryRequest {
                    request_id: rid(),
                    inquiry: Some(big_inquiry)
                }
            ),
        ),
        case(
            "CheckInquiryStatus with a 5 MB reference",
            Expect::TooLarge,
            call!(
                family,
                check_inquiry_status,
                nt::CheckInquiryStatusRequest {
                    reference: huge.clone(),
                    access_code: "1".into()
                }
            ),
        ),
    ];
    world.refuse_all(cases).await;
    // The same connections go on serving.
    let (mut reg, mut ex, mut nt, mut family) = (
        world.reg.clone(),
        world.ex.clone(),
        world.nt.clone(),
        family,
    );
    reg.create_person(reg::CreatePersonRequest {
        request_id: rid(),
        person: Some(person("Коваленко", "Олександр", 1998)),
        ..Default::default()
    })
    .await
    .expect("the registry still serves");
    ex.create_agreement(ex::CreateAgreementRequest {
        request_id: rid(),
        agreement: Some(agreement()),
    })
    .await
    .expect("the exchange service still serves");
    let created = nt
        .create_inquiry(nt::CreateInquiryRequest {
            request_id: rid(),
            inquiry: Some(inquiry("mother@example.org")),
        })
        .await
        .expect("the notification service still serves")
        .into_inner();
    family
        .check_inquiry_status(nt::CheckInquiryStatusRequest {
            reference: created.inquiry.expect("inquiry").reference,
            access_code: created.access_code,
        })
        .await
        .expect("the family's check still answers");
    world.stop().await;
}

async fn bytes_that_are_not_utf8_are_refused_before_any_handler_runs(backend: Backend) {
    let world = World::start(backend).await;
    let (r, e, n) = (
        world.registry.addr,
        world.exchange.addr,
        world.notification.addr,
    );
    let bad = |i: usize| NOT_UTF8[i % NOT_UTF8.len()];
    let create_person = reg::CreatePersonRequest {
        request_id: rid(),
        person: Some(person("Коваленко", "Олександр", 1998)),
        ..Default::default()
    };
    let header = reg::ImportPersonsRequest {
        item: Some(Item::Header(reg::ImportHeader {
            request_id: rid(),
            ..Default::default()
        })),
    };
    let row = reg::ImportPersonsRequest {
        item: Some(Item::Row(reg::ImportRow {
            row_number: 2,
            person: Some(person("Мельник", "Андрій", 1970)),
        })),
    };
    let agreement_request = ex::CreateAgreementRequest {
        request_id: rid(),
        agreement: Some(agreement()),
    };
    let submit = ex::SubmitListRequest {
        request_id: rid(),
        phase_id: uuid::Uuid::new_v4().to_string(),
        party: "RU".into(),
        kind: ex::ListKind::Offer as i32,
        entries: vec![identity_entry("r1")],
        ..Default::default()
    };
    let create_inquiry = nt::CreateInquiryRequest {
        request_id: rid(),
        inquiry: Some(inquiry("mother@example.org")),
    };
    let status = nt::CheckInquiryStatusRequest {
        reference: "HW-AAAA-BBBB".into(),
        access_code: "1234567890".into(),
    };
    // Tags: CreatePersonRequest.person = 2, Person.names = 5, PersonName.family = 3, .given = 2;
    // ImportPersonsRequest.row = 2, ImportRow.person = 2; Agreement.title = 3, .parties = 4;
    // SubmitListRequest.entries = 6, ListEntry.identity = 3, ListedIdentity.names = 1;
    // CreateInquiryRequest.inquiry = 2, Inquiry.requester = 4, Requester.contacts = 4,
    // ContactChannel.address = 2.
    let person_name = |family: &[u8]| {
        field(
            2,
            &field(5, &[field(3, family), field(2, b"Ivan")].concat()),
        )
    };
    let cases = vec![
        case(
            "CreatePerson request_id",
            Expect::Undecodable,
            raw_unary::<reg::CreatePersonResponse>(
                r,
                "/homeward.registry.v1.RegistryService/CreatePerson",
                REGISTRAR,
                with_field(&create_person, field(1, bad(0))),
            ),
        ),
        case(
            "CreatePerson a family name",
            Expect::Undecodable,
            raw_unary::<reg::CreatePersonResponse>(
                r,
                "/homeward.registry.v1.RegistryService/CreatePerson",
                REGISTRAR,
                with_field(&create_person, person_name(bad(1))),
            ),
        ),
        case(
            "CreatePerson the unit",
            Expect::Undecodable,
            raw_unary::<reg::CreatePersonResponse>(
                r,
                "/homeward.registry.v1.RegistryService/CreatePerson",
                REGISTRAR,
                with_field(&create_person, field(2, &field(13, bad(2)))),
            ),
        ),
        case(
            "GetPerson the id",
            Expect::Undecodable,
            raw_unary::<reg::GetPersonResponse>(
                r,
                "/homeward.registry.v1.RegistryService/GetPerson",
                REGISTRAR,
                field(1, bad(3)),
            ),
        ),
        case(
            "SearchPersons the query",
            Expect::Undecodable,
            raw_unary::<reg::SearchPersonsResponse>(
                r,
                "/homeward.registry.v1.RegistryService/SearchPersons",
                REGISTRAR,
                field(1, bad(4)),
            ),
        ),
        case(
            "ImportPersons the header's request id",
            Expect::Undecodable,
            raw_stream::<reg::ImportPersonsResponse>(
                r,
                "/homeward.registry.v1.RegistryService/ImportPersons",
                REGISTRAR,
                vec![field(1, &field(1, bad(0))), row.encode_to_vec()],
            ),
        ),
        case(
            "ImportPersons a family name in a row",
            Expect::Undecodable,
            raw_stream::<reg::ImportPersonsResponse>(
                r,
                "/homeward.registry.v1.RegistryService/ImportPersons",
                REGISTRAR,
                vec![
                    header.encode_to_vec(),
                    row.encode_to_vec(),
                    with_field(&row, field(2, &field(2, &field(5, &field(3, bad(1)))))),
                ],
            ),
        ),
        case(
            "CreateAgreement the title",
            Expect::Undecodable,
            raw_unary::<ex::CreateAgreementResponse>(
                e,
                "/homeward.exchange.v1.ExchangeService/CreateAgreement",
                OFFICER,
                with_field(&agreement_request, field(2, &field(3, bad(2)))),
            ),
        ),
        case(
            "CreateAgreement a party",
            Expect::Undecodable,
            raw_unary::<ex::CreateAgreementResponse>(
                e,
                "/homeward.exchange.v1.ExchangeService/CreateAgreement",
                OFFICER,
                with_field(&agreement_request, field(2, &field(4, bad(3)))),
            ),
        ),
        case(
            "SubmitList a family name",
            Expect::Undecodable,
            raw_unary::<ex::SubmitListResponse>(
                e,
                "/homeward.exchange.v1.ExchangeService/SubmitList",
                OFFICER,
                with_field(
                    &submit,
                    field(
                        6,
                        &[field(1, b"r2"), field(3, &field(1, &field(3, bad(4))))].concat(),
                    ),
                ),
            ),
        ),
        case(
            "CreateInquiry a contact address",
            Expect::Undecodable,
            raw_unary::<nt::CreateInquiryResponse>(
                n,
                "/homeward.notification.v1.NotificationService/CreateInquiry",
                LIAISON,
                with_field(
                    &create_inquiry,
                    field(2, &field(4, &field(4, &[field(2, bad(0))].concat()))),
                ),
            ),
        ),
        case(
            "CheckInquiryStatus the reference",
            Expect::Undecodable,
            raw_unary::<nt::CheckInquiryStatusResponse>(
                n,
                "/homeward.notification.v1.NotificationService/CheckInquiryStatus",
                &[],
                with_field(&status, field(1, bad(1))),
            ),
        ),
        case(
            "CheckInquiryStatus the access code",
            Expect::Undecodable,
            raw_unary::<nt::CheckInquiryStatusResponse>(
                n,
                "/homeward.notification.v1.NotificationService/CheckInquiryStatus",
                &[],
                with_field(&status, field(2, bad(2))),
            ),
        ),
        case(
            "a message that is not protobuf at all",
            Expect::Undecodable,
            raw_unary::<reg::CreatePersonResponse>(
                r,
                "/homeward.registry.v1.RegistryService/CreatePerson",
                REGISTRAR,
                vec![0xff; 64],
            ),
        ),
        case(
            "a length prefix past the end",
            Expect::Undecodable,
            raw_unary::<ex::CreateAgreementResponse>(
                e,
                "/homeward.exchange.v1.ExchangeService/CreateAgreement",
                OFFICER,
                vec![0x12, 0xff, 0xff, 0xff, 0x0f, 0x01],
            ),
        ),
    ];
    world.refuse_all(cases).await;
    world.stop().await;
}

async fn page_tokens_not_issued_for_the_query_are_refused(backend: Backend) {
    let world = World::start(backend).await;
    let (mut reg, mut ex, mut nt) = (world.reg.clone(), world.ex.clone(), world.nt.clone());
    let first = world.register("Коваленко", "Олександр", 1998).await;
    let second = world.register("Шевченко", "Андрій", 1990).await;
    world.register("Бондаренко", "Микола", 1985).await;
    let persons = reg
        .list_persons(reg::ListPersonsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .next_page_token;
    let history = reg
        .get_person_history(reg::GetPersonHistoryRequest {
            person_id: first.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .next_page_token;
    world.negotiating_phase().await;
    world.negotiating_phase().await;
    let agreements = ex
        .list_agreements(ex::ListAgreementsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("agreements")
        .into_inner()
        .next_page_token;
    world.inquiry("one@example.org").await;
    world.inquiry("two@example.org").await;
    let inquiries = nt
        .list_inquiries(nt::ListInquiriesRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("inquiries")
        .into_inner()
        .next_page_token;
    for token in [&persons, &history, &agreements, &inquiries] {
        assert!(!token.is_empty(), "a full page yields a token");
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&persons).expect("base64")).expect("text");
    let (prefix, rest) = text.split_once(':').expect("prefix");
    let (fingerprint, _position) = rest.split_once(':').expect("position");
    let forged = |s: String| URL_SAFE_NO_PAD.encode(s);
    let random: String = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    let mut flipped = persons.clone().into_bytes();
    flipped[8] = if flipped[8] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let list = |token: &str| reg::ListPersonsRequest {
        page_size: 1,
        page_token: token.into(),
        ..Default::default()
    };
    let cases = vec![
        case(
            "ListPersons random base64",
            invalid("page_token"),
            call!(reg, list_persons, list(&random)),
        ),
        case(
            "ListPersons not base64",
            invalid("page_token"),
            call!(reg, list_persons, list("%%%not-a-token%%%")),
        ),
        case(
            "ListPersons 10 KB token",
            invalid("page_token"),
            call!(reg, list_persons, list(&"A".repeat(10 * 1024))),
        ),
        case(
            "ListPersons a history token",
            invalid("page_token"),
            call!(reg, list_persons, list(&history)),
        ),
        case(
            "ListPersons with other filters",
            invalid("page_token"),
            call!(
                reg,
                list_persons,
                reg::ListPersonsRequest {
                    holding_party: "RU".into(),
                    ..list(&persons)
                }
            ),
        ),
        case(
            "ListPersons with a page size of its own",
            invalid("page_size"),
            call!(
                reg,
                list_persons,
                reg::ListPersonsRequest {
                    page_size: -1,
                    ..list(&persons)
                }
            ),
        ),
        case(
            "ListPersons a flipped character",
            invalid("page_token"),
            call!(reg, list_persons, list(&flipped)),
        ),
        case(
            "ListPersons truncated",
            invalid("page_token"),
            call!(reg, list_persons, list(&persons[..persons.len() - 3])),
        ),
        case(
            "ListPersons padded",
            invalid("page_token"),
            call!(reg, list_persons, list(&format!("{persons}=="))),
        ),
        case(
            "ListPersons another version",
            invalid("page_token"),
            call!(
                reg,
                list_persons,
                list(&forged(format!("p2:{fingerprint}:1")))
            ),
        ),
        case(
            "ListPersons a negative position",
            invalid("page_token"),
            call!(
                reg,
                list_persons,
                list(&forged(format!("{prefix}:{fingerprint}:-1")))
            ),
        ),
        case(
            "ListPersons a position past i64",
            invalid("page_token"),
            call!(
                reg,
                list_persons,
                list(&forged(format!(
                    "{prefix}:{fingerprint}:{}",
                    "9".repeat(30)
                )))
            ),
        ),
        case(
            "ListPersons a position that is not a number",
            invalid("page_token"),
            call!(
                reg,
                list_persons,
                list(&forged(format!("{prefix}:{fingerprint}:1 OR 1=1")))
            ),
        ),
        case(
            "GetPersonHistory another person's token",
            invalid("page_token"),
            call!(
                reg,
                get_person_history,
                reg::GetPersonHistoryRequest {
                    person_id: second.id.clone(),
                    page_size: 1,
                    page_token: history.clone()
                }
            ),
        ),
        case(
            "FindDuplicates a list token",
            invalid("page_token"),
            call!(
                reg,
                find_duplicates,
                reg::FindDuplicatesRequest {
                    page_token: persons.clone(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "WatchEvents a page token as cursor",
            invalid("after_cursor"),
            call!(
                reg,
                watch_events,
                reg::WatchEventsRequest {
                    after_cursor: persons.clone(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListAgreements the registry's token",
            invalid("page_token"),
            call!(
                ex,
                list_agreements,
                ex::ListAgreementsRequest {
                    page_size: 1,
                    page_token: persons.clone(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListAgreements for one party only",
            invalid("page_token"),
            call!(
                ex,
                list_agreements,
                ex::ListAgreementsRequest {
                    page_size: 1,
                    page_token: agreements.clone(),
                    party: "UA".into()
                }
            ),
        ),
        case(
            "ListPhases an agreements token",
            invalid("page_token"),
            call!(
                ex,
                list_phases,
                ex::ListPhasesRequest {
                    page_size: 1,
                    page_token: agreements.clone(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListInquiries an agreements token",
            invalid("page_token"),
            call!(
                nt,
                list_inquiries,
                nt::ListInquiriesRequest {
                    page_size: 1,
                    page_token: agreements.clone(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListInquiries for another office",
            invalid("page_token"),
            call!(
                nt,
                list_inquiries,
                nt::ListInquiriesRequest {
                    page_size: 1,
                    page_token: inquiries.clone(),
                    office: "Lviv".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListTasks an inquiries token",
            invalid("page_token"),
            call!(
                nt,
                list_tasks,
                nt::ListTasksRequest {
                    page_size: 1,
                    page_token: inquiries.clone(),
                    ..Default::default()
                }
            ),
        ),
    ];
    world.refuse_all(cases).await;
    // The tokens still work where they were issued.
    for (token, what) in [(&persons, "persons")] {
        let page = reg
            .list_persons(list(token))
            .await
            .expect(what)
            .into_inner();
        assert_eq!(page.persons.len(), 1);
    }
    ex.list_agreements(ex::ListAgreementsRequest {
        page_size: 1,
        page_token: agreements,
        ..Default::default()
    })
    .await
    .expect("agreements page 2");
    nt.list_inquiries(nt::ListInquiriesRequest {
        page_size: 1,
        page_token: inquiries,
        ..Default::default()
    })
    .await
    .expect("inquiries page 2");
    world.stop().await;
}

async fn a_request_id_reused_for_another_body_is_refused_everywhere(backend: Backend) {
    let world = World::start(backend).await;
    let (mut reg, mut ex, mut nt) = (world.reg.clone(), world.ex.clone(), world.nt.clone());
    let reused = || Expect::Reason(Code::AlreadyExists, "REQUEST_ID_REUSED");
    let create = reg::CreatePersonRequest {
        request_id: "create-1".into(),
        person: Some(person("Коваленко", "Олександр", 1998)),
        ..Default::default()
    };
    let p = reg
        .create_person(create.clone())
        .await
        .expect("create")
        .into_inner()
        .person
        .expect("person");
    let q = world.register("Шевченко", "Андрій", 1990).await;
    let transfer = reg::RecordStatusChangeRequest {
        request_id: "transfer-1".into(),
        person_id: p.id.clone(),
        change: Some(reg::StatusChange {
            status: reg::PersonStatus::Transferred as i32,
            detention_place: "Taganrog SIZO-2".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    reg.record_status_change(transfer.clone())
        .await
        .expect("transfer");
    let reserve = reg::ReservePersonsRequest {
        request_id: "reserve-1".into(),
        exchange_id: "phase-1".into(),
        person_ids: vec![p.id.clone()],
    };
    reg.reserve_persons(reserve.clone()).await.expect("reserve");
    let agreement_request = ex::CreateAgreementRequest {
        request_id: "agreement-1".into(),
        agreement: Some(agreement()),
    };
    ex.create_agreement(agreement_request.clone())
        .await
        .expect("agreement");
    let inquiry_request = nt::CreateInquiryRequest {
        request_id: "inquiry-1".into(),
        inquiry: Some(inquiry("mother@example.org")),
    };
    let first_inquiry = nt
        .create_inquiry(inquiry_request.clone())
        .await
        .expect("inquiry")
        .into_inner();
    let consent = nt::RecordConsentRequest {
        request_id: "consent-1".into(),
        inquiry_id: first_inquiry.inquiry.as_ref().unwrap().id.clone(),
        etag: first_inquiry.inquiry.as_ref().unwrap().etag.clone(),
        consent: Some(nt::Consent {
            purpose: nt::ConsentPurpose::Contact as i32,
            method: nt::ConsentMethod::Oral as i32,
            ..Default::default()
        }),
    };
    nt.record_consent(consent.clone()).await.expect("consent");
    let mut other_person = create.clone();
    other_person.person.as_mut().unwrap().unit = "another unit".into();
    let mut other_transfer = transfer.clone();
    other_transfer.change.as_mut().unwrap().detention_place = "Olenivka".into();
    let mut other_agreement = agreement_request.clone();
    other_agreement.agreement.as_mut().unwrap().title = "Another agreement".into();
    let mut other_inquiry = inquiry_request.clone();
    other_inquiry.inquiry.as_mut().unwrap().office = "Lviv".into();
    let mut other_consent = consent.clone();
    other_consent.consent.as_mut().unwrap().method = nt::ConsentMethod::Written as i32;
    let cases = vec![
        case(
            "CreatePerson another person",
            reused(),
            call!(reg, create_person, other_person),
        ),
        case(
            "RecordStatusChange another place",
            reused(),
            call!(reg, record_status_change, other_transfer),
        ),
        case(
            "ReservePersons more persons",
            reused(),
            call!(
                reg,
                reserve_persons,
                reg::ReservePersonsRequest {
                    person_ids: vec![p.id.clone(), q.id.clone()],
                    ..reserve.clone()
                }
            ),
        ),
        case(
            "ReservePersons for another exchange",
            reused(),
            call!(
                reg,
                reserve_persons,
                reg::ReservePersonsRequest {
                    exchange_id: "phase-2".into(),
                    ..reserve.clone()
                }
            ),
        ),
        case(
            "CreateAgreement another title",
            reused(),
            call!(ex, create_agreement, other_agreement),
        ),
        case(
            "CreateInquiry another office",
            reused(),
            call!(nt, create_inquiry, other_inquiry),
        ),
        case(
            "RecordConsent another method",
            reused(),
            call!(nt, record_consent, other_consent),
        ),
    ];
    world.refuse_all(cases).await;
    // The same bodies are answered from the record, writing nothing.
    let before = world.settled().await;
    let again = reg
        .create_person(create)
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(again.person.expect("person").id, p.id);
    reg.record_status_change(transfer).await.expect("replay");
    reg.reserve_persons(reserve).await.expect("replay");
    ex.create_agreement(agreement_request)
        .await
        .expect("replay");
    let replayed = nt
        .create_inquiry(inquiry_request)
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replayed.access_code, first_inquiry.access_code);
    nt.record_consent(consent).await.expect("replay");
    let after = world.state().await;
    assert!(
        after == before,
        "a replay wrote: {:#?}",
        before.diff(&after)
    );
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Imports that break off or come back with other rows.

fn import(
    request_id: &str,
    rows: impl IntoIterator<Item = reg::Person>,
) -> Vec<reg::ImportPersonsRequest> {
    let mut messages = vec![reg::ImportPersonsRequest {
        item: Some(Item::Header(reg::ImportHeader {
            request_id: request_id.into(),
            ..Default::default()
        })),
    }];
    messages.extend(
        rows.into_iter()
            .enumerate()
            .map(|(i, p)| reg::ImportPersonsRequest {
                item: Some(Item::Row(reg::ImportRow {
                    row_number: i as u64 + 2,
                    person: Some(p),
                })),
            }),
    );
    messages
}

fn people(family: &str, n: usize) -> Vec<reg::Person> {
    (0..n)
        .map(|i| {
            let mut p = person(family, "Андрій", 1950 + (i % 50) as i32);
            p.service_number = format!("{family}-{i}");
            p
        })
        .collect()
}

async fn count_persons(reg: &mut Client) -> usize {
    let mut total = 0;
    let mut token = String::new();
    loop {
        let page = reg
            .list_persons(reg::ListPersonsRequest {
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

/// An import whose stream breaks (here on a row that is not UTF-8) is refused; its retry under
/// the same request id finishes it, and no row is written twice.
async fn an_import_whose_stream_breaks_is_finished_by_its_retry_exactly_once(backend: Backend) {
    let world = World::start(backend).await;
    let mut reg = world.reg.clone();
    let rows = people("Мельник", 1_100);
    let mut messages: Vec<Vec<u8>> = import("import-1", rows.clone())
        .iter()
        .map(Message::encode_to_vec)
        .collect();
    messages.push(field(2, &field(2, &field(5, &field(3, NOT_UTF8[0])))));
    let broken = raw_stream::<reg::ImportPersonsResponse>(
        world.registry.addr,
        "/homeward.registry.v1.RegistryService/ImportPersons",
        REGISTRAR,
        messages,
    )
    .await
    .expect_err("the stream broke");
    assert_eq!(broken.code(), Code::InvalidArgument, "{broken:?}");
    let written = count_persons(&mut reg).await;
    eprintln!("the broken import left {written} of 1,100 rows written");
    assert!(
        written % 500 == 0 && written <= 1_000,
        "only whole chunks are ever written: {written}"
    );
    let summary = reg
        .import_persons(tokio_stream::iter(import("import-1", rows)))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(summary.rows_received, 1_100);
    assert_eq!(summary.rows_imported, 1_100);
    assert_eq!(count_persons(&mut reg).await, 1_100, "each row once");
    world.stop().await;
}

/// A request id names one import: the same id with other rows is refused as a reused id, not
/// answered as a replay of the first import (nor half taken for one, chunk by chunk).
async fn an_import_reusing_a_request_id_with_other_rows_is_refused(backend: Backend) {
    let world = World::start(backend).await;
    let mut reg = world.reg.clone();
    reg.import_persons(tokio_stream::iter(import("import-2", people("Мельник", 3))))
        .await
        .expect("first import");
    let before = world.settled().await;
    let other = reg
        .import_persons(tokio_stream::iter(import(
            "import-2",
            people("Шевченко", 700),
        )))
        .await;
    let after = world.state().await;
    assert!(after == before, "wrote: {:#?}", before.diff(&after));
    match other {
        Err(status) => Expect::Reason(Code::AlreadyExists, "REQUEST_ID_REUSED")
            .check("ImportPersons with other rows", Err(status)),
        Ok(answer) => panic!(
            "700 other rows were answered as imported ({} imported, replayed: {}) and none written",
            answer.get_ref().rows_imported,
            answer.get_ref().replayed
        ),
    }
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The family's status check: no token, so the one call anyone can make.

fn loopback(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 1, n])
}

async fn check(
    family: &mut Family,
    reference: &str,
    code: &str,
) -> Result<nt::FamilyStatus, Status> {
    family
        .check_inquiry_status(nt::CheckInquiryStatusRequest {
            reference: reference.into(),
            access_code: code.into(),
        })
        .await
        .map(|r| nt::FamilyStatus::try_from(r.into_inner().status).unwrap_or_default())
}

/// Everything a caller can see of a refusal: code, message and every detail (maps sorted).
fn seen(status: &Status) -> (Code, String, String) {
    let details = status.get_error_details();
    let info = details.error_info().map(|i| {
        (
            i.reason.clone(),
            i.domain.clone(),
            i.metadata.iter().collect::<BTreeMap<_, _>>(),
        )
    });
    (
        status.code(),
        status.message().to_string(),
        format!(
            "{info:?} {:?} {:?} {:?}",
            details.resource_info(),
            details.bad_request(),
            details.precondition_failure()
        ),
    )
}

/// An unknown reference and a wrong code answer exactly alike; guessing many references from
/// one address is cut off after `failures_per_caller`, guessing one reference from many
/// addresses after `failures_per_reference`, and a locked reference that exists looks like a
/// locked one that does not. Nothing but the failure counters is written.
async fn status_checks_answer_alike_and_enumeration_is_cut_off(backend: Backend) {
    let world = World::start(backend).await;
    let (real, code) = world.inquiry("mother@example.org").await;
    let (other, other_code) = world.inquiry("father@example.org").await;
    let before = world.settled().await.without_status_checks();

    // One caller: a wrong code and an unknown reference look the same.
    let mut guesser = world.family_from(loopback(1));
    let wrong_code = check(&mut guesser, &real.reference, "0000000000")
        .await
        .expect_err("wrong code");
    let unknown = check(&mut guesser, "HW-ZZZZ-ZZZZ", "0000000000")
        .await
        .expect_err("unknown");
    let lower_case = check(&mut guesser, &real.reference.to_lowercase(), "0000000001")
        .await
        .expect_err("wrong code");
    let plausible = check(&mut guesser, "HW-2345-6789", &code)
        .await
        .expect_err("someone else's code");
    assert_eq!(wrong_code.code(), Code::NotFound);
    for other in [&unknown, &lower_case, &plausible] {
        assert_eq!(
            seen(&wrong_code),
            seen(other),
            "the answers tell references apart"
        );
    }
    assert!(!wrong_code.message().contains(&real.reference));
    // The same caller goes on guessing other references until cut off.
    let mut refused_at = None;
    for n in 0..40 {
        let reference = format!("HW-{:04}-AAAA", 2000 + n);
        match check(&mut guesser, &reference, "1234567890").await {
            Err(s) if s.code() == Code::NotFound => {}
            Err(s) => {
                Expect::Reason(Code::FailedPrecondition, "TOO_MANY_ATTEMPTS")
                    .check("caller locked", Err(s));
                refused_at = Some(n + 4);
                break;
            }
            Ok(status) => panic!("a guessed reference answered {status:?}"),
        }
    }
    assert_eq!(
        refused_at,
        Some(20),
        "cut off after 20 failures from one address"
    );
    // Cut off means cut off: even the right code is refused to that caller for the window...
    let locked_caller = check(&mut guesser, &real.reference, &code)
        .await
        .expect_err("caller locked");
    assert_eq!(locked_caller.code(), Code::FailedPrecondition);
    // ...but not to the family, who calls from elsewhere.
    let mut mother = world.family_from(loopback(2));
    assert_eq!(
        check(&mut mother, &real.reference, &code)
            .await
            .expect("the family's own check"),
        nt::FamilyStatus::Received
    );

    // Many callers, one reference each: after 5 failures the reference is locked, and a locked
    // real reference answers like a locked unknown one.
    let lock = |reference: String, first: u8| {
        let world = &world;
        async move {
            for n in 0..5 {
                let mut caller = world.family_from(loopback(first + n));
                let e = check(&mut caller, &reference, "9999999999")
                    .await
                    .expect_err("guess");
                assert_eq!(e.code(), Code::NotFound);
            }
        }
    };
    lock(other.reference.clone(), 10).await;
    lock("HW-YYYY-YYYY".into(), 20).await;
    let mut fresh = world.family_from(loopback(30));
    let locked_real = check(&mut fresh, &other.reference, &other_code)
        .await
        .expect_err("reference locked");
    let mut fresh = world.family_from(loopback(31));
    let locked_unknown = check(&mut fresh, "HW-YYYY-YYYY", "1111111111")
        .await
        .expect_err("locked");
    Expect::Reason(Code::FailedPrecondition, "TOO_MANY_ATTEMPTS")
        .check("reference locked", Err(locked_real.clone()));
    assert_eq!(
        seen(&locked_real),
        seen(&locked_unknown),
        "locks tell references apart"
    );

    let after = world.state().await.without_status_checks();
    assert!(
        after == before,
        "a status check wrote: {:#?}",
        before.diff(&after)
    );
    world.stop().await;
}

/// Guesses at one reference sent all at once, from different addresses, are each counted: the
/// lock cannot be outrun by asking in parallel.
async fn concurrent_guesses_at_one_reference_are_all_counted(backend: Backend) {
    let world = World::start(backend).await;
    let (real, code) = world.inquiry("mother@example.org").await;
    let guesses = (0..30u8).map(|n| {
        let mut caller = world.family_from(loopback(100 + n));
        let reference = real.reference.clone();
        async move { check(&mut caller, &reference, &format!("{n:010}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    assert!(answers.iter().all(|a| a.is_err()), "a guess got through");
    let mut fresh = world.family_from(loopback(200));
    match check(&mut fresh, &real.reference, &code).await {
        Err(status) => Expect::Reason(Code::FailedPrecondition, "TOO_MANY_ATTEMPTS")
            .check("locked", Err(status)),
        Ok(_) => panic!("30 failed guesses at once did not lock the reference (limit 5)"),
    }
    world.stop().await;
}

/// The contract says every status check is audited (it is the one call without a token).
async fn every_status_check_is_audited(backend: Backend) {
    let world = World::start(backend).await;
    let (real, code) = world.inquiry("mother@example.org").await;
    let before = world.settled().await;
    let mut family = world.family_from(loopback(1));
    check(&mut family, &real.reference, &code)
        .await
        .expect("right code");
    check(&mut family, &real.reference, "0000000000")
        .await
        .expect_err("wrong code");
    let after = world.settled().await;
    assert_eq!(
        after.audit_entries(2),
        before.audit_entries(2) + 2,
        "two status checks, audit entries {} -> {}",
        before.audit_entries(2),
        after.audit_entries(2)
    );
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Inputs that get through where they should not. Each test states the behaviour the contract
// asks for.

/// Two phase quota lines of 2^31 each add up past u32 when checked against the agreement.
async fn phase_quotas_that_overflow_when_added_up_are_refused(backend: Backend) {
    let world = World::start(backend).await;
    let (agreement, _) = world.negotiating_phase().await;
    let ex = world.ex.clone();
    let line = ex::Quota {
        count: 1 << 31,
        ..Default::default()
    };
    world
        .refuse_each(vec![case(
            "CreatePhase with two quota lines of 2^31",
            invalid("phase.quotas"),
            call!(
                ex,
                create_phase,
                ex::CreatePhaseRequest {
                    request_id: rid(),
                    phase: Some(ex::Phase {
                        agreement_id: agreement.id.clone(),
                        title: "Phase 2".into(),
                        quotas: vec![line.clone(), line],
                        ..Default::default()
                    }),
                }
            ),
        )])
        .await;
    let mut ex = world.ex.clone();
    ex.list_agreements(ex::ListAgreementsRequest::default())
        .await
        .expect("still serving");
    world.stop().await;
}

/// A quota line of 2^31 or more people is accepted; counting the phase against it must still
/// report a shortfall, not overflow or an excess.
async fn counting_against_a_quota_past_i32_reports_a_shortfall(backend: Backend) {
    let world = World::start(backend).await;
    let mut ex = world.ex.clone();
    let agreement = ex
        .create_agreement(ex::CreateAgreementRequest {
            request_id: rid(),
            agreement: Some(ex::Agreement {
                quotas: vec![
                    ex::Quota {
                        count: u32::MAX,
                        ..Default::default()
                    },
                    ex::Quota {
                        count: u32::MAX,
                        category: common::PersonCategory::ServiceMember as i32,
                        ..Default::default()
                    },
                ],
                ..agreement()
            }),
        })
        .await
        .expect("agreement")
        .into_inner()
        .agreement
        .expect("agreement");
    let phase = ex
        .create_phase(ex::CreatePhaseRequest {
            request_id: rid(),
            phase: Some(ex::Phase {
                agreement_id: agreement.id.clone(),
                quotas: vec![
                    ex::Quota {
                        count: u32::MAX,
                        ..Default::default()
                    },
                    ex::Quota {
                        count: 1 << 31,
                        category: common::PersonCategory::ServiceMember as i32,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
        })
        .await
        .expect("phase")
        .into_inner()
        .phase
        .expect("phase");
    let phase = ex
        .start_negotiation(ex::StartNegotiationRequest {
            request_id: rid(),
            phase_id: phase.id.clone(),
            etag: phase.etag.clone(),
        })
        .await
        .expect("negotiating")
        .into_inner()
        .phase
        .expect("phase");
    for (party, kind) in [("UA", ex::ListKind::Request), ("RU", ex::ListKind::Offer)] {
        ex.submit_list(ex::SubmitListRequest {
            request_id: rid(),
            phase_id: phase.id.clone(),
            party: party.into(),
            kind: kind as i32,
            entries: vec![identity_entry("r1")],
            ..Default::default()
        })
        .await
        .expect("list");
    }
    ex.reconcile_phase(ex::ReconcilePhaseRequest {
        request_id: rid(),
        phase_id: phase.id.clone(),
        min_confidence: 0.0,
    })
    .await
    .expect("reconciled");
    let counts = ex
        .check_phase_counts(ex::CheckPhaseCountsRequest {
            phase_id: phase.id.clone(),
        })
        .await;
    let counts = match counts {
        Ok(c) => c.into_inner().counts.expect("counts"),
        Err(status) => panic!("counting failed: {status:?}"),
    };
    for party in &counts.parties {
        for line in &party.quotas {
            assert!(
                line.difference < 0,
                "{}: {} counted against {} reads as a difference of {}",
                party.handing_party,
                line.counted,
                line.quota.as_ref().map(|q| q.count).unwrap_or_default(),
                line.difference
            );
        }
    }
    world.stop().await;
}

/// UpdateAgreement keeps at most 10 mediators as CreateAgreement does, by refusing more rather
/// than dropping the rest.
async fn updating_an_agreement_with_eleven_mediators_is_refused(backend: Backend) {
    let world = World::start(backend).await;
    let (agreement, _) = world.negotiating_phase().await;
    let ex = world.ex.clone();
    let mediators: Vec<String> = (1..=11).map(|i| format!("Mediator {i}")).collect();
    world
        .refuse_each(vec![case(
            "UpdateAgreement 11 mediators",
            invalid("agreement.mediators"),
            call!(
                ex,
                update_agreement,
                ex::UpdateAgreementRequest {
                    request_id: rid(),
                    agreement: Some(ex::Agreement {
                        mediators,
                        ..agreement.clone()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["mediators".into()]
                    }),
                }
            ),
        )])
        .await;
    world.stop().await;
}

/// An enum value the contract does not define is refused, not read as "unspecified" (which in
/// a quota line means "everyone").
async fn the_exchange_refuses_unknown_enum_values(backend: Backend) {
    let world = World::start(backend).await;
    let (_, phase) = world.negotiating_phase().await;
    let ex = world.ex.clone();
    let with_quota = |f: fn(&mut ex::Quota)| {
        let mut a = agreement();
        f(&mut a.quotas[0]);
        ex::CreateAgreementRequest {
            request_id: rid(),
            agreement: Some(a),
        }
    };
    // Against the list's current version, so that a case accepted by mistake does not make
    // the next one fail for a stale base version instead.
    let submit = |f: fn(&mut ex::SubmitListRequest)| {
        let mut ex = world.ex.clone();
        let phase_id = phase.id.clone();
        async move {
            let base_version = ex
                .get_list_version(ex::GetListVersionRequest {
                    phase_id: phase_id.clone(),
                    party: "RU".into(),
                    kind: ex::ListKind::Offer as i32,
                    version: 0,
                })
                .await
                .ok()
                .and_then(|v| v.into_inner().list)
                .and_then(|l| l.list)
                .map(|l| l.version)
                .unwrap_or(0);
            let mut r = ex::SubmitListRequest {
                request_id: rid(),
                phase_id,
                party: "RU".into(),
                kind: ex::ListKind::Offer as i32,
                base_version,
                entries: vec![identity_entry("r1")],
                ..Default::default()
            };
            f(&mut r);
            ex.submit_list(r).await
        }
    };
    fn identity(r: &mut ex::SubmitListRequest) -> &mut ex::ListedIdentity {
        match r.entries[0].subject.as_mut() {
            Some(Subject::Identity(i)) => i,
            _ => unreachable!(),
        }
    }
    world
        .refuse_each(vec![
            case(
                "Quota category 999",
                invalid("agreement.quotas[0].category"),
                call!(ex, create_agreement, with_quota(|q| q.category = 999)),
            ),
            case(
                "Quota sex -1",
                invalid("agreement.quotas[0].sex"),
                call!(ex, create_agreement, with_quota(|q| q.sex = -1)),
            ),
            case(
                "SubmitList source 999",
                invalid("source"),
                submit(|r| r.source = 999),
            ),
            case(
                "SubmitList identity sex 999",
                invalid("entries[0].identity.sex"),
                submit(|r| identity(r).sex = 999),
            ),
            case(
                "SubmitList identity category 999",
                invalid("entries[0].identity.category"),
                submit(|r| identity(r).category = 999),
            ),
            case(
                "SubmitList name script 999",
                invalid("entries[0].identity.names[0].script"),
                submit(|r| identity(r).names[0].script = 999),
            ),
            case(
                "SubmitList document type 999",
                invalid("entries[0].identity.documents[0].type"),
                submit(|r| {
                    identity(r).documents = vec![common::IdentityDocument {
                        r#type: 999,
                        number: "FE1".into(),
                        ..Default::default()
                    }]
                }),
            ),
        ])
        .await;
    world.stop().await;
}

/// An import whose header names an unknown source is refused as a whole, rather than every row
/// being rejected for it and the import recorded.
async fn an_import_with_an_unknown_source_is_refused(backend: Backend) {
    let world = World::start(backend).await;
    let reg = world.reg.clone();
    let mut messages = import(&rid(), people("Мельник", 3));
    if let Some(Item::Header(h)) = messages[0].item.as_mut() {
        h.source = 999;
    }
    world
        .refuse_each(vec![case(
            "ImportPersons source 999",
            Expect::Code(Code::InvalidArgument),
            call!(reg, import_persons, tokio_stream::iter(messages)),
        )])
        .await;
    world.stop().await;
}

/// A request with many bad fields still gets its INVALID_ARGUMENT and the BadRequest listing
/// them: the answer must fit what a gRPC client accepts in its trailers (16 KB by default).
async fn a_request_with_a_thousand_bad_fields_gets_a_readable_answer(backend: Backend) {
    let world = World::start(backend).await;
    let (_, phase) = world.negotiating_phase().await;
    let (reg, ex) = (world.reg.clone(), world.ex.clone());
    world
        .refuse_each(vec![
            case(
                "BatchGetPersons 1,000 ids that are not UUIDs",
                invalid("ids[0]"),
                call!(
                    reg,
                    batch_get_persons,
                    reg::BatchGetPersonsRequest {
                        ids: (0..1_000).map(|i| format!("person-{i}")).collect()
                    }
                ),
            ),
            case(
                "SubmitList 2,000 entries without a subject",
                invalid("entries[0].subject"),
                call!(
                    ex,
                    submit_list,
                    ex::SubmitListRequest {
                        request_id: rid(),
                        phase_id: phase.id.clone(),
                        party: "RU".into(),
                        kind: ex::ListKind::Offer as i32,
                        entries: (0..2_000)
                            .map(|i| ex::ListEntry {
                                reference: format!("r{i}"),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                ),
            ),
        ])
        .await;
    world.stop().await;
}

/// A page token carries its position in the clear: one rewritten to another position is not a
/// token "issued by us" and is refused (crates/kit/src/page.rs).
async fn a_page_token_with_a_forged_position_is_refused(backend: Backend) {
    let world = World::start(backend).await;
    let mut reg = world.reg.clone();
    for i in 0..3 {
        world.register("Мельник", "Андрій", 1960 + i).await;
    }
    let token = reg
        .list_persons(reg::ListPersonsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .next_page_token;
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&token).expect("base64")).expect("text");
    let (head, _) = text.rsplit_once(':').expect("position");
    let forged = URL_SAFE_NO_PAD.encode(format!("{head}:2"));
    world
        .refuse_each(vec![case(
            "ListPersons with a position written by the caller",
            invalid("page_token"),
            call!(
                reg,
                list_persons,
                reg::ListPersonsRequest {
                    page_size: 1,
                    page_token: forged,
                    ..Default::default()
                }
            ),
        )])
        .await;
    world.stop().await;
}

/// WithdrawConsent with a purpose the contract does not define must not be read as
/// "unspecified", which withdraws every purpose and closes the inquiry.
async fn withdrawing_consent_for_an_unknown_purpose_is_refused(backend: Backend) {
    let world = World::start(backend).await;
    let (inquiry, _) = world.inquiry("mother@example.org").await;
    let nt = world.nt.clone();
    world
        .refuse_each(vec![case(
            "WithdrawConsent purpose 999",
            invalid("purpose"),
            call!(
                nt,
                withdraw_consent,
                nt::WithdrawConsentRequest {
                    request_id: rid(),
                    inquiry_id: inquiry.id.clone(),
                    etag: inquiry.etag.clone(),
                    purpose: 999,
                    ..Default::default()
                }
            ),
        )])
        .await;
    let mut nt = world.nt.clone();
    let now = nt
        .get_inquiry(nt::GetInquiryRequest { id: inquiry.id })
        .await
        .expect("inquiry")
        .into_inner()
        .inquiry
        .expect("inquiry");
    assert_eq!(
        now.state,
        nt::InquiryState::Open as i32,
        "the inquiry was closed"
    );
    world.stop().await;
}

/// A link proposed with a confidence that is not a number is refused; it must never be stored
/// as a record that cannot be read back (and take the inquiry's reads down with it).
async fn a_link_proposed_with_a_confidence_of_nan_is_refused(backend: Backend) {
    let world = World::start(backend).await;
    let person = world.register("Бондаренко", "Микола", 1970).await;
    let (inquiry, _) = world.inquiry("mother@example.org").await;
    let mut nt = world.nt.clone();
    let before = world.settled().await;
    let outcome = nt
        .propose_link(nt::ProposeLinkRequest {
            request_id: rid(),
            inquiry_id: inquiry.id.clone(),
            person_id: person.id.clone(),
            confidence: f64::NAN,
            ..Default::default()
        })
        .await
        .map(drop);
    let links = nt
        .list_links(nt::ListLinksRequest {
            inquiry_id: inquiry.id.clone(),
            ..Default::default()
        })
        .await;
    let read = nt
        .get_inquiry(nt::GetInquiryRequest {
            id: inquiry.id.clone(),
        })
        .await;
    assert!(
        links.is_ok() && read.is_ok(),
        "after ProposeLink(confidence NaN) answered {outcome:?}, the inquiry cannot be read: \
         ListLinks {:?}, GetInquiry {:?}",
        links.err(),
        read.err()
    );
    invalid("confidence").check("ProposeLink confidence NaN", outcome);
    let after = world.state().await;
    assert!(after == before, "wrote: {:#?}", before.diff(&after));
    world.stop().await;
}

/// Unknown enum values in an inquiry are refused rather than stored as they came.
async fn the_notification_service_refuses_unknown_enum_values(backend: Backend) {
    let world = World::start(backend).await;
    let nt = world.nt.clone();
    let create = |f: fn(&mut nt::Inquiry)| {
        let mut i = inquiry("mother@example.org");
        f(&mut i);
        nt::CreateInquiryRequest {
            request_id: rid(),
            inquiry: Some(i),
        }
    };
    world
        .refuse_each(vec![
            case(
                "sought sex 999",
                invalid("inquiry.sought_person.sex"),
                call!(
                    nt,
                    create_inquiry,
                    create(|i| i.sought_person.as_mut().unwrap().sex = 999)
                ),
            ),
            case(
                "sought category -4",
                invalid("inquiry.sought_person.category"),
                call!(
                    nt,
                    create_inquiry,
                    create(|i| i.sought_person.as_mut().unwrap().category = -4)
                ),
            ),
            case(
                "intake channel 999",
                invalid("inquiry.intake_channel"),
                call!(nt, create_inquiry, create(|i| i.intake_channel = 999)),
            ),
            case(
                "requester name script 999",
                invalid("inquiry.requester.names[0].script"),
                call!(
                    nt,
                    create_inquiry,
                    create(|i| i.requester.as_mut().unwrap().names[0].script = 999)
                ),
            ),
            case(
                "sought name source 999",
                invalid("inquiry.sought_person.names[0].source"),
                call!(
                    nt,
                    create_inquiry,
                    create(|i| i.sought_person.as_mut().unwrap().names[0].source = 999)
                ),
            ),
            case(
                "sought document type 999",
                invalid("inquiry.sought_person.documents"),
                call!(
                    nt,
                    create_inquiry,
                    create(|i| i.sought_person.as_mut().unwrap().documents =
                        vec![common::IdentityDocument {
                            r#type: 999,
                            number: "FE1".into(),
                            ..Default::default()
                        }])
                ),
            ),
        ])
        .await;
    world.stop().await;
}

/// Times out of range, text past its bounds and negative counts are refused, as everywhere
/// else, rather than replaced by "now", cut short or clamped.
async fn the_notification_service_refuses_what_it_now_replaces_or_clamps(backend: Backend) {
    let world = World::start(backend).await;
    let person = world.register("Бондаренко", "Микола", 1970).await;
    let (inquiry, _) = world.inquiry("mother@example.org").await;
    let mut first = world.nt.clone();
    let second = world
        .notification
        .client_as("liaison-2", &[Role::FamilyLiaison])
        .await;
    let inquiry = first
        .verify_requester(nt::VerifyRequesterRequest {
            request_id: rid(),
            inquiry_id: inquiry.id.clone(),
            etag: inquiry.etag.clone(),
            state: nt::VerificationState::Verified as i32,
            method: nt::VerificationMethod::IdentityDocumentInPerson as i32,
            note: String::new(),
        })
        .await
        .expect("verified")
        .into_inner()
        .inquiry
        .expect("inquiry");
    let link = first
        .propose_link(nt::ProposeLinkRequest {
            request_id: rid(),
            inquiry_id: inquiry.id.clone(),
            person_id: person.id.clone(),
            confidence: 0.9,
            ..Default::default()
        })
        .await
        .expect("proposed")
        .into_inner()
        .link
        .expect("link");
    let mut second_client = second.clone();
    second_client
        .confirm_link(nt::ConfirmLinkRequest {
            request_id: rid(),
            link_id: link.id.clone(),
            etag: link.etag.clone(),
            note: String::new(),
        })
        .await
        .expect("confirmed");
    let mut task = None;
    for _ in 0..100 {
        task = first
            .list_tasks(nt::ListTasksRequest::default())
            .await
            .expect("tasks")
            .into_inner()
            .tasks
            .into_iter()
            .next();
        if task.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let task = task.expect("a capture notice for an officer");
    let (spare_1, _) = world.inquiry("sister@example.org").await;
    let (spare_2, _) = world.inquiry("brother@example.org").await;
    let nt = world.nt.clone();
    let withdraw = |inquiry: &nt::Inquiry, time| nt::WithdrawConsentRequest {
        request_id: rid(),
        inquiry_id: inquiry.id.clone(),
        etag: inquiry.etag.clone(),
        purpose: nt::ConsentPurpose::Tracing as i32,
        withdraw_time: time,
        ..Default::default()
    };
    // The task and the inquiry as they are when the case runs (a case accepted by mistake
    // changes their etags); read without writing.
    let current_task = {
        let nt = world.nt.clone();
        let id = task.id.clone();
        move || {
            let mut nt = nt.clone();
            let id = id.clone();
            async move {
                nt.list_tasks(nt::ListTasksRequest::default())
                    .await
                    .expect("tasks")
                    .into_inner()
                    .tasks
                    .into_iter()
                    .find(|t| t.id == id)
                    .expect("task")
            }
        }
    };
    let current_inquiry = {
        let nt = world.nt.clone();
        let reference = inquiry.reference.clone();
        move || {
            let mut nt = nt.clone();
            let reference = reference.clone();
            async move {
                nt.list_inquiries(nt::ListInquiriesRequest {
                    reference,
                    ..Default::default()
                })
                .await
                .expect("inquiries")
                .into_inner()
                .inquiries
                .pop()
                .expect("inquiry")
            }
        }
    };
    let assign = |assignee: &str, due_time: Option<prost_types::Timestamp>| {
        let (mut nt, current) = (nt.clone(), current_task.clone());
        let assignee = assignee.to_string();
        async move {
            let task = current().await;
            nt.assign_task(nt::AssignTaskRequest {
                request_id: rid(),
                task_id: task.id,
                etag: task.etag,
                assignee,
                due_time,
            })
            .await
        }
    };
    let attempt = |officer: &str, occur_time: Option<prost_types::Timestamp>| {
        let (mut nt, current) = (nt.clone(), current_task.clone());
        let officer = officer.to_string();
        async move {
            let task = current().await;
            nt.record_task_attempt(nt::RecordTaskAttemptRequest {
                request_id: rid(),
                task_id: task.id,
                etag: task.etag,
                attempt: Some(nt::TaskAttempt {
                    outcome: nt::TaskAttemptOutcome::NotReached as i32,
                    officer,
                    occur_time,
                    ..Default::default()
                }),
            })
            .await
        }
    };
    let update = |documents: Vec<common::IdentityDocument>| {
        let (mut nt, current) = (nt.clone(), current_inquiry.clone());
        async move {
            let inquiry = current().await;
            let mut sought = inquiry.sought_person.clone().unwrap_or_default();
            sought.documents = documents;
            nt.update_inquiry(nt::UpdateInquiryRequest {
                request_id: rid(),
                inquiry: Some(nt::Inquiry {
                    id: inquiry.id,
                    etag: inquiry.etag,
                    sought_person: Some(sought),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["sought_person".into()],
                }),
            })
            .await
        }
    };
    let passport = |issuing_country: String| common::IdentityDocument {
        r#type: common::DocumentType::Passport as i32,
        number: "FE123456".into(),
        issuing_country,
    };
    world
        .refuse_each(vec![
            case(
                "WithdrawConsent withdrawn at nanos -1",
                invalid("withdraw_time"),
                call!(
                    nt,
                    withdraw_consent,
                    withdraw(&spare_1, timestamp(1_700_000_000, -1))
                ),
            ),
            case(
                "WithdrawConsent withdrawn in the year 9000",
                invalid("withdraw_time"),
                call!(
                    nt,
                    withdraw_consent,
                    withdraw(&spare_2, timestamp(221_845_392_000, 0))
                ),
            ),
            case(
                "AssignTask due at i64::MAX seconds",
                invalid("due_time"),
                assign("officer-2", timestamp(i64::MAX, 0)),
            ),
            case(
                "AssignTask to a name with NUL",
                invalid("assignee"),
                assign("officer\u{0}2", None),
            ),
            case(
                "RecordTaskAttempt at nanos 2e9",
                invalid("attempt.occur_time"),
                attempt("officer-2", timestamp(1_700_000_000, 2_000_000_000)),
            ),
            case(
                "RecordTaskAttempt by an officer of 10 KB",
                invalid("attempt.officer"),
                attempt(&"o".repeat(10 * 1024), None),
            ),
            case(
                "UpdateInquiry 9 documents of the sought person",
                invalid("inquiry.sought_person.documents"),
                update(vec![passport("UA".into()); 9]),
            ),
            case(
                "UpdateInquiry an issuing country of 10 KB with NUL",
                invalid("inquiry.sought_person.documents"),
                update(vec![passport(format!("U\u{0}A{}", "x".repeat(10 * 1024)))]),
            ),
            case(
                "FindCandidates max_candidates -5",
                invalid("max_candidates"),
                call!(
                    nt,
                    find_candidates,
                    nt::FindCandidatesRequest {
                        inquiry_id: inquiry.id.clone(),
                        min_confidence: 0.0,
                        max_candidates: -5
                    }
                ),
            ),
        ])
        .await;
    world.stop().await;
}

// ---------------------------------------------------------------------------------------------

macro_rules! on {
    ($backend:ident: $($name:ident),* $(,)?) => {
        $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() { super::$name(homeward_e2e::Backend::$backend).await })*
    };
}

/// Tests of what the services should do and do not yet; each reason names the fault.
macro_rules! not_yet {
    ($backend:ident: $($name:ident => $reason:literal),* $(,)?) => {
        $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = $reason]
        async fn $name() { super::$name(homeward_e2e::Backend::$backend).await })*
    };
}

mod postgres {
    on!(Postgres:
        the_registry_refuses_hostile_requests_and_writes_nothing,
        the_exchange_refuses_hostile_requests_and_writes_nothing,
        the_notification_service_refuses_hostile_requests_and_writes_nothing,
        oversize_messages_are_refused_and_every_service_keeps_serving,
        bytes_that_are_not_utf8_are_refused_before_any_handler_runs,
        page_tokens_not_issued_for_the_query_are_refused,
        a_request_id_reused_for_another_body_is_refused_everywhere,
        an_import_whose_stream_breaks_is_finished_by_its_retry_exactly_once,
        status_checks_answer_alike_and_enumeration_is_cut_off,
    );
    not_yet!(Postgres:
        a_request_with_a_thousand_bad_fields_gets_a_readable_answer =>
            "every violation goes into the status trailers; past the client's 16 KB header limit the caller gets an h2 error, not INVALID_ARGUMENT",
        an_import_reusing_a_request_id_with_other_rows_is_refused =>
            "the import's request id is fingerprinted over its header only: other rows under the same id are answered as a replay",
        an_import_with_an_unknown_source_is_refused =>
            "an unknown header source rejects every row and records the import instead of refusing it",
        a_page_token_with_a_forged_position_is_refused =>
            "page tokens are not authenticated: a position rewritten by the caller is accepted",
        phase_quotas_that_overflow_when_added_up_are_refused =>
            "check_fits_agreement adds u32 quota counts unchecked: a panic in debug builds, a wrap that accepts in release",
        counting_against_a_quota_past_i32_reports_a_shortfall =>
            "CheckPhaseCounts computes `counted as i32 - target as i32`: a panic past i32::MAX in debug builds, the wrong sign for u32::MAX",
        updating_an_agreement_with_eleven_mediators_is_refused =>
            "UpdateAgreement keeps the first 10 mediators and silently drops the rest",
        the_exchange_refuses_unknown_enum_values =>
            "unknown quota category and sex, list source, identity sex, category, script and document type are stored as sent",
        withdrawing_consent_for_an_unknown_purpose_is_refused =>
            "WithdrawConsent reads an unknown purpose as unspecified: every consent is withdrawn and the inquiry closed",
        a_link_proposed_with_a_confidence_of_nan_is_refused =>
            "ProposeLink stores a NaN confidence, serialised as null: the link no longer decodes and GetInquiry and ListLinks answer INTERNAL",
        the_notification_service_refuses_unknown_enum_values =>
            "unknown sought sex and category, intake channel, name script and source, document type are stored as sent",
        the_notification_service_refuses_what_it_now_replaces_or_clamps =>
            "out-of-range times become now or nothing, assignee, officer and issuing country are unchecked, documents past 8 dropped, a negative max_candidates clamped",
        concurrent_guesses_at_one_reference_are_all_counted =>
            "concurrent failed status checks overwrite each other's counter (the failed write is ignored): the per-reference lock is outrun",
        every_status_check_is_audited =>
            "CheckInquiryStatus writes no audit entry although the contract says every call is audited",
    );
}

mod sqlite {
    on!(Sqlite:
        the_registry_refuses_hostile_requests_and_writes_nothing,
        the_exchange_refuses_hostile_requests_and_writes_nothing,
        the_notification_service_refuses_hostile_requests_and_writes_nothing,
        bytes_that_are_not_utf8_are_refused_before_any_handler_runs,
        page_tokens_not_issued_for_the_query_are_refused,
    );
}
